"""Turn the timestamps logs write into UTC ISO 8601 with milliseconds.

oslo.log writes naive local time; it is read in the configured zone (``--tz``,
default UTC). Conversions are cached per whole second, so the hot path is a dict
lookup plus string concatenation.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..times import zone

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_FRACTION = re.compile(r"[.,](\d+)")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})$")
_CACHE_LIMIT = 50_000
_HTTP_DATE = re.compile(r"(\d{1,2})/(\w{3})/(\d{4})[: ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?: ([+-]\d{4}))?$")


def _millis(fraction_text: str) -> str:
    if len(fraction_text) == 4 and fraction_text[0] == ".":
        return fraction_text[1:]
    m = _FRACTION.match(fraction_text)
    return (m.group(1) + "00")[:3] if m else "000"


class TimeConverter:
    """Converts one file's timestamps; ``year`` fills in syslog dates that have none."""

    def __init__(self, tz: str = "UTC", year: int | None = None):
        self.tz = zone(tz)
        self.year = year
        self._seconds: dict[str, str | None] = {}

    def _utc_seconds(self, key: str, naive: datetime | None) -> str | None:
        if naive is None:
            value = None
        elif self.tz is UTC:
            value = f"{key[:10]}T{key[11:19]}"  # already valid (naive was built from it)
        else:
            try:
                value = naive.replace(tzinfo=self.tz).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            except OverflowError:  # year 1 or 9999 moved past the calendar's ends by the zone
                value = None
        if len(self._seconds) > _CACHE_LIMIT:
            self._seconds.clear()
        self._seconds[key] = value
        return value

    def oslo(self, text: str, offset: str | None = None) -> str | None:
        """'2024-05-01 12:34:56.789' (also ',789', 'T', '20:08:20,315.315') -> ISO UTC."""
        key = text[:19]
        if offset is None:
            seconds = self._seconds.get(key)
            if seconds is not None and len(text) == 23 and text[19] == ".":
                return seconds + text[19:] + "Z"  # the common case: a cached second, '.mmm'
        if offset is None and key in self._seconds:
            seconds = self._seconds[key]
        else:
            try:
                naive = datetime(int(key[0:4]), int(key[5:7]), int(key[8:10]),
                                 int(key[11:13]), int(key[14:16]), int(key[17:19]))
            except ValueError:
                return None
            if offset is None:
                seconds = self._utc_seconds(key, naive)
            else:
                seconds = _with_offset(naive, offset)
        if seconds is None:
            return None
        return f"{seconds}.{_millis(text[19:])}Z"

    def rfc3339(self, text: str) -> str | None:
        """'2025-06-06T09:17:12.817Z' or '...+02:00' -> ISO UTC."""
        if text.endswith(("Z", "z")):
            return self.oslo(text[:-1], "Z")
        m = _OFFSET.search(text, 19)
        return self.oslo(text[: m.start()], m.group(0)) if m else None

    def syslog(self, text: str) -> str | None:
        """'May 26 20:44:32.283596' (no year: uses ``year``, else the current one)."""
        parts = text.split()
        if len(parts) != 3:
            return None
        return self._calendar(self.year or datetime.now(UTC).year, *parts)

    def http(self, text: str) -> str | None:
        """'19/Sep/2021:11:50:55 +0000' (Apache) or '19/Sep/2021 11:50:55' (eventlet, local time)."""
        m = _HTTP_DATE.match(text)
        if not m:
            return None
        day, mon, year, clock, offset = m.groups()
        month = _MONTHS.get(mon[:3].lower())
        if month is None:
            return None
        return self.oslo(f"{year}-{month:02d}-{int(day):02d} {clock}", offset)

    def ctime(self, text: str) -> str | None:
        """'Mon Mar 25 15:07:52.252705 2019' (uwsgi, Apache error log)."""
        parts = text.split()
        if len(parts) != 5 or not parts[4].isdigit():
            return None
        return self._calendar(int(parts[4]), *parts[1:4])

    def _calendar(self, year: int, month_name: str, day: str, clock: str) -> str | None:
        month = _MONTHS.get(month_name[:3].lower())
        if month is None or not day.isdigit():
            return None
        return self.oslo(f"{year:04d}-{month:02d}-{int(day):02d} {clock}")


def _with_offset(naive: datetime, offset: str) -> str | None:
    if offset in ("Z", "z", "UTC"):
        return naive.strftime("%Y-%m-%dT%H:%M:%S")
    m = _OFFSET.match(offset)
    if not m:
        return None
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    if m.group(1) == "-":
        delta = -delta
    try:
        return (naive - delta).strftime("%Y-%m-%dT%H:%M:%S")
    except OverflowError:
        return None
