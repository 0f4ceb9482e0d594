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

# The grok patterns the configs use, by role: (pattern, whether Fluentd matches it with
# Regexp::MULTILINE ('.' across newlines: the multiline parser's formatN on a joined record),
# whether the whole match is kept as ``_raw``, the record as logged: event.original).
REGEXPS = {
    "firstline": ("OSLO_FIRST_LINE", False, False),
    "record": ("OSLO_LINE", True, True),
    "apache_access": ("APACHE_ACCESS_LINE", False, True),
    "uwsgi_access": ("UWSGI_ACCESS_LINE", False, True),
}
ACCESS_IN_MESSAGE = ("ACCESS_STATUS_FORMAT", "ACCESS_EVENTLET_FORMAT")
ACCESS_GLOBS = ("*access*.log",)
UWSGI_GLOBS = ("*uwsgi*.log",)
RAW = "_raw"


def _expanded(role: str, library: PatternLibrary, python: bool) -> str:
    name, multiline, whole = REGEXPS[role]
    if not whole:
        return library.expand(name)
    if multiline:
        return ("(?P<" if python else "(?<") + RAW + ">" + library.expand(name) + ")"
    # an access log's line: the request's fields where it is one (the pattern may stop before the
    # line does: uwsgi's '... (HTTP/1.1 200) 9 headers in ...'), else the line alone, which the
    # osla_record filter ships tagged 'unmatched' (in_tail warns for each line no pattern matches)
    return ("(?P<" if python else "(?<") + RAW + ">(?:" + library.expand(name) + ")?.*)"


def regexps(library: PatternLibrary | None = None) -> dict[str, str]:
    """Every regexp of the configs, as the Ruby literals written into them."""
    library = library or PatternLibrary()
    return {role: to_ruby(_expanded(role, library, False)) for role in REGEXPS}


def python_regexps(library: PatternLibrary | None = None) -> dict[str, list[str]]:
    """The same regexps as Python sees them (for the cross-check), as lists of alternatives (the
    first that matches is the alternation's match)."""
    library = library or PatternLibrary()
    return {role: [_expanded(role, library, True)] for role in REGEXPS}


# every schema field the osla_record filter names, by the key it uses for it
PLUGIN_FIELDS = {
    "timestamp": schema.TIMESTAMP, "host": schema.HOST_NAME, "service": schema.SERVICE_NAME,
    "path": schema.LOG_FILE_PATH, "message": schema.MESSAGE, "original": schema.EVENT_ORIGINAL,
    "level": schema.LOG_LEVEL, "logger": schema.LOG_LOGGER, "pid": schema.PROCESS_PID,
    "stack_trace": schema.ERROR_STACK_TRACE, "error_type": schema.ERROR_TYPE, "error_message": schema.ERROR_MESSAGE,
    "tags": schema.TAGS, "duration": schema.EVENT_DURATION, "source_address": schema.SOURCE_ADDRESS,
    "source_ip": schema.SOURCE_IP,
}
# the patterns whose captures the filter converts
_CONVERTED = ("OSLO_LINE", "DEBUG_ORIGIN", "DEVSTACK_DEBUG_SUFFIX", "APACHE_ACCESS_LINE", "UWSGI_ACCESS_LINE",
              *ACCESS_IN_MESSAGE)


def record_plugin(library: PatternLibrary | None = None) -> str:
    """The osla_record filter plugin (Ruby): the parsers' captures -> osla's event schema, compiled
    once at load (a record_transformer re-evaluated ~35 expressions from text per record)."""
    from ..parse import lines, records, tracebacks
    from ..sources import naming

    library = library or PatternLibrary()
    captures = sorted({group_name(c) for name in _CONVERTED for c in library.captures(name)})
    plan = [(c, field, lines.conversion(field)) for c in captures
            if (field := schema.field_for_capture(c)) is not None]
    given = {**{level: level for level in schema.LEVELS}, **schema.LEVEL_ALIASES}
    oslo = {group_name(c) for c in library.captures("OSLO_LINE")}
    head = [step for step in plan if step[0] in oslo and step[2] != "ctx" and step[1] != schema.MESSAGE]
    context = [step for step in plan if step[0] in oslo and step[2] == "ctx"]
    regex = {
        "oslo_line": to_ruby(library.expand("OSLO_LINE")),
        "debug_origin": _at_position(to_ruby(library.expand("DEBUG_ORIGIN"))),
        "devstack_debug_suffix": to_ruby(library.expand("DEVSTACK_DEBUG_SUFFIX")),
        "error_summary": to_ruby(library.expand("ERROR_SUMMARY")),
        "access_in_message": [to_ruby(library.expand(name)) for name in ACCESS_IN_MESSAGE],
        "ansi": to_ruby(lines._ANSI.pattern), "ipv4": to_ruby(lines._IPV4.pattern),
        "traceback_start": to_ruby(r"\A" + tracebacks._STARTS.pattern),
        "exception_line": to_ruby(tracebacks._EXCEPTION_LINE.pattern),
        "compression": to_ruby(naming._SUFFIXES.pattern), "rotation": to_ruby(naming._ROTATION.pattern),
    }
    tables = naming._tables()
    return _environment().get_template("filter_osla_record.rb.j2").render(
        version=__version__, captures=plan, head_captures=head, context_captures=context, fields=sorted(PLUGIN_FIELDS.items()),
        levels=sorted(given.items()),
        summary_levels=list(schema.SUMMARY_LEVELS), no_value=list(lines._NO_VALUE), regex=regex,
        header=tracebacks.HEADER, chain_sentences=list(tracebacks._CHAIN_SENTENCES),
        message_limit=tracebacks._MESSAGE_LIMIT, max_lines=records.MAX_LINES, max_chars=records.MAX_CHARS,
        stem_suffixes=list(naming.STEM_SUFFIXES), devstack=tables["devstack"], generic_dirs=tables["generic_dirs"],
        component_parents=list(naming.COMPONENT_PARENTS), devstack_prefixes=list(naming.DEVSTACK_PREFIXES))


def _at_position(literal: str) -> str:
    """A /.../ literal anchored where Regexp#match(text, pos) starts (Python's pattern.match(text, pos))."""
    return "/\\G(?:" + literal[1:-1] + ")/"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("fluentd"))),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


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
    environment = _environment()
    template = environment.get_template("fluentd.conf.j2")
    ruby = regexps(library)
    files = {}
    for unit in units(inventory, mode):
        files[unit["file"]] = template.render(
            version=__version__, source=inventory.source, node=unit["node"], unit=unit["unit"],
            unit_id=unit["unit_id"], patterns=", ".join(name for name, _, _ in REGEXPS.values()),
            backend=asdict(inventory.backend), components=[_component(c, inventory.log_roots)
                                                            for c in unit["components"]],
            forward=dict(inventory.forward, enabled=unit["forward"]), regex=ruby,
            timezone=fluentd_zone(inventory.timezone),
            state_dir=inventory.state_dir, buffer=inventory.buffer, index_prefix=inventory.index_prefix,
            scrub=not inventory.keep_secrets,
        )
    files[RECORD_PLUGIN] = record_plugin(library)
    files[ID_PLUGIN] = environment.get_template("filter_osla_id.rb.j2").render(version=__version__)
    files[PARSER_PLUGIN] = environment.get_template("parser_osla_multiline.rb.j2").render(version=__version__)
    if not inventory.keep_secrets:
        files[SCRUB_PLUGIN] = environment.get_template("filter_osla_scrub.rb.j2").render(
            version=__version__, secrets=scrub_regexps(), keys=json.dumps(list(schema.TEXT_FIELDS)),
            whole_key=json.dumps(schema.EVENT_ORIGINAL))
    return files


SCRUB_PLUGIN = "plugin/filter_osla_scrub.rb"
RECORD_PLUGIN = "plugin/filter_osla_record.rb"
ID_PLUGIN = "plugin/filter_osla_id.rb"
PARSER_PLUGIN = "plugin/parser_osla_multiline.rb"


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
