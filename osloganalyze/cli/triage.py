"""``osla triage ID``: everything one request touched, across services and hosts, with a verdict."""
from __future__ import annotations

import json
import os
import sys

import click

from ..durations import parse_duration
from .common import Failure, es_client, es_errors, es_options, loaded_rules, rules_option


@click.command("triage")
@click.argument("request_id", metavar="ID")
@click.option("--logs", "paths", multiple=True, type=click.Path(), metavar="PATH",
              help="Log file or folder to search (repeatable; default /var/log).")
@es_options
@click.option("--prefix", default="openstack", show_default=True, help="Index prefix (with --es).")
@click.option("--around", default="10m", show_default=True, help="Time window around the id's own events.")
@click.option("--hops", default=3, show_default=True, type=click.IntRange(1, 10),
              help="How many links (caller, callee, named response) to follow.")
@click.option("--max-ids", default=50, show_default=True, type=click.IntRange(1, 10000),
              help="Stop following after this many ids.")
@rules_option
@click.option("--tz", default="UTC", show_default=True, help="Time zone of naive oslo.log timestamps (local files).")
@click.option("--year", type=int, help="Year for syslog dates that carry none (local files).")
@click.option("--json", "as_json", is_flag=True, help="The whole triage as one JSON document.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True),
              help="Also write a self-contained HTML page to this file.")
def triage_command(request_id, paths, es_urls, es_user, es_password, es_ca, es_api_key, config_file, prefix,
                   around, hops, max_ids, rules_dirs, tz, year, as_json, html_file):
    """Follow one request through every service and host, and judge it.

    ID is a request id (req-...), a global request id, the Request-ID an
    OpenStack CLI error printed, or an instance uuid. The logs are a local
    tree (default /var/log, or --logs) or Elasticsearch (--es).

    First a verdict from the rules, then the requests it led to (callers,
    callees, the instance it acted on) with HTTP status and time, then the
    timeline across hosts with tracebacks in full. Exit status: 0 no finding,
    1 findings, 2 not found or error.

    \b
    Examples:
      osla triage req-e4f91dbb-6b8f-4240-8a23-f424f1900e54 --logs samples/live-migration
      osla triage 'Request-ID: req-...' --es https://es:9200 --html triage.html
    """
    from ..timezones import BadTimeZone, zone
    from ..triage import BadId, classify, triage_elasticsearch, triage_local

    try:
        classify(request_id)
        window = parse_duration(around)
        zone(tz)
    except (BadId, BadTimeZone) as exc:
        raise Failure(str(exc)) from None
    except ValueError as exc:
        raise Failure(f"--around: {exc}") from None
    if paths and es_urls:
        raise Failure("give either --logs or --es, not both")
    if es_urls:
        rules = loaded_rules(rules_dirs)
        client, settings = es_client(es_urls, es_user, es_password, es_ca, es_api_key, config_file)
        with es_errors(settings):
            view = triage_elasticsearch(client, prefix, request_id, rules, around=window, hops=hops, max_ids=max_ids)
    else:
        paths = list(paths) or ["/var/log"]
        for path in paths:
            if not os.path.exists(path):
                raise Failure(f"{path}: no such file or directory")
        from ..sources.local import SourceError
        try:
            view = triage_local(paths, request_id, lambda: loaded_rules(rules_dirs), around=window, hops=hops,
                                max_ids=max_ids, tz=tz, year=year)
        except SourceError as exc:
            raise Failure(str(exc)) from None
    if not view["found"]:
        if as_json:
            click.echo(json.dumps(view, ensure_ascii=False))
        raise Failure(_not_found(view))
    _show(view, as_json, html_file)
    sys.exit(1 if view["findings"] else 0)


def _not_found(view: dict) -> str:
    searched = view["searched"]
    where = (f"{searched.get('files', 0)} files" if searched.get("source") == "files"
             else f"Elasticsearch index {searched.get('index')}")
    span = f", logs from {searched.get('from')} to {searched.get('to')}" if searched.get("from") else ""
    near = f"; near matches: {', '.join(view['near_matches'][:5])}" if view["near_matches"] else "; no near match"
    return f"{view['id']} not found in {where}{span}{near}"


def _show(view: dict, as_json: bool, html_file: str | None) -> None:
    from ..triage.render import html, text

    if html_file:
        try:
            with open(html_file, "w", encoding="utf-8") as fh:
                fh.write(html(view))
        except OSError as exc:
            raise Failure(f"cannot write {html_file}: {exc.strerror or exc}") from None
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False))
    else:
        click.echo(text(view, colour=sys.stdout.isatty()), nl=False)
