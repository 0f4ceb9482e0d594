"""``osla report``: the nightly anomaly report (text, HTML, email).

Exit status for cron and systemd: 0 nothing flagged, 1 something flagged, 2 error, 3 no events in
the period (no logs: not a clean bill of health).
"""
from __future__ import annotations

import json
import os
import socket
import sys
from datetime import UTC, datetime, timedelta

import click

from .backend import backend_options, choose
from .common import NO_EVENTS, Failure, Progress, loaded_rules, moment, no_events, rules_option, say
from .types import DURATION, EMAIL_ADDRESS, HOST_OPTIONAL_PORT, HTTP_URL, LABEL


def _period(since: str, until: str | None, baseline: int):
    from ..report.period import Period

    now = datetime.now(UTC)
    end = moment(until, "--until", now) if until else now
    start = moment(since, "--since", end)  # a duration counts back from --until
    try:
        return Period.between(start, end, timedelta(seconds=baseline))
    except ValueError as exc:
        raise Failure(str(exc)) from None


@click.command("report", short_help="The nightly report: what is new, what spiked, what recurs.")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@backend_options
@click.option("--since", default="24h", show_default=True,
              help="Start of the period: a duration before --until (24h) or a date/time (UTC).")
@click.option("--until", help="End of the period (default: now; same forms as --since).")
@click.option("--baseline", default="7d", show_default=True, type=DURATION,
              help="How far back before the period to compare with.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Write the report as one HTML file.")
@click.option("--text", "as_text", is_flag=True, help="Print the text report (the default when nothing else is asked).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("--email", "recipients", multiple=True, type=EMAIL_ADDRESS, metavar="TO",
              help="Mail the report to TO (repeatable).")
@click.option("--smtp", type=HOST_OPTIONAL_PORT, help="SMTP server for --email (default port 25, 587, 465).")
@click.option("--starttls", "security", flag_value="starttls", help="Upgrade the SMTP connection with STARTTLS.")
@click.option("--ssl", "security", flag_value="ssl", help="SMTP over TLS from the start (SMTPS).")
@click.option("--smtp-user",
              help="SMTP login (the password comes from env OSLA_SMTP_PASSWORD; needs --starttls or --ssl).")
@click.option("--insecure-smtp-auth", is_flag=True,
              help="Allow --smtp-user without TLS: the password crosses the network in clear (a local relay only).")
@click.option("--smtp-ca", type=click.Path(dir_okay=False, exists=True), help="CA file to verify the SMTP server.")
@click.option("--from", "sender", type=EMAIL_ADDRESS, help="From address (default osla@<this host's FQDN>).")
@click.option("--cloud", default=lambda: os.environ.get("OSLA_CLOUD") or socket.gethostname(), type=LABEL,
              help="Cloud name for the subject and title (env OSLA_CLOUD; default: this host's name).")
@click.option("--kibana-url", type=HTTP_URL, help="Kibana base URL: each item gets a Discover link.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False), envvar="OSLA_STATE_DIR",
              help="Log trees: keep each night's tallies in DIR/report-state.sqlite3, so the next night reads only "
                   "what it has not counted (default: /var/lib/osla for root and system users, else "
                   "$XDG_STATE_HOME/osla; env OSLA_STATE_DIR).")
@click.option("--no-state", is_flag=True, help="Log trees: read every baseline day from the files and keep nothing.")
@rules_option
def report_command(paths, since, until, baseline, html_file, as_text, as_json, recipients, smtp, security, smtp_user,
                   insecure_smtp_auth, smtp_ca, sender, cloud, kibana_url, state_dir, no_state, rules_dirs, **where):
    """The nightly report: new error signatures, spikes, HTTP 5xx rates, Keystone/Fernet
    failures, recurring tracebacks and rule findings of a period, against a baseline.

    PATH is a log tree (a node's /var/log, a bundle); with --es (or OSLA_ES_URL) and no
    PATH, the server counts with aggregations; with neither, /var/log is read. On a log tree the baseline comes from the state
    store where it holds those hours (--state), from the files otherwise. Exit status: 0
    nothing flagged, 1 something flagged, 2 error, 3 no events in the period (it says what
    time the logs cover).

    \b
    Examples:
      osla report /var/log --since 24h --baseline 7d
      osla report --es https://es:9200 --email ops@example.org --smtp mail:587 --starttls \\
          --smtp-user osla --kibana-url https://kibana:5601   # password: env OSLA_SMTP_PASSWORD
      osla report bundle/ --since 2024-05-01 --until 2024-05-02 --html report.html
    """
    from ..report import build as building
    from ..report.build import Links
    from ..report.store import default_dir

    if recipients and not smtp:
        raise Failure("--email needs --smtp HOST[:PORT]")
    password = os.environ.get("OSLA_SMTP_PASSWORD")
    if smtp_user and not password:
        raise Failure("--smtp-user needs the password in the environment variable OSLA_SMTP_PASSWORD")
    if smtp_user and not security and not insecure_smtp_auth:
        raise Failure("--smtp-user would send the password in clear: add --starttls or --ssl "
                      "(or --insecure-smtp-auth for a trusted local relay)")
    period = _period(since, until, baseline)
    rules = loaded_rules(rules_dirs)
    backend = choose(paths, **where)
    progress = Progress("reading")
    try:
        state = None if no_state else (state_dir or str(default_dir()))
        found = backend.report(period, rules, progress=progress.update, state=state)
        report = building.build(found.tally, found.collector.findings(), rules,
                                Links(backend.triage_options(), kibana=kibana_url), cloud, backend.describe(),
                                found.spike_examples)
    finally:
        progress.done()
    report["elapsed_s"] = round(progress.elapsed, 2)
    _outputs(report, html_file, as_text, as_json, recipients, smtp, security or "none", smtp_user, password,
             smtp_ca, sender)
    for note in found.skipped[:10]:
        say("note", note)
    if found.read_errors:
        for error in found.read_errors[:10]:
            say("error", error)
        sys.exit(2)
    if found.tally.period_events == 0:
        say("note", no_events(backend, period.start, period.end))
        sys.exit(NO_EVENTS)
    sys.exit(1 if building.flagged(report) else 0)


def _outputs(report, html_file, as_text, as_json, recipients, smtp, security, smtp_user, password, smtp_ca, sender):
    from ..report import render
    from ..report.build import subject

    if html_file:
        images = {service: render.data_uri(png) for service, png in render.charts(report).items()}
        try:
            with open(html_file, "w", encoding="utf-8") as out:
                out.write(render.html(report, images))
        except OSError as exc:
            raise Failure(f"cannot write {html_file}: {exc.strerror or exc}") from None
        click.echo(f"osla: wrote {html_file}", err=True)
    if as_json:
        click.echo(json.dumps(render.scrub(report), ensure_ascii=False))
    elif as_text or not (html_file or recipients):
        click.echo(render.text(report), nl=False)
    if recipients:
        from ..report import mail
        msg = mail.message(report, sender or mail.default_sender(), list(recipients))
        mail.send(msg, smtp, security, smtp_user, password, ca_file=smtp_ca)
        click.echo(f"osla: mailed '{subject(report)}' to {', '.join(recipients)}", err=True)
