"""From rule hits to findings: grouped by rule and signature, escalated by correlation,
filtered by thresholds. Both engines (local and Elasticsearch) feed the same :class:`Collector`,
so only *which events match* can differ between them, and the tests check that it does not."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .. import schema
from ..redact import redact
from ..times import event_time
from .model import SEVERITY_RANK, Rule
from .signature import deepest_openstack_frame, signature

EXAMPLE_CHARS = 2000
IDS_KEPT = 5  # request ids and instance uuids listed per finding
_CATEGORY_ORDER = {"bug": 0, "config": 1, "infrastructure": 2}


@dataclass
class _Group:
    rule: Rule
    signature: str
    escalated: bool
    count: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    services: Counter = field(default_factory=Counter)
    hosts: Counter = field(default_factory=Counter)
    # the earliest few distinct ids, id -> first stamp: the same ids whatever order the hits came in
    request_ids: dict = field(default_factory=dict)
    instance_uuids: dict = field(default_factory=dict)
    example: dict | None = None
    frame: str | None = None
    stamps: list = field(default_factory=list)  # only for rules with a threshold

    def add(self, event: dict) -> None:
        self.count += 1
        stamp = event.get(schema.TIMESTAMP)
        if stamp:
            self._widen(stamp)
            if self.rule.threshold:
                self.stamps.append(stamp)
        self.services[event.get(schema.SERVICE_NAME) or "?"] += 1
        self.hosts[event.get(schema.HOST_NAME) or "?"] += 1
        for name, kept in ((schema.REQUEST_ID, self.request_ids), (schema.INSTANCE_UUID, self.instance_uuids)):
            value = event.get(name)
            if value:
                keep_earliest(kept, value, stamp)
        if self.example is None or _earlier(event, self.example):
            self.example = example_of(event)
            self.frame = deepest_openstack_frame(event.get(schema.ERROR_STACK_TRACE))

    def _widen(self, stamp: str) -> None:
        if self.first_seen is None or stamp < self.first_seen:
            self.first_seen = stamp
        if self.last_seen is None or stamp > self.last_seen:
            self.last_seen = stamp

    def merge(self, other: _Group) -> None:
        """Take in the same group as counted over other files (another process)."""
        self.count += other.count
        for stamp in (other.first_seen, other.last_seen):
            if stamp:
                self._widen(stamp)
        self.stamps.extend(other.stamps)
        self.services.update(other.services)
        self.hosts.update(other.hosts)
        for mine, theirs in ((self.request_ids, other.request_ids), (self.instance_uuids, other.instance_uuids)):
            for value, stamp in theirs.items():
                keep_earliest(mine, value, stamp)
        if other.example is not None and (self.example is None or _earlier(other.example, self.example)):
            self.example, self.frame = other.example, other.frame

    def peak(self) -> int:
        """Most hits inside any window of the threshold's length."""
        if not self.stamps:
            return self.count  # undated events: no windows to tell apart
        threshold = self.rule.threshold
        if threshold is None:
            return self.count
        times = sorted(_seconds(s) for s in self.stamps)
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] > threshold.within:
                start += 1
            best = max(best, end - start + 1)
        return best


def example_of(event: dict) -> dict:
    """The fields of one event a reader needs, secrets redacted, text cut to a readable size."""
    keep = (schema.TIMESTAMP, schema.HOST_NAME, schema.SERVICE_NAME, schema.LOG_LEVEL, schema.LOG_LOGGER,
            schema.REQUEST_ID, schema.GLOBAL_REQUEST_ID, schema.INSTANCE_UUID, schema.ERROR_TYPE,
            schema.HTTP_STATUS, schema.LOG_FILE_PATH, schema.LOG_OFFSET)
    example = {name: event[name] for name in keep if event.get(name) is not None}
    for name in (schema.MESSAGE, schema.ERROR_MESSAGE, schema.EVENT_ORIGINAL):
        if event.get(name):
            example[name] = redact(event[name][:EXAMPLE_CHARS])
    return example


_UNDATED = "\uffff"  # sorts after every stamp


def keep_earliest(kept: dict, value: str, stamp: str | None) -> None:
    """Add ``value`` first seen at ``stamp`` to ``kept`` (value -> stamp), which holds the
    :data:`IDS_KEPT` earliest values (ties by value)."""
    stamp = stamp or _UNDATED
    old = kept.get(value)
    if old is not None:
        if stamp < old:
            kept[value] = stamp
        return
    if len(kept) < IDS_KEPT:
        kept[value] = stamp
        return
    latest = max(kept, key=lambda v: (kept[v], v))
    if (stamp, value) < (kept[latest], latest):
        del kept[latest]
        kept[value] = stamp


def _oldest_first(kept: dict) -> list:
    return sorted(kept, key=lambda v: (kept[v], v))


def _earlier(example: dict, than: dict) -> bool:
    """Whether an event (or example) comes before another: older (undated ones count as newest),
    then by host, file and offset, so that the example does not depend on the order the files
    were read in (the workers share them out as they go)."""
    return _order(example) < _order(than)


def _order(event: dict) -> tuple:
    return (event.get(schema.TIMESTAMP) or _UNDATED, event.get(schema.HOST_NAME) or "",
            event.get(schema.LOG_FILE_PATH) or "", event.get(schema.LOG_OFFSET) or 0)


def ranked(counts: Counter, top: int | None = None) -> dict:
    """The most common first, ties by name (``Counter.most_common`` keeps them in the order
    they were counted, which differs from run to run when workers share the files)."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top])


def _seconds(stamp: str) -> float:
    return event_time(stamp).timestamp()


def correlation_values(event: dict, fields: tuple[str, ...]) -> set:
    return {event[name] for name in fields if event.get(name)}


class Collector:
    """Hits in, findings out. ``escalation_keys`` must be complete before :meth:`findings`."""

    def __init__(self):
        self.groups: dict[tuple, _Group] = {}
        self.pending: dict[str, list[tuple[dict, frozenset]]] = {}  # rule id -> hits awaiting escalation
        self.rules: dict[str, Rule] = {}
        self.escalation_keys: dict[str, set] = {}  # rule id -> correlation values of escalating events
        self.hits = 0
        self.events: int | None = None  # events looked at (local scans)

    def add(self, rule: Rule, event: dict) -> None:
        self.hits += 1
        self.rules[rule.id] = rule
        if rule.escalate_when is not None:
            slim = {k: v for k, v in event.items() if k != schema.EVENT_ORIGINAL}
            slim[schema.EVENT_ORIGINAL] = (event.get(schema.EVENT_ORIGINAL) or "")[:EXAMPLE_CHARS]  # bounded memory
            keys = frozenset(correlation_values(event, rule.escalate_when.same))
            self.pending.setdefault(rule.id, []).append((slim, keys))
            return
        self._group(rule, event, False)

    def merge(self, other: Collector) -> None:
        """Take in the hits another collector saw (the same rules over other files)."""
        self.hits += other.hits
        self.rules.update(other.rules)
        for key, group in other.groups.items():
            self._take(key, group)
        for rule_id, hits in other.pending.items():
            self.pending.setdefault(rule_id, []).extend(hits)
        for rule_id, keys in other.escalation_keys.items():
            self.escalation_keys.setdefault(rule_id, set()).update(keys)
        if other.events is not None:
            self.events = (self.events or 0) + other.events

    def add_counted(self, rule: Rule, sig: str, count: int, first: str | None, last: str | None,
                    services: Counter, hosts: Counter, request_ids: dict, instance_uuids: dict,
                    example: dict) -> None:
        """Hits the server counted rather than sent (one signature's share of an aggregation):
        the group they make is merged as another process's would be. ``example`` is the
        earliest of the hits; ``request_ids`` and ``instance_uuids`` map the earliest distinct
        ids to their first stamps."""
        if rule.escalate_when is not None or rule.threshold is not None:
            raise ValueError(f"rule {rule.id}: escalation and thresholds need every hit, not counts")
        self.hits += count
        self.rules[rule.id] = rule
        group = _Group(rule, sig, False, count=count, services=services, hosts=hosts,
                       example=example_of(example),
                       frame=deepest_openstack_frame(example.get(schema.ERROR_STACK_TRACE)))
        for mine, theirs in ((group.request_ids, request_ids), (group.instance_uuids, instance_uuids)):
            for value, stamp in theirs.items():
                keep_earliest(mine, value, stamp)
        for stamp in (first, last):
            if stamp:
                group._widen(stamp)
        self._take((rule.id, sig, False), group)

    def _take(self, key: tuple, group: _Group) -> None:
        if key in self.groups:
            self.groups[key].merge(group)
        else:
            self.groups[key] = group

    def _group(self, rule: Rule, event: dict, escalated: bool) -> None:
        key = (rule.id, signature(event), escalated)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(rule, key[1], escalated)
        group.add(event)

    def findings(self) -> list[Finding]:
        for rule_id, hits in self.pending.items():
            rule = self.rules[rule_id]
            keys = self.escalation_keys.get(rule_id, set())
            for event, values in hits:
                self._group(rule, event, bool(values & keys))
        self.pending = {}
        found = [f for f in map(_finding, self.groups.values()) if f is not None]
        found.sort(key=lambda f: (-SEVERITY_RANK[f.severity], _CATEGORY_ORDER[f.category], -f.count, f.rule,
                                  f.signature))
        return found


@dataclass(frozen=True)
class Finding:
    """One rule's hits of one signature: what the scan, the triage and the report show."""

    rule: str
    title: str
    category: str  # bug | config | infrastructure
    severity: str
    escalated: bool
    signature: str
    count: int
    first_seen: str | None
    last_seen: str | None
    services: dict[str, int]  # most hits first
    hosts: dict[str, int]
    request_ids: list[str]  # the earliest few, oldest first
    instance_uuids: list[str]
    frame: str | None  # deepest OpenStack frame of the example's traceback
    example: dict | None
    remediation: str
    escalation: str | None = None  # why it was escalated
    peak: dict | None = None  # the most hits within a threshold's window

    def to_json(self) -> dict:
        found = {name: getattr(self, name) for name in _JSON_FIELDS}
        if self.escalated:
            found["escalation"] = self.escalation
        if self.peak is not None:
            found["peak"] = self.peak
        return found


_JSON_FIELDS = ("rule", "title", "category", "severity", "escalated", "signature", "count", "first_seen",
                "last_seen", "services", "hosts", "request_ids", "instance_uuids", "frame", "example",
                "remediation")


def _finding(group: _Group) -> Finding | None:
    rule = group.rule
    category, severity, escalation = rule.category, rule.severity, None
    if group.escalated and rule.escalate_when is not None:
        category, severity = rule.escalate_when.category, rule.escalate_when.severity
        escalation = rule.escalate_when.reason
    peak = None
    if rule.threshold:
        most = group.peak()
        if most < rule.threshold.count:
            return None
        peak = {"count": most, "within_seconds": rule.threshold.within}
    return Finding(rule=rule.id, title=rule.title, category=category, severity=severity, escalated=group.escalated,
                   signature=group.signature, count=group.count, first_seen=group.first_seen,
                   last_seen=group.last_seen, services=ranked(group.services),
                   hosts=ranked(group.hosts), request_ids=_oldest_first(group.request_ids),
                   instance_uuids=_oldest_first(group.instance_uuids), frame=group.frame, example=group.example,
                   remediation=rule.remediation, escalation=escalation, peak=peak)
