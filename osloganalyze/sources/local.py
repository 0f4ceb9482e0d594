"""Local log trees, the embedded source: a node's /var/log, /var/log/kolla, or an
unpacked bundle with one folder per host (<host>/var/log/<dir>/<file>).

Rotated files are read oldest first (nova-api.log.3.gz, .2.gz, .1, then nova-api.log;
or dated suffixes in date order); .gz files are read transparently. Offsets are byte
offsets in the (decompressed) file.
"""
from __future__ import annotations

import bz2
import gzip
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol, cast, overload

from ..errors import OslaError
from .naming import base_name, host_for_path, service_for_path
from .seek import READ_ERRORS

STDIN = "-"
_LOG_NAME = re.compile(
    r"\.(?:log|txt)(?:[.-](?:\d+|\d{8}|\d{4}-\d{2}-\d{2}(?:[_T][\d:]+)?))*(?:\.(?:gz|bz2))?$")
_NUMBERED = re.compile(r"\.(\d{1,3})(?:\.(?:gz|bz2))?$")
_DATED = re.compile(r"[.-](\d{8}|\d{4}-\d{2}-\d{2}(?:[_T][\d:]+)?)(?:\.(?:gz|bz2))?$")


class SourceError(OslaError):
    """A path that cannot be used as a source (one line for the user)."""


@dataclass(frozen=True)
class LogFile:
    path: str
    host: str | None
    service: str | None

    def open(self) -> IO[bytes]:
        if self.path == STDIN:
            return sys.stdin.buffer
        if self.path.endswith(".gz"):
            return cast(IO[bytes], gzip.open(self.path, "rb"))
        if self.path.endswith(".bz2"):
            return cast(IO[bytes], bz2.open(self.path, "rb"))
        return open(self.path, "rb")

    def open_range(self, start: int, end: int | None) -> _Range:
        """The bytes from ``start`` (a line start) of an uncompressed file, up to the first
        newline at or after ``end`` (None: to the end)."""
        handle = open(self.path, "rb")  # noqa: SIM115 - closed by the _Range it is handed to
        handle.seek(start)
        return _Range(handle, end)

    def mtime(self) -> float | None:
        try:
            return os.stat(self.path).st_mtime if self.path != STDIN else None
        except OSError:
            return None


class _Range:
    """A reader that stops at the first newline at or after ``end``."""

    def __init__(self, handle: IO[bytes], end: int | None):
        self.handle, self.end, self.done = handle, end, False

    def read1(self, size: int) -> bytes:
        if self.done:
            return b""
        data = self.handle.read(size)
        if self.end is not None and self.handle.tell() >= self.end:
            before = len(data) - (self.handle.tell() - self.end)
            newline = data.find(b"\n", max(before, 0))
            if newline >= 0:
                self.done = True
                return data[:newline + 1]
        return data

    def read(self, size: int) -> bytes:  # not ``read = read1``: mypyc compiles this class
        return self.read1(size)

    def __enter__(self) -> _Range:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def is_log_file(name: str) -> bool:
    return bool(_LOG_NAME.search(name)) and not name.startswith(".")


def rotation_order(path: str) -> tuple:
    """Sort key: older rotations first, the live file last."""
    name = os.path.basename(path)
    m = _NUMBERED.search(name)
    if m and base_name(name) != name:
        return (0, -int(m.group(1)), "")
    m = _DATED.search(name)
    if m and base_name(name) != name:
        return (0, 0, m.group(1))
    return (1, 0, "")


def _walk(root: str, problems: Problems) -> list[str]:
    """Log files under ``root``. Symlinked folders are not entered; a folder that cannot be read
    and a link that leads nowhere or in a loop are read errors; a FIFO, device or socket with a
    log's name is skipped with a note (opening a FIFO would wait for a writer forever). One bad
    entry never hides the rest of its folder. (scandir directly: this is a good part of a
    triage's time on a large tree.)"""
    found = []
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            problems.errors.append(f"{encodable(folder)}: {exc.strerror or exc} (folder not read)")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                    continue
                if not is_log_file(entry.name):
                    continue
                if entry.is_file(follow_symlinks=False):
                    found.append(entry.path)
                elif entry.is_symlink():
                    _linked(entry.path, found, problems)
                else:
                    problems.notes.append(f"{encodable(entry.path)}: {_kind(entry.stat(follow_symlinks=False).st_mode)}, "
                                          f"not a log file: skipped")
            except OSError as exc:
                problems.errors.append(f"{encodable(entry.path)}: {exc.strerror or exc}")
    return found


def _linked(path: str, found: list[str], problems: Problems) -> None:
    """A symlink with a log's name: a file is read; a folder is not entered; a dangling link is
    kept (its read fails and is told like any unreadable file); a loop raises ELOOP here."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        found.append(path)
        return
    if stat.S_ISREG(mode):
        found.append(path)
    elif not stat.S_ISDIR(mode):
        problems.notes.append(f"{encodable(path)}: links to {_kind(mode)}, not a log file: skipped")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


@overload
def encodable(name: str) -> str: ...
@overload
def encodable(name: None) -> None: ...
@overload
def encodable(name: str | None) -> str | None: ...


def encodable(name: str | None) -> str | None:
    """A file or folder name as events and messages can carry it: bytes that are not UTF-8 (kept
    by Python as lone surrogates, which no UTF-8 encoder takes) become U+FFFD."""
    if name is None or name.isascii():
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class Problems:
    """What a walk could not read (errors: the reading is incomplete) and what it skipped on
    purpose (notes: special files)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.notes: list[str] = []


def _group_key(path: str) -> tuple:
    return (os.path.dirname(path), base_name(os.path.basename(path)))


def discover(paths: list[str], host: str | None = None, problems: Problems | None = None) -> list[LogFile]:
    """The log files under ``paths`` in reading order; raises SourceError for a missing path.
    What could not be read or was skipped is said in ``problems``."""
    return named(log_paths(paths, problems), host)


def log_paths(paths: list[str], problems: Problems | None = None) -> list[str]:
    """The paths of the log files under ``paths``, in reading order (:func:`discover` without
    naming hosts and services)."""
    problems = problems if problems is not None else Problems()
    files: list[str] = []
    for given in paths:
        if given == STDIN:
            files.append(STDIN)
        elif os.path.isdir(given):
            files.extend(_walk(os.path.abspath(given), problems))
        elif os.path.exists(given):
            if stat.S_ISREG(os.stat(given).st_mode):
                files.append(given)
            else:
                problems.notes.append(f"{encodable(given)}: {_kind(os.stat(given).st_mode)}, not a log file: skipped")
        elif os.path.islink(given):
            raise SourceError(f"{encodable(given)}: the link leads nowhere (or in a loop)")
        else:
            raise SourceError(f"no such file or directory: {encodable(given)}")
    if not files and not problems.errors and not problems.notes:
        raise SourceError(f"no log files (*.log, *.txt and their rotations) under {', '.join(map(encodable, paths))}")
    files = [f if f == STDIN else os.path.abspath(f) for f in files]  # stable ids whatever the cwd
    ordered = sorted((f for f in files if f != STDIN), key=lambda p: (_group_key(p), rotation_order(p)))
    if STDIN in files:
        ordered.append(STDIN)
    return ordered


def named(paths: list[str], host: str | None = None) -> list[LogFile]:
    """Each path with its host and service (from its place in the tree)."""
    local_host = None
    result = []
    for path in paths:
        file_host = host or (host_for_path(path) if path != STDIN else None)
        if file_host is None and path != STDIN and path.startswith("/var/log/"):
            local_host = local_host or _hostname()
            file_host = local_host
        result.append(LogFile(path, file_host, service_for_path(path) if path != STDIN else None))
    return result


def _hostname() -> str:
    import socket  # here: most runs never need it

    return socket.gethostname()


def file_size(path: str) -> int:
    """Size in bytes, 0 for a file that cannot be stat'ed (it fails later, when read)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class ByteReader(Protocol):
    def read(self, size: int, /) -> bytes: ...


LINE_LIMIT = 1 << 20  # bytes of one line kept; the rest of a longer line is counted, not read into memory
CUT_MARK = " \u2026 [osla: line cut at 1 MiB, {skipped:,} more bytes not read]"


def read_lines(handle: ByteReader, chunk_size: int = 1 << 20,
               on_cut: Callable[[int, int], None] | None = None, start: int = 0,
               on_error: Callable[[BaseException], None] | None = None) -> Iterator[tuple[int, int, str]]:
    """(byte offset, line number, text) for each line; splits on '\\n' only, any bytes accepted.

    Reads 1 MiB at a time; an ASCII chunk (the usual case) is decoded in one call, others line
    by line, so invalid UTF-8 is replaced per line and offsets stay byte offsets (counted from
    ``start``: where the handle was opened). A line longer than :data:`LINE_LIMIT` keeps its
    first LINE_LIMIT bytes and :data:`CUT_MARK`; the rest is skipped as it is read (time and
    memory stay linear) and ``on_cut(offset, bytes skipped)`` is told. With ``on_error``, a
    read that fails (:data:`~.seek.READ_ERRORS`: a truncated .gz) ends the lines there, and is told;
    without, it raises."""
    offset = start
    lineno = 0
    parts: list[bytes] = []  # a line begun in earlier chunks
    kept = 0  # bytes in parts
    skipped = 0  # bytes of that line past LINE_LIMIT
    read = getattr(handle, "read1", handle.read)  # read1: one underlying read, so data before a
    while True:                                    # corrupt part of a .gz is returned before the error
        try:
            chunk = read(chunk_size)
        except READ_ERRORS as exc:
            if on_error is None:
                raise
            on_error(exc)
            return  # the line the error cut is not given
        if not chunk:
            break
        if parts:
            newline = chunk.find(b"\n")
            if newline < 0:  # the pending line goes on
                room = LINE_LIMIT - kept
                if room > 0:
                    parts.append(chunk[:room])
                    kept += min(room, len(chunk))
                skipped += max(0, len(chunk) - max(room, 0))
                continue
            room = LINE_LIMIT - kept
            parts.append(chunk[:min(newline, max(room, 0))])
            skipped += max(0, newline - max(room, 0))
            raw = b"".join(parts)
            lineno += 1
            yield offset, lineno, _finished(raw, skipped, offset, on_cut)
            offset += len(raw) + skipped + 1
            parts, kept, skipped = [], 0, 0
            chunk = chunk[newline + 1:]
        cut = chunk.rfind(b"\n")
        if cut < 0:
            if chunk:
                parts, kept = [chunk[:LINE_LIMIT]], min(len(chunk), LINE_LIMIT)
                skipped = len(chunk) - kept
            continue
        if cut + 1 < len(chunk):
            tail = chunk[cut + 1:]
            parts, kept = [tail[:LINE_LIMIT]], min(len(tail), LINE_LIMIT)
            skipped = len(tail) - kept
        body = chunk[:cut]
        if body.isascii():
            for text in body.decode("ascii").split("\n"):
                lineno += 1
                yield offset, lineno, (text[:-1] if text.endswith("\r") else text)
                offset += len(text) + 1
        else:
            for raw in body.split(b"\n"):
                lineno += 1
                text = raw.decode("utf-8", "replace")
                yield offset, lineno, (text[:-1] if text.endswith("\r") else text)
                offset += len(raw) + 1
    if parts:
        raw = b"".join(parts)
        yield offset, lineno + 1, _finished(raw, skipped, offset, on_cut)


def _finished(raw: bytes, skipped: int, offset: int, on_cut: Callable[[int, int], None] | None) -> str:
    text = raw.decode("utf-8", "replace")
    if skipped:
        if on_cut is not None:
            on_cut(offset, skipped)
        return text + CUT_MARK.format(skipped=skipped)
    return text[:-1] if text.endswith("\r") else text
