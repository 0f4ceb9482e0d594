"""Grok patterns from ``parsers/grok`` expanded by pygrok into plain regexes.

pygrok does the grok part (``%{NAME:capture}`` expansion over its base library plus
our files). We compile the expansion with the standard ``re`` module, which is
faster than ``regex`` here (benchmarks/README.md); so patterns must not repeat a capture name (use
the ``__tag`` suffix, see :mod:`osloganalyze.schema`). The Fluentd generator reads
the same expansions, so both parsers share one source.

Expanding takes a noticeable part of a triage's start (pygrok reads its library for every pattern), so expansions
are kept in the user's cache folder (``$XDG_CACHE_HOME/osla/patterns``), in a file named by a
digest of the grok files and of pygrok's own files: any change to either is a new file.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import tempfile
from pathlib import Path

from . import schema
from .resources import data_dir

_DEFINITION = re.compile(r"^([A-Z][A-Z0-9_]*)\s+(.+)$")
_CAPTURE = re.compile(r"\(\?P<(\w+)>")


class PatternLibrary:
    """The named patterns of one grok folder."""

    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory) if directory else data_dir("parsers") / "grok"
        self.names = self._own_names()
        self._expansions: dict[str, str] | None = None

    def _own_names(self) -> list[str]:
        names = []
        for path in sorted(self.directory.glob("*.grok")):
            for line in path.read_text(encoding="utf-8").splitlines():
                m = _DEFINITION.match(line)
                if m:
                    names.append(m.group(1))
        return names

    def expand(self, name: str) -> str:
        """The regex string the pattern ``name`` expands to."""
        if name not in self.names:
            raise KeyError(f"no grok pattern {name!r} in {self.directory}")
        if self._expansions is None:
            self._expansions = _read_cache(self._cache_file)
        if name not in self._expansions:
            from pygrok import Grok

            self._expansions[name] = Grok("%{" + name + "}", custom_patterns_dir=str(self.directory)).regex_obj.pattern
            _write_cache(self._cache_file, self._expansions)
        return self._expansions[name]

    @functools.cached_property
    def _cache_file(self) -> Path | None:
        """Where this library's expansions are kept (None: no cache folder)."""
        pygrok = importlib.util.find_spec("pygrok")
        if pygrok is None or pygrok.origin is None:
            return None
        digest = hashlib.sha256()
        library = Path(pygrok.origin).parent
        for path in [*sorted(self.directory.glob("*.grok")), Path(pygrok.origin),
                     *sorted((library / "patterns").glob("*"))]:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "osla" / "patterns" / f"{digest.hexdigest()[:32]}.json"

    @functools.cache  # noqa: B019 - one library per process, kept for the process's life
    def compile(self, name: str) -> re.Pattern:
        """The pattern compiled for matching: pygrok wraps every %{NAME} reference in a
        capturing group; those become non-capturing (same matches, faster)."""
        return re.compile(uncapture(self.expand(name)))

    def captures(self, name: str) -> list[str]:
        return _CAPTURE.findall(self.expand(name))


def _read_cache(path: Path | None) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as handle:  # type: ignore[arg-type]
            cached = json.load(handle)
        return cached if isinstance(cached, dict) else {}
    except (TypeError, OSError, ValueError):
        return {}


def _write_cache(path: Path | None, expansions: dict[str, str]) -> None:
    """Replace the cache file whole (a rename, so a reader never sees half of it); a folder that
    cannot be written only costs the expansion next time."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp",
                                         delete=False) as handle:
            json.dump(expansions, handle)
        os.replace(handle.name, path)
    except OSError:
        pass


def uncapture(regex: str) -> str:
    """Turn unnamed capturing groups '(...)' into non-capturing '(?:...)'."""
    out = []
    i, n = 0, len(regex)
    in_class = False
    while i < n:
        c = regex[i]
        if c == "\\":
            out.append(regex[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            out.append(c)
            i += 1
            for literal in ("^", "]"):  # '[^]...]' and '[]...]' start with a literal
                if i < n and regex[i] == literal:
                    out.append(literal)
                    i += 1
            continue
        elif c == "(" and not regex.startswith("(?", i):
            out.append("(?:")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def check_captures(library: PatternLibrary) -> list[str]:
    """Problems with capture names: each must be a schema field or a known internal one."""
    problems = []
    for name in library.names:
        for capture in library.captures(name):
            if capture.startswith("_"):
                if capture not in schema.INTERNAL_CAPTURES:
                    problems.append(f"{name}: internal capture {capture!r} is not declared in schema.INTERNAL_CAPTURES")
                continue
            try:
                schema.field_for_capture(capture)
            except KeyError as exc:
                problems.append(f"{name}: {exc.args[0]}")
    return problems


@functools.cache
def default_library() -> PatternLibrary:
    return PatternLibrary()
