"""Seeking into a log file by time: binary search on the timestamps at line starts.

A :class:`FileEnds` holds what is known of each file's first and last timestamps (the grep
fills it on the way, :mod:`.grep`), so a file wholly outside a window is never opened again.
Stamps here are file-local clock text, 'YYYY-MM-DD HH:MM:SS', as the file writes them.
Nothing at the top imports more than the standard library's small modules (see :mod:`.pool`).
"""
from __future__ import annotations

import mmap
import re
import zlib
from datetime import tzinfo
from typing import BinaryIO

SLACK = 64 << 10  # bytes read before a window's start (a traceback may begin earlier)
_STAMP = re.compile(rb"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})")
_PROBE_LINES = 50  # lines read after a seek to find a timestamp
_SYSLOG_STAMP = re.compile(rb"([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}:\d{2}:\d{2})")
_MONTHS = {name: f"{number:02d}" for number, name in enumerate(
    (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"), 1)}

# what reading a log file may raise: a file gone or unreadable, a truncated or corrupt .gz/.bz2
READ_ERRORS = (OSError, EOFError, zlib.error)
Ends = tuple[str | None, str | None]


def read_error(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


def compressed(path: str) -> bool:
    """A file that cannot be seeked into (compressed rotations, standard input)."""
    return path.endswith((".gz", ".bz2")) or path == "-"


class FileEnds:
    """First and last timestamps per (path, size): a file that grew is probed again."""

    def __init__(self) -> None:
        self.known: dict[tuple[str, int], Ends] = {}

    def update(self, other: dict[tuple[str, int], Ends]) -> None:
        self.known.update(other)

    def of(self, handle: BinaryIO, size: int) -> Ends:
        """The ends of an open file (probed once per path and size)."""
        key = (handle.name, size)
        if key not in self.known:
            self.known[key] = probe_ends(handle, size)
        return self.known[key]

    def outside(self, path: str, size: int, since: str, until: str) -> bool:
        """Whether the file's known ends put it wholly outside [since, until] (opens nothing)."""
        ends = self.known.get((path, size))
        return bool(ends and ends[0] and ends[1] and (ends[1] < since or ends[0] > until))

    def span_of(self, path: str, since: str, until: str) -> tuple[int, int] | None:
        """:meth:`time_span` of the file at ``path``."""
        with open(path, "rb") as handle:
            return self.time_span(handle, handle.seek(0, 2), since, until)

    def time_span(self, handle: BinaryIO, size: int, since: str, until: str) -> tuple[int, int] | None:
        """Byte range of the file that may hold lines stamped in [since, until]: (0, 0) when the
        file lies wholly outside, None when it has no oslo timestamps to tell."""
        first, last = self.of(handle, size)
        if first is None:
            return None
        if last is not None and (last < since[:19] or first > until):
            return 0, 0
        start = self._first_at_or_after(handle, size, since)
        end = self._first_at_or_after(handle, size, until)
        end = size if end is None else min(size, end + 2 * 65536)
        start = max(0, (start or 0) - SLACK)
        if start:
            handle.seek(start)
            handle.readline()
            start = handle.tell()
        return start, end

    def _first_at_or_after(self, handle: BinaryIO, size: int, target: str) -> int | None:
        """Offset near the first line stamped ``target`` or later (None: the file has no oslo stamps)."""
        if self.of(handle, size)[0] is None:
            return None
        low, high = 0, size
        while high - low > 65536:
            middle = (low + high) // 2
            start, stamp = _time_after(handle, middle)
            if stamp is None or stamp >= target:
                high = middle
            else:
                low = start
        return low


def byte_spans(path: str, ranges: list[tuple[str, str]], tz: str = "UTC") -> tuple[list[tuple[int, int]] | None, Ends]:
    """The bytes of an uncompressed file that may hold events stamped in each [since, until)
    range (event stamps, UTC; (0, 0) for none), and the file's ends as UTC event stamps ((None,
    None) when it has no oslo stamps). None for the spans when the file cannot be seeked by
    time (read it all)."""
    if compressed(path):
        return None, (None, None)
    from ..times import from_local, local_time, zone  # here: the triage's early fork imports this module

    local = zone(tz)
    ends = FileEnds()
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        spans = [ends.time_span(handle, size, local_time(since, local), local_time(until, local))
                 for since, until in ranges]
        first, last = ends.of(handle, size)
    if any(span is None for span in spans):
        return None, (None, None)
    return spans, (from_local(first, local), from_local(last, local))  # type: ignore[return-value]


def line_start(path: str, position: int) -> int:
    """The offset of the first line starting at or after ``position``."""
    if position == 0:
        return 0
    with open(path, "rb") as handle:
        handle.seek(position)
        handle.readline()
        return handle.tell()


def files_range(paths: list[str], tz: tzinfo, failed: dict[str, str] | None = None) -> tuple[str | None, str | None]:
    """The first and last event stamps (UTC) of the uncompressed files among ``paths`` (their
    ends only are probed); a file that cannot be read is skipped, and said in ``failed``."""
    from ..times import from_local  # here: the triage's early fork imports this module

    firsts, lasts = [], []
    for path in paths:
        if compressed(path):
            continue
        try:
            first, last = file_range(path)
        except READ_ERRORS as exc:
            if failed is not None:
                failed[path] = read_error(exc)
            continue
        firsts += [first] if first else []
        lasts += [last] if last else []
    return (from_local(min(firsts), tz) if firsts else None, from_local(max(lasts), tz) if lasts else None)


def file_range(path: str) -> Ends:
    """First and last oslo timestamp of an uncompressed file (probes its ends only)."""
    with open(path, "rb") as handle:
        return probe_ends(handle, handle.seek(0, 2))


def may_be_within(line: bytes, since: str, until: str) -> bool:
    """False when the line's stamp puts it outside [since, until] (file-local 'YYYY-MM-DD
    HH:MM:SS'); True when it is inside or cannot be told. A syslog stamp has no year: it is
    compared by month, day and time when both bounds fall in one year."""
    stamp = line_time(line)
    if stamp is not None:
        return since <= stamp <= until
    m = _SYSLOG_STAMP.match(line)
    if m is None or m.group(1) not in _MONTHS or since[:4] != until[:4]:
        return True
    stamp = f"{_MONTHS[m.group(1)]}-{int(m.group(2)):02d} {m.group(3).decode()}"
    return since[5:] <= stamp <= until[5:]


def line_time(line: bytes | bytearray) -> str | None:
    m = _STAMP.search(line, 0, 200)
    return f"{m.group(1).decode()} {m.group(2).decode()}" if m else None


def first_stamp(data: bytes | bytearray | mmap.mmap, size: int, lines: int = 2000) -> str | None:
    """The first oslo timestamp of data[:size] (devstack logs open with long shell traces, hence
    up to 2,000 lines from either end)."""
    position = 0
    for _ in range(lines):
        if position >= size:
            return None
        stamp = line_time(data[position:min(position + 200, size)])
        if stamp:
            return stamp
        newline = data.find(b"\n", position, size)
        if newline < 0:
            return None
        position = newline + 1
    return None


def last_stamp(data: bytes | bytearray | mmap.mmap, size: int, lines: int = 2000) -> str | None:
    end = size
    for _ in range(lines):
        start = data.rfind(b"\n", 0, max(end - 1, 0)) + 1 if end > 0 else 0
        stamp = line_time(data[start:min(start + 200, end)])
        if stamp:
            return stamp
        if start == 0:
            return None
        end = start
    return None


def probe_ends(handle: BinaryIO, size: int) -> Ends:
    if size == 0:
        return None, None
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return first_stamp(data, size), last_stamp(data, size)


def _time_after(handle: BinaryIO, position: int) -> tuple[int, str | None]:
    """(offset of the first whole line at or after ``position``, the first timestamp from there)."""
    handle.seek(position)
    if position:
        handle.readline()
    start = handle.tell()
    for _ in range(_PROBE_LINES):
        line = handle.readline()
        if not line:
            break
        stamp = line_time(line)
        if stamp:
            return start, stamp
    return start, None
