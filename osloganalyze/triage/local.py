"""Triage on a local log tree, at about the cost of one ``grep -rF``.

1. One pass over every file looks for the id's bytes (when it is not there, a second pass looks
   for a prefix of it, for the near matches). Only the records starting on matching lines are parsed.
2. The seed's time window (its events, widened by ``--around``) is located in every file by
   binary search on the timestamps at line starts; each further id of the chase is looked for,
   as bytes, in those ranges only, and again only the records holding it are parsed.
3. Nearby errors: the few seconds around the request's failures, in every file.

An id always sits on the first line of its record (the oslo context block), so searching bytes
finds every event an Elasticsearch terms query on the id fields would. Compressed rotations
cannot be seeked into: they are parsed whole when searched past the first pass.
"""
from __future__ import annotations

import re

from .. import schema
from ..parse import Stats, parse_file, parse_range
from ..sources.grep import search, search_all, search_span
from ..sources.local import LogFile, file_size
from ..sources.seek import (
    READ_ERRORS,
    SLACK,
    FileEnds,
    compressed,
    files_range,
    line_start,
    may_be_within,
    read_error,
)
from ..times import local_time, shift, zone
from .correlate import REQUEST_FIELDS

_CONTEXT = 16 << 10     # bytes parsed before a record of interest (the parser groups within 32 lines)
_MAX_SEED_LINES = 20000
# every way a line can say ERROR or CRITICAL (schema.LEVEL_ALIASES; old TRACE prefixes; Apache's [x:error])
_ERROR_WORDS = [b"ERR", b"CRIT", b"TRACE", b"FATAL", b"EMERG", b"ALERT", b"EXCEPTION", b"err", b"crit"]


class LocalFetcher:
    """A log tree answering :class:`~.correlate.Fetcher` by searching bytes and parsing only the
    records that hold an id (and, for nearby errors, a few seconds of every file)."""

    def __init__(self, logfiles: list[LogFile], tz: str = "UTC", year: int | None = None, around: int = 600,
                 seed_hits: tuple[bytes, dict, dict, dict] | None = None, ends: FileEnds | None = None):
        """``seed_hits``: (needle, hits, sizes, read errors; each per path) of the search for the
        seed's bytes, done already (see triage_local); ``ends``: the files' first and last stamps
        as that search found them."""
        self.logfiles = logfiles
        self.tz_name, self.tz, self.year, self.around = tz, zone(tz), year, around
        self.stats = Stats()
        self.ends = ends if ends is not None else FileEnds()
        self.near: list[str] = []
        self.files_with_hits = 0
        self._seed_hits = seed_hits
        self._window: tuple[str, str] | None = None  # file-local 'YYYY-MM-DD HH:MM:SS' bounds
        self._ranges: dict[LogFile, tuple[int, int] | None] = {}
        self._parsed: dict[tuple[str, int], dict] = {}  # (path, offset) -> event
        self._whole: dict[LogFile, list[dict]] = {}  # compressed files, parsed once when needed
        self._sizes: dict[str, int] = seed_hits[2] if seed_hits else {}  # as the search found them
        self._read_errors: dict[str, str] = dict(seed_hits[3]) if seed_hits else {}  # path -> why

    def _size(self, logfile: LogFile) -> int:
        if logfile.path not in self._sizes:
            self._sizes[logfile.path] = file_size(logfile.path)
        return self._sizes[logfile.path]

    # --- parsing only what holds an id ----------------------------------------------------------

    def _whole_file(self, logfile: LogFile) -> list[dict]:
        if logfile not in self._whole:
            self._whole[logfile] = list(parse_file(logfile, tz=self.tz_name, year=self.year, stats=self.stats))
        return self._whole[logfile]

    def _events_at(self, logfile: LogFile, offsets: list[int]) -> list[dict]:
        """The events that start at these line offsets (a line inside another record starts none)."""
        if compressed(logfile.path):
            wanted = set(offsets)
            return [e for e in self._whole_file(logfile) if e.get(schema.LOG_OFFSET) in wanted]
        found = []
        todo = sorted(o for o in set(offsets) if (logfile.path, o) not in self._parsed)
        for cluster in _clusters(todo):
            # start a little earlier, so a line is grouped with the record it belongs to as in a full parse
            start = line_start(logfile.path, max(0, cluster[0] - _CONTEXT))
            passed = 0  # events leave the parser in the order they start, so an offset below the
            for event in parse_range(logfile, start, cluster[-1] + SLACK, tz=self.tz_name, year=self.year,
                                     stats=self.stats):  # latest event's starts no record (a traceback line)
                offset = event.get(schema.LOG_OFFSET, -1)
                while passed < len(cluster) and cluster[passed] < offset:
                    passed += 1
                if passed < len(cluster) and cluster[passed] == offset:
                    self._parsed[(logfile.path, offset)] = event
                    passed += 1
                if passed == len(cluster):
                    break
        for offset in set(offsets):
            parsed = self._parsed.get((logfile.path, offset))
            if parsed is not None:
                found.append(parsed)
        return found

    def _range(self, logfile: LogFile) -> tuple[int, int] | None:
        """Bytes of the file inside the seed's window: None for the whole file (no oslo stamps to
        seek by), (0, 0) for none."""
        if logfile not in self._ranges:
            if self._window is None or compressed(logfile.path):
                self._ranges[logfile] = None
            elif self.ends.outside(logfile.path, self._size(logfile), *self._window):
                self._ranges[logfile] = (0, 0)
            else:
                self._ranges[logfile] = self.ends.span_of(logfile.path, *self._window)
        return self._ranges[logfile]

    def _lines_with(self, logfile: LogFile, needles: list[bytes], span: tuple[int, int] | None,
                    within: tuple[str, str] | None = None) -> list[int]:
        """Offsets of the lines in ``span`` holding one of ``needles``; with ``within`` (file-local
        'YYYY-MM-DD HH:MM:SS' bounds), not those stamped outside it (lines with no stamp are kept)."""
        if span is None:
            hits = [hit for needle in needles for hit in search(logfile.path, needle)]
        else:
            hits = search_span(logfile.path, needles, *span)
        if within is None:
            return sorted({offset for offset, _ in hits})
        return sorted({offset for offset, line in hits if may_be_within(line, *within)})

    # --- the Fetcher interface ------------------------------------------------------------------

    def seed_events(self, kind: str, value: str) -> list[dict]:
        paths = [f.path for f in self.logfiles]
        if self._seed_hits is not None and self._seed_hits[0] == value.encode():
            hits = self._seed_hits[1]
        else:
            hits = search_all(paths, value.encode(), self._sizes, errors=self._read_errors, ends=self.ends)
        by_path = {f.path: f for f in self.logfiles}
        exact = {by_path[path]: [o for o, _ in lines][:_MAX_SEED_LINES] for path, lines in hits.items() if lines}
        self.files_with_hits = len(exact)
        if not exact:  # a second pass, for the near matches (a longer needle is searched faster, hence two)
            prefix = (value[:12] if kind == "request" else value[:8]).encode()
            near = search_all(paths, prefix, self._sizes, errors=self._read_errors, ends=self.ends)
            self.near = sorted({m.decode() for lines in near.values() for _, line in lines
                                for m in re.findall(re.escape(prefix) + rb"[0-9a-f-]{4,32}", line)})[:20]
            return []
        fields = REQUEST_FIELDS if kind == "request" else (schema.INSTANCE_UUID,)
        seeds = [e for f, offsets in exact.items() for e in self._each(f, self._events_at, f, offsets)
                 if any(e.get(name) == value for name in fields)]
        stamps = sorted(e[schema.TIMESTAMP] for e in seeds if e.get(schema.TIMESTAMP))
        if stamps:  # a little wider than the correlation's window: stamps at line starts are approximate
            self._window = (local_time(shift(stamps[0], -self.around - 60), self.tz),
                            local_time(shift(stamps[-1], self.around + 60), self.tz))
        return seeds

    def fetch(self, requests: set[str], instances: set[str], since: str, until: str) -> list[dict]:
        needles = [i.encode() for i in sorted(requests | instances)]
        found = []
        for logfile in self.logfiles:
            for event in self._each(logfile, self._with_ids, logfile, needles):
                if (any(event.get(f) in requests for f in REQUEST_FIELDS)
                        or event.get(schema.INSTANCE_UUID) in instances) \
                        and event.get(schema.TIMESTAMP) is not None and since <= event[schema.TIMESTAMP] < until:
                    found.append(event)
        return found

    def errors(self, since: str, until: str) -> list[dict]:
        found: list[dict] = []
        narrow = (local_time(since, self.tz), local_time(until, self.tz))
        for logfile in self.logfiles:
            found.extend(e for e in self._each(logfile, self._errors_in, logfile, narrow)
                         if e.get(schema.LOG_LEVEL) in ("ERROR", "CRITICAL")
                         and e.get(schema.TIMESTAMP) is not None and since <= e[schema.TIMESTAMP] < until)
        return found

    def read_errors(self) -> list[str]:
        """The files that could not be read (whole or in part), one line each."""
        said = [f"{path}: {why}" for path, why in self._read_errors.items()]
        return said + [e for e in self.stats.errors if not any(e.startswith(f"{path}: ") for path in self._read_errors)]

    def time_range(self) -> tuple[str | None, str | None]:
        """The first and last timestamps of the uncompressed files, as UTC event stamps."""
        return files_range([f.path for f in self.logfiles], self.tz, self._read_errors)

    # --- one file -------------------------------------------------------------------------------

    def _each(self, logfile: LogFile, work, *args):
        """``work(*args)`` on one file; a file that cannot be read (gone since the search, unreadable)
        is skipped and said in the read errors, as grep goes on past it."""
        try:
            return work(*args)
        except READ_ERRORS as exc:
            self._read_errors[logfile.path] = read_error(exc)
            return ()

    def _with_ids(self, logfile: LogFile, needles: list[bytes]) -> list[dict]:
        span = self._range(logfile)
        if span is not None and span[1] <= span[0]:
            return []
        return self._events_at(logfile, self._lines_with(logfile, needles, span))

    def _errors_in(self, logfile: LogFile, narrow: tuple[str, str]) -> list[dict]:
        if compressed(logfile.path):
            return self._whole_file(logfile)
        if self.ends.outside(logfile.path, self._size(logfile), *narrow):
            return []
        span = self.ends.span_of(logfile.path, *narrow)
        if span is not None and span[1] <= span[0]:
            return []
        return self._events_at(logfile, self._lines_with(logfile, _ERROR_WORDS, span, narrow))


def _clusters(offsets: list[int], gap: int = SLACK) -> list[list[int]]:
    clusters: list[list[int]] = []
    for offset in offsets:
        if clusters and offset - clusters[-1][-1] <= gap:
            clusters[-1].append(offset)
        else:
            clusters.append([offset])
    return clusters


