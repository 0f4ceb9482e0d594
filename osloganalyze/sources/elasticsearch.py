"""Elasticsearch as a source: the same EventQuery as local trees, answered by the server."""
from __future__ import annotations

from typing import Iterator

from ..query import SORT_FIELDS, EventQuery


class ElasticsearchSource:
    """Events in '<prefix>-*' indices. ``round_trips`` counts the requests made."""

    def __init__(self, client, prefix: str = "openstack", page_size: int = 5000):
        self.client = client
        self.index = f"{prefix}-*"
        self.page_size = page_size
        self.round_trips = 0

    def events(self, query: EventQuery, limit: int | None = None) -> list[dict]:
        return list(self.search(query.to_elasticsearch(), limit))

    def search(self, query: dict, limit: int | None = None, fields: list[str] | None = None) -> Iterator[dict]:
        """Every event matching an Elasticsearch query, in :data:`SORT_FIELDS` order, page by page
        (only ``fields`` of each, if given)."""
        sort = [{name: {"order": "asc", "missing": "_first", "unmapped_type": "keyword"}} for name in SORT_FIELDS]
        found = 0
        after = None
        while limit is None or found < limit:
            size = self.page_size if limit is None else min(self.page_size, limit - found)
            body = {"query": query, "sort": sort, "size": size, "track_total_hits": False}
            if after is not None:
                body["search_after"] = after
            if fields is not None:
                body["source_includes"] = fields
            self.round_trips += 1
            hits = self.client.search(index=self.index, ignore_unavailable=True, allow_no_indices=True,
                                      **body)["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            found += len(hits)
            if len(hits) < size:
                break
            after = hits[-1]["sort"]
