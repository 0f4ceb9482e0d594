"""A search server as the backend: Elasticsearch or OpenSearch indices '<prefix>-*'. The client
connects on first use; every client failure becomes one :class:`~osloganalyze.errors.ServerError`
line."""
from __future__ import annotations

import contextlib
import logging
import shlex
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import OslaError
from ..es.connection import Settings, connect, server_errors, shown
from . import Progress, ReportInput, ScanResult

if TYPE_CHECKING:
    from ..query import EventQuery
    from ..report.period import Period
    from ..rules.model import Rule

log = logging.getLogger("osla")
DEFAULT_PREFIX = "openstack"
PROFILES = ("auto", "osla", "kolla")  # whose documents the indices hold: osla's, Kolla's, or as their mapping says


class SearchServer:
    kind = "elasticsearch"

    def __init__(self, settings: Settings, prefix: str = DEFAULT_PREFIX, profile: str = "auto",
                 fallback: str | None = None):
        """``fallback``: the prefix to read when ``prefix`` (not given, the default) holds nothing
        and ``fallback``-* holds Kolla's documents (a Kolla cloud's flog-*)."""
        self.settings, self.prefix, self.profile, self.fallback = settings, prefix, profile, fallback
        self._client: Any = None
        self._kolla: Any = None  # KollaFields once the mapping said (or --profile kolla)
        self._profiled = False
        self._notes: list[str] = []

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect(self.settings)
        return self._client

    def kolla(self) -> Any:
        """Kolla's field names for these indices, or None when they hold osla's documents."""
        if not self._profiled:
            from ..sources.kolla import EXACT, KollaFields

            if self.profile != "osla":
                with self.errors():
                    mappings = self.client.mapping(f"{self.prefix}-*")
                    if not mappings and self.profile == "auto" and self.fallback:
                        kolla = KollaFields.of_mapping(self.client.mapping(f"{self.fallback}-*"))
                        if kolla is not None:
                            self._notes.append(f"{self.prefix}-* holds nothing: reading Kolla's {self.fallback}-* "
                                               f"(--prefix chooses)")
                            self.prefix, self._kolla, self._profiled = self.fallback, kolla, True
                            return self._kolla
                self._kolla = KollaFields.of_mapping(mappings)
                if self.profile == "kolla" and self._kolla is None:
                    if mappings:
                        raise OslaError(f"{self.prefix}-* does not hold Kolla's documents (no Payload and programname "
                                        f"fields); leave out --profile kolla for osla's own indices")
                    self._kolla = KollaFields({name: f"{name}.keyword" for name in EXACT})
                log.debug("indices %s-*: %s", self.prefix, "Kolla's fields" if self._kolla else "osla's schema")
            self._profiled = True
        return self._kolla

    def _kolla_events(self) -> Any:
        from ..parse.documents import KollaEvents
        from ..sources.kolla import KollaSource

        return KollaEvents(KollaSource(self.client, self.kolla(), self.prefix))

    def errors(self) -> contextlib.AbstractContextManager[None]:
        """The block's client failures as one line each (see :func:`server_errors`)."""
        return server_errors(self.settings)

    def describe(self) -> str:
        where = f"{self.settings.server} {self.prefix}-*" if self.settings.product else f"{self.prefix}-*"
        return where + (" (Kolla's fields)" if self._kolla is not None else "")

    def notes(self) -> list[str]:
        """What the output must say about these indices (what Kolla's shipping loses)."""
        from ..sources.kolla import NOTES

        return self._notes + (list(NOTES) if self._kolla is not None else [])

    def triage_options(self) -> str:
        url = shown(self.settings.urls[0]) if self.settings.urls else ""
        return f"--es {shlex.quote(url)}" + (f" --prefix {shlex.quote(self.prefix)}"
                                             if self.prefix != DEFAULT_PREFIX else "")

    def scan(self, rules: list[Rule], query: EventQuery, progress: Progress | None = None) -> ScanResult:
        from ..rules.engine import ElasticsearchEngine, LocalEngine
        from ..sources.elasticsearch import ElasticsearchSource

        if self.kolla() is not None:
            from ..parse import Stats

            stats = Stats()
            with self.errors():
                kolla = self._kolla_events()
                collector = LocalEngine(rules).scan(kolla.stream(query, stats), query, progress=progress)
                log.debug("scan: %d Kolla documents, %d round trips", stats.events, kolla.round_trips)
            return ScanResult(collector, read_errors=list(stats.errors), skipped=self.notes())
        with self.errors():
            source = ElasticsearchSource(self.client, self.prefix)
            start = time.monotonic()
            collector = ElasticsearchEngine(rules, source).scan(query, progress=progress)
            log.debug("scan: %d round trips in %.2f s", source.round_trips, time.monotonic() - start)
        return ScanResult(collector)

    def triage(self, seed: str, rules: Callable[[], list[Rule]], *, around: int, hops: int, max_ids: int) -> dict:
        from ..triage import triage_elasticsearch

        loaded = rules()
        with self.errors():
            kolla = self._kolla_events() if self.kolla() is not None else None
            start = time.monotonic()
            view = triage_elasticsearch(self.client, self.prefix, seed, loaded, around=around, hops=hops,
                                        max_ids=max_ids, kolla=kolla)
            view["skipped"] = list(view.get("skipped") or []) + self.notes()
            log.debug("triage: %d round trips in %.2f s", view["round_trips"], time.monotonic() - start)
        return view

    def report(self, period: Period, rules: list[Rule], progress: Progress | None = None,
               state: str | None = None) -> ReportInput:
        from ..report.remote import RemoteTally

        if self.kolla() is not None:
            return self._kolla_report(period, rules, progress)
        with self.errors():
            remote = RemoteTally(self.client, self.prefix, period, rules)
            start = time.monotonic()
            tally, collector = remote.collect()
            log.debug("report tally: %d round trips in %.2f s", remote.round_trips, time.monotonic() - start)

        def spike_examples(spikes: list[dict]) -> dict:
            with self.errors():
                return remote.spike_examples(spikes)
        return ReportInput(tally, collector, spike_examples)

    def _kolla_report(self, period: Period, rules: list[Rule], progress: Progress | None) -> ReportInput:
        """Kolla's documents of the baseline and the period, read back (they have no osla fields to
        aggregate on) and tallied as a tree's events are."""
        from ..parse import Stats
        from ..query import EventQuery
        from ..report.local import spike_examples, tally_events

        stats = Stats()
        with self.errors():
            events = self._kolla_events().stream(EventQuery(since=period.baseline_start, until=period.end), stats)
            tally, collector = tally_events(events, period, rules, progress)
        return ReportInput(tally, collector, lambda spikes: spike_examples(tally, spikes), list(stats.errors),
                           self.notes())

    def time_range(self) -> tuple[str | None, str | None]:
        from ..sources.elasticsearch import ElasticsearchSource

        with self.errors():
            if self.kolla() is not None:
                return self._kolla_events().time_range()
            return ElasticsearchSource(self.client, self.prefix).time_range()
