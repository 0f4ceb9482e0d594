"""A report's tables from a local log tree: only the bytes of each file inside baseline+period
are parsed (binary search on line timestamps), the files are shared over the machine's cores,
and the rule engine runs on the period's events in the same pass."""
from __future__ import annotations

from collections.abc import Iterable

from .. import schema
from ..parse import Stats, discover_into, parse_file, parse_range
from ..rules.engine import LocalEngine, base_condition
from ..rules.findings import Collector
from ..rules.to_python import compile_matcher
from ..sources.local import LogFile, file_size
from ..sources.pool import PARSE_PARALLEL_BYTES, over_files
from ..sources.seek import byte_spans
from . import analyze
from .period import HOUR, Period, bucket
from .store import FilePlan, Store
from .tally import HourRecorder, Observer, Tally, keystone_rules


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


def _file_events(logfile: LogFile, ranges: list[tuple[str, str]], tz: str, year: int | None, stats: Stats,
                 plan: FilePlan | None = None):
    """The events of the parts of a file that may hold events in ``ranges`` (a compressed file,
    or one that cannot be seeked by time: all of it). The file's ends go into ``plan.learned``:
    its first and last events' stamps when it is read whole, else the stamps at its ends."""
    if not ranges:
        return
    spans, ends = byte_spans(logfile.path, ranges, tz) if logfile.path != "-" else (None, (None, None))
    if spans is None:
        yield from _with_ends(parse_file(logfile, tz=tz, year=year, stats=stats), plan)
        return
    merged: list[list[int]] = []
    for start, end in sorted(span for span in spans if span[1] > span[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if merged:
        stats.files += 1
    if plan is not None and merged == [[0, file_size(logfile.path)]] and None in ends:
        # read whole, where its ends have no stamps to tell (long untimed lines at either end)
        yield from _with_ends(parse_range(logfile, 0, None, tz=tz, year=year, stats=stats), plan)
        return
    if plan is not None and ends[0] is not None and ends[1] is not None:
        plan.learned = ends  # type: ignore[assignment]
    for start, end in merged:
        yield from parse_range(logfile, start, end, tz=tz, year=year, stats=stats)


def _with_ends(events, plan: FilePlan | None):
    """The events of a whole file; their earliest and latest stamps go into ``plan.learned``."""
    if plan is None:
        yield from events
        return
    first = last = None
    for event in events:
        stamp = event.get(schema.TIMESTAMP)
        if stamp:
            if first is None or stamp < first:
                first = stamp
            if last is None or stamp > last:
                last = stamp
        yield event
    if first is not None and last is not None:
        plan.learned = (first, last)


def _events(logfiles: Iterable[LogFile], period: Period, tz: str, year: int | None, stats: Stats, tally: Tally,
            keystone_match, store: Store | None = None):
    """The period's events. Every event of baseline and period is counted per hour as its file
    is read, into ``tally``, and what is the period's alone as it passes; with a state store
    (``store``), the hours it holds are taken from it instead of parsed, and each file's hours
    are written to it."""
    whole = [(period.baseline_start, period.end)]
    observer = Observer(tally, keystone_match, counted=False)
    plan_of = store.planner(period, tz) if store is not None else None
    for logfile in logfiles:
        plan = plan_of(logfile) if plan_of is not None else None
        if plan is not None and store is not None:
            store.add_stored(plan, period, tally)
        recorder = HourRecorder(keystone_match)
        stored = plan.stored if plan is not None else frozenset()
        errors = len(stats.errors)
        for event in _file_events(logfile, plan.parse if plan is not None else whole, tz, year, stats, plan):
            stamp = event.get(schema.TIMESTAMP)
            where = period.where(stamp)
            if where is None:
                continue
            hour = bucket(stamp, HOUR)
            if hour in stored:
                continue  # counted by the store
            recorder.record(event, stamp, hour)
            if where == "period":
                observer.period_event(event, stamp)
                yield event
        recorder.add_into(tally)
        if plan is not None and store is not None and len(stats.errors) == errors:
            # a file read only in part (a .gz still being written) is read again the next night
            store.save_file(plan, recorder.hours)


def _share(logfiles, period, rules, tz, year, progress=None, store=None) -> tuple[Tally, Collector, Stats]:
    stats = Stats()
    tally = Tally(period)
    events = _events(logfiles, period, tz, year, stats, tally, _keystone_matcher(rules), store)
    collector = LocalEngine(rules).scan(events, progress=progress)  # _events counted them
    if store is not None:
        store.flush()  # this worker's files, before it sends its result
    return tally, collector, stats


def tally_events(events: Iterable[dict], period: Period, rules, progress=None, tally: Tally | None = None,
                 counted: bool = True) -> tuple[Tally, Collector]:
    """The tables and findings of a stream of events (a tree's, or those rebuilt from another
    shipper's documents) covering the baseline and the period (counted into ``tally``, if given;
    ``counted``: see :class:`~.tally.Observer`)."""
    tally = tally if tally is not None else Tally(period)
    observer = Observer(tally, _keystone_matcher(rules), counted)
    # the observer passes on only the period's events: no query to test them against again
    collector = LocalEngine(rules).scan(observer.observe(events), progress=progress)
    return tally, collector


def collect(paths: list[str], period: Period, rules, tz: str = "UTC", year: int | None = None,
            progress=None, workers: int | None = None, store: Store | None = None) -> tuple[Tally, Collector, Stats]:
    """Parse, tally and judge a tree (``SourceError`` for a path that is not there). The files
    are shared over the cores (:func:`~osloganalyze.sources.pool.over_files`): how much of a
    file lies inside the period is known only once it is opened, so workers claim them one at
    a time. With a ``store``, the baseline hours it holds are taken from it, and what was parsed
    is written to it."""
    tally, collector, stats = Tally(period), Collector(), Stats()
    logfiles = discover_into(stats, paths)
    sizes = [file_size(f.path) for f in logfiles]
    if store is not None:
        store.release()  # the workers fork next: each opens its own connection, and plans its files

    def work(claimed, report):
        result = _share(claimed, period, rules, tz, year, report, store)
        report(result[0].period_events)  # the engine reports every 1,000 events: the last count
        return result
    for part, found, read in over_files(logfiles, sizes, work, min_bytes=PARSE_PARALLEL_BYTES,
                                        progress=progress, workers=workers):
        tally.merge(part)
        collector.merge(found)
        stats.merge(read)
    return tally, collector, stats
