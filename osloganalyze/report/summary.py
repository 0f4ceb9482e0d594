"""The report's first section: the few things to look at first, read in ten seconds.

Each item says what, how often, when (first to last seen, UTC), where (services, hosts), the
triage command and, for a rule's finding, its first remediation step. Ranked: critical and high
rule findings, then new error signatures, API endpoints over the 5xx limit and spikes, then the
other findings; an item whose request (or text) an earlier one already names is left out.
"""
from __future__ import annotations

from ..rules.model import SEVERITY_RANK

LIMIT = 5


def _rule(found: list[dict]) -> dict:
    """One item for a rule's findings (one per signature): counted together, the biggest shown."""
    ordered = sorted(found, key=lambda f: -f["count"])
    top = ordered[0]
    steps = (top.get("remediation") or "").splitlines()
    more = len(found) - 1
    return {"kind": f"{top['severity']} {top['category']}", "title": top["title"],
            "detail": top["signature"] + (f" (and {more} more signature{'s' if more > 1 else ''})" if more else ""),
            "count": sum(f["count"] for f in found), "first_seen": min(f["first_seen"] for f in found),
            "last_seen": max(f["last_seen"] for f in found),
            "services": _union(f["services"] for f in found), "hosts": _union(f["hosts"] for f in found),
            "triage": next((f["triage"] for f in ordered if f.get("triage")), None),
            "next": steps[0] if steps else None}


def _union(lists) -> list[str]:
    seen: dict[str, None] = {}
    for names in lists:
        seen.update(dict.fromkeys(names))
    return list(seen)


def _signature(s: dict) -> dict:
    return {"kind": "new error", "title": f"new in {s['service']}", "detail": s["signature"], "count": s["count"],
            "first_seen": s["first_seen"], "last_seen": s["last_seen"], "services": [s["service"]],
            "hosts": list(s["hosts"]), "triage": s.get("triage"), "next": None}


def _http(h: dict) -> dict:
    return {"kind": "HTTP 5xx", "title": f"{h['service']} {h['endpoint']}", "count": h["errors"],
            "detail": f"{h['errors']} of {h['requests']} requests failed ({h['rate'] * 100:.1f}%)",
            "first_seen": h["worst_window"], "last_seen": h["worst_window"], "services": [h["service"]],
            "hosts": [], "triage": h.get("triage"), "next": None}


def _spike(s: dict) -> dict:
    times = "none in that hour of the baseline days" if s["ratio"] is None else \
        f"{s['ratio']}x that hour's baseline mean ({s['baseline_mean']})"
    return {"kind": "spike", "title": f"{s['count']} {s['level']}s in one hour", "count": s["count"],
            "detail": times, "first_seen": s["hour"], "last_seen": s["hour"],
            "services": [s["service"]], "hosts": [s["host"]], "triage": s.get("triage"), "next": None}


def look_first(report: dict, limit: int = LIMIT) -> list[dict]:
    """The report's items to look at first, best first (at most ``limit``)."""
    by_rule: dict[tuple[str, str], list[dict]] = {}
    for f in report["findings"]:
        by_rule.setdefault((f["rule"], f["severity"]), []).append(f)
    # (rank, -count, item, what names it: its request and its texts)
    ranked: list[tuple[int, int, dict, set[str]]] = []
    for (_, severity), found in by_rule.items():
        item = _rule(found)
        rank = 0 if SEVERITY_RANK[severity] >= SEVERITY_RANK["high"] else 2
        ranked.append((rank, -item["count"], item, {item["triage"], *(f["signature"] for f in found)}))
    others = [_signature(s) for s in report["new_signatures"]]
    others += [_http(h) for h in report["http_errors"] if h["flagged"]]
    others += [_spike(s) for s in report["spikes"]]
    ranked += [(1, -item["count"], item, {item["triage"], item["detail"]}) for item in others]
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    chosen: list[dict] = []
    named: set[str] = set()
    for _, _, item, keys in ranked:
        keys.discard(None)
        if keys & named:
            continue  # the same request or text as an item above
        named |= keys
        chosen.append(item)
        if len(chosen) == limit:
            break
    return chosen
