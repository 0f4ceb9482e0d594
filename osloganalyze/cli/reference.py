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
    out += ["", *vocabulary()]
    for path, command in commands():
        out += ["", f"## {path}", "", "```text", help_text(path, command).rstrip(), "```"]
    return "\n".join(out) + "\n"


# what an option means on every command that has it, where each command's help says it its own way
SHARED_MEANINGS = {
    "--json": "output for scripts: JSON instead of text (each command's help says its shape)",
    "--prefix": "index prefix on the server: indices PREFIX-YYYY.MM.DD",
    "--html": "also write a self-contained HTML page to FILE",
}


def vocabulary() -> list[str]:
    """The options several commands share, with what each means on each, and the former names
    that still work: one word, one meaning, across commands."""
    uses: dict[str, list[tuple[str, str]]] = {}
    former: list[tuple[str, str, str]] = []
    for path, command in commands():
        if isinstance(command, click.Group):
            continue
        by_name = {param.name: param for param in command.params}
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            if param.hidden:
                new = by_name.get((param.name or "").removesuffix("_former"))
                if new is not None and new is not param:
                    now = f"`{new.opts[0]}`" if isinstance(new, click.Option) else f"a `{new.human_readable_name}` argument"
                    former.append((param.opts[0], now, path))
                continue
            meaning = (param.help or "").split(". ")[0].rstrip(".")
            uses.setdefault(" / ".join(f"`{name}`" for name in param.opts), []).append((path, meaning))
    out = ["## Options shared by several commands", "",
           "| option | commands | meaning |", "|---|---|---|"]
    for name in sorted(uses):
        if len(uses[name]) < 2 or name.startswith("`--help`"):
            continue
        first = name.split(" / ")[0].strip("`")
        meaning = SHARED_MEANINGS.get(first) or min((m for _, m in uses[name] if m), key=len, default="")
        paths = ", ".join(f"`{path.removeprefix('osla ')}`" for path, _ in uses[name])
        out.append(f"| {name} | {paths} | {meaning} |")
    out += ["", "Former names, still taken with a note until osla 0.3:", ""]
    out += [f"- `{path} {old}` is now {now}" for old, now, path in sorted(former)]
    return out


def options_of(path: str) -> set[str]:
    """Every option name (long and short) of the command at ``path`` ('osla scan')."""
    for found, command in commands():
        if found == path:
            return {name for param in command.params if isinstance(param, click.Option)
                    for name in (*param.opts, *param.secondary_opts)} | {"--help", "-h"}
    raise KeyError(path)


if __name__ == "__main__":
    print(reference(), end="")
