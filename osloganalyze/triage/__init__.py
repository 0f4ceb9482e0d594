"""events -> triage: everything one request touched, across services and hosts, with a verdict.

:mod:`.correlate` follows the ids, :mod:`.local` and :mod:`.remote` answer it from a log tree
or a search server, :mod:`.view` turns the events into verdict, request tree and timeline, and
:mod:`.render` shows them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .ids import BadId, classify

__all__ = ["BadId", "Searched", "classify", "triage_local", "triage_elasticsearch"]


@dataclass
class Searched:
    """Where a triage looked, the same keys whatever the backend (stamps in UTC)."""

    source: str  # files | elasticsearch (a search server, whichever product)
    server: str | None = None  # the server's product and version: 'OpenSearch 2.19.6'
    files: int | None = None
    files_with_id: int | None = None
    index: str | None = None
    first: str | None = None  # the oldest and newest events there (told when the id is not found)
    last: str | None = None
    read_errors: list[str] = field(default_factory=list)  # files not read, whole or in part
    round_trips: int = 0  # requests to the server
    skipped: list[str] = field(default_factory=list)  # special files passed over on purpose

    def to_json(self) -> dict:
        return {"source": self.source, "server": self.server, "files": self.files, "files_with_id": self.files_with_id,
                "index": self.index, "from": self.first, "to": self.last}


def triage_local(paths: list[str], seed: str, rules: list | Callable[[], list], *, around: int = 600, hops: int = 3,
                 max_ids: int = 50, tz: str = "UTC", year: int | None = None, host: str | None = None) -> dict:
    """The triage of ``seed`` in a log tree. The search for its bytes starts first, from a process
    that has loaded little (it forks sooner and cheaper); the rules (``rules`` may be a function
    returning them), the parser and the rest load while it runs."""
    from ..sources.grep import search_all
    from ..sources.local import Problems, log_paths, named
    from ..sources.seek import FileEnds

    kind, value = classify(seed)
    problems = Problems()
    paths_found = log_paths(paths, problems)
    ready: dict = {}

    def meanwhile() -> None:
        from ..parse.lines import LineParser
        from ..parse.timestamps import TimeConverter
        from ..rules.engine import LocalEngine
        from .local import LocalFetcher

        ready["engine"] = LocalEngine(rules() if callable(rules) else rules)
        ready["logfiles"] = named(paths_found, host)
        LineParser(TimeConverter(tz, year))  # its patterns compiled now, not when the first record is parsed
        ready["fetcher"] = LocalFetcher

    sizes: dict[str, int] = {}
    unreadable: dict[str, str] = {}
    ends = FileEnds()
    hits = search_all(paths_found, value.encode(), sizes, meanwhile, unreadable, ends)
    from .correlate import correlate
    from .view import build

    fetcher = ready["fetcher"](ready["logfiles"], tz=tz, year=year, around=around,
                               seed_hits=(value.encode(), hits, sizes, unreadable), ends=ends)
    correlation = correlate(fetcher, seed, around=around, max_hops=hops, max_ids=max_ids)
    searched = Searched("files", files=len(fetcher.logfiles), files_with_id=fetcher.files_with_hits)
    if not correlation.events:
        searched.first, searched.last = fetcher.time_range()
    searched.read_errors = problems.errors + fetcher.read_errors()
    searched.skipped = problems.notes
    return build(correlation, ready["engine"], near=fetcher.near, searched=searched)


def triage_elasticsearch(client, prefix: str, seed: str, rules, *, around: int = 600, hops: int = 3,
                         max_ids: int = 50, kolla=None) -> dict:
    """The triage of ``seed`` on a server: osla's indices, or Kolla's (``kolla``: a
    :class:`~osloganalyze.parse.documents.KollaEvents` over them)."""
    from .correlate import correlate
    from .remote import ElasticsearchFetcher
    from .view import build

    fetcher = ElasticsearchFetcher(client, prefix, kolla=kolla)
    correlation = correlate(fetcher, seed, around=around, max_hops=hops, max_ids=max_ids)
    searched = Searched("elasticsearch", server=client.info.title, index=f"{prefix}-*")
    if not correlation.events:
        searched.first, searched.last = fetcher.time_range()
    searched.round_trips = fetcher.round_trips
    return build(correlation, rules, near=fetcher.near, searched=searched)
