"""One pool that maps work over log files on all cores, for the triage's grep and the report's
parsing alike.

Each worker is a forked process that claims items one at a time, biggest first, from a pipe
the parent fills (a record of 4 bytes: reads of whole records from a pipe do not interleave),
so a file found to lie outside the time window costs its worker nothing and the others go on.
Each worker runs ``work(claimed, report)`` once and sends back one result; the parent merges.

This module imports only the standard library's small C modules: a triage forks its searches
from a small process, early (see :mod:`osloganalyze.triage`).
"""
from __future__ import annotations

import mmap
import os
import pickle
import select
import signal
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from ..errors import OslaError

T = TypeVar("T")
R = TypeVar("R")

# below these sizes one process finishes sooner than two start (measured: benchmarks/README.md)
GREP_PARALLEL_BYTES = 64 << 20
PARSE_PARALLEL_BYTES = 32 << 20
_RECORD = struct.Struct("<I")
_ATOMIC = 1024  # records per write: 4 KiB, PIPE_BUF, so each write lands whole
_POLL = 0.5  # seconds between progress reports


class WorkerLost(OslaError):
    """A worker process ended without an answer (killed, out of memory)."""


def workers_here() -> int:
    return min(os.cpu_count() or 1, 8)


def over_files(items: Sequence[T], sizes: Sequence[int], work: Callable[[Iterator[T], Callable[[int], None]], R], *,
               min_bytes: int,
               meanwhile: Callable[[], None] | None = None, progress: Callable[[int], None] | None = None,
               workers: int | None = None) -> list[R]:
    """The results of ``work`` over ``items`` (``sizes[i]``: bytes of item i): one result from
    this process when there is little to do, else one per worker. ``meanwhile`` runs while the
    workers do (always called once); ``progress`` gets the sum of what the workers reported."""
    workers = workers or workers_here()
    if workers < 2 or len(items) < 2 or sum(sizes) < min_bytes or not hasattr(os, "fork"):
        if meanwhile is not None:
            meanwhile()
        return [work(iter(items), progress or _ignore)]
    order = sorted(range(len(items)), key=lambda i: -sizes[i])
    counters = mmap.mmap(-1, 8 * workers)  # one progress slot per worker, shared with the children
    queue_read, queue_write = os.pipe()
    children: dict[int, int] = {}  # read end of its result pipe -> pid
    try:
        for slot in range(workers):
            read_end, pid = _fork(slot, items, queue_read, queue_write, counters, work)
            children[read_end] = pid
        os.close(queue_read)
        queue_read = -1
        _fill(queue_write, order)
        os.close(queue_write)
        queue_write = -1
        if meanwhile is not None:
            meanwhile()
        return _collect(children, counters, workers, progress)
    finally:  # an error or an interrupt on the way: stop and reap the others
        for end in (queue_read, queue_write):
            if end >= 0:
                os.close(end)
        for read_end, pid in children.items():
            _stop(pid)
            os.close(read_end)
            os.waitpid(pid, 0)
        counters.close()


def _ignore(_count: int) -> None:
    return None


def _fill(queue: int, order: list[int]) -> None:
    for start in range(0, len(order), _ATOMIC):
        os.write(queue, b"".join(_RECORD.pack(i) for i in order[start:start + _ATOMIC]))


def _claims(queue: int, items: Sequence[T]) -> Iterator[T]:
    while True:
        record = os.read(queue, _RECORD.size)
        if len(record) < _RECORD.size:
            return
        yield items[_RECORD.unpack(record)[0]]


def _fork(slot: int, items: Sequence[T], queue_read: int, queue_write: int, counters: mmap.mmap,
          work: Callable[[Iterator[T], Callable[[int], None]], object]) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no cleanup handler of the parent's may run here, hence os._exit
        status = 0
        try:
            os.close(read_end)
            os.close(queue_write)

            def report(count: int) -> None:
                struct.pack_into("q", counters, 8 * slot, count)
            try:
                payload = pickle.dumps((True, work(_claims(queue_read, items), report)), pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:  # noqa: BLE001 - the parent raises it
                try:
                    payload = pickle.dumps((False, exc))
                except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
                    payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
            with open(write_end, "wb") as pipe:
                pipe.write(payload)
        except BaseException:  # noqa: BLE001 - the parent sees no answer and says so
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    return read_end, pid


def _collect(children: dict[int, int], counters: mmap.mmap, workers: int,
             progress: Callable[[int], None] | None) -> list:
    """Every child's answer, read as they come (a large one would block its child otherwise)."""
    received: dict[int, list[bytes]] = {end: [] for end in children}
    open_ends = set(children)
    last = time.monotonic()
    while open_ends:
        ready, _, _ = select.select(list(open_ends), [], [], _POLL)
        for end in ready:
            data = os.read(end, 1 << 20)
            if data:
                received[end].append(data)
            else:
                open_ends.discard(end)
        if progress is not None and time.monotonic() - last >= _POLL:
            last = time.monotonic()
            progress(sum(struct.unpack_from("q", counters, 8 * i)[0] for i in range(workers)))
    results = []
    for end in list(children):
        pid = children.pop(end)
        os.close(end)
        os.waitpid(pid, 0)
        payload = b"".join(received[end])
        if not payload:
            raise WorkerLost("a worker process ended without an answer (killed? out of memory?)")
        ok, value = pickle.loads(payload)
        if not ok:
            raise value
        results.append(value)
    if progress is not None:
        progress(sum(struct.unpack_from("q", counters, 8 * i)[0] for i in range(workers)))
    return results


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
