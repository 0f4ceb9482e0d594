"""A log tree as the backend: a node's /var/log, /var/log/kolla, or an unpacked bundle."""
from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import Progress, ReportInput, ScanResult

if TYPE_CHECKING:
    from ..query import EventQuery
    from ..report.period import Period
    from ..rules.model import Rule

log = logging.getLogger("osla")


class LogTree:
    kind = "files"

    def __init__(self, paths: list[str], tz: str = "UTC", year: int | None = None):
        self.paths, self.tz, self.year = list(paths), tz, year

    def describe(self) -> str:
        return ", ".join(self.paths)

    def triage_options(self) -> str:
        return " ".join(shlex.quote(p) for p in self.paths)

    def scan(self, rules: list[Rule], query: EventQuery, progress: Progress | None = None) -> ScanResult:
        from ..parse import Stats, parse_paths
        from ..rules.engine import LocalEngine

        stats = Stats()
        start = time.monotonic()
        collector = LocalEngine(rules).scan(parse_paths(self.paths, tz=self.tz, year=self.year, stats=stats), query,
                                            progress=progress)
        log.debug("scan: %d files, %d events in %.2f s", stats.files, stats.events, time.monotonic() - start)
        return ScanResult(collector, files=stats.files, read_errors=list(stats.errors), skipped=list(stats.skipped))

    def triage(self, seed: str, rules: Callable[[], list[Rule]], *, around: int, hops: int, max_ids: int) -> dict:
        from ..triage import triage_local

        start = time.monotonic()
        view = triage_local(self.paths, seed, rules, around=around, hops=hops, max_ids=max_ids, tz=self.tz,
                            year=self.year)
        log.debug("triage: %d events in %.2f s", view["summary"]["events"], time.monotonic() - start)
        return view

    def report(self, period: Period, rules: list[Rule], progress: Progress | None = None,
               state: str | None = None) -> ReportInput:
        from ..report.local import collect, spike_examples
        from ..report.store import Store

        start = time.monotonic()
        store = Store(state) if state else None
        try:
            tally, collector, stats = collect(self.paths, period, rules, tz=self.tz, year=self.year, progress=progress,
                                              store=store)
        finally:
            if store is not None:
                store.close()
        log.debug("report tally: %d files, %d events in %.2f s", stats.files, stats.events, time.monotonic() - start)
        notes = (store.notes if store is not None else []) + list(stats.skipped)
        return ReportInput(tally, collector, lambda spikes: spike_examples(tally, spikes), list(stats.errors), notes)

    def time_range(self) -> tuple[str | None, str | None]:
        from ..sources.local import Problems, log_paths
        from ..sources.seek import files_range
        from ..times import zone

        return files_range(log_paths(self.paths, Problems()), zone(self.tz))
