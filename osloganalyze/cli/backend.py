"""The backend, chosen once for every command by one rule:

- log paths given (PATH arguments, or ``--logs`` on triage): the log tree, whatever the
  environment or the config file say;
- else a server URL from ``--es``, ``OSLA_ES_URL`` or the config file: that server;
- paths and ``--es`` both on the command line: a one-line error;
- neither: the command's default tree (triage reads /var/log) or a one-line error.
"""
from __future__ import annotations

import logging

import click

from .common import Failure, es_options, es_settings
from .types import TIME_ZONE

log = logging.getLogger("osla")


def backend_options(command):
    """The server options (--es ..., --prefix) and the log tree's (--tz, --year)."""
    options = [
        click.option("--prefix", default="openstack", show_default=True, help="Index prefix (on a server)."),
        click.option("--tz", default="UTC", show_default=True, type=TIME_ZONE,
                     help="Time zone of naive oslo.log timestamps (log files)."),
        click.option("--year", type=click.IntRange(1970, 9999),
                     help="Year for syslog dates that carry none (log files)."),
    ]
    for option in reversed(options):
        command = option(command)
    return es_options(command)


def choose(paths, *, es_urls=(), es_user=None, es_password=None, es_ca=None, es_api_key=None, config_file=None,
           prefix="openstack", tz="UTC", year=None, default_paths=(), paths_word="log PATHs"):
    """The one backend of a command (see the module's rule)."""
    paths = list(paths)
    if paths and es_urls:
        raise Failure(f"give either {paths_word} or --es, not both")
    if paths:
        return _tree(paths, tz, year)
    settings = es_settings(es_urls, es_user, es_password, es_ca, es_api_key, config_file)
    if settings.urls:
        from ..backends.server import SearchServer
        from ..es.connection import shown

        log.debug("backend: server %s, indices %s-*", ", ".join(map(shown, settings.urls)), prefix)
        return SearchServer(settings, prefix)
    if default_paths:
        return _tree(list(default_paths), tz, year)
    raise Failure(f"give {paths_word} (a node's /var/log, an unpacked bundle), or --es URL for a server "
                  f"(or set OSLA_ES_URL)")


def _tree(paths: list[str], tz: str, year: int | None):
    from ..backends.tree import LogTree

    log.debug("backend: log tree %s", ", ".join(paths))
    return LogTree(paths, tz=tz, year=year)
