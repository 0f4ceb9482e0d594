"""A condition tree as a Python predicate over events (local sources).

The tree is turned into Python source and compiled once: every rule of a rule set becomes one
branch of a single generated function that reads each field once per event and tests cheap
conditions before regexes (a few microseconds per event for the built-in rules, where
nested closures took ten times longer).

It mirrors how Elasticsearch indexes the same event (see :func:`schema.exact_search`): text
conditions see a field's whole value only when it is at most the indexed length, a list
matches when any of its items does, a missing value matches nothing, and "" exists.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from .. import schema
from .conditions import All, Any, Contains, Equals, Exists, Not, Range, Regex, StartsWith
from .lucene import PYTHON_FLAGS, required_literals

Predicate = Callable[[dict], bool]
_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_LIST_FIELDS = frozenset({schema.TAGS})  # fields whose value may be a list of values


def _whole_text(field: str, v: str) -> str:
    """The expression: ``v`` if it is a text short enough to be indexed whole, else None."""
    return f"{v} if {v}.__class__ is str and len({v}) <= {schema.exact_field(field)[1]} else None"


# Fields nearly every event has: their presence gates nothing.
_COMMON_FIELDS = frozenset({schema.MESSAGE, schema.LOG_LEVEL, schema.LOG_LOGGER, schema.SERVICE_NAME,
                            schema.HOST_NAME, schema.TIMESTAMP, schema.LOG_FILE_PATH, schema.PROCESS_PID})


def _gate_rank(test: str) -> int:
    """How often a gate's test holds, roughly: a search for texts or prefixes (a*, p*) least,
    then a value compared, then a field's presence."""
    if test[0] in "ap" and test[1:].isdigit():
        return 0
    return 2 if test.endswith(" is not None") else 1


# A field whose conditions look for at least this many texts gets one search for all of them
# first (most events hold none); below it, the texts are looked for one by one.
_GROUPED_TEXTS = 4


class _Generator:
    def __init__(self, nodes: tuple = ()):
        self.fields: dict[str, str] = {}  # field name -> local variable
        self.texts: dict[str, str] = {}  # field name -> its value when text searchable in full, else None
        self.constants: dict[str, object] = {}
        self._named: dict = {}  # constant value -> its name
        # per field: (local that says whether any of its texts is in it, the pattern) and
        # (local that says whether it starts with any of its prefixes, the prefixes)
        self.any_text: dict[str, tuple[str, re.Pattern]] = {}
        self.any_prefix: dict[str, tuple[str, tuple[str, ...]]] = {}
        texts: dict[str, set[str]] = {}
        prefixes: dict[str, set[str]] = {}
        for node in nodes:
            _collect_texts(node, texts, prefixes)
        for name, found in texts.items():
            if len(found) >= _GROUPED_TEXTS:
                self.any_text[name] = (f"a{len(self.any_text)}", _any_of(found))
        for name, found in prefixes.items():
            if len(found) >= _GROUPED_TEXTS:
                self.any_prefix[name] = (f"p{len(self.any_prefix)}", tuple(sorted(found)))

    def var(self, name: str) -> str:
        if name not in self.fields:
            self.fields[name] = f"f{len(self.fields)}"
        return self.fields[name]

    def text_var(self, name: str, v: str) -> str:
        """A local holding ``v`` when it is a text short enough to be indexed whole, else None:
        tested once per event, not once per condition."""
        if v != self.fields.get(name):  # an item of a list field: no shared local
            return f"({_whole_text(name, v)})"
        if name not in self.texts:
            self.texts[name] = f"t{len(self.texts)}"
        return self.texts[name]

    def constant(self, value) -> str:
        try:
            return self._named[value]  # the same value, the same name (gates compare texts)
        except (KeyError, TypeError):
            pass
        key = f"c{len(self.constants)}"
        self.constants[key] = value
        try:
            self._named[value] = key
        except TypeError:  # not hashable
            pass
        return key

    def expr(self, node) -> str:
        if isinstance(node, All):
            return "(" + " and ".join(self.expr(p) for p in sorted(node.parts, key=_cost)) + ")"
        if isinstance(node, Any):
            return "(" + " or ".join(self.expr(p) for p in sorted(node.parts, key=_cost)) + ")"
        if isinstance(node, Not):
            return f"(not {self.expr(node.part)})"
        name = node.field
        if name in _LIST_FIELDS:  # rare: test each item with a single-value predicate
            return f"_any({self.var(name)}, {self.constant(_item_predicate(node))})"
        return self.value_expr(node, self.var(name))

    def gate(self, node) -> frozenset[str] | None:
        """Tests of which one at least holds wherever ``node`` does (None: no such tests),
        chosen among those most events fail: a field's search for all its texts or
        prefixes (computed once per event anyway), a level or other value compared, the
        presence of a field most events lack."""
        if isinstance(node, All):
            options = [g for g in (self.gate(p) for p in node.parts) if g is not None]
            return min(options, key=lambda g: (max(map(_gate_rank, g)), len(g))) if options else None
        if isinstance(node, Any):
            parts = [self.gate(p) for p in node.parts]
            return None if any(g is None for g in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
        if isinstance(node, Not):
            return None
        name = node.field
        v = self.var(name)
        if name in self.any_text and (isinstance(node, Contains) or (
                isinstance(node, Regex) and not node.ignore_case and required_literals(node.pattern))):
            return frozenset({self.any_text[name][0]})
        if name in self.any_prefix and isinstance(node, StartsWith):
            return frozenset({self.any_prefix[name][0]})
        if name in _COMMON_FIELDS:  # nearly every event has it: its value gates, if compared
            return frozenset({self.value_expr(node, v)}) if isinstance(node, Equals) else None
        return frozenset({f"{v} is not None"})

    def value_expr(self, node, v: str) -> str:
        field = schema.FIELDS[node.field]
        if isinstance(node, Exists):
            if field.type == "keyword":  # an over-long keyword is not indexed, so it does not "exist"
                return f"({v} is not None and not ({v}.__class__ is str and len({v}) > {schema.KEYWORD_LIMIT}))"
            return f"({v} is not None)"
        if isinstance(node, Range):
            bounds = " and ".join(f"{v} {_OPERATORS[op]} {bound!r}" for op, bound in node.bounds)
            return f"({v}.__class__ in _NUMBERS and {bounds})"
        if isinstance(node, Equals) and field.type == "long":
            return f"({v}.__class__ in _NUMBERS and {v} in {self.constant(frozenset(node.values))})"
        t = self.text_var(node.field, v)
        shared = v == self.fields.get(node.field)  # not an item of a list field
        has_text = self.any_text[node.field][0] if shared and node.field in self.any_text else f"{t} is not None"
        has_prefix = self.any_prefix[node.field][0] if shared and node.field in self.any_prefix else f"{t} is not None"
        if isinstance(node, Equals):  # None is in no set of texts
            return f"({t} in {self.constant(frozenset(node.values))})"
        if isinstance(node, Contains):
            return f"({has_text} and (" + " or ".join(f"{x!r} in {t}" for x in node.texts) + "))"
        if isinstance(node, StartsWith):
            return f"({has_prefix} and {t}.startswith({node.text!r}))"
        if isinstance(node, Regex):
            flags = PYTHON_FLAGS | (re.IGNORECASE if node.ignore_case else 0)
            search = self.constant(re.compile(node.pattern, flags).search)
            literals = None if node.ignore_case else required_literals(node.pattern)
            if not literals:
                return f"({t} is not None and {search}({t}) is not None)"
            guard = " or ".join(f"{x!r} in {t}" for x in literals)
            return f"({has_text} and ({guard}) and {search}({t}) is not None)"
        raise TypeError(f"unknown condition {node!r}")

    def build(self, body: list[str], name: str) -> Callable:
        loads = "".join(f"    {var} = g({field!r})\n" for field, var in self.fields.items())
        loads += "".join(f"    {t} = {_whole_text(field, self.fields[field])}\n" for field, t in self.texts.items())
        for field, (flag, pattern) in self.any_text.items():
            t = self.texts[field]
            loads += f"    {flag} = {t} is not None and {self.constant(pattern.search)}({t}) is not None\n"
        for field, (flag, prefixes) in self.any_prefix.items():
            t = self.texts[field]
            loads += f"    {flag} = {t} is not None and {t}.startswith({self.constant(prefixes)})\n"
        source = f"def {name}(e):\n    g = e.get\n{loads}" + "".join(body)
        namespace = dict(self.constants, _NUMBERS=(int, float), _any=_any)
        exec(compile(source, f"<osla rules: {name}>", "exec"), namespace)  # noqa: S102 - our own generated code
        function = namespace[name]
        function.source = source  # type: ignore[attr-defined]
        return function  # type: ignore[return-value]


def _any(value, test) -> bool:
    if value is None:
        return False
    return any(test({"v": item}) for item in (value if isinstance(value, list) else [value]) if item is not None)


def _cost(node) -> int:
    """Rough evaluation cost, so that cheap tests short-circuit expensive ones."""
    if isinstance(node, (All, Any)):
        return sum(_cost(p) for p in node.parts)
    if isinstance(node, Not):
        return _cost(node.part) + 1
    return {Exists: 1, Equals: 2, Range: 2, StartsWith: 3, Contains: 4, Regex: 10}[type(node)]


def compile_predicate(node) -> Predicate:
    """One condition tree as a function of an event."""
    generator = _Generator()
    expression = generator.expr(node)
    return generator.build([f"    return {expression}\n"], "predicate")


def compile_matcher(nodes: list) -> Callable[[dict], list[int]]:
    """One function testing every condition tree; it returns the indexes of those that hold
    (in order). The trees that share a gate (:meth:`_Generator.gate`) are tested under one
    ``if`` of it: most events hold none of the texts, statuses or exceptions the rules look
    for, and then cost the gates alone, not every rule's first test."""
    generator = _Generator(tuple(nodes))
    blocks: dict[frozenset[str] | None, list[str]] = {}
    for index, node in enumerate(nodes):
        gate = generator.gate(node)
        indent = "    " if gate is None else "        "
        blocks.setdefault(gate, []).append(f"{indent}if {generator.expr(node)}:\n{indent}    hits.append({index})\n")
    body = ["    hits = []\n"]
    for gate, tests in blocks.items():
        if gate is not None:
            body.append(f"    if {' or '.join(sorted(gate))}:\n")
        body.extend(tests)
    if len(blocks) > 1:
        body.append("    if len(hits) > 1:\n        hits.sort()\n")
    body.append("    return hits\n")
    return generator.build(body, "matcher")


def _collect_texts(node, texts: dict[str, set[str]], prefixes: dict[str, set[str]]) -> None:
    """The texts each field's conditions look for with ``in`` (contains, and the literals that
    guard a regex), and the prefixes they test."""
    if isinstance(node, (All, Any)):
        for part in node.parts:
            _collect_texts(part, texts, prefixes)
    elif isinstance(node, Not):
        _collect_texts(node.part, texts, prefixes)
    elif node.field in _LIST_FIELDS:
        return
    elif isinstance(node, Contains):
        texts.setdefault(node.field, set()).update(node.texts)
    elif isinstance(node, Regex) and not node.ignore_case:
        texts.setdefault(node.field, set()).update(required_literals(node.pattern) or ())
    elif isinstance(node, StartsWith):
        prefixes.setdefault(node.field, set()).add(node.text)


# ASCII characters from the rarest to the commonest in OpenStack log messages (counted on the
# 457,330 messages of one benchmark day, real corpus files; others count as rarer than all)
_RARITY = ("\x00`!#+;JKY%Z&W?<>z*\\IVXQj{}DBLOM[]UqRFwH=ACNSGkxEP()yhT_vg,6b8m35-7pf\"'9/4u:l.2rcd0s1ionate ")
_RANK = {char: rank for rank, char in enumerate(_RARITY)}


def _any_of(texts: set[str]) -> re.Pattern:
    """One pattern that finds any of ``texts``. Each text is looked for from its rarest
    character (``F(?<=Failed to )…``, the characters before it tested by a look-behind), so the
    pattern starts with a set of rare characters: re skips, in C, every position that holds none
    of them, and tries the texts at the few that do (twice as fast as a trie of the texts from
    their first characters, the letters and spaces every message is made of; benchmarks/README.md)."""
    if "" in texts or not texts:
        return re.compile("" if texts else "(?!)", PYTHON_FLAGS)  # "" is in every text; nothing, in none
    groups: dict[str, dict[str, set[str]]] = {}  # rarest character -> what comes before it -> what after
    for text in texts:
        at = min(range(len(text)), key=lambda i: (_RANK.get(text[i], -1), i))
        groups.setdefault(text[at], {}).setdefault(text[:at], set()).add(text[at + 1:])
    branches = []
    for anchor, by_before in sorted(groups.items()):
        ways = []
        for before, afters in sorted(by_before.items()):
            behind = f"(?<={re.escape(before + anchor)})" if before else ""
            ways.append(behind + ("" if "" in afters else _trie(afters)))
        if "" in ways:  # the character alone is one of the texts
            ways = [""]
        branches.append(re.escape(anchor) + (ways[0] if len(ways) == 1 else "(?:" + "|".join(ways) + ")"))
    return re.compile("(?:" + "|".join(branches) + ")", PYTHON_FLAGS)


def _trie(texts: set[str]) -> str:
    """A pattern matching any of ``texts`` at the current position, as a trie
    (``Fail(?:ed to |ure)``): re tries the alternatives of a branch one by one."""
    trie: dict = {}
    for text in texts:
        node = trie
        for char in text:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:
        if "" in node:  # a text ends here: enough, whatever may follow
            return ""
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return emit(trie)


def _item_predicate(node) -> Predicate:
    """A leaf condition on one item of a list field, which :func:`_any` puts under 'v'."""
    generator = _Generator()
    expression = generator.value_expr(node, "v")
    return generator.build([f"    v = e.get('v')\n    return {expression}\n"], "item")
