"""Render Fluentd configurations from an inventory: the jinja2 templates in ``fluentd/``, the
regexps from ``parsers/`` (via :mod:`.onigmo`), the field names from :mod:`osloganalyze.schema`.

``sidecar`` mode writes one file per component and node (``<out>/<node>/<component>.conf``, for a
per-service container) plus ``<node>/osla-forward.conf`` when the forward input is on; ``host``
mode writes one file per node (``<out>/<node>.conf``). Files are written 0600.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import jinja2

from .. import __version__, schema
from ..patterns import PatternLibrary
from ..resources import data_dir
from ..times import fluentd_zone
from .inventory import Inventory, InventoryError
from .onigmo import group_name, to_ruby

STATE_DIR = "/var/lib/fluentd"
# The grok patterns the configs use, by role, and whether Fluentd matches them with
# Regexp::MULTILINE ('.' across newlines: the multiline parser's formatN on a joined record).
REGEXPS = {
    "firstline": ("OSLO_FIRST_LINE", False),
    "record": ("OSLO_LINE", True),
    "apache_access": ("APACHE_ACCESS_LINE", False),
    "uwsgi_access": ("UWSGI_ACCESS_LINE", False),
    "debug_suffix": ("DEBUG_SUFFIX", False),  # applied to the message: ' func /path/file.py:NNN'
}
ACCESS_IN_MESSAGE = ("ACCESS_STATUS_FORMAT", "ACCESS_EVENTLET_FORMAT")
ACCESS_GLOBS = ("*access*.log",)
UWSGI_GLOBS = ("*uwsgi*.log",)
# oslo.log's exception prefix (old TRACE or ERROR, optional instance) before a traceback line
_PREFIX = r"(?:\S+ \S+(?: \d+)? (?:TRACE|ERROR|CRITICAL) \S+ (?:\[instance: [0-9a-f-]+\] )?)?"
# a traceback starts a line of the joined record (Ruby's ^ is a line anchor)
TRACEBACK_START = "/^" + _PREFIX + r"Traceback \(most recent call last\):/"


def regexps(library: PatternLibrary | None = None) -> dict[str, str]:
    """Every regexp of the configs, as the Ruby literals written into them."""
    library = library or PatternLibrary()
    found = {role: to_ruby(library.expand(name)) for role, (name, _) in REGEXPS.items()}
    alternatives = "|".join(f"(?:{library.expand(name)})" for name in ACCESS_IN_MESSAGE)
    found["oslo_access"] = to_ruby(alternatives)
    return found


def python_regexps(library: PatternLibrary | None = None) -> dict[str, list[str]]:
    """The same regexps as Python sees them (for the cross-check): alternatives are kept apart,
    since Python refuses a group name twice; the first that matches is the alternation's match."""
    library = library or PatternLibrary()
    found = {role: [library.expand(name)] for role, (name, _) in REGEXPS.items()}
    found["oslo_access"] = [library.expand(name) for name in ACCESS_IN_MESSAGE]
    return found


def _captures(library: PatternLibrary) -> list[str]:
    names = []
    for role, (name, _) in REGEXPS.items():
        if role != "debug_suffix":  # read inside the record_transformer, see field_expressions
            names += library.captures(name)
    for name in ACCESS_IN_MESSAGE:
        names += library.captures(name)
    return sorted({group_name(c) for c in names})


def _ruby_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Ruby double-quoted string here


def field_expressions(node: str, library: PatternLibrary | None = None) -> list[tuple[str, str]]:
    """(schema field, record_transformer expression) for every field the configs' captures fill.
    As in osla's parser, only DEBUG records have their origin suffix (' function /path/file.py:NNN')
    taken off the message into log.origin.*, with the DEBUG_SUFFIX pattern."""
    library = library or PatternLibrary()
    captures = _captures(library)
    # no '}' may appear inside ${...}: Fluentd finds placeholders with /\$\{([^}]+)\}/
    suffix = to_ruby(library.expand("DEBUG_SUFFIX"))
    debug = 'record["log_level"].to_s.upcase == "DEBUG"'
    aliases, canonical = " ".join(schema.LEVEL_ALIASES), " ".join(schema.LEVEL_ALIASES.values())
    out: list[tuple[str, str]] = []
    for capture in captures:
        if capture.startswith("_"):
            continue
        field = schema.field_for_capture(capture)
        if field is None:
            continue
        value = f'record["{capture}"]'
        if field == schema.LOG_LEVEL:
            expression = (f"${{(l = {value}) && (u = l.to_s.upcase) && ((i = %w[{aliases}].index(u)) ? "
                          f"%w[{canonical}][i] : u)}}")
        elif field in schema.CONTEXT_FIELDS:
            expression = f'${{(v = {value}) && !["-", "None", ""].include?(v) ? v : nil}}'
        elif field == schema.MESSAGE:
            expression = (f"${{v = {value}.to_s; v = (i = v.index({TRACEBACK_START})) ? v[0...i].rstrip : v; "
                          f"{debug} && (m = v.match({suffix})) ? m[\"message\"] : v}}")
        else:
            expression = f"${{{value}}}"
        out.append((field, expression))
    for field in (schema.LOG_ORIGIN_FUNCTION, schema.LOG_ORIGIN_FILE_NAME, schema.LOG_ORIGIN_FILE_LINE):
        group = field.replace(".", "_")
        out.append((field, f'${{{debug} && (m = record["message"].to_s.match({suffix})) ? m["{group}"] : nil}}'))
    stack = f'(v = record["message"].to_s) && (i = v.index({TRACEBACK_START})) ? v[i..-1].gsub(/^{_PREFIX}/, "") : nil'
    last = r'.split("\n").map(&:strip).reject(&:empty?).last.to_s.match(/\A([A-Za-z_][\w.]*)(?::\s*(.*))?\z/)'
    # no traceback: oslo's error_summary (': module.Class: text') on WARNING+ records, on the
    # message's last line or else its first, as osla's parser reads it
    summary_re = to_ruby(library.expand("ERROR_SUMMARY"))
    levels = " ".join(schema.SUMMARY_LEVELS)
    summary = (f'%w[{levels}].include?(record["log_level"].to_s.upcase) && (w = record["message"].to_s.split("\\n")) '
               f'&& (m = w.last.to_s.match({summary_re}) || w.first.to_s.match({summary_re}))')
    out += [
        (schema.ERROR_STACK_TRACE, "${" + stack + "}"),
        (schema.ERROR_TYPE, "${(t = (" + stack + ")) ? ((m = t" + last + ") ? m[1] : nil) : (" + summary
         + ' ? m["error_type"] : nil)}'),
        (schema.ERROR_MESSAGE, "${(t = (" + stack + ")) ? ((m = t" + last + ") ? m[2] : nil) : (" + summary
         + ' ? m["error_message"] : nil)}'),
        (schema.SOURCE_ADDRESS, '${record["_client"]}'),
        (schema.SOURCE_IP, r'${(a = record["_client"].to_s.split(",").first.to_s.strip) =~ '
                           r'/\A\d+\.\d+\.\d+\.\d+\z|\A[0-9a-fA-F:]*:[0-9a-fA-F:]*\z/ ? a : nil}'),
        (schema.EVENT_DURATION, '${(v = record["_duration_s"]) ? (v.to_f * 1e9).round : (v = record["_duration_ms"]) ? '
                                '(v.to_f * 1e6).round : (v = record["_duration_us"]) ? (v.to_f * 1e3).round : nil}'),
        (schema.HOST_NAME, node),
        (schema.SERVICE_NAME, r'${File.basename(record["_path"].to_s).sub(/\.log(?:\.\d+)?\z/, "")}'),
        (schema.LOG_FILE_PATH, '${record["_path"]}'),
    ]
    check_placeholders(out)
    return out


def check_placeholders(fields: list[tuple[str, str]]) -> None:
    """Fail early if an expression could not be read back as one Fluentd placeholder."""
    for name, expression in fields:
        if expression.startswith("${") and "}" in expression[2:-1]:
            raise ValueError(f"the expression for {name} holds a '}}' Fluentd would cut at: {expression}")


def units(inventory: Inventory, mode: str) -> list[dict]:
    """What each file holds: (file name, node, components, forward?)."""
    out = []
    for node in inventory.nodes:
        if mode == "host":
            out.append({"file": f"{node.name}.conf", "node": node.name, "components": list(node.components),
                        "forward": inventory.forward["enabled"], "unit": "all components", "unit_id": "host"})
            continue
        for component in node.components:
            out.append({"file": f"{node.name}/{component}.conf", "node": node.name, "components": [component],
                        "forward": False, "unit": f"component {component} (sidecar)", "unit_id": component})
        if inventory.forward["enabled"]:
            out.append({"file": f"{node.name}/osla-forward.conf", "node": node.name, "components": [],
                        "forward": True, "unit": "osla's forward input (sidecar)", "unit_id": "osla-forward"})
    return out


def _component(name: str, roots: tuple[str, ...]) -> dict:
    def globs(patterns):
        return [os.path.join(root, name, pattern) for root in roots for pattern in patterns]
    access, uwsgi = globs(ACCESS_GLOBS), globs(UWSGI_GLOBS)
    return {"name": name, "paths": globs(("*.log",)), "excluded": access + uwsgi, "access_paths": access,
            "uwsgi_paths": uwsgi}


def render(inventory: Inventory, mode: str = "sidecar") -> dict[str, str]:
    """File name -> configuration text."""
    if mode not in ("sidecar", "host"):
        raise ValueError("mode must be sidecar or host")
    library = PatternLibrary()
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("fluentd"))),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                     trim_blocks=True, lstrip_blocks=True, autoescape=False)
    template = environment.get_template("fluentd.conf.j2")
    captures = _captures(library)
    ruby = regexps(library)
    files = {}
    for unit in units(inventory, mode):
        files[unit["file"]] = template.render(
            version=__version__, source=inventory.source, node=unit["node"], unit=unit["unit"],
            unit_id=unit["unit_id"], patterns=", ".join(name for name, _ in REGEXPS.values()),
            backend=asdict(inventory.backend), components=[_component(c, inventory.log_roots)
                                                            for c in unit["components"]],
            forward=dict(inventory.forward, enabled=unit["forward"]), regex=ruby,
            timezone=fluentd_zone(inventory.timezone),
            state_dir=STATE_DIR, buffer=inventory.buffer, index_prefix=inventory.index_prefix,
            fields=field_expressions(unit["node"], library),
            captures=[c for c in captures if c != schema.MESSAGE] + ["_path"], scrub=not inventory.keep_secrets,
        )
    if not inventory.keep_secrets:
        files[SCRUB_PLUGIN] = environment.get_template("filter_osla_scrub.rb.j2").render(
            version=__version__, secrets=scrub_regexps(), keys=json.dumps(list(schema.TEXT_FIELDS)))
    return files


SCRUB_PLUGIN = "plugin/filter_osla_scrub.rb"


def scrub_regexps() -> list[tuple[str, str]]:
    """(Ruby regexp literal, Ruby array of trigger words) of every form in parsers/secrets.yaml."""
    from ..redact import definitions

    return [(to_ruby(pattern), json.dumps(list(triggers))) for pattern, triggers in definitions()]


def write(files: dict[str, str], out: str) -> list[str]:
    """Write the files 0600 (they name hosts and secret sources); returns their paths."""
    written = []
    base = Path(out).resolve()
    for name, text in sorted(files.items()):
        path = (base / name).resolve()
        if not path.is_relative_to(base):
            raise InventoryError(f"{name}: would be written outside {out}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(path, 0o600)
        written.append(str(path))
    return written
