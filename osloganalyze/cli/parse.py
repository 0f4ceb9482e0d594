"""``osla parse``: log files in, one JSON event per line out."""
from __future__ import annotations

import json
import sys

import click

from ..output import JsonLinesWriter, printable
from ..parse import Stats, parse_paths
from ..redact import scrub
from .common import Failure, Progress, former_name, renamed, say
from .types import TIME_ZONE


@click.command("parse", short_help="Parse log files into events, one JSON object per line.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write events here instead of stdout.")
@click.option("--tz", default="UTC", show_default=True, type=TIME_ZONE,
              help="Time zone of naive oslo.log timestamps (IANA name).")
@click.option("--host-name", "host", help="host.name for every event (default: the bundle folder, or this host for "
                                           "/var/log).")
@former_name("--host", "host")
@click.option("--year", type=click.IntRange(1970, 9999),
              help="Year for syslog dates that carry none (default: the file's modification year).")
@click.option("--keep-secrets", is_flag=True,
              help="Write text as logged (default: passwords, tokens and keys are masked as ***).")
@click.option("--json-summary", is_flag=True, help="Print the summary on stderr as one JSON object.")
def parse_command(paths, output, tz, host, host_former, year, keep_secrets, json_summary):
    """Parse oslo.log files (and access logs, journald dumps) into events.

    PATH is a file, a folder (walked for *.log, *.txt and their rotations,
    .gz included), or - for standard input. Events are JSON objects, one per
    line, with the fields of osloganalyze.schema. A summary goes to stderr.
    Secrets in the text (tokens, passwords, keys, credentials in URLs) are
    masked as *** unless --keep-secrets is given.

    \b
    Examples:
      osla parse /var/log/nova/nova-compute.log
      osla parse bundle/ -o events.jsonl        # bundle/<host>/var/log/...
      journalctl -u devstack@n-cpu | osla parse -
    """
    host = renamed(host, host_former, "--host", "--host-name")
    stats = Stats()
    progress = Progress("parsing")
    try:
        events = parse_paths(list(paths), tz=tz, host=host, year=year, stats=stats)
        if not keep_secrets:
            events = map(scrub, events)
        with JsonLinesWriter(output) as writer:
            writer.write_all(events, progress=progress.update)
    except BrokenPipeError:
        sys.stderr.close()  # reader went away (| head): not an error
        return
    except OSError as exc:
        raise Failure(f"cannot write {output or 'the output'}: {exc.strerror or exc}") from None
    finally:
        progress.done()
    _summary(stats, progress.elapsed, json_summary)
    if stats.errors:
        sys.exit(1)


def _summary(stats: Stats, elapsed: float, as_json: bool) -> None:
    data = stats.as_dict()
    data["seconds"] = round(elapsed, 3)
    if as_json:
        click.echo(json.dumps(data), err=True)
        return
    nonblank = stats.lines - stats.blank
    whole = nonblank - stats.unparsed - stats.cut_lines - stats.dropped_lines
    covered = 100.0 * whole / nonblank if nonblank else 100.0
    cut = ""
    if stats.cut_lines:
        cut += f", {stats.cut_lines:,} lines cut at 1 MiB"
    if stats.dropped_lines:
        cut += (f", {stats.dropped_lines:,} lines past the record limit (10,000 lines or 4 MB) in "
                f"{stats.truncated_events:,} events tagged 'truncated'")
    bare = ""
    if stats.levelless_lines:
        bare = (f"; {stats.levelless_lines:,} of them ({100.0 * stats.levelless_lines / nonblank:.2g}%) in "
                f"{stats.levelless_events:,} events with no level or HTTP status")
    click.echo(f"osla parse: {stats.files} files, {stats.lines:,} lines, {stats.events:,} events, "
               f"{stats.unparsed:,} unparsed lines{cut} ({covered:.2f}% of non-blank lines parsed{bare}) "
               f"in {elapsed:.1f}s", err=True)
    for example in stats.unparsed_examples:
        click.echo(printable(f"  unparsed {example[0]}:{example[1]}: {example[2][:120]}"), err=True)
    for error in stats.errors:
        say("warning", error)
    for note in stats.skipped:
        say("note", note)
