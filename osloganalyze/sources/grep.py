"""grep -F over log files, compressed ones too, on all cores (:mod:`.pool`).

While it reads an uncompressed file it notes its first and last timestamps into a
:class:`~.seek.FileEnds`, which the searches by time read without opening the file again.
Nothing here parses a record.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator

from .local import LogFile, file_size
from .pool import GREP_PARALLEL_BYTES, over_files
from .seek import READ_ERRORS, FileEnds, compressed, first_stamp, last_stamp, probe_ends, read_error

log = logging.getLogger("osla.files")
CHUNK = 8 << 20  # compressed files
READ = 256 << 10  # uncompressed files: a buffer that stays in the CPU cache (larger was slower: benchmarks/README.md)
Hit = tuple[int, bytes]  # (offset of the line, the line)


def search(path: str, needle: bytes, ends: dict | None = None,
           errors: dict[str, str] | None = None) -> list[Hit]:
    """(offset, line) of every line containing ``needle`` (like grep -F, compressed files too).
    For an uncompressed file, ``ends`` ((path, size) -> first and last stamps) receives its
    ends on the way. A compressed file cut short or corrupt gives the lines before the damage,
    the damage said in ``errors`` (raised without it)."""
    if not compressed(path):
        return _search_plain(path, needle, ends)
    hits: list[Hit] = []
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


def search_all(paths: list[str], needle: bytes, sizes: dict[str, int] | None = None,
               meanwhile: Callable[[], None] | None = None, errors: dict[str, str] | None = None,
               ends: FileEnds | None = None) -> dict[str, list[Hit]]:
    """:func:`search` over many files, for every path. Split over the cores when there is much
    to read; ``meanwhile`` is called while they search (always called). ``sizes`` (path ->
    bytes) is filled for the paths it does not hold yet; a file that cannot be read is skipped,
    and said in ``errors`` (path -> why); ``ends`` learns the files' first and last stamps."""
    errors = {} if errors is None else errors
    sizes = {} if sizes is None else sizes
    for path in paths:
        if path not in sizes:
            sizes[path] = file_size(path)

    def work(claimed: Iterator[str], _report: Callable[[int], None]) -> tuple[dict, dict, dict]:
        found: dict[str, list[Hit]] = {}
        learned: dict = {}
        failed: dict[str, str] = {}
        for path in claimed:
            try:
                hits = search(path, needle, learned, failed)
            except READ_ERRORS as exc:
                failed[path] = read_error(exc)
                continue
            if hits:
                found[path] = hits
        return found, learned, failed

    start = time.monotonic()
    found: dict[str, list[Hit]] = {}
    for hits, learned, failed in over_files(paths, [sizes[p] for p in paths], work,
                                            min_bytes=GREP_PARALLEL_BYTES, meanwhile=meanwhile):
        found.update(hits)
        errors.update(failed)
        if ends is not None:
            ends.update(learned)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("grep %r: %d files, %.1f MiB, %d with hits, in %.3f s", needle.decode(errors="replace"), len(paths),
                  sum(sizes[p] for p in paths) / 2**20, len(found), time.monotonic() - start)
    return {path: found.get(path, []) for path in paths}


def search_span(path: str, needles: list[bytes], start: int, end: int) -> list[Hit]:
    """(offset, the line's first 200 bytes) of the lines holding one of ``needles`` in the
    bytes [start, end) of an uncompressed file."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    hits: list[Hit] = []
    for needle in needles:
        position = data.find(needle)
        while position >= 0:
            line = data.rfind(b"\n", 0, position) + 1
            hits.append((start + line, data[line:line + 200]))
            position = data.find(needle, position + len(needle))
    return hits


HIT_BYTES = 64 << 10  # of a hit's line kept (its stamp and ids are at the start; parsing reads the file)


def _collect(buffer: bytes | bytearray, cut: int, needle: bytes, base: int, hits: list) -> None:
    """(offset, the line's first HIT_BYTES) of the lines holding ``needle`` in buffer[:cut]."""
    position = buffer.find(needle, 0, cut)
    while position >= 0:
        start = buffer.rfind(b"\n", 0, position) + 1
        end = buffer.find(b"\n", position, cut)
        end = cut if end < 0 else end
        hits.append((base + start, bytes(buffer[start:min(end, start + HIT_BYTES)])))
        position = buffer.find(needle, end, cut)


_BUFFERS = threading.local()


def _search_plain(path: str, needle: bytes, ends: dict | None) -> list[Hit]:
    """search() on an uncompressed file: read into one reused buffer and searched there while it
    is in the CPU's cache (faster than an mmap or fresh chunks, which fault in new pages)."""
    buffer = getattr(_BUFFERS, "buffer", None)
    if buffer is None:
        buffer = _BUFFERS.buffer = bytearray(READ)
    hits: list[Hit] = []
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
                    first = first_stamp(buffer, filled)
                if base + filled >= size:  # the last chunk (file size when opened)
                    last = last_stamp(buffer, filled) or last
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
                first, last = probe_ends(handle, size)
        ends[(path, size)] = (first, last)
    return hits
