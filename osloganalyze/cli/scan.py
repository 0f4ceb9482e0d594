"""``osla scan``: run the rules over logs (a local tree or Elasticsearch) and list findings.

Exit status for cron and monitoring: 0 no finding, 1 findings, 2 error, 3 no events in the
window (no logs there: not a clean bill of health).
"""
from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime

import click

from ..output import printable_data
from ..query import EventQuery
from ..rules.model import SEVERITIES, SEVERITY_RANK
from ..times import event_stamp
from .backend import backend_options, choose
from .common import NO_EVENTS, Failure, Progress, loaded_rules, moment, no_events, rules_option, say
from .types import HOST_PORT


def time_bound(text: str | None, option: str, now: datetime | None = None) -> str | None:
    """'24h' (before now), '2014-04-16', '2014-04-16T21:17' or a full ISO time -> event timestamp text."""
    if text is None:
        return None
    return event_stamp(moment(text, option, now or datetime.now(UTC)))


@click.command("scan")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@backend_options
@click.option("--since", help="Only events since: a duration before now (24h, 7d) or a date/time (UTC).")
@click.option("--until", help="Only events before this (same forms as --since).")
@click.option("--service", "services", multiple=True, help="Only this service (repeatable).")
@click.option("--host", "hosts", multiple=True, help="Only this host (repeatable).")
@rules_option
@click.option("--rule", "only", multiple=True, help="Only this rule (repeatable).")
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="info", show_default=True,
              help="Leave out findings below this severity.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: findings and counts.")
@click.option("--emit-fluentd", metavar="HOST:PORT", type=HOST_PORT,
              help="Also send each finding to Fluentd, tagged osla.finding.")
def scan_command(paths, since, until, services, hosts, rules_dirs, only, min_severity, as_json, emit_fluentd,
                 **where):
    """Judge logs: findings grouped by rule and signature.

    PATH is a log file or folder (a node's /var/log, an unpacked bundle); with
    --es (or OSLA_ES_URL / the config file) and no PATH, the rules run as
    queries in Elasticsearch instead; with neither, /var/log is read.

    Each finding has a count, first and last seen, services, hosts, a few
    request ids (for osla triage) and one example. Exit status: 0 no finding,
    1 findings, 2 error, 3 no events in the window (it says what time the logs cover).

    \b
    Examples:
      osla scan /var/log --since 24h
      osla scan bundle/ --json | jq '.findings[] | select(.category == "bug")'
      osla scan --es https://es:9200 --since 24h --emit-fluentd 127.0.0.1:24224
    """
    rules = loaded_rules(rules_dirs)
    if only:
        unknown = sorted(set(only) - {r.id for r in rules})
        if unknown:
            raise Failure(f"no rule {unknown[0]!r} (see osla rules list)")
        rules = [r for r in rules if r.id in set(only)]
    query = EventQuery(since=time_bound(since, "--since"), until=time_bound(until, "--until"),
                       services=tuple(services), hosts=tuple(hosts))
    if query.since and query.until and query.until <= query.since:
        raise Failure("--until must come after --since (the window is empty)")
    backend = choose(paths, **where)
    progress = Progress("scanning")
    try:
        result = backend.scan(rules, query, progress=progress.update)
        found = result.collector.findings()
    finally:
        progress.done()
    floor = SEVERITY_RANK[min_severity]
    findings = [f.to_json() for f in found if SEVERITY_RANK[f.severity] >= floor]
    sent = None
    if emit_fluentd and findings:
        from ..fluentd.forward import ForwardError, emit_findings
        try:
            sent = emit_findings(findings, emit_fluentd)
        except ForwardError:
            _print(findings, result, progress.elapsed, as_json, len(rules), None)
            raise
    _print(findings, result, progress.elapsed, as_json, len(rules), sent)
    for note in result.skipped[:10]:
        say("note", note)
    if result.read_errors:  # some input could not be read: the scan is incomplete
        for error in result.read_errors[:10]:
            say("error", error)
        sys.exit(2)
    if result.collector.events == 0:
        say("note", no_events(backend, query.since, query.until))
        sys.exit(NO_EVENTS)
    sys.exit(1 if findings else 0)


def _print(findings, result, elapsed, as_json, rule_count, sent) -> None:
    collector = result.collector
    counts = {c: sum(1 for f in findings if f["category"] == c) for c in ("bug", "config", "infrastructure")}
    summary = {"findings": len(findings), "by_category": counts, "rules": rule_count, "events": collector.events,
               "matched_events": collector.hits, "elapsed_s": round(elapsed, 3)}
    summary.update(files=result.files, read_errors=len(result.read_errors))  # files: None on a server
    if sent is not None:
        summary["sent_to_fluentd"] = sent
    if as_json:
        click.echo(json.dumps({"summary": summary, "findings": findings}, ensure_ascii=False))
        return
    _table(findings)
    looked = f"{collector.events:,} events" if collector.events is not None else "Elasticsearch"
    parts = ", ".join(f"{n} {c}" for c, n in counts.items() if n)
    click.echo(f"{len(findings)} findings{' (' + parts + ')' if parts else ''} from {looked}, "
               f"{rule_count} rules, {elapsed:.1f} s" + (f"; {sent} sent to Fluentd" if sent is not None else ""),
               err=True)


def _table(findings) -> None:
    """Three lines per finding: what and how bad, the signature, where (log text escaped: no
    control character from a log reaches the terminal)."""
    if not findings:
        return
    findings = printable_data(findings)
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None  # cut lines on terminals only
    click.echo(f"{'SEVERITY':<9}{'CATEGORY':<15}{'COUNT':>7}  {'LAST SEEN':<20}RULE / SIGNATURE / WHERE"[:width])
    for f in findings:
        rule = f["rule"] + (" (escalated: " + f["escalation"] + ")" if f["escalated"] else "")
        last = (f["last_seen"] or "-")[:19]
        click.echo(f"{f['severity']:<9}{f['category']:<15}{f['count']:>7}  {last:<20}{rule}"[:width])
        click.echo(f"    {f['signature']}"[:width])
        where = ", ".join(f["services"]) + " on " + ", ".join(f["hosts"])
        if f["request_ids"]:
            where += "; requests: " + " ".join(f["request_ids"][:3])
        click.echo(f"    {where}"[:width])
