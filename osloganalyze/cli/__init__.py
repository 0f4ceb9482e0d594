"""The ``osla`` command line: a thin click layer over the library."""
from __future__ import annotations

import importlib
import sys

import click

from .. import __version__

# command name -> (module in this package, attribute): a command's module (and what it imports:
# the parser, the rules, the Elasticsearch client...) is loaded only when that command runs
COMMANDS = {
    "parse": ("parse", "parse_command"),
    "ingest": ("es", "ingest_command"),
    "es": ("es", "es_group"),
    "rules": ("rules", "rules_group"),
    "scan": ("scan", "scan_command"),
    "triage": ("triage", "triage_command"),
    "report": ("report", "report_command"),
    "fluentd": ("fluentd", "fluentd_group"),
    "pipeline": ("fluentd", "pipeline_group"),
}


class OslaGroup(click.Group):
    """Every error is one line on stderr: 'osla: error: ...', exit status 2 for bad input.
    Subcommands are imported on first use (a triage starts 60 ms sooner than with all loaded)."""

    def list_commands(self, ctx):
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx, name):
        if name not in self.commands and name in COMMANDS:
            module, attribute = COMMANDS[name]
            self.add_command(getattr(importlib.import_module(f".{module}", __name__), attribute), name)
        return self.commands.get(name)

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
