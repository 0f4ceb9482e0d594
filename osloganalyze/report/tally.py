"""The small tables a report is computed from, filled event by event (local trees) or from
Elasticsearch aggregations: both sources fill the same :class:`Tally`."""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

from .. import schema
from ..redact import redact
from ..rules.signature import mask_url, signature
from .period import HOUR, WINDOW, Period, bucket

COUNTED_LEVELS = ("WARNING", "ERROR", "CRITICAL")  # counted per hour for spikes
ERROR_LEVELS = ("ERROR", "CRITICAL")  # with any traceback: what has an error signature
EXAMPLE_CHARS = 300
HTTP_401 = "http-401"  # the keystone section's kind for refused requests at keystone's own API


def level_class(level: str) -> str:
    return "warning" if level == "WARNING" else "error"


@functools.lru_cache(maxsize=65536)
def endpoint(method: str | None, url: str | None) -> str:
    """'GET /v2.1/servers/<id>' for an access line (ids masked, query string dropped)."""
    return f"{method or '?'} {mask_url(url or '')}"


def keystone_rules(rules) -> list:
    """The rules whose matches the Keystone section counts (tagged ``keystone``)."""
    return [rule for rule in rules if "keystone" in rule.tags]


def is_keystone(service: str | None) -> bool:
    return service is not None and service.startswith("keystone")


@dataclass
class SignatureStat:
    """One error signature of one service in the period or the baseline."""

    count: int = 0
    first: str | None = None
    last: str | None = None
    hosts: Counter = field(default_factory=Counter)
    traceback: bool = False
    error_type: str | None = None
    example: str | None = None  # the first line of one event's message, redacted
    request_id: str | None = None
    instance_uuid: str | None = None

    def add(self, count: int, first: str | None, last: str | None, hosts: dict, example: dict) -> None:
        self.count += count
        if first and (self.first is None or first < self.first):
            self.first = first
        if last and (self.last is None or last > self.last):
            self.last = last
        self.hosts.update(hosts)
        if self.example is None:
            self.traceback = bool(example.get(schema.ERROR_TYPE))
            self.error_type = example.get(schema.ERROR_TYPE)
            text = example.get(schema.MESSAGE) or example.get(schema.ERROR_MESSAGE) or ""
            self.example = redact(text.split("\n", 1)[0][:EXAMPLE_CHARS])
        if self.request_id is None:
            self.request_id = example.get(schema.REQUEST_ID)
        if self.instance_uuid is None:
            self.instance_uuid = example.get(schema.INSTANCE_UUID)

    def merge(self, other: SignatureStat) -> None:
        self.add(other.count, other.first, other.last, other.hosts,
                 {schema.ERROR_TYPE: other.error_type, schema.MESSAGE: other.example,
                  schema.REQUEST_ID: other.request_id, schema.INSTANCE_UUID: other.instance_uuid})
        if other.traceback:
            self.traceback = True


@dataclass
class Tally:
    period: Period
    # (service, host, level, hour) -> events at WARNING and above, period and baseline
    levels: Counter = field(default_factory=Counter)
    # day ('2024-05-01') -> baseline events of any level: which baseline days have logs at all
    days: Counter = field(default_factory=Counter)
    # (service, endpoint, 10-minute window) -> [requests, 5xx responses], period only
    requests: dict = field(default_factory=dict)
    # (service, host, 'error'|'warning', hour) -> a request id of one such event (period only)
    level_examples: dict = field(default_factory=dict)
    # (service, endpoint) -> a request id of one 5xx response
    request_examples: dict = field(default_factory=dict)
    # ('period'|'baseline', service, signature) -> SignatureStat
    signatures: dict = field(default_factory=dict)
    # ('period'|'baseline', hour, kind) -> keystone authentication/Fernet events (kind: rule id or http-401)
    keystone: Counter = field(default_factory=Counter)
    events: int = 0  # events read inside baseline + period
    period_events: int = 0

    def add_signature(self, where: str, service: str, sig: str, count: int, first, last, hosts: dict,
                      example: dict) -> None:
        key = (where, service, sig)
        stat = self.signatures.get(key)
        if stat is None:
            stat = self.signatures[key] = SignatureStat()
        stat.add(count, first, last, hosts, example)

    def add_requests(self, service: str, point: str, window: str, requests: int, errors: int,
                     request_id: str | None) -> None:
        row = self.requests.setdefault((service, point, window), [0, 0])
        row[0] += requests
        row[1] += errors
        if errors and request_id and (service, point) not in self.request_examples:
            self.request_examples[(service, point)] = request_id

    def merge(self, other: Tally) -> None:
        self.levels.update(other.levels)
        self.days.update(other.days)
        self.keystone.update(other.keystone)
        self.events += other.events
        self.period_events += other.period_events
        for key, (requests, errors) in other.requests.items():
            row = self.requests.setdefault(key, [0, 0])
            row[0] += requests
            row[1] += errors
        for key, value in other.request_examples.items():
            self.request_examples.setdefault(key, value)
        for key, value in other.level_examples.items():
            self.level_examples.setdefault(key, value)
        for key, stat in other.signatures.items():
            if key in self.signatures:
                self.signatures[key].merge(stat)
            else:
                self.signatures[key] = stat


class Observer:
    """Counts parsed events into a Tally (the local source). ``keystone_match`` returns the ids
    of the keystone-tagged rules an event matches."""

    def __init__(self, tally: Tally, keystone_match, counted_elsewhere: bool = False):
        """``counted_elsewhere``: the events are the period's, and their hourly counts (events,
        levels, signatures, Keystone kinds) reach the tally another way (the state store's
        per-file counts): only what is the period's alone is counted here."""
        self.tally = tally
        self.keystone_match = keystone_match
        self.counted_elsewhere = counted_elsewhere

    def observe(self, events):
        """Count every event; yield those of the report period (for the rule engine)."""
        if self.counted_elsewhere:
            yield from self._period_only(events)
            return
        tally, where_of = self.tally, self.tally.period.where
        for event in events:
            stamp = event.get(schema.TIMESTAMP)
            where = where_of(stamp)
            if where is None:
                continue
            tally.events += 1
            if where == "baseline":
                tally.days[stamp[:10]] += 1
            level = event.get(schema.LOG_LEVEL)
            service = event.get(schema.SERVICE_NAME) or "?"
            host = event.get(schema.HOST_NAME) or "?"
            counted = level in COUNTED_LEVELS
            keystone = is_keystone(service)
            hour = bucket(stamp, HOUR) if counted or keystone else None
            if counted:
                tally.levels[(service, host, level, hour)] += 1
                if where == "period" and event.get(schema.REQUEST_ID):
                    tally.level_examples.setdefault((service, host, level_class(level), hour), event[schema.REQUEST_ID])
            if level in ERROR_LEVELS or event.get(schema.ERROR_TYPE):
                tally.add_signature(where, service, signature(event), 1, stamp, stamp, {host: 1}, event)
            status = event.get(schema.HTTP_STATUS)
            if keystone or counted:
                for kind in self.keystone_match(event):
                    tally.keystone[(where, hour, kind)] += 1
                if status == 401 and keystone:
                    tally.keystone[(where, hour, HTTP_401)] += 1
            if where == "period":
                tally.period_events += 1
                if status is not None:
                    tally.add_requests(service, endpoint(event.get(schema.HTTP_METHOD), event.get(schema.URL_ORIGINAL)),
                                       bucket(stamp, WINDOW), 1, int(status >= 500), event.get(schema.REQUEST_ID))
                yield event

    def _period_only(self, events):
        """The period's events: request examples of WARNING+ hours, 5xx per endpoint window."""
        tally = self.tally
        for event in events:
            stamp = event[schema.TIMESTAMP]
            level = event.get(schema.LOG_LEVEL)
            service = event.get(schema.SERVICE_NAME) or "?"
            if level in COUNTED_LEVELS and event.get(schema.REQUEST_ID):
                key = (service, event.get(schema.HOST_NAME) or "?", level_class(level), bucket(stamp, HOUR))
                tally.level_examples.setdefault(key, event[schema.REQUEST_ID])
            tally.period_events += 1
            status = event.get(schema.HTTP_STATUS)
            if status is not None:
                tally.add_requests(service, endpoint(event.get(schema.HTTP_METHOD), event.get(schema.URL_ORIGINAL)),
                                   bucket(stamp, WINDOW), 1, int(status >= 500), event.get(schema.REQUEST_ID))
            yield event
