"""Secrets out of text that osla shows or ships: tokens (headers, Fernet, URL queries),
passwords and keys (key=value, JSON, Python reprs, command lines), credentials in URLs.

What a secret looks like is data, ``parsers/secrets.yaml``, one definition for every output.
A pattern runs only on a text whose casefolded form holds one of its trigger words (most log
lines hold none, and the patterns cost tens of microseconds on any line).
"""
from __future__ import annotations

import re
from functools import lru_cache

import yaml

from . import schema
from .resources import data_dir

MASK = "***"


@lru_cache(maxsize=1)
def definitions() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(pattern text, trigger words) of every secret form in parsers/secrets.yaml (the Python
    side compiles them here, the Fluentd plugin as Onigmo regexps)."""
    with open(data_dir("parsers") / "secrets.yaml", encoding="utf-8") as handle:
        entries = yaml.safe_load(handle)["secrets"]
    return tuple((entry["pattern"], tuple(entry["triggers"])) for entry in entries)


@lru_cache(maxsize=1)
def rules() -> tuple[tuple[re.Pattern, tuple[str, ...]], ...]:
    """(compiled pattern, triggers) of every secret form."""
    found = []
    for text, triggers in definitions():
        pattern = re.compile(text)
        if "secret" not in pattern.groupindex:
            raise ValueError(f"parsers/secrets.yaml: {text[:40]}: the pattern has no group 'secret'")
        found.append((pattern, triggers))
    return tuple(found)


def _masked(m: re.Match) -> str:
    whole, start = m.group(0), m.start()
    return whole[:m.start("secret") - start] + MASK + whole[m.end("secret") - start:]


def redact(text: str | None) -> str | None:
    return _masked_by(text, rules()) if text else text


def scrub(event: dict) -> dict:
    """The event with secrets masked in its text fields (what ``osla ingest`` indexes and ``osla
    parse`` writes by default). One look for trigger words in the record's whole text picks the
    forms that can match; most events hold none and are returned as they are. Each field then
    runs only the picked forms whose triggers it holds.

    A one-line record whose line ends with its message is looked at by its message only: what
    comes before is the line's header (time, pid, level, logger, request context), which holds
    no secret but often a trigger word (the logger keystonemiddleware.auth_token)."""
    original = event.get(schema.EVENT_ORIGINAL)
    message = event.get(schema.MESSAGE)
    header = None  # the line's text before its message, for a one-line record
    if message and original and original.endswith(message) and "\n" not in original[:-len(message)]:
        header = original[:-len(message)]
        whole = "\n".join(value for name in _PARTS if isinstance(value := event.get(name), str)) \
            if any(name in event for name in _PARTS[1:]) else message
    else:
        whole = original or message
    if not whole:
        return event
    forms = _forms_in(whole.casefold())
    if not forms:
        return event
    scrubbed = dict(event)
    for name in schema.TEXT_FIELDS:
        value = event.get(name)
        if isinstance(value, str) and value and not (name == schema.EVENT_ORIGINAL and header is not None):
            scrubbed[name] = _masked_by(value, forms)
    if header is not None:  # the header holds no secret: the line is the header and the masked message
        scrubbed[schema.EVENT_ORIGINAL] = header + scrubbed[schema.MESSAGE]
    return scrubbed


# the text fields but the whole line, message first
_PARTS = tuple(name for name in schema.TEXT_FIELDS if name != schema.EVENT_ORIGINAL)
assert _PARTS[0] == schema.MESSAGE


def _masked_by(text: str, forms: tuple[tuple[re.Pattern, tuple[str, ...]], ...]) -> str:
    """``text`` with each of ``forms`` masked, a form run only where one of its triggers is."""
    folded = text.casefold()
    for pattern, triggers in forms:
        if any(trigger in folded for trigger in triggers):
            masked = pattern.sub(_masked, text)
            if masked != text:
                text, folded = masked, masked.casefold()
    return text


def _forms_in(folded: str) -> tuple[tuple[re.Pattern, tuple[str, ...]], ...]:
    """The secret forms with a trigger word in folded (a casefolded text), in their order."""
    quick_look, _ = _triggers()
    found = quick_look.findall(folded)
    if not found:
        return ()
    present = frozenset(word for word in _words_holding(frozenset(found)) if word in folded)
    return _forms_of(present) if present else ()


@lru_cache(maxsize=1)
def _triggers() -> tuple[re.Pattern, dict[str, tuple[str, ...]]]:
    """The quick first look (parsers/secrets.yaml's quick_look: a text that holds a trigger word
    holds one of its parts, and most texts hold none), and the trigger words holding each part."""
    with open(data_dir("parsers") / "secrets.yaml", encoding="utf-8") as handle:
        parts = tuple(yaml.safe_load(handle)["quick_look"])
    words = sorted({t for _, triggers in rules() for t in triggers})
    for word in words:
        if not any(part in word for part in parts):
            raise ValueError(f"parsers/secrets.yaml: the trigger {word!r} holds no part of quick_look")
    holding = {part: tuple(word for word in words if part in word) for part in parts}
    return re.compile("|".join(map(re.escape, parts))), holding


@lru_cache(maxsize=256)
def _words_holding(parts: frozenset[str]) -> tuple[str, ...]:
    holding = _triggers()[1]
    return tuple(sorted({word for part in parts for word in holding[part]}))


@lru_cache(maxsize=256)
def _forms_of(words: frozenset[str]) -> tuple[tuple[re.Pattern, tuple[str, ...]], ...]:
    return tuple(form for form in rules() if not words.isdisjoint(form[1]))
