"""The CLI reference (docs/cli.md), made from every command's ``--help``.

    python -m osloganalyze.cli.reference > docs/cli.md

A test checks that docs/cli.md is what this prints, and that the README's usage lines name
only options that exist."""
from __future__ import annotations

import click

from . import main

WIDTH = 100


def commands(group: click.Group = main, path: tuple[str, ...] = ("osla",)) -> list[tuple[str, click.Command]]:
    """(command path, command) of osla and every subcommand, depth first, in name order."""
    found: list[tuple[str, click.Command]] = [(" ".join(path), group)]
    context = click.Context(group, info_name=path[-1])
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            found += commands(command, (*path, name))
        else:
            found.append((" ".join((*path, name)), command))
    return found


def help_text(path: str, command: click.Command) -> str:
    parts = path.split()
    context = None
    for part in parts:
        settings = dict(main.context_settings, max_content_width=WIDTH, terminal_width=WIDTH)
        context = click.Context(command if part == parts[-1] else main, info_name=part, parent=context, **settings)
    assert context is not None
    return command.get_help(context)


def reference() -> str:
    out = ["# osla command reference", "",
           "Made from `--help` by `python -m osloganalyze.cli.reference > docs/cli.md`; "
           "a test fails when it is not current.", ""]
    for path, _ in commands():
        out.append(f"- [`{path}`](#{path.replace(' ', '-')})")
    for path, command in commands():
        out += ["", f"## {path}", "", "```text", help_text(path, command).rstrip(), "```"]
    return "\n".join(out) + "\n"


def options_of(path: str) -> set[str]:
    """Every option name (long and short) of the command at ``path`` ('osla scan')."""
    for found, command in commands():
        if found == path:
            return {name for param in command.params if isinstance(param, click.Option)
                    for name in (*param.opts, *param.secondary_opts)} | {"--help", "-h"}
    raise KeyError(path)


if __name__ == "__main__":
    print(reference(), end="")
