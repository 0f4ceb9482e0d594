"""A search server as the backend: Elasticsearch indices '<prefix>-*'. The client connects on
first use; every client failure becomes one :class:`~osloganalyze.errors.ServerError` line."""
from __future__ import annotations

import contextlib
import logging
import shlex
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..es.connection import Settings, connect, server_errors, shown
from . import Progress, ReportInput, ScanResult

if TYPE_CHECKING:
    from ..query import EventQuery
    from ..report.period import Period
    from ..rules.model import Rule

log = logging.getLogger("osla")
DEFAULT_PREFIX = "openstack"


class SearchServer:
    kind = "elasticsearch"

    def __init__(self, settings: Settings, prefix: str = DEFAULT_PREFIX):
        self.settings, self.prefix = settings, prefix
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect(self.settings)
        return self._client

    def errors(self) -> contextlib.AbstractContextManager[None]:
        """The block's client failures as one line each (see :func:`server_errors`)."""
        return server_errors(self.settings)

    def describe(self) -> str:
        return f"Elasticsearch {self.prefix}-*"

    def triage_options(self) -> str:
        url = shown(self.settings.urls[0]) if self.settings.urls else ""
        return f"--es {shlex.quote(url)}" + (f" --prefix {shlex.quote(self.prefix)}"
                                             if self.prefix != DEFAULT_PREFIX else "")

    def scan(self, rules: list[Rule], query: EventQuery, progress: Progress | None = None) -> ScanResult:
        from ..rules.engine import ElasticsearchEngine
        from ..sources.elasticsearch import ElasticsearchSource

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
            start = time.monotonic()
            view = triage_elasticsearch(self.client, self.prefix, seed, loaded, around=around, hops=hops,
                                        max_ids=max_ids)
            log.debug("triage: %d round trips in %.2f s", view["round_trips"], time.monotonic() - start)
        return view

    def report(self, period: Period, rules: list[Rule], progress: Progress | None = None) -> ReportInput:
        from ..report.remote import RemoteTally

        with self.errors():
            remote = RemoteTally(self.client, self.prefix, period, rules)
            start = time.monotonic()
            tally, collector = remote.collect()
            log.debug("report tally: %d round trips in %.2f s", remote.round_trips, time.monotonic() - start)

        def spike_examples(spikes: list[dict]) -> dict:
            with self.errors():
                return remote.spike_examples(spikes)
        return ReportInput(tally, collector, spike_examples)

    def time_range(self) -> tuple[str | None, str | None]:
        from ..sources.elasticsearch import ElasticsearchSource

        with self.errors():
            return ElasticsearchSource(self.client, self.prefix).time_range()
