"""The ``osla`` command line: a thin click layer over the library."""
from __future__ import annotations

import sys

import click

from .. import __version__
from .es import es_group, ingest_command
from .fluentd import fluentd_group, pipeline_group
from .parse import parse_command
from .report import report_command
from .rules import rules_group
from .scan import scan_command
from .triage import triage_command


class OslaGroup(click.Group):
    """Every error is one line on stderr: 'osla: error: ...', exit status 2 for bad input."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("osla: aborted", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"osla: error: {exc.format_message()}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"osla: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code if exc.exit_code != 1 else 2)


@click.group(cls=OslaGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="osla")
@click.option("--debug", is_flag=True, help="Print what osla does (secrets are never printed).")
@click.pass_context
def main(ctx, debug):
    """osla - OpenStack log analysis: parse, judge and explain oslo.log logs.

    \b
    Example:
      osla parse /var/log/nova/ > events.jsonl
    """
    ctx.obj = {"debug": debug}


main.add_command(parse_command)
main.add_command(ingest_command)
main.add_command(es_group)
main.add_command(rules_group)
main.add_command(scan_command)
main.add_command(triage_command)
main.add_command(report_command)
main.add_command(fluentd_group)
main.add_command(pipeline_group)
