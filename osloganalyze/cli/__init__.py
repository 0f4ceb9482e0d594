"""The ``osla`` command line: a thin click layer over the library."""
from __future__ import annotations

import errno
import importlib
import logging
import os
import sys

import click

from .. import __version__
from ..errors import OslaError
from ..output import printable

log = logging.getLogger("osla")

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
    """The one error path: an :class:`~osloganalyze.errors.OslaError` (or a usage error) is one
    line on stderr, ``osla: error: ...``, exit status 2; any other exception is a bug in osla,
    shown as ``osla: internal error: ...`` (its traceback with --debug). Subcommands are
    imported on first use (a triage starts sooner than with all loaded)."""

    def list_commands(self, ctx):
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx, name):
        if name not in self.commands and name in COMMANDS:
            module, attribute = COMMANDS[name]
            self.add_command(getattr(importlib.import_module(f".{module}", __name__), attribute), name)
        return self.commands.get(name)

    def main(self, *args, **kwargs):
        code = self._status(*args, **kwargs)
        try:  # what is still buffered: a full disk or a closed pipe shows here, not as an ignored exception
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
        except OSError as exc:
            code = _output_failed(exc)
        sys.exit(code)

    def _status(self, *args, **kwargs) -> int:
        """Run the command; its exit status, every failure said in one line."""
        kwargs["standalone_mode"] = False
        try:
            super().main(*args, **kwargs)
            return 0
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("osla: aborted", err=True)
            return 130
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"osla: error: {printable(exc.format_message())}{hint}", err=True)
            return 2
        except click.ClickException as exc:
            click.echo(f"osla: error: {printable(exc.format_message())}", err=True)
            return exc.exit_code if exc.exit_code != 1 else 2
        except OslaError as exc:
            log.debug("%s", _traceback(exc))
            click.echo(f"osla: error: {printable(str(exc))}", err=True)
            return exc.exit_code
        except BrokenPipeError:
            _quiet_stdout()  # the reader went away (| head): not an error
            return 0
        except OSError as exc:
            if exc.errno in _OUTPUT_ERRORS:  # stdout on a full disk (files osla writes say their name)
                return _output_failed(exc)
            return _internal(exc)
        except Exception as exc:  # noqa: BLE001 - every other exception is a bug in osla
            return _internal(exc)


_OUTPUT_ERRORS = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG}


def _output_failed(exc: OSError) -> int:
    _quiet_stdout()
    click.echo(f"osla: error: cannot write the output: {exc.strerror or exc}", err=True)
    return 2


def _internal(exc: BaseException) -> int:
    if _DEBUG:
        click.echo(_traceback(exc), err=True, nl=False)
    click.echo(f"osla: internal error: {type(exc).__name__}: {printable(_secret_free(str(exc)))[:500]} "
               f"(a bug in osla; run again with --debug for the traceback)", err=True)
    return 2


_DEBUG = False


def _traceback(exc: BaseException) -> str:
    import traceback

    return _secret_free("".join(traceback.format_exception(exc)))


def _secret_free(text: str) -> str:
    from ..redact import redact

    return redact(text) or ""


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class _Stderr(logging.Handler):
    """osla's log lines on the stderr of the moment, secrets redacted."""

    def emit(self, record: logging.LogRecord) -> None:
        level = "debug" if record.levelno <= logging.DEBUG else record.levelname.lower()
        click.echo(f"osla: {level}: {record.relativeCreated:6.0f} ms {_secret_free(record.getMessage())}", err=True)


def _configure_logging(debug: bool) -> None:
    global _DEBUG
    _DEBUG = debug
    logger = logging.getLogger("osla")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        logger.addHandler(_Stderr())
        logger.propagate = False
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)


@click.group("osla", cls=OslaGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="osla")
@click.option("--debug", is_flag=True, help="Log what osla does on stderr: files read, server round trips and their "
                                            "times, phase timings; tracebacks of internal errors (secrets are never "
                                            "printed).")
@click.pass_context
def main(ctx, debug):
    """osla - OpenStack log analysis: parse, judge and explain oslo.log logs.

    \b
    Example:
      osla parse /var/log/nova/ > events.jsonl
      osla --debug triage req-... /var/log
    """
    _configure_logging(debug)
