"""What an operator pastes, read as the id to follow (no heavy import here: a triage starts its
search of the logs before loading the parser and the rules)."""
from __future__ import annotations

import re

from ..errors import OslaError

REQUEST = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class BadId(OslaError, ValueError):
    """Not something osla can follow."""


_ANY_REQUEST = re.compile(r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def pasted(text: str) -> tuple[str, str | None]:
    """The id to follow in whatever was pasted (a CLI error: '... (HTTP 500) (Request-ID: req-…)',
    neutron's '... req-…),'), and a note when the text held several request ids (the first is
    followed). Text with no id is returned as it is, for :func:`classify` to refuse."""
    try:
        classify(text)
        return text, None
    except BadId:
        pass
    found = list(dict.fromkeys(m.lower() for m in _ANY_REQUEST.findall(text)))
    if not found:
        return text, None
    note = (f"the text holds {len(found)} request ids ({', '.join(found)}): following the first, {found[0]}"
            if len(found) > 1 else None)
    return found[0], note


def classify(text: str) -> tuple[str, str]:
    """('request', 'req-…') or ('instance', uuid) for what an operator pasted: a request id, a
    Request-ID from a CLI error ('(Request-ID: req-…)'), an instance uuid (any case)."""
    value = text.strip().strip("()").strip()
    value = re.sub(r"^(?:x-openstack-request-id|request-id)\s*:\s*", "", value, flags=re.I).lower()
    if REQUEST.match(value):
        return "request", value
    if UUID.match(value):
        return "instance", value
    if re.fullmatch(r"[0-9a-f]{32}", value):
        return "instance", f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    raise BadId(f"{text!r} is not a request id (req-<uuid>) or an instance uuid")
