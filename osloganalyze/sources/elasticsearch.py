"""A search server (Elasticsearch or OpenSearch) as a source: the same EventQuery as local
trees, answered by the server through :class:`~osloganalyze.es.client.SearchClient`."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from .. import schema
from ..query import SORT_FIELDS, EventQuery
from ..times import stamp_of_millis, timed


class SearchApi(Protocol):
    """What a source asks of the server's client (:class:`osloganalyze.es.client.SearchClient`)."""

    def search(self, index: str, body: dict, **params: Any) -> dict: ...

    def mget(self, docs: list[dict]) -> dict: ...

    def msearch(self, searches: list[dict]) -> dict: ...

    @property
    def product(self) -> str: ...


SORT = [{name: {"order": "asc", "missing": "_first", "unmapped_type": "keyword"}} for name in SORT_FIELDS]
log = logging.getLogger("osla.server")
MSEARCH_BATCH = 200  # searches per msearch request
# Every search either answers from every shard or fails: by default Elasticsearch answers 200 with
# the shards it could search (one failed shard, and a day's counts silently drop to nothing).
_WHOLE = {"ignore_unavailable": True, "allow_no_indices": True, "allow_partial_search_results": False}


class ElasticsearchSource:
    """Events in '<prefix>-*' indices. ``round_trips`` counts the requests made (threads may
    share one source)."""

    def __init__(self, client: SearchApi, prefix: str = "openstack", page_size: int = 5000):
        self.client = client
        self.index = f"{prefix}-*"
        self.page_size = page_size
        self.round_trips = 0
        self._lock = threading.Lock()

    @property
    def product(self) -> str:
        """elasticsearch | opensearch: where a feature differs, what the server has."""
        return self.client.product

    def _call(self, what: str, method: Callable[..., Any], *args: Any, **params: Any) -> Any:
        """One round trip (counted; logged with its time under --debug)."""
        with self._lock:
            self.round_trips += 1
        with timed(log, f"{what} {self.index}"):
            return method(*args, **params)

    def events(self, query: EventQuery, limit: int | None = None) -> list[dict]:
        return list(self.search(query.to_elasticsearch(), limit))

    def search(self, query: dict, limit: int | None = None, fields: list[str] | None = None,
               page_size: int | None = None, addressed: bool = False) -> Iterator:
        """Every event matching an Elasticsearch query, in :data:`SORT_FIELDS` order, page by page
        (only ``fields`` of each, if given; pages of ``page_size``, else the source's); with
        ``addressed``, (index, id, event) triples."""
        found = 0
        after = None
        page_size = min(page_size or self.page_size, self.page_size)
        while limit is None or found < limit:
            size = page_size if limit is None else min(page_size, limit - found)
            body = {"query": query, "sort": SORT, "size": size, "track_total_hits": False}
            if after is not None:
                body["search_after"] = after
            if fields is not None:
                body["_source"] = fields
            hits = self._call("search", self.client.search, self.index, body, **_WHOLE)["hits"]["hits"]
            for hit in hits:
                yield (hit["_index"], hit["_id"], hit["_source"]) if addressed else hit["_source"]
            found += len(hits)
            if len(hits) < size:
                break
            after = hits[-1]["sort"]

    def documents(self, addresses: list[tuple[str, str]]) -> list[dict]:
        """The events at these (index, id) addresses, in that order (one request); events
        deleted meanwhile are left out."""
        docs = self._call("mget", self.client.mget,
                          [{"_index": index, "_id": doc_id} for index, doc_id in addresses])["docs"]
        for doc in docs:
            if "error" in doc:
                raise _response_error(doc)
        return [doc["_source"] for doc in docs if doc.get("found")]

    def first_events(self, queries: list[dict], fields: list[str] | None = None) -> list[dict | None]:
        """The first event (in :data:`SORT_FIELDS` order) matching each query, or None; one
        msearch per :data:`MSEARCH_BATCH` queries."""
        found: list[dict | None] = []
        for start in range(0, len(queries), MSEARCH_BATCH):
            searches: list[dict] = []
            for query in queries[start:start + MSEARCH_BATCH]:
                body = {"query": query, "size": 1, "sort": SORT, "track_total_hits": False}
                if fields is not None:
                    body["_source"] = fields
                searches += [{"index": self.index, **_WHOLE}, body]
            for response in self._call("msearch", self.client.msearch, searches)["responses"]:
                if "error" in response:
                    raise _response_error(response)
                hits = response["hits"]["hits"]
                found.append(hits[0]["_source"] if hits else None)
        return found

    def time_range(self) -> tuple[str | None, str | None]:
        """The first and last event stamps in the indices (None, None when they hold none)."""
        aggs = self.aggregate({"match_all": {}}, {"from": {"min": {"field": schema.TIMESTAMP}},
                                                  "to": {"max": {"field": schema.TIMESTAMP}}})
        return (stamp_of_millis((aggs.get("from") or {}).get("value")),
                stamp_of_millis((aggs.get("to") or {}).get("value")))

    def count(self, query: dict) -> int:
        """How many events match ``query`` (one round trip)."""
        body = {"size": 0, "track_total_hits": True, "query": query}
        return int(self._call("count", self.client.search, self.index, body, **_WHOLE)["hits"]["total"]["value"])

    def aggregate(self, query: dict, aggs: dict) -> dict:
        """The aggregations of the events matching ``query`` (no events), in one round trip."""
        body = {"size": 0, "track_total_hits": False, "query": query, "aggs": aggs}
        answer = self._call("aggregate", self.client.search, self.index, body, **_WHOLE)
        # no index matches (a new cluster before anything was shipped, a mistyped prefix): the
        # server answers without aggregations; give them their empty shape
        return answer.get("aggregations") or empty_aggregations(aggs)

    def composite(self, query: dict, sources: list[dict], aggs: dict | None = None, page: int = 1000) -> Iterator[dict]:
        """Every bucket of a composite aggregation over the events matching ``query``, page by page."""
        after = None
        while True:
            composite = {"size": page, "sources": sources}
            if after:
                composite["after"] = after
            result = self.aggregate(query, {"c": {"composite": composite, **({"aggs": aggs} if aggs else {})}})["c"]
            yield from result["buckets"]
            after = result.get("after_key")
            if not after or len(result["buckets"]) < page:
                return


def empty_aggregations(aggs: dict) -> dict:
    """What aggregations answer over no documents, by their kind (filters keep their keys)."""
    answer: dict = {}
    for name, spec in aggs.items():
        subs = spec.get("aggs") or spec.get("aggregations") or {}
        if "filters" in spec:
            keys = spec["filters"].get("filters") or {}
            answer[name] = {"buckets": {key: {"doc_count": 0, **empty_aggregations(subs)} for key in keys}}
        elif "filter" in spec:
            answer[name] = {"doc_count": 0, **empty_aggregations(subs)}
        elif any(kind in spec for kind in ("min", "max", "avg", "sum", "cardinality", "value_count")):
            answer[name] = {"value": 0 if "value_count" in spec or "cardinality" in spec else None}
        else:  # terms, composite, histograms: no buckets
            answer[name] = {"buckets": []}
    return answer


def _response_error(response: dict) -> Exception:
    """An msearch or mget item's error as one ServerError line (status and reason)."""
    from ..errors import ServerError, server_reason

    return ServerError(f"the server answered HTTP {response.get('status')} to one of the searches: "
                       f"{server_reason(response['error'])}")
