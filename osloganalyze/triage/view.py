"""What a triage shows, as plain data (rendered by :mod:`.render` as text, JSON or HTML): a
verdict from the rule engine's findings, the request tree, and the timeline across hosts."""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from .. import schema
from ..redact import redact
from ..rules.engine import LocalEngine
from ..rules.findings import Finding
from ..rules.model import SEVERITY_RANK
from ..times import event_time
from .correlate import Correlation

if TYPE_CHECKING:
    from . import Searched

GAP_SECONDS = 1.0  # a pause this long between two events is shown in the timeline
_LEVEL_RANK = schema.LEVEL_RANK
_VERDICT_WORDS = {"bug": "probable bug", "config": "configuration", "infrastructure": "infrastructure"}


def _seconds(stamp: str | None) -> float | None:
    return event_time(stamp).timestamp() if stamp else None


def verdict(findings: list[Finding]) -> dict | None:
    """The most telling finding, said in one line. Causes outside the code (configuration,
    infrastructure) come before the bugs they trigger when they are at least as severe."""
    if not findings:
        return None

    def rank(f: Finding) -> tuple:
        cause_first = 0 if f.category != "bug" and not f.escalated else 1
        return (-SEVERITY_RANK[f.severity], cause_first, -f.count)
    top = min(findings, key=rank)
    example = top.example or {}
    service = next(iter(top.services), "?")
    host = next(iter(top.hosts), "?")
    if top.category == "bug":
        text = f"probable bug in {service}: {top.signature}"
    else:
        text = f"{_VERDICT_WORDS[top.category]}: {top.title} on {host} ({service}): {top.signature}"
    return {"text": text, "category": top.category, "severity": top.severity, "rule": top.rule,
            "service": service, "host": host, "time": example.get(schema.TIMESTAMP)}


def _http(event: dict) -> dict | None:
    status = event.get(schema.HTTP_STATUS)
    if status is None:
        return None
    duration = event.get(schema.EVENT_DURATION)
    return {"method": event.get(schema.HTTP_METHOD), "url": redact(event.get(schema.URL_ORIGINAL)), "status": status,
            "duration_ms": round(duration / 1e6, 1) if duration is not None else None}


def _see_also(nearby: list[dict], services: set[str]) -> str | None:
    """The worst error, close in time, of a service this request reached, though no id links it:
    on old releases the other side of a failed call is found this way."""
    candidates = [row for row in nearby if row["service"] in services]
    if not candidates:
        return None
    row = max(candidates, key=lambda r: (_LEVEL_RANK.get(r["level"] or "", 0), bool(r["error_type"])))
    what = f"{row['error_type']}: " if row["error_type"] and not row["message"].startswith(row["error_type"]) else ""
    return (f"{row['service']} on {row['host']} logged {row['level']} at {row['time']}, close in time but not "
            f"linked by any id: {what}{row['message']}")


def request_tree(correlation: Correlation) -> list[dict]:
    """One node per request id (service, hosts, time span, HTTP status, worst level), children
    under their caller (global request id) or the request whose messages named them."""
    nodes: dict[str, dict] = {}
    for event in correlation.events:
        rid = event.get(schema.REQUEST_ID)
        if not rid:
            continue
        node = nodes.setdefault(rid, {"request_id": rid, "services": Counter(), "hosts": Counter(), "first": None,
                                      "last": None, "events": 0, "worst_level": None, "http": [], "parent": None,
                                      "children": []})
        node["events"] += 1
        node["services"][event.get(schema.SERVICE_NAME) or "?"] += 1
        node["hosts"][event.get(schema.HOST_NAME) or "?"] += 1
        stamp = event.get(schema.TIMESTAMP)
        if stamp:
            node["first"] = min(filter(None, (node["first"], stamp)))
            node["last"] = max(filter(None, (node["last"], stamp)))
        level = event.get(schema.LOG_LEVEL)
        if level and (node["worst_level"] is None or _LEVEL_RANK[level] > _LEVEL_RANK[node["worst_level"]]):
            node["worst_level"] = level
        http = _http(event)
        if http:
            node["http"].append(http)
        caller = event.get(schema.GLOBAL_REQUEST_ID)
        if caller and caller != rid and node["parent"] is None:
            node["parent"] = caller
    for followed in correlation.followed:  # requests found by name in another request's messages
        named = nodes.get(followed.id)
        if named is not None and named["parent"] is None and followed.via in nodes and followed.via != followed.id \
                and followed.reason.startswith("named in"):
            named["parent"] = followed.via
    roots = []
    for node in sorted(nodes.values(), key=lambda node: node["first"] or ""):
        node["services"] = list(node["services"])
        node["hosts"] = list(node["hosts"])
        first, last = _seconds(node["first"]), _seconds(node["last"])
        node["span_ms"] = round((last - first) * 1000, 1) if first is not None and last is not None else None
        parent = nodes.get(node["parent"]) if node["parent"] else None
        if parent is not None and parent is not node and not _is_ancestor(nodes, node, parent):
            parent["children"].append(node)
        else:
            roots.append(node)
    return roots


def _is_ancestor(nodes: dict, node: dict, candidate: dict) -> bool:
    """Whether ``node`` is already above ``candidate`` (so linking would make a cycle)."""
    seen = set()
    current: dict | None = candidate
    while current is not None and current["request_id"] not in seen:
        if current is node:
            return True
        seen.add(current["request_id"])
        current = nodes.get(current["parent"]) if current["parent"] else None
    return False


def build(correlation: Correlation, rules, near: list[str] | None = None, searched: Searched | None = None) -> dict:
    """The triage view; ``rules`` is a list of rules or a LocalEngine made of them already."""
    engine = rules if isinstance(rules, LocalEngine) else LocalEngine(rules)
    events = correlation.events
    findings = engine.scan(events).findings()
    timeline = []
    previous: float | None = None
    for event in events:
        stamp = event.get(schema.TIMESTAMP)
        now = _seconds(stamp)
        gap = round(now - previous, 3) if now is not None and previous is not None else None
        previous = now if now is not None else previous
        timeline.append({
            "time": stamp, "host": event.get(schema.HOST_NAME), "service": event.get(schema.SERVICE_NAME),
            "level": event.get(schema.LOG_LEVEL), "logger": event.get(schema.LOG_LOGGER),
            "request_id": event.get(schema.REQUEST_ID), "global_request_id": event.get(schema.GLOBAL_REQUEST_ID),
            "instance_uuid": event.get(schema.INSTANCE_UUID), "message": redact(event.get(schema.MESSAGE) or ""),
            "error_type": event.get(schema.ERROR_TYPE), "stack_trace": redact(event.get(schema.ERROR_STACK_TRACE)),
            "http": _http(event), "rules": [r.id for r in engine.matching(event)],
            "gap_s": gap if gap is not None and gap >= GAP_SECONDS else None,
            "file": event.get(schema.LOG_FILE_PATH), "offset": event.get(schema.LOG_OFFSET),
        })
    nearby = [{"time": e.get(schema.TIMESTAMP), "host": e.get(schema.HOST_NAME), "service": e.get(schema.SERVICE_NAME),
               "level": e.get(schema.LOG_LEVEL), "request_id": e.get(schema.REQUEST_ID),
               "message": redact((e.get(schema.MESSAGE) or "").split("\n", 1)[0]), "error_type": e.get(schema.ERROR_TYPE),
               "rules": [r.id for r in engine.matching(e)]} for e in correlation.nearby]
    services = Counter(e.get(schema.SERVICE_NAME) or "?" for e in events)
    judged = verdict(findings)
    if judged is not None:
        judged["see_also"] = _see_also(nearby, set(services))
    hosts = Counter(e.get(schema.HOST_NAME) or "?" for e in events)
    return {
        "id": correlation.seed, "kind": correlation.kind, "found": bool(events),
        "verdict": judged,
        "window": {"since": correlation.since, "until": correlation.until},
        "summary": {"events": len(events), "services": dict(services.most_common()),
                    "hosts": dict(hosts.most_common()), "requests": sum(1 for f in correlation.followed
                                                                       if f.kind == "request")},
        "followed": [f.__dict__ for f in correlation.followed],
        "limits": correlation.limits,
        "findings": [f.to_json() for f in findings],
        "requests": request_tree(correlation),
        "timeline": timeline,
        "nearby_errors": nearby,
        "near_matches": near or [],
        "searched": searched.to_json() if searched else {},
        "read_errors": list(searched.read_errors) if searched else [],
        "skipped": list(searched.skipped) if searched else [],
        "round_trips": searched.round_trips if searched else 0,
    }
