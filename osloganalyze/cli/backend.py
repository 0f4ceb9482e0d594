"""The backend, chosen once for every command by one rule:

- log paths given (PATH arguments): the log tree, whatever the
  environment or the config file say;
- else a server URL from ``--es``, ``OSLA_ES_URL`` or the config file: that server;
- paths and ``--es`` both on the command line: a one-line error;
- neither: this node's own logs, /var/log, with a note saying so (triage, scan and report alike).
"""
from __future__ import annotations

import logging

import click

from ..backends.server import PROFILES
from .common import Failure, es_options, es_settings, say
from .types import TIME_ZONE

log = logging.getLogger("osla")
DEFAULT_PATHS = ("/var/log",)  # a node's own logs, where a command is given neither PATHs nor a server


def backend_options(command):
    """The server options (--es ..., --prefix, --profile) and the log tree's (--tz, --year)."""
    options = [
        click.option("--prefix", help="Index prefix on a server: indices PREFIX-* (default: openstack; "
                                       "flog with --profile kolla)."),
        click.option("--profile", type=click.Choice(PROFILES), default="auto", show_default=True,
                     help="Whose documents the indices hold: osla's (osla ingest, osla's Fluentd configs), Kolla's "
                          "(Kolla-Ansible's central logging, as it is), or as their mapping says (auto)."),
        click.option("--tz", default="UTC", show_default=True, type=TIME_ZONE,
                     help="Time zone of naive oslo.log timestamps (log files)."),
        click.option("--year", type=click.IntRange(1970, 9999),
                     help="Year for syslog dates that carry none (log files)."),
    ]
    for option in reversed(options):
        command = option(command)
    return es_options(command)


def choose(paths, *, es_urls=(), es_user=None, es_password=None, es_ca=None, es_api_key=None, config_file=None,
           prefix=None, profile="auto", tz="UTC", year=None):
    """The one backend of a command (see the module's rule)."""
    paths = list(paths)
    if paths and es_urls:
        raise Failure("give either log PATHs or --es, not both")
    if paths:
        return _tree(paths, tz, year)
    settings = es_settings(es_urls, es_user, es_password, es_ca, es_api_key, config_file)
    if settings.urls:
        from ..backends.server import DEFAULT_PREFIX, SearchServer
        from ..es.connection import shown
        from ..sources.kolla import PREFIX as KOLLA_PREFIX

        fallback = KOLLA_PREFIX if prefix is None else None  # a Kolla cloud's indices, when openstack-* is empty
        prefix = prefix or (KOLLA_PREFIX if profile == "kolla" else DEFAULT_PREFIX)
        log.debug("backend: server %s, indices %s-* (profile %s)", ", ".join(map(shown, settings.urls)), prefix, profile)
        return SearchServer(settings, prefix, profile, fallback)
    say("note", f"reading {', '.join(DEFAULT_PATHS)} (no log PATH and no server given)")
    return _tree(list(DEFAULT_PATHS), tz, year)


def _tree(paths: list[str], tz: str, year: int | None):
    from ..backends.tree import LogTree

    log.debug("backend: log tree %s", ", ".join(paths))
    return LogTree(paths, tz=tz, year=year)
