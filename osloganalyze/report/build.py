"""One report document (JSON-ready) from the tally and the findings: sections, totals, and for
each item the ``osla triage`` command of an example request and a Kibana Discover link."""
from __future__ import annotations

import shlex
from datetime import timedelta
from urllib.parse import quote

from .. import schema
from ..rules.findings import Finding
from ..times import event_stamp, event_time
from . import analyze
from .summary import look_first
from .tally import Tally, keystone_rules

SECTIONS = ("new_signatures", "spikes", "http_errors", "keystone", "tracebacks", "findings")


class Links:
    """How a reader follows an item up: the triage command for a request, a Kibana link."""

    def __init__(self, where: str = "", kibana: str | None = None):
        """``where``: the options by which ``osla triage`` reaches the same logs (the backend's)."""
        self.where, self.kibana = where, (kibana or "").rstrip("/")

    def triage(self, request_id: str | None) -> str | None:
        if not request_id:
            return None
        return f"osla triage {shlex.quote(request_id)} {self.where}".strip()

    def discover(self, query: str, since: str, until: str) -> str | None:
        """A Kibana Discover URL for a KQL query over [since, until)."""
        if not self.kibana:
            return None
        g = f"(time:(from:{_rison(since)},to:{_rison(until)}))"
        a = f"(query:(language:kuery,query:{_rison(query)}))"
        safe = "():,'!*"
        return f"{self.kibana}/app/discover#/?_g={quote(g, safe=safe)}&_a={quote(a, safe=safe)}"


def _rison(text: str) -> str:
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"


def _kql(**terms) -> str:
    parts = []
    for name, value in terms.items():
        if value in (None, "?"):
            continue
        value = str(value).replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{_FIELD_OF[name]}:"{value}"')
    return " and ".join(parts)


_FIELD_OF = {"service": schema.SERVICE_NAME, "host": schema.HOST_NAME, "level": schema.LOG_LEVEL,
             "request": schema.REQUEST_ID, "error_type": schema.ERROR_TYPE}


def _around(first: str | None, last: str | None, period) -> tuple[str, str]:
    if not first:
        return period.start, period.end
    return (event_stamp(event_time(first) - timedelta(minutes=5)),
            event_stamp(event_time(last or first) + timedelta(minutes=5)))


def build(tally: Tally, found: list[Finding], rules, links: Links, cloud: str, source: str,
          spike_examples=None) -> dict:
    """The report. ``spike_examples(spikes)`` gives, by :func:`analyze.spike_key`, a request id
    of an event behind each spike."""
    period = tally.period
    findings = [f.to_json() for f in found]
    titles = {rule.id: rule.title for rule in rules}
    keystone_ids = {rule.id for rule in keystone_rules(rules)}
    for finding in findings:
        finding["keystone"] = finding["rule"] in keystone_ids
        rid = (finding.get("request_ids") or [None])[0]
        finding["triage"] = links.triage(rid)
        finding["kibana"] = links.discover(_kql(request=rid) if rid else f'{schema.SERVICE_NAME}:"'
                                           f'{next(iter(finding["services"]), "?")}" and {schema.LOG_LEVEL}:ERROR',
                                           *_around(finding["first_seen"], finding["last_seen"], period))
    new = analyze.new_signatures(tally)
    tracebacks = analyze.top_tracebacks(tally)
    for row in new + tracebacks:
        row["triage"] = links.triage(row["request_id"])
        query = _kql(request=row["request_id"]) if row["request_id"] else _kql(service=row["service"],
                                                                                error_type=row["error_type"])
        row["kibana"] = links.discover(query or f'{schema.SERVICE_NAME}:"{row["service"]}"',
                                       *_around(row["first_seen"], row["last_seen"], period))
    spikes = analyze.spikes(tally)
    examples = spike_examples(spikes) if spike_examples and spikes else {}
    for row in spikes:
        rid = examples.get(analyze.spike_key(row))
        row["request_id"] = rid
        row["triage"] = links.triage(rid)
        hour = event_time(analyze.spike_hour(row))
        row["kibana"] = links.discover(_kql(service=row["service"], host=row["host"]) + (
            f" and {schema.LOG_LEVEL}:(ERROR or CRITICAL)" if row["level"] == "error" else
            f" and {schema.LOG_LEVEL}:WARNING"), event_stamp(hour), event_stamp(hour + timedelta(hours=1)))
    http = analyze.http_errors(tally)
    for row in http:
        row["triage"] = links.triage(row["request_id"])
        start = event_time(row["worst_window"].replace("Z", ":00.000Z"))
        row["kibana"] = links.discover(_kql(service=row["service"]) + f" and {schema.HTTP_STATUS} >= 500",
                                       event_stamp(start), event_stamp(start + timedelta(minutes=10)))
    keystone = analyze.keystone(tally, findings, titles)
    for row in keystone.get("counts", []):
        row["kibana"] = links.discover(f'{schema.SERVICE_NAME}:keystone* and {schema.HTTP_STATUS}:401'
                                       if row["kind"] == "http-401" else f'{schema.SERVICE_NAME}:*',
                                       period.start, period.end)
    totals = _totals(tally)
    report = {
        "cloud": cloud, "source": source,
        "period": {"since": period.start, "until": period.end},
        "baseline": {"since": period.baseline_start, "until": period.start,
                     "days_with_logs": analyze.baseline_days(tally)},
        "totals": totals,
        "new_signatures": new, "spikes": spikes, "http_errors": http, "keystone": keystone,
        "tracebacks": tracebacks, "findings": findings,
        "charts": analyze.errors_per_service(tally),
    }
    report["flagged"] = {
        "new_signatures": len(new), "spikes": len(spikes),
        "http_errors": sum(1 for r in http if r["flagged"]),
        "keystone": sum(r["count"] for r in keystone.get("counts", [])) + len(keystone.get("findings", [])),
        "findings": len(findings),
    }
    report["look_first"] = look_first(report)
    return report


def _totals(tally: Tally) -> dict:
    start = tally.period.start
    hours = [(lv, hour, n) for (_s, _h, lv, hour), n in tally.levels.items() if hour >= start[:13]]
    return {
        "events": tally.period_events,
        "errors": sum(n for lv, hour, n in hours if lv != "WARNING"),
        "warnings": sum(n for lv, hour, n in hours if lv == "WARNING"),
        "requests": sum(r for r, _x in tally.requests.values()),
        "http_5xx": sum(x for _r, x in tally.requests.values()),
        "error_signatures": sum(1 for (w, _s, _g) in tally.signatures if w == "period"),
    }


def flagged(report: dict) -> bool:
    return any(report["flagged"].values())


def subject(report: dict) -> str:
    f = report["flagged"]
    parts = [f"{f['new_signatures']} new", f"{f['spikes']} spikes", f"{f['http_errors']} 5xx alerts",
             f"{f['findings']} findings"]
    last = event_time(report["period"]["until"]) - timedelta(milliseconds=1)
    day = last.strftime("%Y-%m-%d")  # the last day the period covers
    if not flagged(report):
        return f"[osla] {report['cloud']}: nothing flagged ({day})"
    return f"[osla] {report['cloud']}: " + ", ".join(parts) + f" ({day})"
