"""``osla pipeline check``: a canary event through Fluentd's forward input into Elasticsearch,
end to end, and which hop failed when it does not arrive."""
from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from .. import schema
from ..es.client import TITLES
from ..sources.elasticsearch import ElasticsearchSource
from ..times import event_stamp
from .forward import ForwardError, send

CANARY_TAG = "canary"  # full tag: osla.canary


@dataclass
class CanaryResult:
    ok: bool
    canary_id: str
    latency_s: float | None
    hop: str | None  # the hop that failed
    detail: str


def send_canary(address: str, canary_id: str, timeout: float = 5.0) -> None:
    record = {schema.MESSAGE: f"osla pipeline canary {canary_id}", schema.LOG_LEVEL: "INFO",
              schema.SERVICE_NAME: "osla-canary", schema.HOST_NAME: socket.gethostname(),
              schema.TIMESTAMP: event_stamp(datetime.now(UTC))}
    send(address, CANARY_TAG, [record], "canary", timeout=timeout)


def check(address: str, client, prefix: str = "openstack", timeout: float = 60.0, poll: float = 0.5) -> CanaryResult:
    canary_id = uuid.uuid4().hex
    server = TITLES[client.product]
    start = time.monotonic()
    try:
        send_canary(address, canary_id)
    except ForwardError as exc:
        return CanaryResult(False, canary_id, None, "osla -> Fluentd", str(exc))
    query = {"term": {f"{schema.MESSAGE}.{schema.EXACT_SUBFIELD}": f"osla pipeline canary {canary_id}"}}
    while True:
        try:
            client.refresh(f"{prefix}-*")
            found = next(ElasticsearchSource(client, prefix).search(query, limit=1, addressed=True), None)
        except Exception as exc:  # noqa: BLE001 - any client failure is this hop's failure
            return CanaryResult(False, canary_id, None, f"osla -> {server}", f"cannot search {server}: {type(exc).__name__}")
        if found:
            return CanaryResult(True, canary_id, time.monotonic() - start, None, f"arrived in index {found[0]}")
        if time.monotonic() - start > timeout:
            return CanaryResult(False, canary_id, None, f"Fluentd -> {server}",
                                f"Fluentd took the canary but it is not in {prefix}-* after {timeout:.0f} s: check "
                                "Fluentd's log, its buffer and dead-letter files, and that its output points at "
                                "this cluster with this index prefix")
        time.sleep(poll)
