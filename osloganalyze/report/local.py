"""A report's tables from a local log tree: only the bytes of each file inside baseline+period
are parsed (binary search on line timestamps), the files are shared over the machine's cores,
and the rule engine runs on the period's events in the same pass."""
from __future__ import annotations

from collections.abc import Iterable

from ..parse import Stats, discover_into, parse_file, parse_range
from ..rules.engine import LocalEngine, base_condition
from ..rules.findings import Collector
from ..rules.to_python import compile_matcher
from ..sources.local import LogFile, file_size
from ..sources.pool import PARSE_PARALLEL_BYTES, over_files
from ..sources.seek import byte_span
from . import analyze
from .period import Period
from .tally import Observer, Tally, keystone_rules


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
    tally, collector = tally_events(_events(logfiles, period, tz, year, stats), period, rules, progress)
    return tally, collector, stats


def tally_events(events: Iterable[dict], period: Period, rules, progress=None) -> tuple[Tally, Collector]:
    """The tables and findings of a stream of events (a tree's, or those rebuilt from another
    shipper's documents) covering the baseline and the period."""
    tally = Tally(period)
    observer = Observer(tally, _keystone_matcher(rules))
    # the observer passes on only the period's events: no query to test them against again
    collector = LocalEngine(rules).scan(observer.observe(events), progress=progress)
    return tally, collector


def collect(paths: list[str], period: Period, rules, tz: str = "UTC", year: int | None = None,
            progress=None, workers: int | None = None) -> tuple[Tally, Collector, Stats]:
    """Parse, tally and judge a tree (``SourceError`` for a path that is not there). The files
    are shared over the cores (:func:`~osloganalyze.sources.pool.over_files`): how much of a
    file lies inside the period is known only once it is opened, so workers claim them one at
    a time."""
    tally, collector, stats = Tally(period), Collector(), Stats()
    logfiles = discover_into(stats, paths)
    sizes = [file_size(f.path) for f in logfiles]

    def work(claimed, report):
        result = _share(claimed, period, rules, tz, year, report)
        report(result[0].period_events)  # the engine reports every 1,000 events: the last count
        return result
    for part, found, read in over_files(logfiles, sizes, work, min_bytes=PARSE_PARALLEL_BYTES,
                                        progress=progress, workers=workers):
        tally.merge(part)
        collector.merge(found)
        stats.merge(read)
    return tally, collector, stats
