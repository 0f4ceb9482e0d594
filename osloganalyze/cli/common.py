"""Helpers shared by commands: options, progress on a terminal, one-line failures."""
from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime, timedelta

import click

from ..errors import OslaError

log = logging.getLogger("osla")


class Failure(OslaError):
    """A clear one-line error and exit status 2 (bad input, unusable source)."""


class Progress:
    """Events/s on stderr while work runs, only when stderr is a terminal."""

    def __init__(self, label: str, enabled: bool | None = None, interval: float = 0.5):
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.interval = interval
        self.start = self.last = time.monotonic()
        self.count = 0

    def update(self, count: int) -> None:
        """Report ``count`` items done so far (call it every few hundred items)."""
        self.count = count
        if self.enabled:
            now = time.monotonic()
            if now - self.last >= self.interval:
                self.last = now
                rate = count / max(now - self.start, 1e-9)
                sys.stderr.write(f"\r{self.label}: {count:,} events, {rate:,.0f} events/s ")
                sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.count >= 1000:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()
        log.debug("%s: %d events in %.2f s", self.label, self.count, self.elapsed)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


def moment(text: str, option: str, now: datetime) -> datetime:
    """A --since/--until value: a duration before ``now`` ('24h', '7d') or a date/time, read as
    UTC when it has no offset ('2014-04-16', '2014-04-16T21:17', a full ISO time)."""
    from ..durations import TooLong, parse_duration
    from ..times import event_time

    try:
        return now - timedelta(seconds=parse_duration(text))
    except TooLong as exc:
        raise Failure(f"{option}: {exc}") from None
    except (ValueError, OverflowError):
        pass
    try:
        found = event_time(text)
    except ValueError:
        raise Failure(f"{option} takes a duration (30m, 24h, 7d) or a date/time (2024-05-01T12:00), "
                      f"not {text!r}") from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def es_options(command):
    """--es (alias --server)/--es-user/--es-password/--es-ca/--es-api-key/--config, for every
    command that talks to a search server, Elasticsearch or OpenSearch (environment variables and
    the config file fill in what is not given)."""
    options = [
        click.option("--es", "--server", "es_urls", multiple=True, metavar="URL",
                     help="Elasticsearch or OpenSearch URL, told apart on connect (repeat for several nodes; "
                          "env OSLA_ES_URL)."),
        click.option("--es-user", help="User (env OSLA_ES_USER)."),
        click.option("--es-password", help="Password (better: env OSLA_ES_PASSWORD; never printed)."),
        click.option("--es-ca", type=click.Path(dir_okay=False), help="CA certificate file (env OSLA_ES_CA)."),
        click.option("--es-api-key", help="API key, instead of user/password (env OSLA_ES_API_KEY)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False),
                     help="Config file (default: ~/.config/osla/config.toml, /etc/osla/config.toml)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def es_settings(es_urls=(), es_user=None, es_password=None, es_ca=None, es_api_key=None, config_file=None):
    """Settings from the options, the environment and the config file (EsError: one line)."""
    from ..es.connection import resolve

    return resolve(es_urls, es_user, es_password, es_ca, es_api_key, config_file)


def es_client(es_urls=(), es_user=None, es_password=None, es_ca=None, es_api_key=None, config_file=None):
    """Resolve settings and connect (EsError or ServerError: one secret-free line)."""
    from ..es.connection import connect

    settings = es_settings(es_urls, es_user, es_password, es_ca, es_api_key, config_file)
    return connect(settings), settings


NO_EVENTS = 3  # exit status of scan and report when the window holds no events


def colour_wanted() -> bool:
    """Colour on a terminal, unless NO_COLOR is set to anything (https://no-color.org)."""
    import os
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def no_events(backend, since: str | None, until: str | None) -> str:
    """The note for a window without events: which window, and what time the logs cover."""
    window = f"from {since or 'the start'} to {until or 'now'}"
    try:
        first, last = backend.time_range()
    except OslaError:
        first = last = None
    where = backend.describe()
    if first is None:
        return f"no events {window} in {where}, which holds no timestamped events at all (exit {NO_EVENTS})"
    return (f"no events {window} in {where}: its logs run from {first} to {last}; give --since/--until "
            f"inside that (exit {NO_EVENTS})")


def rules_option(command):
    """--rules DIR (repeatable): the operator's own rule files, added to the built-in ones."""
    return click.option("--rules", "rules_dirs", multiple=True, type=click.Path(file_okay=False),
                        metavar="DIR", help="Add the rules in DIR/*.yaml (repeatable).")(command)


def loaded_rules(rules_dirs):
    from ..rules.model import load_rules

    start = time.monotonic()
    rules = load_rules(tuple(rules_dirs))
    log.debug("rules: %d loaded in %.1f ms", len(rules), (time.monotonic() - start) * 1000)
    return rules


def former_name(old: str, dest: str, **attrs):
    """An option's former name, hidden from --help: it still works (see ``renamed``)."""
    return click.option(old, f"{dest}_former", hidden=True, **attrs)


def renamed(value, former, old: str, new: str):
    """The value of an option given under its new name or its former one (with a note)."""
    if former is None or former == ():
        return value
    say("note", f"{old} is now {new} (the old name works until osla 0.3)")
    if isinstance(value, tuple):
        return value + tuple(former)
    return value if value is not None else former


def say(kind: str, text: str) -> None:
    """One line on stderr, 'osla: note: ...', its control characters escaped (file names, log text)."""
    from ..output import printable

    click.echo(f"osla: {kind}: {printable(text)}", err=True)
