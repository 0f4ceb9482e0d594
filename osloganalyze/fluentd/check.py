"""``osla fluentd check``: a rendered configuration is checked three ways.

1. ``fluentd --dry-run --strict-config-value -c FILE`` where a fluentd executable exists; an
   "is not used" warning fails too (Fluentd only warns about unknown parameters).
2. Every regexp in the file compiles in Ruby (Onigmo, what Fluentd runs).
3. On golden lines (real lines of every shape, ``fluentd/golden-lines.txt``, or any lines given),
   each regexp yields in Ruby exactly the named captures it yields in Python, and the records the
   whole chain ships (format1, then the generated osla_record plugin, run in Ruby) are the events
   osla's own parser makes of the same lines; on golden paths (``fluentd/golden-paths.txt``) the
   plugin names every service as osla does.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import schema
from ..errors import OslaError
from ..resources import data_dir
from .onigmo import group_name
from .render import RECORD_PLUGIN, REGEXPS, python_regexps, record_plugin, regexps

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


def _data_lines(name: str) -> list[str]:
    """The lines of a file of ``fluentd/``, '#' comments and blank lines left out."""
    text = (data_dir("fluentd") / name).read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line and not line.startswith("#")]


def golden_lines() -> list[str]:
    return _data_lines("golden-lines.txt")


def golden_paths() -> list[str]:
    return _data_lines("golden-paths.txt")


def _with_plugin(ruby: str, script: list[str], given: object) -> Any:
    """Run Ruby with osla's generated record plugin (its path the script's last argument), JSON in
    and out."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".rb", encoding="utf-8") as plugin:
        plugin.write(record_plugin())
        plugin.flush()
        proc = subprocess.run([ruby, *script, plugin.name], input=json.dumps(given), capture_output=True, text=True)
    if proc.returncode != 0:
        raise CheckError(f"ruby failed: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout)


def path_check(ruby: str, paths: list[str] | None = None) -> list[str]:
    """Differences between the service.name the osla_record plugin gives a path (in Ruby) and
    the one osla's parser gives it, on every layout osla names (``fluentd/golden-paths.txt``)."""
    from ..sources.naming import service_for_path

    paths = paths if paths is not None else golden_paths()
    code = 'require "json"; load ARGV[0]; puts JSON.generate(JSON.parse(STDIN.read).map { |p| OslaRecord.service_for_path(p) })'
    named = _with_plugin(ruby, ["-e", code], paths)
    return [f"service.name of {path}: Fluentd {got!r} != osla {service_for_path(path)!r}"
            for path, got in zip(paths, named) if got != service_for_path(path)]


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
    multiline = {role: flag for role, (_, flag, _) in REGEXPS.items()}
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
        if (folder / RECORD_PLUGIN).is_file():
            return str(folder / Path(RECORD_PLUGIN).parent)
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
    plugin_problems: list[str] | None = None  # the same for every file: osla's plugins on the golden lines
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
                if plugin_problems is None:
                    python = python_regexps()["firstline"]
                    starts = [line for line in lines if python_captures(python, line, False) is not None]
                    plugin_problems = field_check(starts, ruby) + path_check(ruby)
                report.problems += plugin_problems
        if fluentd:
            ok, message = dry_run(str(path), fluentd)
            report.dry_run = "passed" if ok else "failed"
            if not ok:
                report.problems.append(f"fluentd --dry-run: {message}")
        reports.append(report)
    return reports, notes


# Fields osla's parser sets that a Fluentd record cannot have: in_tail gives no byte offsets.
COMPARED_LEAVE_OUT = {schema.LOG_OFFSET}


def fluentd_records(lines: list[str], ruby: str, path: str, node: str) -> list[list[dict] | None]:
    """What a generated config ships for records (one or more lines each), emulated in Ruby step by
    step: format1 (the multiline parser, as Fluentd joins a record's lines), then the osla_record
    filter plugin itself. None where format1 does not match."""
    from ..parse import parse_text
    from ..times import event_time

    _, first = ruby_matches({"record": regexps()["record"] + "m"}, lines, ruby)
    items = []
    for line, m in zip(lines, first):
        if m["record"] is None:
            continue
        # the time Fluentd's parser gives the record (its _ts, read in the file's zone): osla's own
        events = parse_text(line.split("\n", 1)[0] + "\n", path=path, host=node)
        stamp = events[0].get(schema.TIMESTAMP) if events else None
        moment = event_time(stamp).timestamp() if stamp else 0.0
        items.append({"record": dict(m["record"], _path=path), "time": moment, "path": path})
    shipped = iter(_with_plugin(ruby, [str(data_dir("fluentd") / "record_check.rb")], {"node": node, "records": items}))
    return [[record for _, record in next(shipped)] if m["record"] is not None else None for m in first]


def field_check(lines: list[str], ruby: str, path: str = "/var/log/nova/nova-api.log", node: str = "node-1") -> list[str]:
    """Differences between the records Fluentd would ship and osla's own events, record by record
    (the same fields, the same values, the same types)."""
    from ..parse import parse_text
    from ..sources.naming import service_for_path

    problems = []
    for line, records in zip(lines, fluentd_records(lines, ruby, path, node)):
        if records is None:
            continue
        events = parse_text(line + "\n", path=path, host=node, service=service_for_path(path))
        expected = [{k: v for k, v in event.items() if k not in COMPARED_LEAVE_OUT} for event in events]
        got = [{k: v for k, v in record.items() if k != "_hash"} for record in records]
        if got != expected:
            for g, e in zip(got + [{}] * len(expected), expected + [{}] * len(got)):
                keys = sorted(k for k in set(g) | set(e) if g.get(k) != e.get(k) or type(g.get(k)) is not type(e.get(k)))
                if keys:
                    problems.append(f"fields on {line[:90]!r}: " + "; ".join(
                        f"{k}: Fluentd {g.get(k)!r} != osla {e.get(k)!r}" for k in keys[:4]))
                    break
            else:
                problems.append(f"on {line[:90]!r}: Fluentd ships {len(got)} records, osla makes {len(expected)}")
    return problems
