"""The CLI reference is generated from --help and current; every --help has an example; the
README's usage lines name only options their command has."""
import re
from pathlib import Path

import pytest

from osloganalyze.cli.reference import commands, help_text, options_of, reference

ROOT = Path(__file__).resolve().parents[1]


def test_the_cli_reference_is_current():
    assert (ROOT / "docs" / "cli.md").read_text() == reference(), \
        "docs/cli.md is stale: python -m osloganalyze.cli.reference > docs/cli.md"


@pytest.mark.parametrize("path", [path for path, _ in commands()])
def test_every_help_has_an_example(path):
    command = dict(commands())[path]
    text = help_text(path, command)
    assert "Example" in text, path
    examples = text.split("Example", 1)[1]
    assert "osla " in examples, path


def _usage_lines(text: str) -> list[str]:
    """Lines of the README's code blocks that run osla (prompts and scripts/ wrappers included)."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside and re.search(r"(?:^|[\s/$])osla [a-z]", line.split(" #", 1)[0]) \
                and not line.lstrip().startswith("#"):
            lines.append(line.split(" #", 1)[0])
    return lines


def _problems(line: str, known: dict[str, set[str]]) -> list[str]:
    tokens = re.split(r"(?:^|[\s/$])osla ", line, maxsplit=1)[1].split("#", 1)[0].split("|", 1)[0].split()
    path = "osla"
    for token in tokens:
        if f"{path} {token}" in known:
            path = f"{path} {token}"
        else:
            break
    if path == "osla" and tokens and not tokens[0].startswith("-"):
        return []  # prose: 'osla does ...'
    options = [t.split("=", 1)[0].strip("[]().,`") for t in tokens if re.match(r"\[?--?[a-z]", t)]
    return [f"{path}: {o} in {line.strip()!r}" for o in options if o not in known[path]]


def test_readme_usage_lines_name_only_real_options():
    known = {path: options_of(path) for path, _ in commands()}
    problems = [p for line in _usage_lines((ROOT / "README.md").read_text()) for p in _problems(line, known)]
    assert problems == []


def test_the_usage_check_catches_a_stale_option():
    stale = "```\n$ osla scan /var/log --since 24h --colour\n```\n"
    known = {path: options_of(path) for path, _ in commands()}
    assert [p.split(" in ")[0] for line in _usage_lines(stale) for p in _problems(line, known)] == \
        ["osla scan: --colour"]
