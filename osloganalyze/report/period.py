"""The report period, the baseline before it, and the time buckets both are counted in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..times import event_stamp, event_time

HOUR = 3600
WINDOW = 600  # HTTP 5xx rates are judged per 10 minutes (StackLight's alert window)


@dataclass(frozen=True)
class Period:
    """[baseline_start, start) is the baseline, [start, end) the report period (UTC stamps)."""

    start: str
    end: str
    baseline_start: str

    @classmethod
    def between(cls, start: datetime, end: datetime, baseline: timedelta) -> Period:
        """The period [start, end) widened to whole hours (hours are what spikes compare)."""
        start = start.replace(minute=0, second=0, microsecond=0)
        if end.replace(minute=0, second=0, microsecond=0) != end:
            end = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if end <= start:
            raise ValueError("the report period is empty (--since must come before --until)")
        try:
            return cls(event_stamp(start), event_stamp(end), event_stamp(start - baseline))
        except OverflowError:
            raise ValueError("the baseline reaches before the year 1 (a shorter --baseline)") from None

    def where(self, stamp: str | None) -> str | None:
        """'period', 'baseline' or None (outside both, or undated)."""
        if not stamp or stamp < self.baseline_start or stamp >= self.end:
            return None
        return "period" if stamp >= self.start else "baseline"

    @property
    def baseline_days(self) -> float:
        return (event_time(self.start) - event_time(self.baseline_start)).total_seconds() / 86400


def bucket(stamp: str, seconds: int) -> str:
    """The start of the ``seconds``-long bucket holding an event stamp, as a stamp
    ('2014-04-17T10:20:00.000Z' for 10-minute buckets)."""
    if seconds == HOUR:
        return stamp[:13] + ":00:00.000Z"
    if seconds == WINDOW:
        return stamp[:15] + "0:00.000Z"
    raise ValueError(f"no {seconds}-second buckets")
