"""``osla fluentd check``: a rendered configuration is checked three ways.

1. ``fluentd --dry-run --strict-config-value -c FILE`` where a fluentd executable exists; an
   "is not used" warning fails too (Fluentd only warns about unknown parameters).
2. Every regexp in the file compiles in Ruby (Onigmo, what Fluentd runs).
3. On golden lines (real lines of every shape, ``fluentd/golden-lines.txt``, or any lines given),
   each regexp yields in Ruby exactly the named captures it yields in Python, osla's own parser.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..resources import data_dir
from .onigmo import group_name
from .render import REGEXPS, python_regexps

_REGEXP_LINE = re.compile(r"^\s*(format_firstline|format\d+|expression)\s+(/.*/[imx]*)\s*$", re.M)


class CheckError(Exception):
    """A check that could not run (no Ruby, unreadable file)."""


@dataclass
class FileReport:
    path: str
    regexps: int = 0
    dry_run: str = "not run"  # passed | failed | not run
    problems: list[str] = field(default_factory=list)


def regexps_in(text: str) -> list[tuple[str, str]]:
    """(directive, literal) of every regexp a configuration holds."""
    return _REGEXP_LINE.findall(text)


def golden_lines() -> list[str]:
    text = (data_dir("fluentd") / "golden-lines.txt").read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line and not line.startswith("#")]


def python_captures(alternatives: list[str], line: str, multiline: bool) -> dict | None:
    for regex in alternatives:
        m = re.match(regex, line, re.DOTALL if multiline else 0)
        if m is not None:
            break
    else:
        return None
    merged: dict[str, str] = {}
    for name, value in m.groupdict().items():
        if value is not None:
            merged.setdefault(group_name(name), value)
    return merged


def ruby_matches(literals: dict[str, str], lines: list[str], ruby: str) -> tuple[dict, list[dict]]:
    script = data_dir("fluentd") / "regexp_check.rb"
    proc = subprocess.run([ruby, str(script)], input=json.dumps({"regexps": literals, "lines": lines}),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise CheckError(f"ruby failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    answer = json.loads(proc.stdout)
    return answer["errors"], answer["matches"]


def cross_check(lines: list[str], ruby: str, literals: dict[str, str] | None = None) -> list[str]:
    """Differences between Ruby and Python on ``lines`` (empty: they agree), for the configs'
    regexps (or the ``literals`` read from a file, matched to the roles they stand for)."""
    from .render import regexps

    literals = literals or regexps()
    python = python_regexps()
    multiline = {role: flag for role, (_, flag) in REGEXPS.items()}
    errors, matches = ruby_matches(literals, lines, ruby)
    problems = [f"regexp {name} does not compile in Ruby: {message}" for name, message in errors.items()]
    for line, found in zip(lines, matches):
        for role, ruby_result in found.items():
            expected = python_captures(python[role], line, multiline.get(role, False))
            if ruby_result != expected:
                problems.append(f"{role} on {line[:100]!r}: Ruby {ruby_result} != Python {expected}")
    return problems


def dry_run(path: str, fluentd: str) -> tuple[bool, str]:
    proc = subprocess.run([fluentd, "--dry-run", "--strict-config-value", "-c", path], capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    unused = [line for line in output.splitlines() if "is not used" in line]
    if proc.returncode != 0:
        errors = [line for line in output.splitlines() if "error" in line.lower()] or output.splitlines()[-1:]
        return False, errors[0].strip() if errors else f"exit {proc.returncode}"
    if unused:
        return False, unused[0].strip()
    return True, "passed"


def check_dir(directory: str, fluentd: str | None = None, ruby: str | None = None,
              lines: list[str] | None = None) -> tuple[list[FileReport], list[str]]:
    """Reports per file, and notes on what could not be checked here."""
    fluentd = fluentd or shutil.which("fluentd")
    ruby = ruby or shutil.which("ruby")
    files = sorted(Path(directory).rglob("*.conf")) if Path(directory).is_dir() else [Path(directory)]
    if not files:
        raise CheckError(f"{directory}: no .conf files")
    notes = []
    if fluentd is None:
        notes.append("no fluentd executable here: dry-run not run (install fluent-package 5 and run "
                     "`osla fluentd check DIR` there, or give --fluentd PATH)")
    if ruby is None:
        notes.append("no ruby here: regexps not checked in Onigmo (apt install ruby)")
    roles = {literal: role for role, literal in _role_literals().items()}
    lines = lines if lines is not None else golden_lines()
    reports = []
    for path in files:
        report = FileReport(str(path))
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CheckError(f"{path}: {exc.strerror or exc}") from None
        found = regexps_in(text)
        report.regexps = len(found)
        unknown = [literal for _, literal in found if literal not in roles]
        report.problems += [f"regexp not generated by this osla (edited by hand?): {u[:80]}" for u in unknown]
        if ruby and found:
            literals = {roles[literal]: literal for _, literal in found if literal in roles}
            report.problems += cross_check(lines, ruby, literals) if literals else []
        if fluentd:
            ok, message = dry_run(str(path), fluentd)
            report.dry_run = "passed" if ok else "failed"
            if not ok:
                report.problems.append(f"fluentd --dry-run: {message}")
        reports.append(report)
    return reports, notes


def _role_literals() -> dict[str, str]:
    from .render import regexps
    return regexps()
