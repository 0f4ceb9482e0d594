"""Findings to Fluentd over the forward protocol (fluent-logger), tagged ``osla.finding``, so
Fluentd ships them into Elasticsearch beside the logs they were found in."""
from __future__ import annotations

import hashlib
import time

from ..errors import OslaError

TAG_PREFIX = "osla"
LABEL = "finding"  # full tag: osla.finding


class ForwardError(OslaError):
    """Fluentd could not take the findings (one line, secret-free)."""


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ForwardError(f"--emit-fluentd wants HOST:PORT (e.g. 127.0.0.1:24224), not {address!r}")
    return host.strip("[]"), int(port)


def finding_id(finding: dict) -> str:
    """Stable across runs for the same problem, so a receiver can update instead of duplicate."""
    key = "\x1f".join(str(finding.get(k)) for k in ("rule", "signature", "escalated", "first_seen"))
    return hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=12).hexdigest()


def send(address: str, label: str, records: list[dict], what: str, when: int | None = None,
         timeout: float = 5.0) -> int:
    """Send records tagged ``osla.<label>``; returns how many were sent. A record Fluentd did not
    take raises ForwardError and is dropped from fluent-logger's buffer, so what is reported as
    not sent is never flushed later."""
    from fluent import sender

    host, port = parse_address(address)
    fluent = sender.FluentSender(TAG_PREFIX, host=host, port=port, timeout=timeout)
    when = int(time.time()) if when is None else when
    sent = 0
    try:
        for record in records:
            if not fluent.emit_with_time(label, when, record):
                error = fluent.last_error
                fluent.clear_last_error()
                fluent.pendings = None
                raise ForwardError(f"Fluentd at {host}:{port} did not take the {what} "
                                   f"({sent} of {len(records)} sent): {error}")
            sent += 1
    finally:
        fluent.close()
    return sent


def emit_findings(findings: list[dict], address: str, timeout: float = 5.0) -> int:
    """Send every finding (with its :func:`finding_id`); returns how many were sent."""
    return send(address, LABEL, [dict(f, finding_id=finding_id(f)) for f in findings], "findings",
                timeout=timeout)
