"""What a triage shows, as plain data (rendered by :mod:`.render` as text, JSON or HTML): a
verdict from the rule engine's findings, the request tree, and the timeline across hosts."""
from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from .. import schema
from ..redact import redact
from ..rules.engine import LocalEngine
from ..rules.findings import Finding
from ..rules.model import SEVERITY_RANK
from ..rules.signature import deepest_openstack_frame
from ..times import event_time, shift
from .correlate import Correlation, is_failure

if TYPE_CHECKING:
    from . import Searched

GAP_SECONDS = 1.0  # a pause this long between two events is shown in the timeline
_LEVEL_RANK = schema.LEVEL_RANK
_VERDICT_WORDS = {"bug": "probable bug", "config": "configuration", "infrastructure": "infrastructure"}


def _seconds(stamp: str | None) -> float | None:
    return event_time(stamp).timestamp() if stamp else None


def _first_line(text: str | None, limit: int = 200) -> str:
    line = (redact(text) or "").strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _said(kind: str, message: str | None, frame: str | None) -> str:
    """'TypeError: 'NoneType' object is not iterable @ keystone/models/token_model.py in
    _get_project_roles': the exception, its message unmasked (secrets redacted), the frame."""
    text = f"{kind}: {_first_line(message)}".rstrip(": ")
    return f"{text} @ {frame}" if frame else text


def _what(event: dict) -> str | None:
    """What an event's exception says (None without one)."""
    kind = event.get(schema.ERROR_TYPE)
    if not kind:
        return None
    return _said(kind, event.get(schema.ERROR_MESSAGE), deepest_openstack_frame(event.get(schema.ERROR_STACK_TRACE)))


def _traceback(events: list[dict], service: str | None, kind: str | None = None) -> dict | None:
    """The exception that explains a failure: the first traceback of exception ``kind`` (the
    finding's own, when it names one), else the first traceback of ``service`` (the one the
    verdict names), else the first of any service; the worst level first."""
    traced = [e for e in events if e.get(schema.ERROR_STACK_TRACE) and e.get(schema.ERROR_TYPE)]
    if not traced:
        return None
    if kind:
        same = next((e for e in traced if e.get(schema.ERROR_TYPE) == kind), None)
        if same is not None:
            return same
    return min(traced, key=lambda e: (e.get(schema.SERVICE_NAME) != service,
                                      -_LEVEL_RANK.get(e.get(schema.LOG_LEVEL) or "", 0), e.get(schema.TIMESTAMP) or ""))


def _finding_what(finding: Finding) -> str:
    example = finding.example or {}
    if example.get(schema.ERROR_TYPE):
        return _said(example[schema.ERROR_TYPE], example.get(schema.ERROR_MESSAGE), finding.frame)
    return finding.signature


def _where(service: str, host: str) -> str:
    return service if host == "?" else f"{service} on {host}"


def verdict(findings: list[Finding], events: list[dict] | None = None, rules: dict | None = None) -> dict | None:
    """The most telling finding, said in one line. What the user saw (an HTTP 5xx: rules tagged
    ``symptom``) never hides what explains it; causes outside the code (configuration,
    infrastructure) come before the bugs they trigger; and whenever the request carries a
    traceback, the line names its exception, message and deepest OpenStack frame."""
    if not findings:
        return None
    rules = rules or {}
    events = events or []

    def rank(f: Finding) -> tuple:
        rule = rules.get(f.rule)
        symptom = 1 if rule is not None and "symptom" in rule.tags else 0
        return (symptom, 0 if f.category != "bug" else 1, -SEVERITY_RANK[f.severity],
                0 if (f.example or {}).get(schema.ERROR_TYPE) else 1, -f.count)
    top = min(findings, key=rank)
    example = top.example or {}
    service = next(iter(top.services), "?")
    host = next(iter(top.hosts), "?")
    traced = _traceback(events, service, example.get(schema.ERROR_TYPE))  # the finding's own exception first
    if top.category == "bug":
        if example.get(schema.ERROR_TYPE) or traced is None:
            detail = _finding_what(top)
        else:  # a 5xx explained by a traceback: name it, and the service that logged it
            detail, service = _what(traced) or top.signature, traced.get(schema.SERVICE_NAME) or service
        text = f"probable bug in {service}: {detail}"
    else:
        text = f"{_VERDICT_WORDS[top.category]}: {top.title} ({_where(service, host)}): {_finding_what(top)}"
        if traced is not None and str(traced.get(schema.ERROR_TYPE)) not in text:
            text += f"; traceback: {_what(traced)}"
    return {"text": text, "category": top.category, "severity": top.severity, "rule": top.rule,
            "service": service, "host": host, "time": example.get(schema.TIMESTAMP),
            "exception": (traced or example).get(schema.ERROR_TYPE),
            "frame": deepest_openstack_frame(traced.get(schema.ERROR_STACK_TRACE)) if traced else top.frame}


# where a service is named in another's error: its project name, default port or a path only it serves
_SERVICE_MENTIONS = {
    "keystone": r"keystone|identity|:(?:5000|35357)\b|/v3/auth/tokens|/v2\.0/tokens",
    "neutron": r"neutron|:9696\b", "glance": r"glance|:9292\b", "nova": r"\bnova\b|:8774\b",
    "cinder": r"cinder|:8776\b", "placement": r"placement|:8778\b",
}


def _named_in(service: str, text: str) -> bool:
    project = service.split("-", 1)[0].split("_", 1)[0]
    pattern = _SERVICE_MENTIONS.get(project)
    return bool(pattern and re.search(pattern, text, re.I))


def _crash(events: list[dict], nearby: list[dict], engine: LocalEngine) -> tuple[dict, list] | None:
    """A service this request reached (by id, or named in its failure) that crashed close in
    time to the failure: CRITICAL, or a line of a rule tagged ``crash`` (workers dying)."""
    failures = [e for e in events if is_failure(e)]
    if not failures:
        return None
    failing = {e.get(schema.SERVICE_NAME) for e in failures}
    stamps = [e[schema.TIMESTAMP] for e in failures if e.get(schema.TIMESTAMP)]
    if not stamps:  # undated failures: nothing to put before them
        return None
    latest = shift(max(stamps), 1.0)  # a cause comes first
    reached = {e.get(schema.SERVICE_NAME) for e in events}
    said = " ".join(f"{e.get(schema.MESSAGE) or ''} {e.get(schema.ERROR_MESSAGE) or ''}" for e in failures)
    for event in nearby:
        service = event.get(schema.SERVICE_NAME) or ""
        if service in failing or not (service in reached or _named_in(service, said)):
            continue
        if (event.get(schema.TIMESTAMP) or "") > latest:
            continue
        matched = engine.matching(event)
        if event.get(schema.LOG_LEVEL) == "CRITICAL" or any("crash" in r.tags for r in matched):
            return event, matched
    return None


def _crash_verdict(crash: dict, matched: list, symptom: dict) -> dict:
    rule = min(matched, key=lambda r: ("crash" not in r.tags, -SEVERITY_RANK[r.severity])) if matched else None
    category = rule.category if rule is not None else "bug"
    service, host = crash.get(schema.SERVICE_NAME) or "?", crash.get(schema.HOST_NAME) or "?"
    what = _what(crash) or _first_line(crash.get(schema.MESSAGE))
    stamp = crash.get(schema.TIMESTAMP)
    word = "probable bug in" if category == "bug" else f"{_VERDICT_WORDS[category]} in"
    seen = symptom["text"].split(": ", 1)[-1]
    place = "" if host == "?" else f" on {host}"
    text = (f"{word} {service}: it crashed{place} at {stamp} ({crash.get(schema.LOG_LEVEL)} {what}); "
            f"what {symptom['service']} saw: {seen}")
    return {"text": text, "category": category, "severity": rule.severity if rule else "critical",
            "rule": rule.id if rule else None, "service": service, "host": host, "time": stamp,
            "exception": crash.get(schema.ERROR_TYPE),
            "frame": deepest_openstack_frame(crash.get(schema.ERROR_STACK_TRACE)), "cause": "crash",
            "symptom": symptom["text"]}


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
    linked = {id(e) for e in correlation.linked}
    events = sorted([*correlation.events, *correlation.linked], key=lambda e: e.get(schema.TIMESTAMP) or "")
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
            "linked": "by process and time" if id(event) in linked else None,
        })
    nearby = [{"time": e.get(schema.TIMESTAMP), "host": e.get(schema.HOST_NAME), "service": e.get(schema.SERVICE_NAME),
               "level": e.get(schema.LOG_LEVEL), "request_id": e.get(schema.REQUEST_ID),
               "message": redact((e.get(schema.MESSAGE) or "").split("\n", 1)[0]), "error_type": e.get(schema.ERROR_TYPE),
               "rules": [r.id for r in engine.matching(e)]} for e in correlation.nearby]
    services = Counter(e.get(schema.SERVICE_NAME) or "?" for e in events)
    judged = verdict(findings, events, {rule.id: rule for rule in engine.rules})
    crash = _crash(events, correlation.nearby, engine) if judged is not None else None
    if judged is not None and crash is not None:
        judged = _crash_verdict(*crash, judged)
        judged["see_also"] = None
    elif judged is not None:
        judged["see_also"] = _see_also(nearby, set(services))
    if judged is not None and linked and any(id(e) in linked for e in events if e.get(schema.ERROR_STACK_TRACE)):
        judged["linked"] = ("the failure was logged by the same process just after the request's own lines, "
                            "under another id or none: linked by process and time, not by id")
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
