"""Writing events as JSON lines (orjson when installed: several times faster)."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO


def _json_dumps(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


dumps: Callable[[dict], bytes]
try:
    import orjson

    dumps = orjson.dumps  # chosen once, not per event
except ImportError:  # pragma: no cover - orjson is a declared dependency
    dumps = _json_dumps


class JsonLinesWriter:
    """Buffered JSON-lines output to a file path or stdout: ``write_all`` drains an event stream."""

    def __init__(self, path: str | None = None):
        self.path = path
        self._fh: IO[bytes] = sys.stdout.buffer
        self._buffer: list[bytes] = []

    def __enter__(self):
        self._fh = open(self.path, "wb") if self.path else sys.stdout.buffer
        return self

    def write_all(self, events, every: int = 1024, progress=None) -> int:
        """Write every event; call ``progress(n)`` each ``every`` events. Returns the count."""
        buffer = self._buffer
        append = buffer.append
        count = 0
        for event in events:
            append(dumps(event))
            if len(buffer) >= every:
                count += len(buffer)
                self.flush()
                if progress is not None:
                    progress(count)
        count += len(buffer)
        self.flush()
        return count

    def flush(self) -> None:
        if self._buffer:
            self._buffer.append(b"")
            self._fh.write(b"\n".join(self._buffer))
            self._buffer.clear()
        self._fh.flush()

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.flush()
        finally:
            if self.path and self._fh:
                self._fh.close()
