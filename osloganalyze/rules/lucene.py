"""Translate a Python regex into Lucene's regexp syntax (Elasticsearch ``regexp`` queries).

Rules are written once, in Python syntax, and searched with ``re.search`` locally. Lucene
regexps match a whole term and have no anchors, look-arounds or back-references, and treat
``# @ & < > ~ "`` as operators. The translation walks Python's own parse of the pattern,
so it covers exactly what Python understood, and refuses what Lucene cannot do (the rule
author hears which construct at load time). Local matching uses the flags
:data:`PYTHON_FLAGS` so that both sides read ``.`` and ``\\d \\w \\s`` the same way.
"""
from __future__ import annotations

import re
import re._constants as C  # noqa: N812 - the stdlib's own names
import re._parser as sre_parse
from functools import cache

from ..errors import OslaError

PYTHON_FLAGS = re.ASCII | re.DOTALL  # '.' matches newlines in Lucene; \d \w \s are ASCII there

_CATEGORIES = {
    C.CATEGORY_DIGIT: "0-9",
    C.CATEGORY_WORD: "a-zA-Z0-9_",
    C.CATEGORY_SPACE: " \t\n\r\f\v",
}
_NOT_CATEGORIES = {
    C.CATEGORY_NOT_DIGIT: C.CATEGORY_DIGIT,
    C.CATEGORY_NOT_WORD: C.CATEGORY_WORD,
    C.CATEGORY_NOT_SPACE: C.CATEGORY_SPACE,
}
_SPECIAL = set('.?+*|{}[]()"\\#@&<>~')  # everything Lucene's parser treats as syntax (flags ALL)
_CLASS_SPECIAL = set("[]\\^-&~")


class RegexNotPortable(OslaError, ValueError):
    """A Python regex feature Lucene has no equivalent for."""


Alternative = tuple  # (anchored at the start, the Lucene regexp between, anchored at the end)


def to_lucene(pattern: str) -> str:
    """The Lucene regexp matching a term wherever ``re.search(pattern, term)`` would."""
    return union(alternatives(pattern))


@cache
def alternatives(pattern: str) -> tuple[Alternative, ...]:
    """The pattern's top-level alternatives ('a|^b$': each anchored on its own)."""
    parsed = list(sre_parse.parse(pattern, PYTHON_FLAGS))
    if len(parsed) == 1 and parsed[0][0] is C.BRANCH:
        return tuple(_alternative(list(alt)) for alt in parsed[0][1][1])
    return (_alternative(parsed),)


_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", C.MAX_REPEAT))
OUTER_REPEAT_LIMIT = 5  # '(\d+\.){3}' is fine; '(.*a){40}' and '(a+)+' are not


def nested_quantifier(pattern: str) -> str | None:
    """What in ``pattern`` can backtrack exponentially, said in a few words: a repeat inside a
    repeat of more than :data:`OUTER_REPEAT_LIMIT` ('(a+)+$', '(.*a){40}'); None when there is
    none. Python's re would backtrack there without end on a line that almost matches."""
    return _nested(list(sre_parse.parse(pattern, PYTHON_FLAGS)), False)


def _nested(items: list, under: bool) -> str | None:
    for op, arg in items:
        inner: list[list] = []
        outer = under
        if op in _REPEATS:
            high = arg[1]
            if high is C.MAXREPEAT or high > 1:
                if under:
                    return "a repeat inside a repeat"
                outer = high is C.MAXREPEAT or high > OUTER_REPEAT_LIMIT
            inner = [list(arg[2])]
        elif op is C.SUBPATTERN:
            inner = [list(arg[-1])]
        elif op is C.BRANCH:
            inner = [list(branch) for branch in arg[1]]
        elif op in (C.ASSERT, C.ASSERT_NOT):
            inner = [list(arg[1])]
        for body in inner:
            found = _nested(body, outer)
            if found:
                return found
    return None


def literal(text: str, at_start: bool = False) -> Alternative:
    """The alternative matching terms that contain ``text`` (or start with it)."""
    return (at_start, "".join(_literal(c) for c in text), False)


def union(alts) -> str:
    """One Lucene regexp matching a term wherever one of ``alts`` would. The unanchored ones
    share a single ``.*(a|b).*``: Lucene determinizes that into an automaton the size of the
    texts, where a union of separate ``.*a.*`` terms soon exceeds its limit (8 short texts
    already do)."""
    free = [core for head, core, tail in alts if not head and not tail]
    parts = []
    if free:
        parts.append(".*" if "" in free else ".*(" + "|".join(free) + ").*")
    for head, core, tail in alts:
        if head or tail:
            parts.append(("" if head else ".*") + (f"({core})" if core else "") + ("" if tail else ".*"))
    return parts[0] if len(parts) == 1 else "|".join(f"({part})" for part in parts)


def _alternative(parsed: list) -> Alternative:
    head = bool(parsed) and parsed[0] == (C.AT, C.AT_BEGINNING)
    tail = bool(parsed) and parsed[-1] == (C.AT, C.AT_END)
    body = parsed[1 if head else 0:len(parsed) - (1 if tail else 0)]
    return head, _sequence(body), tail


def _sequence(items) -> str:
    return "".join(_item(op, arg) for op, arg in items)


def _item(op, arg) -> str:
    if op is C.LITERAL:
        return _literal(chr(arg))
    if op is C.NOT_LITERAL:
        return f"[^{_class_char(chr(arg))}]"
    if op is C.ANY:
        return "."
    if op is C.IN:
        return _char_class(arg)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):  # laziness does not change *whether* a text matches
        low, high, sub = arg
        return _group(sub) + _repeat(low, high)
    if op is C.SUBPATTERN:
        _group_id, add_flags, del_flags, sub = arg
        if add_flags or del_flags:
            raise RegexNotPortable("inline flags inside a group (use ignore_case: true)")
        return f"({_sequence(sub)})"
    if op is C.BRANCH:
        _, alternatives = arg
        return "(" + "|".join(_sequence(alt) for alt in alternatives) + ")"
    if op is C.AT:
        raise RegexNotPortable("anchors other than a leading ^ and a trailing $ (and no \\b)")
    names = {C.GROUPREF: "back-references", C.ASSERT: "look-arounds", C.ASSERT_NOT: "look-arounds",
             C.POSSESSIVE_REPEAT: "possessive repeats", C.ATOMIC_GROUP: "atomic groups",
             C.GROUPREF_EXISTS: "conditional groups"}
    raise RegexNotPortable(names.get(op, str(op).lower()))


def _group(sub) -> str:
    items = list(sub)
    if len(items) == 1 and items[0][0] in (C.LITERAL, C.ANY, C.IN, C.NOT_LITERAL, C.SUBPATTERN, C.BRANCH):
        return _item(*items[0])
    return f"({_sequence(items)})"


def _repeat(low: int, high: int) -> str:
    if high == C.MAXREPEAT:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if (low, high) == (0, 1):
        return "?"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


def _literal(char: str) -> str:
    return "\\" + char if char in _SPECIAL else char


def _class_char(char: str) -> str:
    return "\\" + char if char in _CLASS_SPECIAL else char


def _char_class(items) -> str:
    negate = False
    parts: list[str] = []
    for op, arg in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            parts.append(_class_char(chr(arg)))
        elif op is C.RANGE:
            parts.append(f"{_class_char(chr(arg[0]))}-{_class_char(chr(arg[1]))}")
        elif op is C.CATEGORY and arg in _CATEGORIES:
            parts.append(_CATEGORIES[arg])
        elif op is C.CATEGORY and arg in _NOT_CATEGORIES:
            if len(items) != 1 or negate:
                raise RegexNotPortable("\\D, \\W or \\S combined with other characters in a class")
            return f"[^{_CATEGORIES[_NOT_CATEGORIES[arg]]}]"
        else:
            raise RegexNotPortable(f"character class item {op}")
    return ("[^" if negate else "[") + "".join(parts) + "]"


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Texts one of which every match of ``pattern`` contains (a cheap ``in`` test before the
    regex), or None when no such text can be read off the pattern. Small alternations and
    character sets are spelled out (``\\((2002|2003), ['"]`` needs one of four texts), and the
    most telling choice is taken: the longest shortest text, then the fewest texts."""
    best = _required(list(sre_parse.parse(pattern, PYTHON_FLAGS)))
    return tuple(sorted(best)) if best else None


_MAX_TEXTS = 16  # beyond this many texts, an in-test per text costs more than it saves


def _score(texts: frozenset[str]) -> tuple[int, int]:
    return (min(map(len, texts)), -len(texts)) if texts else (0, 0)


def _required(items) -> frozenset[str] | None:
    """The best set of texts one of which every match of the sequence ``items`` holds."""
    best: frozenset[str] = frozenset()
    run: frozenset[str] = frozenset({""})  # the texts of the literal run being read

    def close() -> None:
        nonlocal best, run
        if run != {""} and _score(run) > _score(best):
            best = run
        run = frozenset({""})

    for op, arg in items:
        choices = _literal_choices(op, arg)
        if choices is not None and len(run) * len(choices) <= _MAX_TEXTS:
            run = frozenset(a + b for a in run for b in choices)
            continue
        close()
        inner = _alternatives_required(op, arg)
        if inner and _score(inner) > _score(best):
            best = inner
    close()
    return best or None


def _literal_choices(op, arg) -> frozenset[str] | None:
    """The texts a literal item can be (one character, a small set, a group of literal
    alternatives), or None when it is not that simple."""
    if op is C.LITERAL:
        return frozenset({chr(arg)})
    if op is C.IN and all(kind is C.LITERAL for kind, _ in arg) and len(arg) <= 4:
        return frozenset(chr(value) for _, value in arg)
    if op is C.SUBPATTERN and not arg[1] and not arg[2]:
        items = list(arg[3])
        if len(items) == 1 and items[0][0] is C.BRANCH:
            alternatives = [_all_literal(list(alt)) for alt in items[0][1][1]]
            if all(a is not None for a in alternatives) and len(alternatives) <= _MAX_TEXTS:
                return frozenset(alternatives)  # type: ignore[arg-type]
        text = _all_literal(items)
        return frozenset({text}) if text is not None else None
    if op is C.BRANCH:
        alternatives = [_all_literal(list(alt)) for alt in arg[1]]
        if all(a is not None for a in alternatives) and len(alternatives) <= _MAX_TEXTS:
            return frozenset(alternatives)  # type: ignore[arg-type]
    return None


def _all_literal(items) -> str | None:
    if items and all(op is C.LITERAL for op, _ in items):
        return "".join(chr(arg) for _, arg in items)
    return None


def _alternatives_required(op, arg) -> frozenset[str] | None:
    """For a group or an alternation: the union of what each alternative requires."""
    if op is C.SUBPATTERN and not arg[1] and not arg[2]:
        return _required(list(arg[3]))
    if op is C.BRANCH:
        union: set[str] = set()
        for alternative in arg[1]:
            needed = _required(list(alternative))
            if not needed:
                return None
            union |= needed
        return frozenset(union) if len(union) <= _MAX_TEXTS else None
    return None
