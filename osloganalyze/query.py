"""The one query interface every source answers: events by request id, global request id or
instance uuid, by time range, by service/host/level. Results come in one order: time, host,
file, offset."""
from __future__ import annotations

from dataclasses import dataclass

from . import schema


@dataclass(frozen=True)
class EventQuery:
    request_ids: tuple[str, ...] = ()
    global_request_ids: tuple[str, ...] = ()
    instance_uuids: tuple[str, ...] = ()
    since: str | None = None  # ISO 8601 UTC, inclusive
    until: str | None = None  # exclusive
    services: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()

    def _ids(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple((name, values) for name, values in ((schema.REQUEST_ID, self.request_ids),
                                                        (schema.GLOBAL_REQUEST_ID, self.global_request_ids),
                                                        (schema.INSTANCE_UUID, self.instance_uuids)) if values)

    def matches(self, event: dict) -> bool:
        ids = self._ids()
        if ids and not any(event.get(name) in values for name, values in ids):
            return False
        stamp = event.get(schema.TIMESTAMP)
        if self.since and (stamp is None or stamp < self.since):
            return False
        if self.until and (stamp is None or stamp >= self.until):
            return False
        for name, values in ((schema.SERVICE_NAME, self.services), (schema.HOST_NAME, self.hosts),
                             (schema.LOG_LEVEL, self.levels)):
            if values and event.get(name) not in values:
                return False
        return True

    def time_filter(self, field: str) -> dict:
        """The query's time range as a range filter on ``field`` (since inclusive, until not)."""
        bounds = {}
        if self.since:
            bounds["gte"] = self.since
        if self.until:
            bounds["lt"] = self.until
        return {"range": {field: bounds}}

    def to_elasticsearch(self) -> dict:
        filters: list[dict] = []
        ids = self._ids()
        if ids:
            filters.append({"bool": {"should": [{"terms": {name: list(values)}} for name, values in ids],
                                     "minimum_should_match": 1}})
        if self.since or self.until:
            filters.append(self.time_filter(schema.TIMESTAMP))
        for name, values in ((schema.SERVICE_NAME, self.services), (schema.HOST_NAME, self.hosts),
                             (schema.LOG_LEVEL, self.levels)):
            if values:
                filters.append({"terms": {name: list(values)}})
        return {"bool": {"filter": filters}} if filters else {"match_all": {}}


SORT_FIELDS = (schema.TIMESTAMP, schema.HOST_NAME, schema.LOG_FILE_PATH, schema.LOG_OFFSET)


def order(event: dict) -> tuple:
    """The order every source returns events in (missing values first)."""
    return tuple("" if event.get(name) is None and name != schema.LOG_OFFSET else event.get(name, -1)
                 for name in SORT_FIELDS)
