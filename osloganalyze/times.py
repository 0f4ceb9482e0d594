"""Time helpers every layer uses: event stamps (UTC ISO 8601 with milliseconds, as events carry
them), time zones by name (``--tz``), and file-local clock text for seeking in a log file.

The parser's per-line conversions live in :mod:`osloganalyze.parse.timestamps`.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import OslaError


class BadTimeZone(OslaError, ValueError):
    """A --tz value that names no zone."""


def zone(name: str) -> tzinfo:
    """UTC spelled any usual way, else an IANA name (BadTimeZone otherwise)."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadTimeZone(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris, or UTC)") from exc


def event_time(stamp: str) -> datetime:
    """An event's ``@timestamp`` ('2024-05-01T12:34:56.789Z') as an aware datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def event_stamp(moment: datetime) -> str:
    """An aware datetime as an event's ``@timestamp``: UTC, ISO 8601 with milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@overload
def stamp_of_millis(millis: float) -> str: ...
@overload
def stamp_of_millis(millis: None) -> None: ...
@overload
def stamp_of_millis(millis: float | None) -> str | None: ...


def stamp_of_millis(millis: float | None) -> str | None:
    """An event stamp from epoch milliseconds (how search servers return dates in aggregations)."""
    if millis is None:
        return None
    return event_stamp(datetime.fromtimestamp(millis / 1000, UTC))


def shift(stamp: str, seconds: float) -> str:
    """An event stamp moved by ``seconds``."""
    return event_stamp(event_time(stamp) + timedelta(seconds=seconds))


def local_time(stamp: str, tz: tzinfo) -> str:
    """A UTC event stamp as the 'YYYY-MM-DD HH:MM:SS' a file written in zone ``tz`` shows."""
    return event_time(stamp).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def from_local(clock: str | None, tz: tzinfo) -> str | None:
    """A file's 'YYYY-MM-DD HH:MM:SS' (written in zone ``tz``) as a UTC event stamp."""
    if not clock:
        return None
    try:
        naive = datetime.fromisoformat(clock[:19])
    except ValueError:
        return None
    return event_stamp(naive.replace(tzinfo=tz))
