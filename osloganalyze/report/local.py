"""A report's tables from a local log tree: only the bytes of each file inside baseline+period
are parsed (binary search on line timestamps), the files are shared over the machine's cores,
and the rule engine runs on the period's events in the same pass."""
from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

from ..parse import Stats, parse_file, parse_range
from ..rules.engine import LocalEngine, base_condition
from ..rules.findings import Collector
from ..rules.to_python import compile_matcher
from ..sources.local import LogFile, discover, file_size
from ..triage.search import byte_span
from . import analyze
from .period import Period
from .tally import Observer, Tally, keystone_rules

PARALLEL_BYTES = 32 << 20  # below this, one process is quicker than starting two


def _keystone_matcher(rules):
    tagged = keystone_rules(rules)
    matcher = compile_matcher([base_condition(rule) for rule in tagged])
    ids = [rule.id for rule in tagged]
    return lambda event: [ids[i] for i in matcher(event)]


def spike_examples(tally: Tally, spikes: list[dict]) -> dict:
    """Request ids of one event behind each spike, as the observer kept them while counting."""
    found = {}
    for row in spikes:
        rid = tally.level_examples.get((row["service"], row["host"], row["level"], analyze.spike_hour(row)))
        if rid:
            found[analyze.spike_key(row)] = rid
    return found


def _events(logfiles: Iterable[LogFile], period: Period, tz: str, year: int | None, stats: Stats):
    for logfile in logfiles:
        span = byte_span(logfile.path, period.baseline_start, period.end, tz) if logfile.path != "-" else None
        if span is None:
            yield from parse_file(logfile, tz=tz, year=year, stats=stats)
        elif span[1] > span[0]:
            stats.files += 1
            yield from parse_range(logfile, span[0], span[1], tz=tz, year=year, stats=stats)


def _share(logfiles, period, rules, tz, year, progress=None) -> tuple[Tally, Collector, Stats]:
    stats = Stats()
    tally = Tally(period)
    observer = Observer(tally, _keystone_matcher(rules))
    # the observer passes on only the period's events: no query to test them against again
    collector = LocalEngine(rules).scan(observer.observe(_events(logfiles, period, tz, year, stats)),
                                        progress=progress)
    return tally, collector, stats


def collect(paths: list[str], period: Period, rules, tz: str = "UTC", year: int | None = None,
            progress=None, workers: int | None = None) -> tuple[Tally, Collector, Stats]:
    """Parse, tally and judge a tree (``SourceError`` for a path that is not there)."""
    logfiles = discover(paths)
    sizes = {f: file_size(f.path) for f in logfiles}
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers < 2 or len(logfiles) < 2 or sum(sizes.values()) < PARALLEL_BYTES \
            or "fork" not in mp.get_all_start_methods():
        return _share(logfiles, period, rules, tz, year, progress)
    # the workers claim files one at a time, biggest first: how much of a file lies inside the
    # period is known only once it is opened (rotations of other days are skipped at once)
    ordered = sorted(logfiles, key=lambda f: -sizes[f])
    tally, collector, stats = Tally(period), Collector(), Stats()
    context = mp.get_context("fork")
    counters = [context.Value("q", 0, lock=False) for _ in range(workers)]  # events seen, one per worker
    claimed = context.Value("q", 0)  # the index of the next file to take
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_set_shared,
                             initargs=(counters, claimed)) as pool:
        futures = [pool.submit(_claiming_share, index, ordered, period, rules, tz, year) for index in range(workers)]
        pending = set(futures)
        while pending:
            _done, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            if progress is not None:
                progress(sum(counter.value for counter in counters))
        for future in futures:
            part, found, read = future.result()
            tally.merge(part)
            collector.merge(found)
            stats.merge(read)
    return tally, collector, stats


_COUNTERS: list = []
_CLAIMED: list = []


def _set_shared(counters, claimed) -> None:
    _COUNTERS[:] = counters
    _CLAIMED[:] = [claimed]


def _claimed(logfiles: list[LogFile]):
    """The files this worker takes, one at a time, from the list all workers share."""
    claimed = _CLAIMED[0]
    while True:
        with claimed.get_lock():
            index = claimed.value
            claimed.value += 1
        if index >= len(logfiles):
            return
        yield logfiles[index]


def _claiming_share(index, logfiles, period, rules, tz, year):
    counter = _COUNTERS[index]

    def progress(seen: int) -> None:
        counter.value = seen
    result = _share(_claimed(logfiles), period, rules, tz, year, progress)
    counter.value = result[0].period_events
    return result
