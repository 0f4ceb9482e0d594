"""sources -> parse -> events: turn log files into schema events (see :mod:`osloganalyze.schema`)."""
from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from .. import schema
from ..sources.local import LogFile, Problems, discover, encodable, read_lines
from .lines import LineParser
from .records import Grouper, Stats
from .timestamps import TimeConverter

__all__ = ["discover_into", "parse_paths", "parse_file", "parse_range", "parse_text", "Stats"]
log = logging.getLogger("osla.files")


def parse_paths(paths: list[str], *, tz: str = "UTC", host: str | None = None, year: int | None = None,
                stats: Stats | None = None) -> Iterator[dict]:
    """Events from every log file under ``paths``, file by file, in reading order."""
    stats = stats if stats is not None else Stats()
    for logfile in discover_into(stats, paths, host):
        yield from parse_file(logfile, tz=tz, year=year, stats=stats)


def discover_into(stats: Stats, paths: list[str], host: str | None = None) -> list[LogFile]:
    """The log files under ``paths`` (:func:`~osloganalyze.sources.local.discover`), what could
    not be read said in ``stats.errors`` and the special files skipped in ``stats.skipped``."""
    problems = Problems()
    logfiles = discover(paths, host=host, problems=problems)
    stats.errors.extend(problems.errors)
    stats.skipped.extend(problems.notes)
    return logfiles


def parse_file(logfile: LogFile, *, tz: str = "UTC", year: int | None = None,
               stats: Stats | None = None) -> Iterator[dict]:
    stats = stats if stats is not None else Stats()
    stats.files += 1
    log.debug("reading %s", logfile.path)
    if year is None:
        mtime = logfile.mtime()
        year = datetime.fromtimestamp(mtime, UTC).year if mtime else None
    try:
        handle = logfile.open()
    except OSError as exc:
        stats.errors.append(f"{logfile.path}: {exc.strerror or exc}")
        return
    try:
        lines = read_lines(handle, on_cut=_counter(stats), on_error=_read_error(logfile.path, stats))
        yield from _events(lines, logfile, TimeConverter(tz, year), stats)
    finally:
        if logfile.path != "-":
            handle.close()


def parse_range(logfile: LogFile, start: int, end: int | None, *, tz: str = "UTC", year: int | None = None,
                stats: Stats | None = None) -> Iterator[dict]:
    """Events of the bytes [start, end) of an uncompressed file (``start`` at a line start; the
    line running over ``end`` is read whole). Offsets stay those of the whole file."""
    stats = stats if stats is not None else Stats()
    log.debug("reading %s bytes %d-%s", logfile.path, start, end if end is not None else "end")
    if year is None:
        mtime = logfile.mtime()
        year = datetime.fromtimestamp(mtime, UTC).year if mtime else None
    with logfile.open_range(start, end) as handle:
        lines = read_lines(handle, on_cut=_counter(stats), start=start, on_error=_read_error(logfile.path, stats))
        yield from _events(lines, logfile, TimeConverter(tz, year), stats)


def _counter(stats: Stats):
    def cut(_offset: int, _skipped: int) -> None:
        stats.cut_lines += 1
    return cut


def _read_error(path: str, stats: Stats):
    """Where a file cannot be read further: the error is recorded, and the events read up to
    there are still completed and emitted."""
    def failed(exc: BaseException) -> None:
        stats.errors.append(f"{path}: read failed: {exc}")
    return failed


def parse_text(text: str, *, path: str = "<text>", host: str | None = None, service: str | None = None,
               tz: str = "UTC", year: int | None = None, stats: Stats | None = None) -> list[dict]:
    """Events of a string of log lines (tests, snippets, a pasted excerpt)."""
    stats = stats if stats is not None else Stats()
    lines = read_lines(io.BytesIO(text.encode("utf-8", "surrogateescape")))
    return list(_events(lines, LogFile(path, host, service), TimeConverter(tz, year), stats))


def _events(lines: Iterable[tuple[int, int, str]], logfile: LogFile, times: TimeConverter,
            stats: Stats) -> Iterator[dict]:
    base = {schema.LOG_FILE_PATH: encodable(logfile.path), schema.HOST_NAME: encodable(logfile.host),
            schema.SERVICE_NAME: encodable(logfile.service)}
    yield from Grouper(LineParser(times), base, stats, logfile.path).run(lines)
