"""Elasticsearch as a source: the same EventQuery as local trees, answered by the server."""
from __future__ import annotations

from ..query import SORT_FIELDS, EventQuery


class ElasticsearchSource:
    """Events in '<prefix>-*' indices. ``round_trips`` counts the requests made."""

    def __init__(self, client, prefix: str = "openstack", page_size: int = 5000):
        self.client = client
        self.index = f"{prefix}-*"
        self.page_size = page_size
        self.round_trips = 0

    def events(self, query: EventQuery, limit: int | None = None) -> list[dict]:
        sort = [{name: {"order": "asc", "missing": "_first", "unmapped_type": "keyword"}} for name in SORT_FIELDS]
        found: list[dict] = []
        after = None
        while limit is None or len(found) < limit:
            size = self.page_size if limit is None else min(self.page_size, limit - len(found))
            body = {"query": query.to_elasticsearch(), "sort": sort, "size": size, "track_total_hits": False}
            if after is not None:
                body["search_after"] = after
            self.round_trips += 1
            hits = self.client.search(index=self.index, ignore_unavailable=True, allow_no_indices=True,
                                      **body)["hits"]["hits"]
            found.extend(hit["_source"] for hit in hits)
            if len(hits) < size:
                break
            after = hits[-1]["sort"]
        return found
