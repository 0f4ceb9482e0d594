"""``osla triage ID``: everything one request touched, across services and hosts, with a verdict."""
from __future__ import annotations

import json
import sys

import click

from .backend import backend_options, choose
from .common import Failure, colour_wanted, former_name, loaded_rules, renamed, rules_option
from .types import DURATION


@click.command("triage")
@click.argument("request_id", metavar="ID")
@click.argument("paths", nargs=-1, type=click.Path(), metavar="[PATH...]")
@former_name("--logs", "paths", multiple=True, type=click.Path())
@backend_options
@click.option("--around", default="10m", show_default=True, type=DURATION,
              help="Time window around the id's own events.")
@click.option("--hops", default=3, show_default=True, type=click.IntRange(1, 10),
              help="How many links (caller, callee, named response) to follow.")
@click.option("--max-ids", default=50, show_default=True, type=click.IntRange(1, 10000),
              help="Stop following after this many ids.")
@rules_option
@click.option("--json", "as_json", is_flag=True, help="The whole triage as one JSON document.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True),
              help="Also write a self-contained HTML page to this file.")
def triage_command(request_id, paths, paths_former, around, hops, max_ids, rules_dirs, as_json, html_file, **where):
    """Follow one request through every service and host, and judge it.

    ID is a request id (req-...), a global request id, an instance uuid, or
    any text that holds a request id, such as an OpenStack CLI's error pasted
    whole (the first id is followed when there are several). The logs are a local
    tree (PATH: files or folders; default /var/log) or a server (--es,
    OSLA_ES_URL or the config file).

    First a verdict from the rules, then the requests it led to (callers,
    callees, the instance it acted on) with HTTP status and time, then the
    timeline across hosts with tracebacks in full. Exit status: 0 no finding,
    1 findings, 2 not found or error.

    \b
    Examples:
      osla triage req-e4f91dbb-6b8f-4240-8a23-f424f1900e54 samples/live-migration
      osla triage 'Request-ID: req-...' --es https://es:9200 --html triage.html
      osla triage req-... --server https://opensearch:9200 --profile kolla   # Kolla's flog-* as they are
    """
    from ..triage import classify
    from ..triage.ids import pasted

    request_id, note = pasted(request_id)
    classify(request_id)
    if note:
        click.echo(f"osla: note: {note}", err=True)
    paths = renamed(paths, paths_former, "--logs PATH", "a PATH argument after the ID")
    backend = choose(paths, **where)
    view = backend.triage(request_id, lambda: loaded_rules(rules_dirs), around=around, hops=hops, max_ids=max_ids)
    if not view["found"]:
        if as_json:
            click.echo(json.dumps(view, ensure_ascii=False))
        raise Failure(_not_found(view))
    _show(view, as_json, html_file)
    sys.exit(1 if view["findings"] else 0)


def _not_found(view: dict) -> str:
    searched = view["searched"]
    where = (f"{searched.get('files', 0)} files" if searched.get("source") == "files"
             else f"{searched.get('server') or 'the search server'} index {searched.get('index')}")
    span = f", logs from {searched.get('from')} to {searched.get('to')}" if searched.get("from") else ""
    near = f"; near matches: {', '.join(view['near_matches'][:5])}" if view["near_matches"] else "; no near match"
    unread = view.get("read_errors") or []
    missed = (f"; {len(unread)} not read: " + "; ".join(unread[:3]) + (" ..." if len(unread) > 3 else "")) if unread else ""
    return f"{view['id']} not found in {where}{span}{near}{missed}"


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
    elif html_file:  # the page has the rest: the verdict, and where the page is
        click.echo(text(view, colour=colour_wanted()).split("\n", 1)[0])
        click.echo(f"osla: wrote {html_file}", err=True)
    else:
        click.echo(text(view, colour=colour_wanted()), nl=False)
