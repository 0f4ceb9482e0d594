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
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol, cast

from ..errors import OslaError
from .naming import base_name, host_for_path, service_for_path

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

    read = read1

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


def _walk(root: str) -> list[str]:
    """Log files under ``root`` (as os.walk: symlinked folders not entered, unreadable ones skipped;
    scandir directly, as this is a good part of a triage's time on a large tree)."""
    found = []
    folders = [root]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    if entry.is_dir():
                        if not entry.is_symlink():
                            folders.append(entry.path)
                    elif is_log_file(entry.name):
                        found.append(entry.path)
        except OSError:
            continue
    return found


def _group_key(path: str) -> tuple:
    return (os.path.dirname(path), base_name(os.path.basename(path)))


def discover(paths: list[str], host: str | None = None) -> list[LogFile]:
    """The log files under ``paths`` in reading order; raises SourceError for a missing path."""
    return named(log_paths(paths), host)


def log_paths(paths: list[str]) -> list[str]:
    """The paths of the log files under ``paths``, in reading order (:func:`discover` without
    naming hosts and services)."""
    files: list[str] = []
    for given in paths:
        if given == STDIN:
            files.append(STDIN)
        elif os.path.isdir(given):
            files.extend(_walk(given))
        elif os.path.exists(given):
            files.append(given)
        else:
            raise SourceError(f"no such file or directory: {given}")
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


def read_lines(handle: ByteReader, chunk_size: int = 1 << 20) -> Iterator[tuple[int, int, str]]:
    """(byte offset, line number, text) for each line; splits on '\\n' only, any bytes accepted.

    Reads 1 MiB at a time; an ASCII chunk (the usual case) is decoded in one call, others line
    by line, so invalid UTF-8 is replaced per line and offsets stay byte offsets."""
    offset = 0
    lineno = 0
    pending = b""
    read = getattr(handle, "read1", handle.read)  # read1: one underlying read, so data before a
    while True:                                    # corrupt part of a .gz is returned before the error
        chunk = read(chunk_size)
        if not chunk:
            break
        buffer = pending + chunk if pending else chunk
        cut = buffer.rfind(b"\n")
        if cut < 0:
            pending = buffer
            continue
        pending = buffer[cut + 1:]
        body = buffer[:cut]
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
    if pending:
        text = pending.decode("utf-8", "replace")
        yield offset, lineno + 1, (text[:-1] if text.endswith("\r") else text)
