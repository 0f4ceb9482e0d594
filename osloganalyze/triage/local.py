"""Triage on a local log tree, at about the cost of one ``grep -rF``.

1. One pass over every file looks for the id's bytes (a prefix of it, so near matches come for
   free when the id is not there). Only the records starting on matching lines are parsed.
2. The seed's time window (its events, widened by ``--around``) is located in every file by
   binary search on the timestamps at line starts; each further id of the chase is looked for,
   as bytes, in those ranges only, and again only the records holding it are parsed.
3. Nearby errors: the few seconds around the request's failures, in every file.

An id always sits on the first line of its record (the oslo context block), so searching bytes
finds every event an Elasticsearch terms query on the id fields would. Compressed rotations
cannot be seeked into: they are parsed whole when searched past the first pass.
"""
from __future__ import annotations

import mmap
import multiprocessing as mp
import os
import re
from concurrent.futures import ProcessPoolExecutor

from .. import schema
from ..parse import Stats, parse_file, parse_range
from ..parse.timestamps import event_time, zone
from ..sources.local import LogFile, discover, file_size, share_by_size
from .correlate import REQUEST_FIELDS, shift

CHUNK = 8 << 20
_STAMP = re.compile(rb"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})")
_PROBE_LINES = 50       # lines read after a seek to find a timestamp
_SLACK = 64 << 10       # bytes read before a window's start (a traceback may begin earlier)
_CONTEXT = 16 << 10     # bytes parsed before a record of interest (the parser groups within 32 lines)
_MAX_SEED_LINES = 20000
# every way a line can say ERROR or CRITICAL (schema.LEVEL_ALIASES; old TRACE prefixes; Apache's [x:error])
_ERROR_WORDS = [b"ERR", b"CRIT", b"TRACE", b"FATAL", b"EMERG", b"ALERT", b"EXCEPTION", b"err", b"crit"]


def _compressed(path: str) -> bool:
    """A file that cannot be mapped or seeked into (compressed rotations, standard input)."""
    return path.endswith((".gz", ".bz2")) or path == "-"


def search(logfile: LogFile, needle: bytes, ends: dict | None = None) -> list[tuple[int, bytes]]:
    """(offset, line) of every line containing ``needle`` (like grep -F, compressed files too).
    For an uncompressed file, ``ends`` receives its first and last timestamps on the way."""
    if not _compressed(logfile.path):
        return _search_mapped(logfile.path, needle, ends)
    hits = []
    with logfile.open() as handle:
        base = 0
        carry = b""
        while True:
            chunk = handle.read(CHUNK)
            buffer = carry + chunk if carry else chunk
            if not chunk:
                cut = len(buffer)
            else:
                cut = buffer.rfind(b"\n") + 1
                if cut == 0:
                    carry = buffer
                    continue
            position = buffer.find(needle, 0, cut)
            while position >= 0:
                start = buffer.rfind(b"\n", 0, position) + 1
                end = buffer.find(b"\n", position, cut)
                end = cut if end < 0 else end
                hits.append((base + start, buffer[start:end]))
                position = buffer.find(needle, end, cut)
            if not chunk:
                break
            carry = buffer[cut:]
            base += cut
    return hits


def _search_mapped(path: str, needle: bytes, ends: dict | None) -> list[tuple[int, bytes]]:
    """search() on an uncompressed file through mmap: no copy, the kernel's page cache is searched."""
    hits = []
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            if ends is not None:
                ends[(path, 0)] = (None, None)
            return hits
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            position = data.find(needle)
            while position >= 0:
                start = data.rfind(b"\n", 0, position) + 1
                end = data.find(b"\n", position)
                end = size if end < 0 else end
                hits.append((start, data[start:end]))
                position = data.find(needle, end)
            if ends is not None:
                ends[(path, size)] = _mapped_ends(data, size)
    return hits


def _mapped_ends(data, size: int) -> tuple[str | None, str | None]:
    """First and last oslo timestamps of a mapped file (devstack logs open with long shell traces,
    hence up to 2,000 lines from either end)."""
    return _mapped_first_stamp(data, size), _mapped_last_stamp(data, size)


def _mapped_first_stamp(data, size: int, lines: int = 2000) -> str | None:
    position = 0
    for _ in range(lines):
        if position >= size:
            return None
        stamp = _line_time(data[position:position + 200])
        if stamp:
            return stamp
        newline = data.find(b"\n", position)
        if newline < 0:
            return None
        position = newline + 1
    return None


def _mapped_last_stamp(data, size: int, lines: int = 2000) -> str | None:
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
_ENDS: dict[tuple[str, int], tuple[str | None, str | None]] = {}
PARALLEL_BYTES = 64 << 20  # below this, one process searches faster than two start


def search_all(logfiles: list[LogFile], needle: bytes) -> dict[LogFile, list[tuple[int, bytes]]]:
    """:func:`search` over many files, split over the machine's cores when there is much to read."""
    workers = min(os.cpu_count() or 1, 8)
    sizes = {f: file_size(f.path) for f in logfiles}
    if workers < 2 or sum(sizes.values()) < PARALLEL_BYTES or "fork" not in mp.get_all_start_methods():
        return {f: search(f, needle, _ENDS) for f in logfiles}
    shares = share_by_size(logfiles, sizes, workers)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        found: dict[str, list] = {}
        for hits, ends in pool.map(_search_share, shares, [needle] * workers):
            found.update(hits)
            _ENDS.update(ends)
    return {f: found.get(f.path, []) for f in logfiles}


def _search_share(logfiles: list[LogFile], needle: bytes) -> tuple[dict, dict]:
    ends: dict = {}
    return {f.path: hits for f in logfiles if (hits := search(f, needle, ends))}, ends


def _line_time(line: bytes) -> str | None:
    m = _STAMP.search(line, 0, 200)
    return f"{m.group(1).decode()} {m.group(2).decode()}" if m else None


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


def _span(handle, size: int, since: str, until: str) -> tuple[int, int] | None:
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
    start = max(0, start - _SLACK)
    if start:
        handle.seek(start)
        handle.readline()
        start = handle.tell()
    return start, end


def _local(stamp: str, tz) -> str:
    """A UTC event timestamp as the 'YYYY-MM-DD HH:MM:SS' a file in zone ``tz`` writes."""
    return event_time(stamp).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


class LocalFetcher:
    """A log tree answering :class:`~.correlate.Fetcher` by searching bytes and parsing only the
    records that hold an id (and, for nearby errors, a few seconds of every file)."""

    def __init__(self, paths: list[str], tz: str = "UTC", host: str | None = None, year: int | None = None,
                 around: int = 600):
        self.logfiles = discover(paths, host=host)
        self.tz_name, self.tz, self.year, self.around = tz, zone(tz), year, around
        self.stats = Stats()
        self.near: list[str] = []
        self.files_with_hits = 0
        self._window: tuple[str, str] | None = None  # file-local 'YYYY-MM-DD HH:MM:SS' bounds
        self._ranges: dict[LogFile, tuple[int, int] | None] = {}
        self._parsed: dict[tuple[str, int], dict] = {}  # (path, offset) -> event
        self._whole: dict[LogFile, list[dict]] = {}  # compressed files, parsed once when needed

    # --- parsing only what holds an id ----------------------------------------------------------

    def _whole_file(self, logfile: LogFile) -> list[dict]:
        if logfile not in self._whole:
            self._whole[logfile] = list(parse_file(logfile, tz=self.tz_name, year=self.year, stats=self.stats))
        return self._whole[logfile]

    def _events_at(self, logfile: LogFile, offsets: list[int]) -> list[dict]:
        """The events that start at these line offsets (a line inside another record starts none)."""
        if _compressed(logfile.path):
            wanted = set(offsets)
            return [e for e in self._whole_file(logfile) if e.get(schema.LOG_OFFSET) in wanted]
        found = []
        todo = sorted(o for o in set(offsets) if (logfile.path, o) not in self._parsed)
        for cluster in _clusters(todo):
            wanted = set(cluster)
            # start a little earlier, so a line is grouped with the record it belongs to as in a full parse
            start = _line_start(logfile.path, max(0, cluster[0] - _CONTEXT))
            for event in parse_range(logfile, start, cluster[-1] + _SLACK, tz=self.tz_name, year=self.year,
                                     stats=self.stats):
                offset = event.get(schema.LOG_OFFSET)
                if offset in wanted:
                    self._parsed[(logfile.path, offset)] = event
                    wanted.discard(offset)
                    if not wanted:
                        break
        for offset in set(offsets):
            event = self._parsed.get((logfile.path, offset))
            if event is not None:
                found.append(event)
        return found

    def _range(self, logfile: LogFile) -> tuple[int, int] | None:
        """Bytes of the file inside the seed's window: None for the whole file (no oslo stamps to
        seek by), (0, 0) for none."""
        if logfile not in self._ranges:
            if self._window is None or _compressed(logfile.path):
                self._ranges[logfile] = None
            elif _outside(logfile.path, *self._window):
                self._ranges[logfile] = (0, 0)
            else:
                with open(logfile.path, "rb") as handle:
                    self._ranges[logfile] = _span(handle, handle.seek(0, 2), *self._window)
        return self._ranges[logfile]

    def _lines_with(self, logfile: LogFile, needles: list[bytes], span: tuple[int, int] | None) -> list[int]:
        if span is None:
            return sorted({o for needle in needles for o, _ in search(logfile, needle)})
        start, end = span
        with open(logfile.path, "rb") as handle:
            handle.seek(start)
            data = handle.read(end - start)
        offsets = set()
        for needle in needles:
            position = data.find(needle)
            while position >= 0:
                line = data.rfind(b"\n", 0, position) + 1
                offsets.add(start + line)
                position = data.find(needle, position + len(needle))
        return sorted(offsets)

    # --- the Fetcher interface ------------------------------------------------------------------

    def seed_events(self, kind: str, value: str) -> list[dict]:
        prefix = value[:12] if kind == "request" else value[:8]
        hits = search_all(self.logfiles, prefix.encode())
        exact = {f: [o for o, line in lines if value.encode() in line][:_MAX_SEED_LINES] for f, lines in hits.items()}
        exact = {f: offsets for f, offsets in exact.items() if offsets}
        self.files_with_hits = len(exact)
        if not exact:
            self.near = sorted({m.decode() for lines in hits.values() for _, line in lines
                                for m in re.findall(re.escape(prefix.encode()) + rb"[0-9a-f-]{4,32}", line)})[:20]
            return []
        fields = REQUEST_FIELDS if kind == "request" else (schema.INSTANCE_UUID,)
        seeds = [e for f, offsets in exact.items() for e in self._events_at(f, offsets)
                 if any(e.get(name) == value for name in fields)]
        stamps = sorted(e[schema.TIMESTAMP] for e in seeds if e.get(schema.TIMESTAMP))
        if stamps:  # a little wider than the correlation's window: stamps at line starts are approximate
            self._window = (_local(shift(stamps[0], -self.around - 60), self.tz),
                            _local(shift(stamps[-1], self.around + 60), self.tz))
        return seeds

    def fetch(self, requests: set[str], instances: set[str], since: str, until: str) -> list[dict]:
        needles = [i.encode() for i in sorted(requests | instances)]
        found = []
        for logfile in self.logfiles:
            span = self._range(logfile)
            if span is not None and span[1] <= span[0]:
                continue
            for event in self._events_at(logfile, self._lines_with(logfile, needles, span)):
                if (any(event.get(f) in requests for f in REQUEST_FIELDS)
                        or event.get(schema.INSTANCE_UUID) in instances) \
                        and event.get(schema.TIMESTAMP) is not None and since <= event[schema.TIMESTAMP] < until:
                    found.append(event)
        return found

    def errors(self, since: str, until: str) -> list[dict]:
        found = []
        narrow = (_local(since, self.tz), _local(until, self.tz))
        for logfile in self.logfiles:
            if _compressed(logfile.path):
                events = self._whole_file(logfile)
            elif _outside(logfile.path, *narrow):
                continue
            else:
                with open(logfile.path, "rb") as handle:
                    span = _span(handle, handle.seek(0, 2), *narrow)
                if span is not None and span[1] <= span[0]:
                    continue
                events = self._events_at(logfile, self._lines_with(logfile, _ERROR_WORDS, span))
            found.extend(e for e in events if e.get(schema.LOG_LEVEL) in ("ERROR", "CRITICAL")
                         and e.get(schema.TIMESTAMP) is not None and since <= e[schema.TIMESTAMP] < until)
        return found

    def time_range(self) -> dict:
        """The first and last timestamps of the uncompressed files (file time, as written)."""
        spans = [_file_range(f.path) for f in self.logfiles if not _compressed(f.path)]
        firsts = [a for a, _ in spans if a]
        lasts = [b for _, b in spans if b]
        return {"from": min(firsts) if firsts else None, "to": max(lasts) if lasts else None}


def _line_start(path: str, position: int) -> int:
    if position == 0:
        return 0
    with open(path, "rb") as handle:
        handle.seek(position)
        handle.readline()
        return handle.tell()


def _clusters(offsets: list[int], gap: int = _SLACK) -> list[list[int]]:
    clusters: list[list[int]] = []
    for offset in offsets:
        if clusters and offset - clusters[-1][-1] <= gap:
            clusters[-1].append(offset)
        else:
            clusters.append([offset])
    return clusters


def _file_range(path: str) -> tuple[str | None, str | None]:
    """First and last oslo timestamp of an uncompressed file (probes its ends only)."""
    with open(path, "rb") as handle:
        return _ends(handle, handle.seek(0, 2))


def _outside(path: str, since: str, until: str) -> bool:
    """Whether the file's known first/last timestamps put it wholly outside [since, until]
    (known from the search pass; no file is opened here)."""
    ends = _ENDS.get((path, file_size(path)))
    return bool(ends and ends[0] and ends[1] and (ends[1] < since or ends[0] > until))


def _ends(handle, size: int) -> tuple[str | None, str | None]:
    """First and last oslo timestamps of an open file (cached per path and size)."""
    key = (handle.name, size)
    if key not in _ENDS:
        _ENDS[key] = _probe_ends(handle, size)
    return _ENDS[key]


def _probe_ends(handle, size: int) -> tuple[str | None, str | None]:
    if size == 0:
        return None, None
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _mapped_ends(data, size)


def byte_span(path: str, since: str, until: str, tz: str = "UTC") -> tuple[int, int] | None:
    """Bytes of an uncompressed file that may hold events stamped in [since, until) (event
    stamps, UTC): (0, 0) for none, None when the file cannot be seeked by time (read it all)."""
    if _compressed(path):
        return None
    local = zone(tz)
    with open(path, "rb") as handle:
        return _span(handle, handle.seek(0, 2), _local(since, local), _local(until, local))
