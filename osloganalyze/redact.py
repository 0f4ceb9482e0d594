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
    if not text:
        return text
    folded = text.casefold()
    for pattern, triggers in rules():
        if any(trigger in folded for trigger in triggers):
            text = pattern.sub(_masked, text)
            folded = text.casefold()
    return text


def scrub(event: dict) -> dict:
    """The event with secrets masked in its text fields (what ``osla ingest`` indexes by
    default). One look at the record's whole text first: most events hold no trigger word and
    are returned as they are."""
    whole = event.get(schema.EVENT_ORIGINAL) or event.get(schema.MESSAGE)
    if not whole or not _TRIGGERS.search(whole.casefold()):
        return event
    scrubbed = dict(event)
    for name in schema.TEXT_FIELDS:
        value = scrubbed.get(name)
        if isinstance(value, str):
            scrubbed[name] = redact(value)
    return scrubbed


class _AnyTrigger:
    """One search for any trigger word of any secret form (built on first use)."""

    pattern: re.Pattern | None = None

    def search(self, folded: str) -> bool:
        if self.pattern is None:
            words = sorted({t for _, triggers in rules() for t in triggers}, key=len, reverse=True)
            self.pattern = re.compile("|".join(map(re.escape, words)))
        return self.pattern.search(folded) is not None


_TRIGGERS = _AnyTrigger()
