"""events -> triage: everything one request touched, across services and hosts, with a verdict.

:mod:`.correlate` follows the ids, :mod:`.local` and :mod:`.remote` answer it from a log tree
or Elasticsearch, :mod:`.view` turns the events into verdict, request tree and timeline, and
:mod:`.render` shows them."""
from __future__ import annotations

from .correlate import BadId, classify, correlate
from .view import build

__all__ = ["BadId", "classify", "triage_local", "triage_elasticsearch"]


def triage_local(paths: list[str], seed: str, rules, *, around: int = 600, hops: int = 3, max_ids: int = 50,
                 tz: str = "UTC", year: int | None = None, host: str | None = None) -> dict:
    from .local import LocalFetcher

    fetcher = LocalFetcher(paths, tz=tz, host=host, year=year, around=around)
    correlation = correlate(fetcher, seed, around=around, max_hops=hops, max_ids=max_ids)
    searched = {"source": "files", "files": len(fetcher.logfiles), "files_with_id": fetcher.files_with_hits}
    if not correlation.events:
        searched.update(fetcher.time_range())
    view = build(correlation, rules, near=fetcher.near, searched=searched)
    view["read_errors"] = fetcher.stats.errors
    return view


def triage_elasticsearch(client, prefix: str, seed: str, rules, *, around: int = 600, hops: int = 3,
                         max_ids: int = 50) -> dict:
    from .remote import ElasticsearchFetcher

    fetcher = ElasticsearchFetcher(client, prefix)
    correlation = correlate(fetcher, seed, around=around, max_hops=hops, max_ids=max_ids)
    searched = {"source": "elasticsearch", "index": f"{prefix}-*"}
    if not correlation.events:
        searched.update(fetcher.time_range())
    view = build(correlation, rules, near=fetcher.near, searched=searched)
    view["round_trips"] = fetcher.round_trips
    return view
