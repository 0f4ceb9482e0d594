"""The ``osla`` command line: a thin click layer over the library."""
from __future__ import annotations

import click

from .. import __version__
from .parse import parse_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="osla")
def main():
    """osla - OpenStack log analysis: parse, judge and explain oslo.log logs.

    \b
    Example:
      osla parse /var/log/nova/ > events.jsonl
    """


main.add_command(parse_command)
