"""Python regexes (grok expansions from ``parsers/``) rewritten for Ruby's Onigmo, which Fluentd's
regexp and multiline parsers use. The Fluentd configs get their regexps only from here.

Differences handled: ``(?P<name>`` is ``(?<name>`` in Ruby, and Ruby allows a name twice, so the
``__tag`` suffixes that Python needs for alternative captures of one field are dropped; ``^`` and
``$`` are line anchors in Ruby, so they become ``\\A`` and ``\\z`` (Python's meaning without
MULTILINE); ``\\Z`` becomes ``\\z``; ``/`` is escaped for the ``/.../`` literal Fluentd reads.
Everything else these patterns use (possessive quantifiers, look-aheads, classes) means the
same in both engines; the tests check that in a real Ruby, line by line, on the corpus.
"""
from __future__ import annotations

import re

_NAMED = re.compile(r"\(\?P<(\w+)>")
_BACKREF = re.compile(r"\(\?P=(\w+)\)")


def group_name(capture: str) -> str:
    """The Ruby group name for a Python capture ('openstack_request_id__devstack' -> 'openstack_request_id')."""
    return capture.split("__", 1)[0] if not capture.startswith("_") else "_" + capture[1:].split("__", 1)[0]


def to_ruby(regex: str) -> str:
    """The Onigmo form of a Python regex, as a Fluentd ``/.../`` literal. No flags: Fluentd's
    multiline parser refuses them and applies Regexp::MULTILINE to its formatN itself."""
    out: list[str] = []
    i, n = 0, len(regex)
    in_class = False
    while i < n:
        c = regex[i]
        if c == "\\":
            pair = regex[i:i + 2]
            out.append("\\z" if pair == "\\Z" else pair)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append("\\/" if c == "/" else c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            for literal in ("^", "]"):
                if i < n and regex[i] == literal:
                    out.append(literal)
                    i += 1
            continue
        if regex.startswith("(?P<", i):
            name = _matched(_NAMED, regex, i)
            out.append(f"(?<{group_name(name)}>")
            i += 4 + len(name) + 1
            continue
        if regex.startswith("(?P=", i):
            name = _matched(_BACKREF, regex, i)
            out.append(f"\\k<{group_name(name)}>")
            i += 4 + len(name) + 1
            continue
        if c == "^":
            out.append("\\A")
        elif c == "$":
            out.append("\\z")
        elif c == "/":
            out.append("\\/")
        else:
            out.append(c)
        i += 1
    return "/" + "".join(out) + "/"


def _matched(pattern: re.Pattern, text: str, at: int) -> str:
    """Group 1 of a pattern that the caller knows matches at ``at``."""
    m = pattern.match(text, at)
    if m is None:
        raise ValueError(f"not a group at {at}: {text[at:at + 20]!r}")
    return m.group(1)
