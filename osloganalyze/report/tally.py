"""The small tables a report is computed from, filled event by event (local trees) or from
Elasticsearch aggregations: both sources fill the same :class:`Tally`."""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

import orjson

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
        # the example is the earliest event's (not the first read: the workers share files out)
        earlier = bool(first) and self.first is not None and first < self.first  # type: ignore[operator]
        if first and (self.first is None or first < self.first):
            self.first = first
        if last and (self.last is None or last > self.last):
            self.last = last
        self.hosts.update(hosts)
        if self.example is None or earlier:
            self.traceback = self.traceback or bool(example.get(schema.ERROR_STACK_TRACE))  # not a WARNING's exc text
            self.error_type = example.get(schema.ERROR_TYPE)
            text = example.get(schema.MESSAGE) or example.get(schema.ERROR_MESSAGE) or ""
            self.example = redact(text.split("\n", 1)[0][:EXAMPLE_CHARS])
        if self.request_id is None or (earlier and example.get(schema.REQUEST_ID)):
            self.request_id = example.get(schema.REQUEST_ID)
        if self.instance_uuid is None or (earlier and example.get(schema.INSTANCE_UUID)):
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


@dataclass
class HourCounts:
    """What a report counts of one hour of events (where-agnostic: it becomes baseline or
    period when it is added to a Tally)."""

    events: int = 0
    levels: Counter = field(default_factory=Counter)  # (service, host, level) -> events
    keystone: Counter = field(default_factory=Counter)  # kind -> events
    signatures: dict = field(default_factory=dict)  # (service, signature) -> SignatureStat

    def to_json(self) -> bytes:
        return orjson.dumps({
            "events": self.events,
            "levels": [[*key, n] for key, n in self.levels.items()],
            "keystone": [[kind, n] for kind, n in self.keystone.items()],
            "signatures": [[service, sig, s.count, s.first, s.last, dict(s.hosts), s.traceback, s.error_type,
                            s.example, s.request_id, s.instance_uuid] for (service, sig), s in self.signatures.items()],
        })

    @classmethod
    def of_json(cls, data: bytes) -> HourCounts:
        raw = orjson.loads(data)
        counts = cls(events=raw["events"], levels=Counter({tuple(row[:3]): row[3] for row in raw["levels"]}),
                     keystone=Counter({kind: n for kind, n in raw["keystone"]}))
        for service, sig, count, first, last, hosts, traceback, error_type, example, rid, iid in raw["signatures"]:
            counts.signatures[(service, sig)] = SignatureStat(count, first, last, Counter(hosts), traceback, error_type,
                                                              example, rid, iid)
        return counts

    def add_into(self, tally: Tally, hour: str, where: str) -> None:
        """Count this hour into a report's tally, as the events would have been."""
        tally.events += self.events
        if where == "baseline":
            tally.days[hour[:10]] += self.events
        for (service, host, level), n in self.levels.items():
            tally.levels[(service, host, level, hour)] += n
        for kind, n in self.keystone.items():
            tally.keystone[(where, hour, kind)] += n
        for (service, sig), stat in self.signatures.items():
            key = (where, service, sig)
            if key in tally.signatures:
                tally.signatures[key].merge(stat)
            else:
                tally.signatures[key] = SignatureStat(stat.count, stat.first, stat.last, Counter(stat.hosts),
                                                      stat.traceback, stat.error_type, stat.example, stat.request_id,
                                                      stat.instance_uuid)


class HourRecorder:
    """Counts events per hour: what a report counts of every event of its baseline and period
    (the one place that counting is written; a state store keeps these counts per file).
    ``keystone_match`` returns the ids of the keystone-tagged rules an event matches."""

    def __init__(self, keystone_match):
        self.keystone_match = keystone_match
        self.hours: dict[str, HourCounts] = {}

    def record(self, event: dict, stamp: str, hour: str | None = None) -> None:
        """Count one event (``hour``: its hour's bucket, when the caller has it)."""
        if hour is None:
            hour = bucket(stamp, HOUR)
        counts = self.hours.get(hour)
        if counts is None:
            counts = self.hours[hour] = HourCounts()
        counts.events += 1
        get = event.get
        level = get(schema.LOG_LEVEL)
        service = get(schema.SERVICE_NAME) or "?"
        counted = level in COUNTED_LEVELS
        error_type = get(schema.ERROR_TYPE)
        keystone = is_keystone(service)
        if not counted and not error_type and not keystone:
            return  # most lines: the hour's count is all there is to count of them
        host = get(schema.HOST_NAME) or "?"
        if counted:
            counts.levels[(service, host, level)] += 1
        if level in ERROR_LEVELS or error_type:
            key = (service, signature(event))
            stat = counts.signatures.get(key)
            if stat is None:
                stat = counts.signatures[key] = SignatureStat()
            stat.add(1, stamp, stamp, {host: 1}, event)
        if keystone or counted:
            for kind in self.keystone_match(event):
                counts.keystone[kind] += 1
            if get(schema.HTTP_STATUS) == 401 and keystone:
                counts.keystone[HTTP_401] += 1

    def add_into(self, tally: Tally) -> None:
        """Add every hour counted into ``tally``, as baseline or period by its hour."""
        for hour, counts in self.hours.items():
            counts.add_into(tally, hour, "baseline" if hour < tally.period.start else "period")


class Observer:
    """Passes on the period's events (for the rule engine) and counts what a report counts of
    them: every event of baseline and period per hour (:class:`HourRecorder`, added to the tally
    once the events are all read), and what is the period's alone (request examples of WARNING+
    hours, 5xx per endpoint window). ``counted=False``: the events are the period's and their
    hours reach the tally another way (a log tree counts each file as it reads it)."""

    def __init__(self, tally: Tally, keystone_match, counted: bool = True):
        self.tally = tally
        self.keystone_match = keystone_match
        self.counted = counted

    def observe(self, events):
        """Yield the period's events; the counts are complete once this is exhausted."""
        where_of = self.tally.period.where
        recorder = HourRecorder(self.keystone_match) if self.counted else None
        for event in events:
            stamp = event.get(schema.TIMESTAMP)
            where = where_of(stamp)
            if where is None:
                continue
            if recorder is not None:
                recorder.record(event, stamp)
            if where != "period":
                continue
            self.period_event(event, stamp)
            yield event
        if recorder is not None:
            recorder.add_into(self.tally)

    def period_event(self, event: dict, stamp: str) -> None:
        """Count what is the period's alone of one of its events."""
        tally = self.tally
        tally.period_events += 1
        get = event.get
        level = get(schema.LOG_LEVEL)
        status = get(schema.HTTP_STATUS)
        if status is None and level not in COUNTED_LEVELS:
            return
        service = get(schema.SERVICE_NAME) or "?"
        if level in COUNTED_LEVELS and get(schema.REQUEST_ID):
            key = (service, get(schema.HOST_NAME) or "?", level_class(level), bucket(stamp, HOUR))
            tally.level_examples.setdefault(key, event[schema.REQUEST_ID])
        if status is not None:
            tally.add_requests(service, endpoint(get(schema.HTTP_METHOD), get(schema.URL_ORIGINAL)),
                               bucket(stamp, WINDOW), 1, int(status >= 500), get(schema.REQUEST_ID))
