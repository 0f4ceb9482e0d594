"""Writing events as JSON lines (orjson when installed: several times faster)."""
from __future__ import annotations

import json
import re
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


# C0 controls but tab and newline, DEL, and C1 controls: what a terminal would obey (colours,
# titles, OSC 52 clipboard writes, a bare CR that overwrites the line) rather than show
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character a terminal obeys shown as an escape (\\x1b, \\r)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text) if _CONTROL.search(text) else text


def map_text(value, function: Callable[[str], str | None]):
    """``function`` over every string in nested dicts and lists (a view or report before rendering)."""
    if isinstance(value, str):
        return function(value)
    if isinstance(value, dict):
        return {key: map_text(item, function) for key, item in value.items()}
    if isinstance(value, list):
        return [map_text(item, function) for item in value]
    return value


def printable_data(value):
    """:func:`printable` over every string in nested dicts and lists."""
    return map_text(value, printable)
