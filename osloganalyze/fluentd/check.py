"""``osla fluentd check``: a rendered configuration is checked three ways.

1. ``fluentd --dry-run --strict-config-value -c FILE`` where a fluentd executable exists; an
   "is not used" warning fails too (Fluentd only warns about unknown parameters).
2. Every regexp in the file compiles in Ruby (Onigmo, what Fluentd runs).
3. On golden lines (real lines of every shape, ``fluentd/golden-lines.txt``, or any lines given),
   each regexp yields in Ruby exactly the named captures it yields in Python, and the record the
   whole chain ships (format1, parser filter, record_transformer, evaluated in Ruby as Fluentd
   evaluates them) has the fields osla's own parser gives the same line.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .. import schema
from ..errors import OslaError
from ..resources import data_dir
from .onigmo import group_name
from .render import REGEXPS, SCRUB_PLUGIN, field_expressions, python_regexps, regexps

_REGEXP_LINE = re.compile(r"^\s*(format_firstline|format\d+|expression)\s+(/.*/[imx]*)\s*$", re.M)


class CheckError(OslaError):
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
    literals = literals or regexps()
    python = python_regexps()
    multiline = {role: flag for role, (_, flag) in REGEXPS.items()}
    # compiled as Fluentd compiles them: the multiline parser's formats with Regexp::MULTILINE
    errors, matches = ruby_matches({role: literal + ("m" if multiline.get(role) else "")
                                    for role, literal in literals.items()}, lines, ruby)
    problems = [f"regexp {name} does not compile in Ruby: {message}" for name, message in errors.items()]
    for line, found in zip(lines, matches):
        for role, ruby_result in found.items():
            expected = python_captures(python[role], line, multiline.get(role, False))
            if ruby_result != expected:
                problems.append(f"{role} on {line[:100]!r}: Ruby {ruby_result} != Python {expected}")
    return problems


def plugin_dir(config: str) -> str | None:
    """The plugin folder osla rendered beside a config (its own folder or the one above)."""
    for folder in (Path(config).parent, Path(config).parent.parent):
        if (folder / SCRUB_PLUGIN).is_file():
            return str(folder / Path(SCRUB_PLUGIN).parent)
    return None


def dry_run(path: str, fluentd: str) -> tuple[bool, str]:
    """fluentd --dry-run on one config (with osla's plugin folder); any warning fails it too."""
    plugins = plugin_dir(path)
    command = [fluentd, "--dry-run", "--strict-config-value", "-c", path] + (["-p", plugins] if plugins else [])
    proc = subprocess.run(command, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    unused = [line for line in output.splitlines() if "is not used" in line or "[warn]:" in line]
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
    roles = {literal: role for role, literal in regexps().items()}
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
            if "record" in literals:  # and the fields the whole chain ships, record starts only
                python = python_regexps()["firstline"]
                starts = [line for line in lines if python_captures(python, line, False) is not None]
                report.problems += field_check(starts, ruby)
        if fluentd:
            ok, message = dry_run(str(path), fluentd)
            report.dry_run = "passed" if ok else "failed"
            if not ok:
                report.problems.append(f"fluentd --dry-run: {message}")
        reports.append(report)
    return reports, notes


# Fields a Fluentd record and osla's Python parser both set and must agree on for one line
# (the time, the raw text and the file offset are set differently by design: Fluentd keeps the
# event time, has no byte offsets and no event.original).
COMPARED_LEAVE_OUT = {schema.TIMESTAMP, schema.EVENT_ORIGINAL, schema.LOG_OFFSET, schema.LOG_FILE_PATH, schema.TAGS}


def fluentd_records(lines: list[str], ruby: str, path: str, node: str) -> list[dict | None]:
    """What a generated config makes of single-line records, emulated step by step in Ruby:
    format1 (multiline parser), the request-line parser filter, then the
    record_transformer. None where format1 does not match."""
    literal = regexps()
    _, first = ruby_matches({"record": literal["record"] + "m"}, lines, ruby)
    records = []
    for m in first:
        records.append(None if m["record"] is None else dict(m["record"], _path=path))
    for role in ("oslo_access",):  # the parser filter on the message (request lines)
        messages = [r.get("message", "") if r else "" for r in records]
        _, parsed = ruby_matches({role: literal[role]}, messages, ruby)
        for record, m in zip(records, parsed):
            if record is not None and m[role] is not None:
                record.update(m[role])  # reserve_data: parsed keys over the record's
    present = [r for r in records if r is not None]
    fields = field_expressions(node)
    script = data_dir("fluentd") / "record_check.rb"
    proc = subprocess.run([ruby, str(script)], input=json.dumps({"fields": fields, "records": present}),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise CheckError(f"ruby failed: {proc.stderr.strip()[-300:]}")
    transformed = iter(json.loads(proc.stdout))
    return [next(transformed) if r is not None else None for r in records]


def field_check(lines: list[str], ruby: str, path: str = "/var/log/nova/nova-api.log", node: str = "node-1") -> list[str]:
    """Differences between the fields Fluentd would ship and osla's Python parser, line by line."""
    from ..parse import parse_text
    from ..sources.naming import service_for_path

    problems = []
    for line, record in zip(lines, fluentd_records(lines, ruby, path, node)):
        if record is None:
            continue
        events = parse_text(line + "\n", path=path, host=node, service=service_for_path(path))
        expected = {k: v for k, v in (events[0] if events else {}).items() if k not in COMPARED_LEAVE_OUT}
        got = {k: v for k, v in record.items() if v is not None and k not in COMPARED_LEAVE_OUT}
        if {k: str(v) for k, v in got.items()} != {k: str(v) for k, v in expected.items()}:
            keys = sorted(k for k in set(got) | set(expected) if str(got.get(k)) != str(expected.get(k)))
            problems.append(f"fields on {line[:90]!r}: " + "; ".join(
                f"{k}: Fluentd {got.get(k)!r} != osla {expected.get(k)!r}" for k in keys[:4]))
    return problems
