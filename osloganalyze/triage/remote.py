"""Triage on a search server: the seed, each further hop, the instances and the nearby errors are
one search each (one page of up to 10,000 events): 5 round trips with the default 3 hops. On
Kolla's own indices (a fetcher given ``kolla``) the same searches go to Kolla's fields and osla's
parser makes the events of the documents found."""
from __future__ import annotations

from .. import schema
from ..parse.documents import KollaEvents
from ..query import EventQuery
from ..sources.elasticsearch import ElasticsearchSource

PAGE = 10000


class ElasticsearchFetcher:
    def __init__(self, client, prefix: str = "openstack", kolla: KollaEvents | None = None):
        self.kolla = kolla
        self.source: ElasticsearchSource | KollaEvents = kolla or ElasticsearchSource(client, prefix, page_size=PAGE)
        self.near: list[str] = []

    @property
    def round_trips(self) -> int:
        return self.source.round_trips

    def time_range(self) -> tuple[str | None, str | None]:
        """The first and last timestamps in the indices, as event stamps."""
        return self.source.time_range()

    def seed_events(self, kind: str, value: str) -> list[dict]:
        if kind == "request":
            query = EventQuery(request_ids=(value,), global_request_ids=(value,))
        else:
            query = EventQuery(instance_uuids=(value,))
        events = self.source.events(query)
        if not events:
            self.near = self._near(kind, value)
        return events

    def fetch(self, requests: set[str], instances: set[str], since: str, until: str) -> list[dict]:
        if not requests and not instances:
            return []
        query = EventQuery(request_ids=tuple(sorted(requests)), global_request_ids=tuple(sorted(requests)),
                           instance_uuids=tuple(sorted(instances)), since=since, until=until)
        return self.source.events(query)

    def errors(self, since: str, until: str) -> list[dict]:
        return self.source.events(EventQuery(levels=("ERROR", "CRITICAL"), since=since, until=until))

    def _near(self, kind: str, value: str) -> list[str]:
        if not isinstance(self.source, ElasticsearchSource):
            return self.source.near(value) if kind == "request" else []
        field = schema.REQUEST_ID if kind == "request" else schema.INSTANCE_UUID
        prefix = value[:12] if kind == "request" else value[:8]
        answer = self.source.aggregate({"prefix": {field: prefix}}, {"ids": {"terms": {"field": field, "size": 20}}})
        return sorted(b["key"] for b in answer.get("ids", {}).get("buckets", []))
