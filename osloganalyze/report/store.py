"""The local report's state: each night's tallies kept per log file and hour in one SQLite file,
so the next night takes its baseline from here and parses only what it has not counted.

A file is known by its content, not its name or inode: host, service and a hash of its first line
(a rotated ``nova-api.log.1`` is the same file as the ``nova-api.log`` it was, and so is the
``nova-api.log.2.gz`` it becomes, though compressing gives it a new inode), read in one time zone
(another ``--tz`` puts events in other hours: other rows). For each file the store holds, per UTC
hour, what the report counts of it (events, WARNING+ per service, host and level, error signatures
with first/last seen, the Keystone kinds): an hour stored is an hour that file is never parsed for
again, an hour missing (a file that grew, a baseline reaching further back) is parsed. The report
period itself is parsed (its rules run on the events) in every file that may hold events in it.

Which do: the store also keeps each file's ends, the stamps of its first and last events when it
had a given size (uncompressed: a ``.gz`` says its size in its last four bytes). A file of that
size again has no events outside them, so a rotation wholly before the period is not opened past
its first line, and its hours outside its ends are neither parsed nor stored.

Safety: each file's hours are written in one transaction once the file is read (a run killed
mid-way leaves every file either as it was or complete; SQLite rolls an interrupted write back on
the next open); the report's workers and concurrent runs wait for each other's writes (WAL, busy
timeout); a store from another osla version, or one SQLite cannot read, is set aside and rebuilt,
with a one-line note. Hours still being written (the last minutes before the run) are not stored.
Nothing is held in memory but the file being read (and which hours each file has stored): stored
hours are added to the tally as they are read from the store.
"""
from __future__ import annotations

import bisect
import bz2
import contextlib
import gzip
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .. import __version__
from ..sources.local import LogFile
from ..times import event_stamp, event_time
from .period import HOUR, Period, bucket
from .tally import HourCounts, Tally

log = logging.getLogger("osla")
STORE_FORMAT = 2  # 2: the ends table, the time zone in the file's key
FILE_NAME = "report-state.sqlite3"
HEAD_BYTES = 4096  # a file's identity: the hash of its first line, read within these bytes
SETTLE = 300  # seconds: hours ending less than this before the run are still being written
FLUSH_ROWS = 20_000  # rows of whole files written in one transaction


def default_dir() -> Path:
    """Where the state lives unless --state says: /var/lib/osla for root and system users (the
    systemd unit, cron), else $XDG_STATE_HOME/osla (~/.local/state/osla)."""
    if os.geteuid() < 1000:
        return Path("/var/lib/osla")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "osla"


def identity(logfile: LogFile, tz: str = "UTC") -> tuple[str | None, int | None]:
    """(host, service, time zone and the hash of the first line; the size of the content) of a
    file. The key is None when the file has no whole first line yet (it is then always parsed)
    or cannot be read; the size is None where it cannot be known without reading it all (bz2),
    and for a ``.gz`` it is what gzip keeps of it (the size modulo 2**32)."""
    if logfile.path == "-":
        return None, None
    packed = logfile.path.endswith(".gz")
    try:
        with open(logfile.path, "rb") as raw:
            if packed:
                with gzip.GzipFile(fileobj=raw) as unpacked:
                    head = unpacked.read(HEAD_BYTES)
                raw.seek(-4, os.SEEK_END)
                size: int | None = int.from_bytes(raw.read(4), "little")
            elif logfile.path.endswith(".bz2"):
                head, size = bz2.BZ2File(raw).read(HEAD_BYTES), None
            else:
                head, size = raw.read(HEAD_BYTES), os.fstat(raw.fileno()).st_size
    except (OSError, EOFError, ValueError, gzip.BadGzipFile):
        return None, None
    newline = head.find(b"\n")
    if newline < 0:
        return None, None
    digest = hashlib.sha256(head[:newline]).hexdigest()[:32]
    return f"{logfile.host or ''}\0{logfile.service or ''}\0{tz}\0{digest}", size


def same_size(stored: int, size: int, path: str) -> bool:
    """Whether a file of ``size`` bytes (as :func:`identity` gives it) has the stored size."""
    return stored == size or (path.endswith(".gz") and stored % 2**32 == size)


Ends = tuple[str, str]  # the first and last event stamps of a file (UTC)


@dataclass
class FilePlan:
    """What a night does with one file: the baseline hours it takes from the store, and the
    time ranges it parses (the rest of the baseline, and the period)."""

    key: str | None
    stored: frozenset[str] = frozenset()  # baseline hours the store holds (shared between files)
    parse: list[tuple[str, str]] = field(default_factory=list)  # [since, until) ranges to parse
    save_until: str = ""  # hours before this are complete: they may be stored
    size: int | None = None  # of the content, when it can be known (see identity)
    ends: Ends | None = None  # the stored first and last event stamps of a file of this size
    learned: Ends | None = None  # the ends found while reading it (to store)

    def inside(self, hour: str) -> bool:
        """Whether an hour may hold events of this file (its known ends, if any, say)."""
        ends = self.ends or self.learned
        if ends is None:
            return True
        return bucket(ends[0], HOUR) <= hour <= ends[1]


def hours_between(since: str, until: str) -> Iterator[str]:
    moment = event_time(since).replace(minute=0, second=0, microsecond=0)
    end = event_time(until)
    while moment < end:
        yield event_stamp(moment)
        moment += timedelta(hours=1)


def _runs(hours: list[str]) -> list[tuple[str, str]]:
    """Consecutive hours as [since, until) ranges."""
    runs: list[tuple[str, str]] = []
    for hour in hours:
        nxt = event_stamp(event_time(hour) + timedelta(hours=1))
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], nxt)
        else:
            runs.append((hour, nxt))
    return runs


class Store:
    """The state file; ``notes`` says what a person should know (rebuilt, not writable)."""

    def __init__(self, folder: Path | str):
        self.path = Path(folder) / FILE_NAME
        self.notes: list[str] = []
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self.usable = False
        self.now = time.time()
        self.rows_written = 0
        self._pending: list[tuple[str, str, bytes]] = []  # rows of whole files, not yet written
        self._pending_ends: list[tuple[str, int, str, str]] = []  # and their ends
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open()
            self.usable = True
        except (OSError, sqlite3.Error) as exc:
            self.notes.append(f"no state store at {self.path} ({exc}): every baseline day is read from the files")

    @property
    def db(self) -> sqlite3.Connection | None:
        """This process's connection (a forked worker opens its own: SQLite connections do not
        cross a fork)."""
        if not self.usable:
            return None
        if self._db is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._db = self._connect(check=False)
            self.rows_written = 0
            self._pending = []
            self._pending_ends = []
        return self._db

    def _open(self) -> sqlite3.Connection:
        try:
            db = self._connect()
            found = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if found.get("format") == str(STORE_FORMAT) and found.get("osla") == __version__:
                return db
            db.close()
            why = f"it was written by osla {found.get('osla', '?')}" if found else "it was incomplete"
        except sqlite3.DatabaseError as exc:
            why = f"SQLite could not read it: {exc}"
        self._set_aside()
        self.notes.append(f"state store {self.path} rebuilt ({why}): this night reads the whole baseline")
        return self._connect()

    def _connect(self, check: bool = True) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 120000")
        if not check:
            return db
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            db.close()
            raise sqlite3.DatabaseError("integrity check failed")
        db.execute("PRAGMA journal_mode = WAL")  # readers and one writer at a time, the workers included
        db.execute("PRAGMA synchronous = NORMAL")
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS hours (file TEXT, hour TEXT, data BLOB, PRIMARY KEY (file, hour))"
                       " WITHOUT ROWID")
            db.execute("CREATE TABLE IF NOT EXISTS ends (file TEXT PRIMARY KEY, size INTEGER, first TEXT, last TEXT)"
                       " WITHOUT ROWID")
            if not db.execute("SELECT 1 FROM meta").fetchone():
                db.executemany("INSERT INTO meta VALUES (?, ?)", [("format", str(STORE_FORMAT)), ("osla", __version__)])
        return db

    def _set_aside(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self.path}{suffix}", f"{self.path}.old{suffix}")

    def planner(self, period: Period, tz: str = "UTC") -> Callable[[LogFile], FilePlan]:
        """What a night does with each file (a worker plans the files it claims, as it reads
        them: the identity of thousands of files is not read one by one before the work starts)."""
        settled = event_stamp(datetime.fromtimestamp(self.now - SETTLE, UTC))
        baseline_hours = list(hours_between(period.baseline_start, period.start))
        # thousands of files hold the same hours: one set for all of them, of the same strings
        # (a set of 168 new strings per file took 450 MB for the benchmark's 3,300 files)
        canonical = {hour: hour for hour in baseline_hours}
        shared: dict[frozenset[str], frozenset[str]] = {}
        whole = (period.start, period.end)

        def plan_of(logfile: LogFile) -> FilePlan:
            db = self.db
            key, size = identity(logfile, tz) if db is not None else (None, None)
            plan = FilePlan(key, save_until=settled, size=size)
            if key is None or db is None:
                plan.parse = [(period.baseline_start, period.end)]
                return plan
            row = db.execute("SELECT size, first, last FROM ends WHERE file = ?", (key,)).fetchone()
            if row is not None and size is not None and same_size(row[0], size, logfile.path):
                plan.ends = (row[1], row[2])
                # only the hours between its ends may hold its events
                low = bisect.bisect_left(baseline_hours, bucket(row[1], HOUR))
                high = bisect.bisect_right(baseline_hours, row[2])
                hours = baseline_hours[low:high]
                in_period = row[1] < period.end and row[2] >= period.start
            else:
                hours, in_period = baseline_hours, True
            if hours:
                stored = frozenset(canonical.get(hour, hour) for (hour,) in db.execute(
                    "SELECT hour FROM hours WHERE file = ? AND hour >= ? AND hour <= ?", (key, hours[0], hours[-1])))
                plan.stored = shared.setdefault(stored, stored)
            plan.parse = _runs([h for h in hours if h not in plan.stored]) + ([whole] if in_period else [])
            return plan
        return plan_of

    def release(self) -> None:
        """Close this process's connection (before the workers fork: each opens its own)."""
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

    def add_stored(self, plan: FilePlan, period: Period, tally: Tally) -> None:
        """Add the baseline hours the store holds for this file into ``tally``, row by row."""
        db = self.db
        if db is None or plan.key is None or not plan.stored:
            return
        # most stored hours are empty (a daily rotation holds one day of the baseline's seven):
        # SQLite skips them, nothing is decoded for them
        for hour, data in db.execute("SELECT hour, data FROM hours WHERE file = ? AND hour >= ? AND hour < ?"
                                     " AND data != ?", (plan.key, period.baseline_start, period.start, _EMPTY)):
            if hour in plan.stored:
                HourCounts.of_json(data).add_into(tally, hour, "baseline")

    def save_file(self, plan: FilePlan, hours: dict[str, HourCounts]) -> None:
        """Store a file's parsed hours: every hour of a parsed range that has ended, empty ones
        too (an hour stored is an hour known), but those outside the file's ends; and the ends.
        They are written with the next files' (a commit per file cost ~0.5 ms, a night reads
        thousands of files): :meth:`flush` writes them."""
        db = self.db
        if db is None or plan.key is None:
            return
        rows = []
        complete = bucket(plan.save_until, HOUR)  # the hours that start before it have ended by save_until
        for since, until in plan.parse:
            for hour in hours_between(since, min(until, complete)):
                counts = hours.get(hour)
                if counts is not None:
                    rows.append((plan.key, hour, counts.to_json()))
                elif plan.inside(hour):
                    rows.append((plan.key, hour, _EMPTY))
        self._pending.extend(rows)
        if plan.learned is not None and plan.size is not None and plan.ends is None:
            self._pending_ends.append((plan.key, plan.size, *plan.learned))
        if len(self._pending) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the files' hours saved so far, in one transaction: each file is in it whole (a
        run killed before leaves those files as they were: the next night parses them again)."""
        rows, self._pending = self._pending, []
        ends, self._pending_ends = self._pending_ends, []
        db = self.db
        if not (rows or ends) or db is None:
            return
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT OR REPLACE INTO hours VALUES (?, ?, ?)", rows)
                db.executemany("INSERT OR REPLACE INTO ends VALUES (?, ?, ?, ?)", ends)
            self.rows_written += len(rows)
        except sqlite3.Error as exc:
            note = f"state store {self.path} not updated ({exc}): the next night reads these hours again"
            if note not in self.notes:
                self.notes.append(note)

    def written(self) -> int:
        """Rows this process wrote (the workers' are theirs)."""
        return self.rows_written

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None


_EMPTY = HourCounts().to_json()
