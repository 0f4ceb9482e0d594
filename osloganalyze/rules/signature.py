"""What makes two findings "the same problem": a signature of error type and message with the
variable parts (ids, addresses, numbers, paths) masked, and the deepest frame of a traceback
in OpenStack code (where the bug most likely is)."""
from __future__ import annotations

import re
from functools import lru_cache

from .. import schema
from ..redact import redact
from ..sources.naming import OPENSTACK_PACKAGES

_MASKS = [
    (re.compile(r"\breq-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<req>"),
    (re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"https?://[^\s'\"]+"), "<url>"),
    (re.compile(r"(?<![\w.])/(?:[\w.@%+=:,-]+/?)+"), "<path>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<hex>"),
    (re.compile(r"\binstance-[0-9a-f]{8}\b"), "instance-<n>"),
    (re.compile(r"(?<![\d.])(?<!HTTP )(?<!status: )(?<!Returning )\d+(?:\.\d+)?"), "<n>"),  # HTTP statuses stay
]
_SPACES = re.compile(r"\s+")
SIGNATURE_LIMIT = 240

_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)', re.M)
_PACKAGE = re.compile(r"(?:^|/)(?P<package>" + "|".join(OPENSTACK_PACKAGES) + r"|oslo_\w+|oslo)/(?P<rest>[\w/.-]+\.py)$")


@lru_cache(maxsize=8192)  # error lines repeat (retry loops, periodic tasks): mask each text once
def mask(text: str) -> str:
    """``text`` with secrets, ids, addresses, urls, paths and numbers replaced by placeholders."""
    text = redact(text) or ""
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return _SPACES.sub(" ", text).strip()


_ID_SEGMENT = re.compile(r"^(?:[0-9a-f-]{32,36}|[0-9a-f]{16,}|\d+|req-[0-9a-f-]{36})$", re.I)


def mask_url(url: str) -> str:
    """A request path with id-like segments masked and the query string dropped."""
    path = url.split("?", 1)[0]
    return "/".join("<id>" if _ID_SEGMENT.match(part) else part for part in path.split("/"))


@lru_cache(maxsize=2048)  # a code path that fails once tends to fail again with the same trace
def deepest_openstack_frame(stack_trace: str | None) -> str | None:
    """'nova/compute/manager.py in _build_and_run_instance' for the last frame of the last
    traceback that lies in OpenStack code (line numbers left out: they change with versions)."""
    if not stack_trace:
        return None
    found = None
    for frame in _FRAME.finditer(stack_trace):
        m = _PACKAGE.search(frame.group("path"))
        if m:
            package, rest = m.group("package"), m.group("rest")
            if rest.startswith(package + "/"):  # a source checkout: /opt/stack/neutron/neutron/...
                rest = rest[len(package) + 1:]
            found = f"{package}/{rest} in {frame.group('function')}"
    return found


def signature(event: dict) -> str:
    """The masked 'what happened' of an event, for grouping findings."""
    status = event.get(schema.HTTP_STATUS)
    if status is not None and event.get(schema.URL_ORIGINAL):
        text = f"{event.get(schema.HTTP_METHOD) or '?'} {mask_url(event[schema.URL_ORIGINAL])} -> {status}"
    elif event.get(schema.ERROR_TYPE):
        text = f"{event[schema.ERROR_TYPE]}: {mask(event.get(schema.ERROR_MESSAGE) or '')}"
        frame = deepest_openstack_frame(event.get(schema.ERROR_STACK_TRACE))
        if frame:
            text += f" @ {frame}"
    else:
        text = mask((event.get(schema.MESSAGE) or "").split("\n", 1)[0])
    return text[:SIGNATURE_LIMIT]
