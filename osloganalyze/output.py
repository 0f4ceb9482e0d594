"""Writing events as JSON lines (orjson when installed: several times faster)."""
from __future__ import annotations

import json
import sys

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None


def dumps(event: dict) -> bytes:
    if orjson is not None:
        return orjson.dumps(event)
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class JsonLinesWriter:
    """Buffered JSON-lines output to a file path or stdout."""

    def __init__(self, path: str | None = None):
        self.path = path
        self._fh = None
        self._buffer: list[bytes] = []

    def __enter__(self):
        self._fh = open(self.path, "wb") if self.path else sys.stdout.buffer
        return self

    def write(self, event: dict) -> None:
        self._buffer.append(dumps(event))
        if len(self._buffer) >= 512:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._fh.write(b"\n".join(self._buffer) + b"\n")
            self._buffer.clear()
        self._fh.flush()

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.flush()
        finally:
            if self.path and self._fh:
                self._fh.close()
