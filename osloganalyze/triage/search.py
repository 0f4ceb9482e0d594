"""The byte layer of a local triage: grep -F over a log tree, and seeking into a file by time.

A search over many files runs in forked processes, one per core (:func:`search_all`). It also
notes each file's first and last timestamps, which the binary searches by time
(:func:`time_span`) and the tests of whole files (:func:`outside`) read without opening the file
again.

Nothing here parses a record: this module imports no more than the file sources, so that a
triage forks its searches from a small process ~100 ms after it starts, and loads the parser and
the rules while they run (forked from a process with all of that loaded, the same searches took
~80 ms longer here).
"""
from __future__ import annotations

import mmap
import os
import pickle
import re
import signal
import threading
import zlib
from typing import Callable

from ..sources.local import LogFile, file_size, share_by_size

CHUNK = 8 << 20  # compressed files
READ = 256 << 10  # uncompressed files: a buffer that stays in the CPU cache (1 MiB reads took 3x as long here)
PARALLEL_BYTES = 64 << 20  # below this, one process searches faster than two start
SLACK = 64 << 10  # bytes read before a window's start (a traceback may begin earlier)
_STAMP = re.compile(rb"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})")
_PROBE_LINES = 50  # lines read after a seek to find a timestamp


# what reading a log file may raise: a file gone or unreadable, a truncated or corrupt .gz/.bz2
READ_ERRORS = (OSError, EOFError, zlib.error)


def read_error(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


def compressed(path: str) -> bool:
    """A file that cannot be seeked into (compressed rotations, standard input)."""
    return path.endswith((".gz", ".bz2")) or path == "-"


def search(path: str, needle: bytes, ends: dict | None = None,
           errors: dict[str, str] | None = None) -> list[tuple[int, bytes]]:
    """(offset, line) of every line containing ``needle`` (like grep -F, compressed files too).
    For an uncompressed file, ``ends`` receives its first and last timestamps on the way. A
    compressed file cut short or corrupt gives the lines before the damage, the damage said in
    ``errors`` (raised without it)."""
    if not compressed(path):
        return _search_plain(path, needle, ends)
    hits = []
    with LogFile(path, None, None).open() as handle:
        base = 0
        carry = b""
        while True:
            try:
                chunk = handle.read(CHUNK)
            except READ_ERRORS as exc:
                if errors is None:
                    raise
                errors[path] = read_error(exc)
                chunk = b""
            buffer = carry + chunk if carry else chunk
            if not chunk:
                cut = len(buffer)
            else:
                cut = buffer.rfind(b"\n") + 1
                if cut == 0:
                    carry = buffer
                    continue
            _collect(buffer, cut, needle, base, hits)
            if not chunk:
                break
            carry = buffer[cut:]
            base += cut
    return hits


def _collect(buffer, cut: int, needle: bytes, base: int, hits: list) -> None:
    """(offset, line) of the lines holding ``needle`` in buffer[:cut] (whole lines)."""
    position = buffer.find(needle, 0, cut)
    while position >= 0:
        start = buffer.rfind(b"\n", 0, position) + 1
        end = buffer.find(b"\n", position, cut)
        end = cut if end < 0 else end
        hits.append((base + start, bytes(buffer[start:end])))
        position = buffer.find(needle, end, cut)


_BUFFERS = threading.local()


def _search_plain(path: str, needle: bytes, ends: dict | None) -> list[tuple[int, bytes]]:
    """search() on an uncompressed file: read into one reused buffer and searched there while it
    is in the CPU's cache (twice as fast here as an mmap or fresh chunks, which fault in new pages)."""
    buffer = getattr(_BUFFERS, "buffer", None)
    if buffer is None:
        buffer = _BUFFERS.buffer = bytearray(READ)
    hits: list = []
    first = last = None
    base = filled = 0
    with open(path, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        while True:
            if filled == len(buffer):  # a line longer than the buffer
                buffer.extend(bytes(len(buffer)))
            read = handle.readinto(memoryview(buffer)[filled:])
            if not read:
                break
            filled += read
            if ends is not None:
                if base == 0:
                    first = _first_stamp(buffer, filled)
                if base + filled >= size:  # the last chunk (file size when opened)
                    last = _last_stamp(buffer, filled) or last
            cut = buffer.rfind(b"\n", 0, filled) + 1
            if cut == 0:
                continue
            _collect(buffer, cut, needle, base, hits)
            buffer[:filled - cut] = buffer[cut:filled]
            base += cut
            filled -= cut
    if filled:  # the last line, with no newline after it
        _collect(buffer, filled, needle, base, hits)
    if ends is not None:
        size = base + filled
        if (first is None or last is None) and size > READ:  # stamps deeper than the first or last chunk
            with open(path, "rb") as handle:
                first, last = _probe_ends(handle, size)
        ends[(path, size)] = (first, last)
    return hits


def _first_stamp(data, size: int, lines: int = 2000) -> str | None:
    """The first oslo timestamp of data[:size] (devstack logs open with long shell traces, hence
    up to 2,000 lines from either end)."""
    position = 0
    for _ in range(lines):
        if position >= size:
            return None
        stamp = _line_time(data[position:min(position + 200, size)])
        if stamp:
            return stamp
        newline = data.find(b"\n", position, size)
        if newline < 0:
            return None
        position = newline + 1
    return None


def _last_stamp(data, size: int, lines: int = 2000) -> str | None:
    end = size
    for _ in range(lines):
        start = data.rfind(b"\n", 0, max(end - 1, 0)) + 1 if end > 0 else 0
        stamp = _line_time(data[start:min(start + 200, end)])
        if stamp:
            return stamp
        if start == 0:
            return None
        end = start
    return None


# first and last timestamps per (path, size), filled while searching, read by the binary searches
ENDS: dict[tuple[str, int], tuple[str | None, str | None]] = {}


def search_all(paths: list[str], needle: bytes, sizes: dict[str, int] | None = None,
               meanwhile: Callable[[], None] | None = None,
               errors: dict[str, str] | None = None) -> dict[str, list[tuple[int, bytes]]]:
    """:func:`search` over many files: (offset, line) of the lines holding ``needle``, for every
    path. Split over the cores (forked processes) when there is much to read; ``meanwhile`` is
    called while they search (always called). ``sizes`` (path -> bytes) is filled for the paths
    it does not hold yet; a file that cannot be read is skipped, and said in ``errors`` (path ->
    why)."""
    errors = {} if errors is None else errors
    sizes = {} if sizes is None else sizes
    for path in paths:
        if path not in sizes:
            sizes[path] = file_size(path)
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or not hasattr(os, "fork") or sum(sizes[p] for p in paths) < PARALLEL_BYTES:
        if meanwhile is not None:
            meanwhile()
        hits = _search_each(paths, needle, ENDS, errors)
        return {path: hits.get(path, []) for path in paths}
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    found: dict[str, list] = {}
    try:
        for share in share_by_size(paths, sizes, workers):
            children.append(_fork(share, needle))
        if meanwhile is not None:
            meanwhile()
        while children:
            hits, ends, failed = _collect_child(*children.pop(0))
            found.update(hits)
            ENDS.update(ends)
            errors.update(failed)
    finally:  # an error or an interrupt on the way: stop and reap the others
        for pid, read_end in children:
            _stop(pid)
            os.close(read_end)
            os.waitpid(pid, 0)
    return {path: found.get(path, []) for path in paths}


def _fork(share: list[str], needle: bytes) -> tuple[int, int]:
    """A child process searching ``share``; it writes (ok, result or exception) pickled to a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no cleanup handler of the parent's may run here, hence os._exit
        status = 0
        try:
            os.close(read_end)
            try:
                payload = pickle.dumps((True, _search_share(share, needle)))
            except BaseException as exc:  # the parent raises it
                try:
                    payload = pickle.dumps((False, exc))
                except Exception:
                    payload = pickle.dumps((False, OSError(f"{type(exc).__name__}: {exc}")))
            with open(write_end, "wb") as pipe:
                pipe.write(payload)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _collect_child(pid: int, read_end: int) -> tuple[dict, dict]:
    """What the child sent; the child is reaped whatever happens (killed first on an error)."""
    finished = False
    try:
        with open(read_end, "rb") as pipe:
            payload = pipe.read()
        finished = True
    finally:
        if not finished:
            _stop(pid)
        os.waitpid(pid, 0)
    if not payload:
        raise OSError("a search process ended without an answer")
    ok, value = pickle.loads(payload)
    if not ok:
        raise value
    return value


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _search_share(paths: list[str], needle: bytes) -> tuple[dict, dict, dict]:
    ends: dict = {}
    errors: dict[str, str] = {}
    return _search_each(paths, needle, ends, errors), ends, errors


def _search_each(paths: list[str], needle: bytes, ends: dict, errors: dict[str, str]) -> dict[str, list]:
    """The paths with hits; those that cannot be read are said in ``errors`` (as grep goes on)."""
    found = {}
    for path in paths:
        try:
            hits = search(path, needle, ends, errors)
        except READ_ERRORS as exc:
            errors[path] = read_error(exc)
            continue
        if hits:
            found[path] = hits
    return found


def _line_time(line: bytes) -> str | None:
    m = _STAMP.search(line, 0, 200)
    return f"{m.group(1).decode()} {m.group(2).decode()}" if m else None


_SYSLOG_STAMP = re.compile(rb"([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}:\d{2}:\d{2})")
_MONTHS = {name: f"{number:02d}" for number, name in enumerate(
    (b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"), 1)}


def may_be_within(line: bytes, since: str, until: str) -> bool:
    """False when the line's stamp puts it outside [since, until] (file-local 'YYYY-MM-DD
    HH:MM:SS'); True when it is inside or cannot be told. A syslog stamp has no year: it is
    compared by month, day and time when both bounds fall in one year."""
    stamp = _line_time(line)
    if stamp is not None:
        return since <= stamp <= until
    m = _SYSLOG_STAMP.match(line)
    if m is None or m.group(1) not in _MONTHS or since[:4] != until[:4]:
        return True
    stamp = f"{_MONTHS[m.group(1)]}-{int(m.group(2)):02d} {m.group(3).decode()}"
    return since[5:] <= stamp <= until[5:]


def _time_after(handle, position: int, size: int) -> tuple[int, str | None]:
    """(offset of the first whole line at or after ``position``, the first timestamp from there)."""
    handle.seek(position)
    if position:
        handle.readline()
    start = handle.tell()
    for _ in range(_PROBE_LINES):
        line = handle.readline()
        if not line:
            break
        stamp = _line_time(line)
        if stamp:
            return start, stamp
    return start, None


def _first_at_or_after(handle, size: int, target: str) -> int | None:
    """Offset near the first line stamped ``target`` or later (None: the file has no oslo stamps)."""
    if _ends(handle, size)[0] is None:
        return None
    low, high = 0, size
    while high - low > 65536:
        middle = (low + high) // 2
        start, stamp = _time_after(handle, middle, size)
        if stamp is None or stamp >= target:
            high = middle
        else:
            low = start
    return low


def time_span(handle, size: int, since: str, until: str) -> tuple[int, int] | None:
    """Byte range of the file that may hold lines stamped in [since, until]: (0, 0) when the
    file lies wholly outside, None when it has no oslo timestamps to tell."""
    first, last = _ends(handle, size)
    if first is None:
        return None
    if last is not None and (last < since[:19] or first > until):
        return 0, 0
    start = _first_at_or_after(handle, size, since)
    end = _first_at_or_after(handle, size, until)
    end = size if end is None else min(size, end + 2 * 65536)
    start = max(0, start - SLACK)
    if start:
        handle.seek(start)
        handle.readline()
        start = handle.tell()
    return start, end


def local_time(stamp: str, tz) -> str:
    """A UTC event timestamp as the 'YYYY-MM-DD HH:MM:SS' a file in zone ``tz`` writes."""
    from ..parse.timestamps import event_time

    return event_time(stamp).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def file_range(path: str) -> tuple[str | None, str | None]:
    """First and last oslo timestamp of an uncompressed file (probes its ends only)."""
    with open(path, "rb") as handle:
        return _ends(handle, handle.seek(0, 2))


def outside(path: str, size: int, since: str, until: str) -> bool:
    """Whether the file's known first/last timestamps put it wholly outside [since, until]
    (known from the search pass; no file is opened here)."""
    ends = ENDS.get((path, size))
    return bool(ends and ends[0] and ends[1] and (ends[1] < since or ends[0] > until))


def _ends(handle, size: int) -> tuple[str | None, str | None]:
    """First and last oslo timestamps of an open file (cached per path and size)."""
    key = (handle.name, size)
    if key not in ENDS:
        ENDS[key] = _probe_ends(handle, size)
    return ENDS[key]


def _probe_ends(handle, size: int) -> tuple[str | None, str | None]:
    if size == 0:
        return None, None
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _first_stamp(data, size), _last_stamp(data, size)


def byte_span(path: str, since: str, until: str, tz: str = "UTC") -> tuple[int, int] | None:
    """Bytes of an uncompressed file that may hold events stamped in [since, until) (event
    stamps, UTC): (0, 0) for none, None when the file cannot be seeked by time (read it all)."""
    if compressed(path):
        return None
    from ..timezones import zone

    local = zone(tz)
    with open(path, "rb") as handle:
        return time_span(handle, handle.seek(0, 2), local_time(since, local), local_time(until, local))
