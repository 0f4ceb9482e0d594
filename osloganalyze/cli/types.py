"""Option values checked once, as click parameter types: a bad value is one line and exit 2."""
from __future__ import annotations

import re

import click


class TimeZoneName(click.ParamType):
    """An IANA zone name or UTC (the name is passed on; it is known to resolve)."""

    name = "ZONE"

    def convert(self, value, param, ctx):
        from ..times import BadTimeZone, zone

        try:
            zone(value)
        except BadTimeZone as exc:
            self.fail(str(exc), param, ctx)
        return value


class Duration(click.ParamType):
    """'30s', '15m', '24h', '7d' -> seconds."""

    name = "DURATION"

    def convert(self, value, param, ctx):
        from ..durations import parse_duration

        if isinstance(value, int):
            return value
        from ..durations import TooLong

        try:
            return parse_duration(value)
        except TooLong as exc:
            self.fail(str(exc), param, ctx)
        except ValueError:
            self.fail(f"takes a duration (30s, 15m, 24h, 7d), not {value!r}", param, ctx)


class HostPort(click.ParamType):
    """HOST:PORT (an IPv6 address in brackets: [::1]:24224); with ``port_optional``, HOST alone
    too. The text is passed on as given, known to be well formed."""

    def __init__(self, port_optional: bool = False):
        self.port_optional = port_optional
        self.name = "HOST[:PORT]" if port_optional else "HOST:PORT"

    def convert(self, value, param, ctx):
        text = value.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else (None if not rest else "")
        elif text.count(":") == 1:
            host, port = text.split(":")
        else:
            host, port = (text, None) if ":" not in text else ("", None)
        if not host or port == "" or (port is None and not self.port_optional):
            self.fail(f"takes {self.name} (e.g. 127.0.0.1:24224, [::1]:24224), not {value!r}", param, ctx)
        if port is not None and (not port.isdigit() or not 0 < int(port) < 65536):
            self.fail(f"takes {self.name} with a port from 1 to 65535, not {value!r}", param, ctx)
        return text


class EmailAddress(click.ParamType):
    """One mail address, local@domain: no spaces, no line breaks (a header cannot be forged)."""

    name = "ADDRESS"
    _SHAPE = re.compile(r"^[^@\s\x00-\x1f\x7f<>,;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")

    def convert(self, value, param, ctx):
        if len(value) > 254 or not self._SHAPE.match(value):
            self.fail(f"takes a mail address (ops@example.org), not {value!r}", param, ctx)
        return value


class HttpUrl(click.ParamType):
    """An http:// or https:// URL with a host (links in reports must not run script)."""

    name = "URL"

    def convert(self, value, param, ctx):
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or _CONTROL.search(value):
            self.fail(f"takes an http:// or https:// URL, not {value!r}", param, ctx)
        return value


class Label(click.ParamType):
    """A short name shown in titles and subjects: printable, one line."""

    name = "TEXT"

    def convert(self, value, param, ctx):
        if not value.strip() or len(value) > 200 or _CONTROL.search(value):
            self.fail(f"takes a one-line name of at most 200 printable characters, not {value!r}", param, ctx)
        return value.strip()


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
TIME_ZONE = TimeZoneName()
DURATION = Duration()
HOST_PORT = HostPort()
HOST_OPTIONAL_PORT = HostPort(port_optional=True)
EMAIL_ADDRESS = EmailAddress()
HTTP_URL = HttpUrl()
LABEL = Label()
