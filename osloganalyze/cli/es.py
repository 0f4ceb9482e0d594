"""``osla es setup|check`` and ``osla ingest``: the search server (Elasticsearch, OpenSearch) at the edge."""
from __future__ import annotations

import json
import sys

import click

from ..es.connection import client_errors, explain, server_errors
from ..parse import Stats, parse_paths
from .common import Failure, Progress, es_client, es_options, former_name, renamed, say
from .types import DURATION, TIME_ZONE


@click.group("es", short_help="Elasticsearch/OpenSearch: index template, connection check.")
def es_group():
    """Elasticsearch/OpenSearch: index template, connection check (either server, told apart on connect).

    \b
    Example:
      osla es setup --es https://es-1:9200 --es-user osla --es-ca ca.pem --retention-days 30
    """


@es_group.command("setup", short_help="Install the index template for PREFIX-* (idempotent).")
@es_options
@click.option("--prefix", default="openstack", show_default=True, help="Index prefix: indices are PREFIX-YYYY.MM.DD.")
@click.option("--retention-days", type=click.IntRange(min=1),
              help="Delete daily indices this many days old (an ILM policy on Elasticsearch, ISM on OpenSearch).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def setup_command(prefix, retention_days, as_json, **connection):
    """Install the index template for PREFIX-* (idempotent: run it again any time).

    Every schema field gets its type (keyword ids, levels, services and hosts; text and
    keyword message; text stack traces; dates, longs and IPs). Unknown fields never fail a
    document on a mapping conflict: Elasticsearch makes them runtime fields, OpenSearch keeps
    them in the document without indexing them.

    \b
    Example:
      osla es setup --es http://127.0.0.1:9200 --prefix openstack --retention-days 30
    """
    from ..es.template import setup

    client, settings = es_client(**connection)
    with server_errors(settings):
        result = setup(client, prefix, retention_days)
    if as_json:
        click.echo(json.dumps(result))
        return
    kept = f"deleted after {retention_days} days by policy {result['lifecycle']}" if retention_days else "kept until deleted"
    click.echo(f"{result['server']}: index template {result['template']} installed for {prefix}-* "
               f"(version {result['version']}); indices {kept}")


@es_group.command("check", short_help="Connect; print the product, version and health.")
@es_options
@click.option("--json", "as_json", is_flag=True, help="Print the server and its health as one JSON object.")
def check_command(as_json, **connection):
    """Connect and print the server's product, version and health (exit 2 with one line if it cannot).

    \b
    Example:
      OSLA_ES_PASSWORD=... osla es check --es https://es-1:9200 --es-user osla --es-ca ca.pem
    """
    from ..es.connection import check, shown

    client, settings = es_client(**connection)
    health = check(client, settings)
    result = {"product": client.product, "version": client.info.version,
              **{k: health.get(k) for k in ("cluster_name", "status", "number_of_nodes")}}
    if as_json:
        click.echo(json.dumps(result))
        return
    nodes = result["number_of_nodes"]
    click.echo(f"{client.info.title} at {', '.join(shown(u) for u in settings.urls)}: cluster {result['cluster_name']}, "
               f"status {result['status']}, {nodes} node{'s' if nodes != 1 else ''}")


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@es_options
@click.option("--prefix", default="openstack", show_default=True, help="Index prefix (indices PREFIX-YYYY.MM.DD).")
@click.option("--tz", default="UTC", show_default=True, type=TIME_ZONE, help="Time zone of naive oslo.log timestamps.")
@click.option("--host-name", "host", help="host.name for every event (default: from the path).")
@former_name("--host", "host")
@click.option("--year", type=click.IntRange(1970, 9999), help="Year for syslog dates that carry none.")
@click.option("--keep-secrets", is_flag=True,
              help="Index passwords and tokens as logged (default: masked, as parsers/secrets.yaml defines them).")
@click.option("--block-wait", default="10m", show_default=True, type=DURATION,
              help="How long to wait out a write block (the flood-stage watermark) before stopping with exit 1.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def ingest_command(paths, prefix, tz, host, host_former, year, keep_secrets, block_wait, as_json, **connection):
    """Parse log files and bulk-index the events into Elasticsearch.

    The index template is installed first if PREFIX has none (osla es setup).
    Each event's id comes from its host, file and byte offset, so running the same ingest
    twice, or again after a failure, never doubles anything. Passwords, tokens and keys in
    the text are masked before indexing (--keep-secrets: as logged). Rate limiting (429) and
    timeouts are retried with backoff; documents the server rejects are counted and shown
    with its reason (exit 1). The indices are refreshed at the end: what was ingested is
    searchable when the command returns.

    \b
    Example:
      osla ingest /var/log/kolla --es http://127.0.0.1:9200
    """
    from ..es.ingest import ingest

    host = renamed(host, host_former, "--host", "--host-name")
    client, settings = es_client(**connection)
    _ensure_template(client, settings, prefix)
    stats = Stats()
    progress = Progress("ingesting")
    try:
        events = parse_paths(list(paths), tz=tz, host=host, year=year, stats=stats)
        if not keep_secrets:
            from ..redact import scrub
            events = map(scrub, events)
        result = ingest(client, events, prefix, progress=progress.update, block_wait=block_wait,
                        warn=lambda text: say("warning", text))
    except client_errors() as exc:  # the server went away mid-run
        progress.done()
        raise Failure(f"{explain(exc, settings)}; {stats.events:,} events parsed so far. Run the same command "
                      f"again to finish: event ids make it safe (nothing is doubled)") from None
    progress.done()
    with server_errors(settings):  # searchable when the command returns (a report may follow at once)
        client.refresh(f"{prefix}-*")
    summary = {"files": stats.files, "events": stats.events, "indexed": result.indexed, "rejected": result.rejected,
               "rejections": result.rejections, "unparsed": stats.unparsed, "errors": stats.errors,
               "seconds": round(progress.elapsed, 3)}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        rate = result.indexed / progress.elapsed if progress.elapsed else 0
        click.echo(f"osla ingest: {stats.files} files, {stats.events:,} events, {result.indexed:,} indexed, "
                   f"{result.rejected:,} rejected into {prefix}-* in {progress.elapsed:.1f}s ({rate:,.0f} events/s)",
                   err=True)
        for line in result.rejections:
            click.echo(f"  rejected {line}", err=True)
        for error in stats.errors:
            say("warning", error)
        for note in stats.skipped:
            say("note", note)
    if result.rejected or stats.errors:
        sys.exit(1)


def _ensure_template(client, settings, prefix: str) -> None:
    """Never let Elasticsearch guess mappings: install the template if PREFIX has none (or an older one)."""
    from ..es.template import ensure

    with server_errors(settings):
        done = ensure(client, prefix)
    if done:
        click.echo(f"osla ingest: {done} the index template for {prefix}-* (see osla es setup)", err=True)
