"""From a Tally to report sections, with pandas: baselines, ratios, z-scores, 5xx rates.

Every section is a list of plain dicts (JSON-ready), empty when there is nothing to say.
"""
from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd

from ..rules.findings import ranked
from .period import WINDOW
from .tally import HTTP_401, Tally, level_class

SPIKE_MIN_COUNT = 10    # fewer events in an hour is never a spike
SPIKE_MIN_Z = 3.0
SPIKE_MIN_RATIO = 2.0
HTTP_5XX_RATE = 0.01    # StackLight: 5xx over 1% of requests in 10 minutes
TOP = 20                # rows kept per section
TOP_TRACEBACKS = 10


def baseline_days(tally: Tally) -> list[str]:
    """Days of the baseline that have any log at all (days before the logs began are not zeros)."""
    return sorted(day for day, count in tally.days.items() if count)


def _frame(rows, columns) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=columns)


def spike_key(row: dict) -> tuple:
    return row["service"], row["host"], row["level"], row["hour"]


def spike_hour(row: dict) -> str:
    """A spike's hour ('2014-04-17T10:00Z') as the event stamp its bucket starts at."""
    return row["hour"].replace("Z", ":00.000Z")


def spikes(tally: Tally) -> list[dict]:
    """Error and warning counts per service, host and hour of the period against the same
    hour of each baseline day that has logs."""
    observed = set(baseline_days(tally))
    if not observed or not tally.levels:
        return []
    frame = _frame(((s, h, level_class(lv), hour, n)
                    for (s, h, lv, hour), n in tally.levels.items()),
                   ["service", "host", "level", "hour", "count"])
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    frame = frame.groupby(["service", "host", "level", "hour"], as_index=False)["count"].sum()
    start = pd.Timestamp(tally.period.start)
    now = frame[frame["hour"] >= start].copy()
    if now.empty:
        return []
    before = frame[frame["hour"] < start].set_index(["service", "host", "level", "hour"])["count"]
    days = max(1, math.ceil(tally.period.baseline_days))
    samples = []
    for k in range(1, days + 1):
        shifted = now["hour"] - timedelta(days=k)
        index = pd.MultiIndex.from_arrays([now["service"], now["host"], now["level"], shifted])
        values = before.reindex(index).fillna(0).to_numpy()
        seen = shifted.dt.strftime("%Y-%m-%d").isin(observed).to_numpy() & (shifted >= pd.Timestamp(
            tally.period.baseline_start)).to_numpy()
        samples.append(pd.Series(values, index=now.index).where(seen))
    base = pd.concat(samples, axis=1)
    now["days"] = base.count(axis=1)
    now["mean"] = base.mean(axis=1)
    now["std"] = base.std(axis=1, ddof=0)
    now = now[now["days"] > 0]
    spread = now["std"].where(now["std"] > 0, 0).combine(now["mean"].clip(lower=1) ** 0.5, max)
    now["z"] = (now["count"] - now["mean"]) / spread
    now["ratio"] = now["count"] / now["mean"].where(now["mean"] > 0)
    flagged = now[(now["count"] >= SPIKE_MIN_COUNT) & (now["z"] >= SPIKE_MIN_Z)
                  & (now["ratio"].isna() | (now["ratio"] >= SPIKE_MIN_RATIO))]
    flagged = flagged.sort_values(["z", "count"], ascending=False).head(TOP)
    return [{"service": r.service, "host": r.host, "level": r.level,
             "hour": r.hour.strftime("%Y-%m-%dT%H:00Z"), "count": int(r.count),
             "baseline_mean": round(float(r.mean), 2), "baseline_days": int(r.days),
             "ratio": None if pd.isna(r.ratio) else round(float(r.ratio), 1), "z": round(float(r.z), 1)}
            for r in flagged.itertuples()]


def _signature_rows(tally: Tally, where: str) -> pd.DataFrame:
    rows = [(service, sig, stat.count, stat.first, stat.last, stat.traceback, stat.error_type, stat.example,
             stat.request_id, stat.instance_uuid, ranked(stat.hosts, 5))
            for (w, service, sig), stat in tally.signatures.items() if w == where]
    return _frame(rows, ["service", "signature", "count", "first_seen", "last_seen", "traceback", "error_type",
                         "example", "request_id", "instance_uuid", "hosts"])


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def new_signatures(tally: Tally) -> list[dict]:
    """Error messages and tracebacks whose masked signature the service never logged in the baseline."""
    if not baseline_days(tally):
        return []
    now = _signature_rows(tally, "period")
    if now.empty:
        return []
    known = {(service, sig) for (w, service, sig) in tally.signatures if w == "baseline"}
    fresh = now[[(s, g) not in known for s, g in zip(now["service"], now["signature"])]]
    fresh = fresh.sort_values(["traceback", "count", "first_seen"], ascending=[False, False, True]).head(TOP)
    return _records(fresh)


def top_tracebacks(tally: Tally) -> list[dict]:
    now = _signature_rows(tally, "period")
    if now.empty:
        return []
    now = now[now["traceback"]]
    known = {(service, sig) for (w, service, sig) in tally.signatures if w == "baseline"}
    top = now.sort_values(["count", "first_seen"], ascending=[False, True]).head(TOP_TRACEBACKS)
    rows = _records(top)
    for row in rows:
        row["new"] = (row["service"], row["signature"]) not in known
    return rows


def http_errors(tally: Tally) -> list[dict]:
    """5xx per API service and endpoint; flagged when any 10-minute window is over 1%."""
    frame = _frame(((s, e, w, r, x) for (s, e, w), (r, x) in tally.requests.items()),
                   ["service", "endpoint", "window", "requests", "errors"])
    if frame.empty or not frame["errors"].any():
        return []
    frame["rate"] = frame["errors"] / frame["requests"]
    rows = []
    for (service, point), group in frame.groupby(["service", "endpoint"]):
        errors = int(group["errors"].sum())
        if not errors:
            continue
        worst = group.sort_values(["rate", "errors"], ascending=False).iloc[0]
        rows.append({"service": service, "endpoint": point, "requests": int(group["requests"].sum()),
                     "errors": errors, "rate": round(errors / int(group["requests"].sum()), 4),
                     "worst_window": worst["window"][:16] + "Z", "worst_window_minutes": WINDOW // 60,
                     "worst_rate": round(float(worst["rate"]), 4),
                     "flagged": bool((group["rate"] > HTTP_5XX_RATE).any()),
                     "request_id": tally.request_examples.get((service, point))})
    rows.sort(key=lambda r: (not r["flagged"], -r["errors"], r["service"], r["endpoint"]))
    return rows[:TOP]


def keystone(tally: Tally, findings: list[dict], titles: dict[str, str]) -> dict:
    """Keystone authentication and Fernet failures: counts against the baseline's daily mean,
    and the findings of the keystone-tagged rules."""
    frame = _frame(((w, hour, kind, n) for (w, hour, kind), n in tally.keystone.items()),
                   ["where", "hour", "kind", "count"])
    days = len(baseline_days(tally))
    rows = []
    if not frame.empty:
        for kind, group in frame.groupby("kind"):
            now = group[group["where"] == "period"]
            if now.empty:
                continue
            before = int(group[group["where"] == "baseline"]["count"].sum())
            rows.append({"kind": kind, "title": "HTTP 401 from keystone" if kind == HTTP_401 else titles.get(kind, kind),
                         "count": int(now["count"].sum()), "first_hour": now["hour"].min()[:13] + ":00Z",
                         "last_hour": now["hour"].max()[:13] + ":00Z",
                         "baseline_daily_mean": round(before / days, 1) if days else None})
    rows.sort(key=lambda r: -r["count"])
    tagged = [f for f in findings if f.get("keystone")]
    return {"counts": rows, "findings": tagged} if rows or tagged else {}


# The chart's bucket for a period of up to N days: at most ~100 bars whatever the period
CHART_BUCKETS = ((3, "hour"), (120, "day"), (1100, "week"), (None, "month"))
_FREQ = {"hour": "h", "day": "D", "week": "W-MON", "month": "MS"}


def chart_bucket(period_days: float) -> str:
    return next(name for limit, name in CHART_BUCKETS if limit is None or period_days <= limit)


def _bucket_starts(stamps: pd.Series, bucket: str) -> pd.Series:
    if bucket == "hour":
        return stamps.dt.floor("h")
    days = stamps.dt.floor("D")
    if bucket == "day":
        return days
    if bucket == "week":
        return days - pd.to_timedelta(days.dt.weekday, unit="D")
    return days - pd.to_timedelta(days.dt.day - 1, unit="D")


def errors_per_service(tally: Tally, services: int = 6) -> dict:
    """Chart data: errors per bucket of the period (hours for a day, days for months, weeks for
    years: :data:`CHART_BUCKETS`) for the busiest services, and the baseline's mean for the same
    buckets (per hour of day for hourly buckets, else the baseline's daily mean times the bucket's
    days in the period)."""
    frame = _frame(((s, hour, n) for (s, _h, lv, hour), n in tally.levels.items() if lv != "WARNING"),
                   ["service", "hour", "count"])
    if frame.empty:
        return {}
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    start, end = pd.Timestamp(tally.period.start), pd.Timestamp(tally.period.end)
    bucket = chart_bucket((end - start) / pd.Timedelta(days=1))
    first_bucket = _bucket_starts(pd.Series([start]), bucket).iloc[0]
    starts = pd.date_range(first_bucket, end, freq=_FREQ[bucket], inclusive="left")
    if len(starts) == 0 or starts[0] != first_bucket:
        starts = starts.insert(0, first_bucket)
    now = frame[frame["hour"] >= start].copy()
    now["bucket"] = _bucket_starts(now["hour"], bucket)
    busiest = now.groupby("service")["count"].sum().sort_values(ascending=False).head(services)
    observed = set(baseline_days(tally))
    first = pd.Timestamp(tally.period.baseline_start)
    days = max(1, math.ceil(tally.period.baseline_days))
    edges = [max(s, start) for s in starts] + [end]
    charts = {}
    for service in busiest.index:
        series = now[now["service"] == service].groupby("bucket")["count"].sum().reindex(starts, fill_value=0)
        past = frame[(frame["service"] == service) & (frame["hour"] < start)].groupby("hour")["count"].sum()
        mean = None
        if observed and bucket == "hour":
            mean = []
            for h in starts:
                moments = [h - timedelta(days=k) for k in range(1, days + 1)]
                samples = [past.get(m, 0) for m in moments if m >= first and m.strftime("%Y-%m-%d") in observed]
                mean.append(round(float(sum(samples) / len(samples)), 2) if samples else None)
        elif observed:
            daily = float(past.sum()) / len(observed)
            mean = [round(daily * (edges[i + 1] - edges[i]) / pd.Timedelta(days=1), 2) for i in range(len(starts))]
        charts[service] = {"bucket": bucket, "starts": [h.strftime("%Y-%m-%dT%H:00Z") for h in starts],
                           "counts": [int(v) for v in series], "baseline": mean}
    return charts
