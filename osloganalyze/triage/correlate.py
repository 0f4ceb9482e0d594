"""Follow one request through the logs: which ids lead to which, and how far to go.

Ids link events in three ways:

- a local request id (``openstack.request_id``) is the id one service gave the request;
- a global request id (``openstack.global_request_id``) is the caller's local id, carried by the
  downstream calls it made (``[req-GLOBAL req-LOCAL ...]``): following it both ways walks the
  request tree;
- an instance uuid (``[instance: uuid]``) ties events about one server together.

Request links are followed transitively, up to ``max_hops``; the instances those requests touched
are followed one step (their events are shown, but the other requests they mention, such as
periodic tasks, are not chased), unless the seed itself is an instance, whose requests are then
followed. Every fetch is limited to a time window around the seed's own events, and at most
``max_ids`` ids are followed, so one busy instance cannot pull in the whole cloud.

The algorithm only asks a source for "events with these ids in this window", so the local tree
and Elasticsearch give the same answer (:class:`Fetcher`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from .. import schema
from ..times import shift
from .ids import classify

REQUEST_FIELDS = (schema.REQUEST_ID, schema.GLOBAL_REQUEST_ID)


class Fetcher(Protocol):
    def seed_events(self, kind: str, value: str) -> list[dict]:
        """Events carrying the seed in an id field, at any time."""

    def fetch(self, requests: set[str], instances: set[str], since: str, until: str) -> list[dict]:
        """Events in [since, until) whose request or global id is in ``requests`` or whose
        instance is in ``instances``."""

    def errors(self, since: str, until: str) -> list[dict]:
        """ERROR and CRITICAL events in [since, until), whatever their ids."""


@dataclass
class Followed:
    id: str
    kind: str  # request | instance
    hop: int
    via: str | None  # the id it was reached from
    reason: str


@dataclass
class Correlation:
    seed: str
    kind: str
    events: list[dict] = field(default_factory=list)
    followed: list[Followed] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    limits: list[str] = field(default_factory=list)  # where a bound stopped the chase
    nearby: list[dict] = field(default_factory=list)  # errors close in time that no id links
    # failures of the same process just after a request that shows none itself: linked by process
    # and time, not by id (the rest of the call logged under a new id, or by the WSGI server)
    linked: list[dict] = field(default_factory=list)


NEARBY_SECONDS = 5  # errors this close to the request's own failures are shown, linked or not
NEARBY_LIMIT = 50
CONTINUED_SECONDS = 10.0  # a request's process failing this soon after its last line may continue it


def window(events: list[dict], around: int) -> tuple[str, str] | None:
    stamps = sorted(e[schema.TIMESTAMP] for e in events if e.get(schema.TIMESTAMP))
    if not stamps:
        return None
    return (shift(stamps[0], -around), shift(stamps[-1], around))


def _key(event: dict) -> tuple:
    """One event, however often it is fetched: its file and byte offset, or, where the source
    keeps no offsets (Fluentd's or Kolla's documents), its file, time, pid and first line."""
    offset = event.get(schema.LOG_OFFSET)
    if offset is not None:
        return (event.get(schema.HOST_NAME), event.get(schema.LOG_FILE_PATH), offset)
    return (event.get(schema.HOST_NAME), event.get(schema.LOG_FILE_PATH), event.get(schema.TIMESTAMP),
            event.get(schema.PROCESS_PID), (event.get(schema.MESSAGE) or "").split("\n", 1)[0])


def _keep(found: dict[tuple, dict], event: dict) -> None:
    """Add an event once; a fuller copy (its stack trace rejoined from lines found together)
    replaces a bare one."""
    key = _key(event)
    known = found.get(key)
    if known is None or (event.get(schema.ERROR_STACK_TRACE) and not known.get(schema.ERROR_STACK_TRACE)):
        found[key] = event


_MENTION = re.compile(r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# an instance named in message text: 'Instance <uuid> could not be found', '"server_uuid": "<uuid>"'
# (the body of os-server-external-events), 'instance_uuid=<uuid>'
_INSTANCE_MENTION = re.compile(r"\b(?:instance|server)(?:[ _]?(?:uuid|id))?\W{0,4}"
                               r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b", re.I)


class _Chase:
    """The ids followed so far, and why."""

    def __init__(self, kind: str, value: str, max_ids: int):
        self.kind, self.value, self.max_ids = kind, value, max_ids
        self.requests: dict[str, Followed] = {}
        self.instances: dict[str, Followed] = {}
        target = self.requests if kind == "request" else self.instances
        target[value] = Followed(value, kind, 0, None, "the id asked for")
        self.full = False

    def _add(self, table: dict, value: str, kind: str, hop: int, via: str, reason: str, fresh: set) -> None:
        if value in table:
            return
        if len(self.requests) + len(self.instances) >= self.max_ids:
            self.full = True
            return
        table[value] = Followed(value, kind, hop, via, reason)
        fresh.add(value)

    def learn(self, events: list[dict], hop: int) -> tuple[set, set]:
        """New request ids (and instances) these events lead to."""
        new_requests: set[str] = set()
        new_instances: set[str] = set()
        for event in events:
            local, caller = event.get(schema.REQUEST_ID), event.get(schema.GLOBAL_REQUEST_ID)
            known = local if local in self.requests else caller if caller in self.requests else None
            instance = event.get(schema.INSTANCE_UUID)
            if known is None:
                if self.kind == "instance" and instance == self.value and local:
                    self._add(self.requests, local, "request", hop, instance, f"a request on instance {instance}",
                              new_requests)
                continue
            if caller and caller != known:
                self._add(self.requests, caller, "request", hop, known, f"the caller of {known}", new_requests)
            if local and local != known:
                self._add(self.requests, local, "request", hop, known, f"called by {known}", new_requests)
            for text in (event.get(schema.MESSAGE), event.get(schema.ERROR_MESSAGE)):
                for mention in set(_MENTION.findall(text or "")):
                    self._add(self.requests, mention, "request", hop, known,
                              f"named in a message of {known} (a downstream call's response id)", new_requests)
            if instance and self.kind == "request":
                self._add(self.instances, instance, "instance", hop, known, f"the instance {known} acted on",
                          new_instances)
            if self.kind == "request":
                for text in (event.get(schema.MESSAGE), event.get(schema.ERROR_MESSAGE)):
                    for named in dict.fromkeys(m.lower() for m in _INSTANCE_MENTION.findall(text or "")):
                        self._add(self.instances, named, "instance", hop, known,
                                  f"an instance named in a message of {known}", new_instances)
        return new_requests, new_instances


def correlate(fetcher: Fetcher, seed: str, around: int = 600, max_hops: int = 3, max_ids: int = 50) -> Correlation:
    """The events of one request (or instance), and of the requests linked to it."""
    kind, value = classify(seed)
    result = Correlation(value, kind)
    seeds = sorted(fetcher.seed_events(kind, value), key=_order)  # one order whatever the source
    if not seeds:
        return result
    found: dict[tuple, dict] = {_key(e): e for e in seeds}
    span = window(seeds, around)
    if span is None:  # undated logs: no window to hold the chase, so the seed's own events only
        result.events = sorted(seeds, key=_order)
        result.limits.append("the seed's events carry no timestamps: nothing else was followed")
        return result
    result.since, result.until = span
    chase = _Chase(kind, value, max_ids)
    new_requests, new_instances = chase.learn(seeds, 1)
    hop = 1
    while new_requests and hop < max_hops:
        hop += 1
        batch = sorted(fetcher.fetch(new_requests, set(), *span), key=_order)
        for event in batch:
            _keep(found, event)
        more_requests, more_instances = chase.learn(batch, hop)
        new_requests, new_instances = more_requests, new_instances | more_instances
    if new_requests:
        result.limits.append(f"stopped after {max_hops} hops: {len(new_requests)} linked requests not fetched "
                             "(use --hops to go further)")
    if new_instances:  # what the request did to its instances (their other requests are not chased)
        for event in fetcher.fetch(set(), new_instances, *span):
            _keep(found, event)
    if chase.full:
        result.limits.append(f"stopped following at {max_ids} ids (use --max-ids to follow more)")
    result.events = sorted(found.values(), key=_order)
    result.followed = sorted((*chase.requests.values(), *chase.instances.values()), key=lambda f: (f.hop, f.id))
    errors = _Errors(fetcher)
    if not any(is_failure(e) or _answered(e) for e in result.events):
        result.linked = _continued(errors, result.events, found)
        _follow_continuation(fetcher, result, chase, found, span)
    result.nearby = _nearby(errors, [*result.events, *result.linked], {**found, **{_key(e): e for e in result.linked}})
    return result


class _Errors:
    """``fetcher.errors``, once for a window: a window inside one already fetched is answered
    from its events (the continuation's errors, widened by :data:`NEARBY_SECONDS`, hold the
    nearby errors of the failures it links)."""

    def __init__(self, fetcher: Fetcher):
        self.fetcher = fetcher
        self.window: tuple[str, str] | None = None
        self.found: list[dict] = []

    def fetch(self, since: str, until: str) -> None:
        self.found, self.window = self.fetcher.errors(since, until), (since, until)

    def __call__(self, since: str, until: str) -> list[dict]:
        if self.window is not None and self.window[0] <= since and until <= self.window[1]:
            return [e for e in self.found if since <= (e.get(schema.TIMESTAMP) or "") < until]
        return self.fetcher.errors(since, until)


def _follow_continuation(fetcher: Fetcher, result: Correlation, chase: _Chase, found: dict,
                         span: tuple[str, str]) -> None:
    """The rest of the requests the linked failures belong to (their new local ids)."""
    first: dict[str, dict] = {}
    for event in result.linked:
        rid = event.get(schema.REQUEST_ID)
        if rid and rid not in chase.requests:
            first.setdefault(rid, event)
    if not first:
        return
    linked = {_key(e): e for e in result.linked}
    for event in fetcher.fetch(set(first), set(), *span):
        if _key(event) not in found:
            linked.setdefault(_key(event), event)
    result.linked = sorted(linked.values(), key=_order)
    for rid in sorted(first):
        result.followed.append(Followed(rid, "request", 1, chase.value, "the same process just after it: linked "
                                        "by process and time, not by id"))


def _answered(event: dict) -> bool:
    """A line that says the request got its answer: an access line."""
    return event.get(schema.HTTP_STATUS) is not None


def is_failure(event: dict) -> bool:
    return event.get(schema.LOG_LEVEL) in ("ERROR", "CRITICAL") or (event.get(schema.HTTP_STATUS) or 0) >= 500


def _folder(event: dict) -> str:
    return (event.get(schema.LOG_FILE_PATH) or "").rsplit("/", 1)[0]


def _continued(errors: _Errors, events: list[dict], found: dict) -> list[dict]:
    """Errors of the request's own processes (same host and pid, same service or log folder)
    from its first line to :data:`CONTINUED_SECONDS` after its last, for a request whose own lines
    show neither a failure nor an answer (an access line): some releases log the rest of an API
    call under a new local id, and an exception that escapes the application is logged by the WSGI
    server with no id at all. A failure under another caller's global id is another call."""
    processes = {(e.get(schema.HOST_NAME), e.get(schema.PROCESS_PID)) for e in events if e.get(schema.PROCESS_PID)}
    places = {(e.get(schema.HOST_NAME), e.get(schema.SERVICE_NAME)) for e in events} | {
        (e.get(schema.HOST_NAME), _folder(e)) for e in events}
    stamps = sorted(e[schema.TIMESTAMP] for e in events if e.get(schema.TIMESTAMP))
    if not processes or not stamps:
        return []
    callers = {e.get(schema.GLOBAL_REQUEST_ID) for e in events} - {None}  # one API call keeps its global id
    since, until = stamps[0], shift(stamps[-1], CONTINUED_SECONDS)
    whole = since[:19] + ".000Z"  # a WSGI server's log may stamp whole seconds
    linked: list[dict] = []
    unit: tuple | None = None  # the first failing request (its ids, or none): the next one is not ours
    errors.fetch(shift(whole, -NEARBY_SECONDS), shift(until, NEARBY_SECONDS))
    for event in sorted(errors(whole, until), key=_order):
        host, stamp = event.get(schema.HOST_NAME), event.get(schema.TIMESTAMP) or ""
        if _key(event) in found or (host, event.get(schema.PROCESS_PID)) not in processes:
            continue
        if stamp < since and stamp != whole:
            continue
        if (host, event.get(schema.SERVICE_NAME)) not in places and (host, _folder(event)) not in places:
            continue
        ids = (event.get(schema.REQUEST_ID), event.get(schema.GLOBAL_REQUEST_ID))
        if any(ids) and callers and ids[1] not in callers:
            break  # another caller's call: the process has moved on
        if unit is None:
            unit = ids
        elif ids != unit or not any(ids):  # a failure without ids is one event: the next is another's
            break
        linked.append(event)
    return linked[:NEARBY_LIMIT]


def _nearby(errors: _Errors, events: list[dict], found: dict) -> list[dict]:
    """Errors of any service within a few seconds of this request's failures that carry none of its
    ids: a crash on the other side of a failed call (old releases pass no request id downstream)."""
    failures = [e[schema.TIMESTAMP] for e in events if e.get(schema.TIMESTAMP) and is_failure(e)]
    if not failures:
        return []
    others = [e for e in errors(shift(min(failures), -NEARBY_SECONDS), shift(max(failures), NEARBY_SECONDS))
              if _key(e) not in found]
    return sorted(others, key=_order)[:NEARBY_LIMIT]


def _order(event: dict) -> tuple:
    return (event.get(schema.TIMESTAMP) or "", event.get(schema.HOST_NAME) or "",
            event.get(schema.LOG_FILE_PATH) or "", event.get(schema.LOG_OFFSET) or 0)
