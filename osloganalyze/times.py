"""Time helpers every layer uses: event stamps (UTC ISO 8601 with milliseconds, as events carry
them), time zones by name (``--tz``), and file-local clock text for seeking in a log file.

The parser's per-line conversions live in :mod:`osloganalyze.parse.timestamps`.
"""
from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import OslaError


class BadTimeZone(OslaError, ValueError):
    """A --tz value that names no zone."""


_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def zone(name: str) -> tzinfo:
    """UTC spelled any usual way, a fixed offset (+02:00, -0500), else an IANA name
    (BadTimeZone otherwise)."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    m = _OFFSET.match(name.strip())
    if m and int(m.group(2)) < 24 and int(m.group(3)) < 60:
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return timezone(-delta if m.group(1) == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadTimeZone(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris, an offset "
                          f"such as +02:00, or UTC)") from exc


@contextlib.contextmanager
def timed(logger: logging.Logger, what: str) -> Iterator[None]:
    """Log how long the block took (one server round trip, a phase) when ``logger`` debugs."""
    if not logger.isEnabledFor(logging.DEBUG):
        yield
        return
    start = time.monotonic()
    try:
        yield
    finally:
        logger.debug("%s: %.1f ms", what, (time.monotonic() - start) * 1000)


def fluentd_zone(name: str) -> str:
    """A zone osla accepts, spelled as Fluentd accepts it: Region/Zone names and numeric
    offsets only ('UTC' and 'GMT' are refused at load; 'Etc/UTC' loads)."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return "Etc/UTC"
    m = _OFFSET.match(name.strip())
    if m:
        return f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    return name


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
