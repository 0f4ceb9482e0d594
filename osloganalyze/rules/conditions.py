"""The condition tree of a rule's ``match`` block, read from YAML and checked.

    match:                                 # a mapping: every entry must hold
      log.level: {at_least: ERROR}
      message: {regex: '^Caught error: '}
      any:                                 # at least one of a list of mappings
        - error.type: {exists: true}
        - http.response.status_code: {gte: 500, lt: 600}
      not: {log.logger: oslo.messaging.rpc.server}

A field's condition is a value (equals) or a mapping of operators, all of which must hold:
equals, one_of, contains (text or list: any), starts_with, regex (Python syntax, searched;
ignore_case: true), exists (true/false), gt/gte/lt/lte (numbers), at_least (log.level).
The tree compiles to a Python predicate (:mod:`.to_python`) and an Elasticsearch query
(:mod:`.to_elasticsearch`) that must agree event for event.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .. import schema
from ..errors import OslaError
from .lucene import PYTHON_FLAGS, RegexNotPortable, nested_quantifier, to_lucene


class ConditionError(OslaError, ValueError):
    """What is wrong with a match block, said for a rule author."""


@dataclass(frozen=True)
class All:
    parts: tuple


@dataclass(frozen=True)
class Any:
    parts: tuple


@dataclass(frozen=True)
class Not:
    part: object


@dataclass(frozen=True)
class Equals:
    field: str
    values: tuple  # one value, or several for one_of


@dataclass(frozen=True)
class Contains:
    field: str
    texts: tuple  # any of


@dataclass(frozen=True)
class StartsWith:
    field: str
    text: str


@dataclass(frozen=True)
class Regex:
    field: str
    pattern: str
    ignore_case: bool


@dataclass(frozen=True)
class Exists:
    field: str


@dataclass(frozen=True)
class Range:
    field: str
    bounds: tuple  # ((op, number), ...) with op in gt gte lt lte


_OPERATORS = ("equals", "one_of", "contains", "starts_with", "regex", "ignore_case", "exists",
              "gt", "gte", "lt", "lte", "at_least")
_TEXT_OPERATORS = ("contains", "starts_with", "regex")
_NUMERIC = {"long"}


def parse_match(block) -> object:
    """The condition tree of a ``match`` block (raises ConditionError)."""
    if not isinstance(block, dict) or not block:
        raise ConditionError("match must be a non-empty mapping of field conditions")
    return _mapping(block, "match")


def _mapping(block: dict, where: str):
    parts = []
    for key, value in block.items():
        if key == "all" or key == "any":
            if not isinstance(value, list) or not value or not all(isinstance(v, dict) and v for v in value):
                raise ConditionError(f"{where}.{key} must be a list of non-empty mappings")
            nodes = tuple(_mapping(v, f"{where}.{key}[{i}]") for i, v in enumerate(value))
            parts.append(All(nodes) if key == "all" else Any(nodes))
        elif key == "not":
            if not isinstance(value, dict) or not value:
                raise ConditionError(f"{where}.not must be a non-empty mapping")
            parts.append(Not(_mapping(value, f"{where}.not")))  # type: ignore[arg-type]
        else:
            parts.extend(_field(key, value, f"{where}.{key}"))
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def _field(name: str, spec, where: str) -> list:
    field = schema.FIELDS.get(name)
    if field is None:
        raise ConditionError(f"{where}: unknown field {name!r} (fields are those of osloganalyze.schema)")
    if not isinstance(spec, dict):
        spec = {"equals": spec}
    unknown = sorted(set(spec) - set(_OPERATORS))
    if unknown:
        raise ConditionError(f"{where}: unknown operator {unknown[0]!r} (use one of {', '.join(_OPERATORS)})")
    if "ignore_case" in spec and "regex" not in spec:
        raise ConditionError(f"{where}: ignore_case only goes with regex")
    exact = schema.exact_search(name)
    numeric = field.type in _NUMERIC
    nodes: list = []
    for op, arg in spec.items():
        if op == "ignore_case":
            continue
        if op == "exists":
            if not isinstance(arg, bool):
                raise ConditionError(f"{where}: exists takes true or false")
            nodes.append(Exists(name) if arg else Not(Exists(name)))
            continue
        if field.type == "raw":
            raise ConditionError(f"{where}: {name} is stored, not searchable; only exists applies")
        if op in ("gt", "gte", "lt", "lte"):
            if not numeric or isinstance(arg, bool) or not isinstance(arg, (int, float)):
                raise ConditionError(f"{where}: {op} needs a numeric field and a number")
            continue  # collected below into one Range
        if op in _TEXT_OPERATORS and (numeric or exact is None):
            raise ConditionError(f"{where}: {op} cannot run on {name} "
                                 f"({'a number' if numeric else 'searchable only by words in Elasticsearch'})")
        if op in ("equals", "one_of") and exact is None:
            raise ConditionError(f"{where}: {name} cannot be matched exactly in Elasticsearch")
        nodes.append(_value_condition(name, op, arg, numeric, spec, where))
    bounds = tuple((op, spec[op]) for op in ("gt", "gte", "lt", "lte") if op in spec)
    if bounds:
        nodes.append(Range(name, bounds))
    if not nodes:
        raise ConditionError(f"{where}: no condition given")
    return nodes


def _value_condition(name, op, arg, numeric, spec, where):
    def scalar(value):
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            raise ConditionError(f"{where}: {op} takes {'numbers' if numeric else 'text'}, not {value!r}")
        if numeric and not isinstance(value, (int, float)):
            raise ConditionError(f"{where}: {name} is a number; {value!r} is not")
        return value if numeric else str(value)

    if op == "equals":
        return Equals(name, (scalar(arg),))
    if op == "one_of":
        if not isinstance(arg, list) or not arg:
            raise ConditionError(f"{where}: one_of takes a non-empty list")
        return Equals(name, tuple(scalar(v) for v in arg))
    if op == "at_least":
        if name != schema.LOG_LEVEL or schema.normalize_level(str(arg)) is None:
            raise ConditionError(f"{where}: at_least takes a level ({', '.join(schema.LEVELS)}) on log.level")
        rank = schema.LEVEL_RANK[schema.normalize_level(str(arg))]
        return Equals(name, tuple(level for level in schema.LEVELS if schema.LEVEL_RANK[level] >= rank))
    if op == "contains":
        texts = arg if isinstance(arg, list) else [arg]
        if not texts or not all(isinstance(t, str) and t for t in texts):
            raise ConditionError(f"{where}: contains takes a text or a list of texts")
        return Contains(name, tuple(texts))
    if op == "starts_with":
        if not isinstance(arg, str) or not arg:
            raise ConditionError(f"{where}: starts_with takes a text")
        return StartsWith(name, arg)
    # regex
    if not isinstance(arg, str) or not arg:
        raise ConditionError(f"{where}: regex takes a pattern")
    ignore_case = spec.get("ignore_case", False)
    if not isinstance(ignore_case, bool):
        raise ConditionError(f"{where}: ignore_case takes true or false")
    try:
        re.compile(arg, PYTHON_FLAGS | (re.IGNORECASE if ignore_case else 0))  # as to_python will: re's cache
        to_lucene(arg)  # Elasticsearch can run it
        nested = nested_quantifier(arg)
        if nested:
            raise ConditionError(f"{where}: regex {arg!r} can take exponential time on some lines ({nested}): "
                                 f"write it without a repeat inside a repeat")
    except re.error as exc:
        raise ConditionError(f"{where}: bad regex {arg!r}: {exc}") from None
    except RegexNotPortable as exc:
        raise ConditionError(f"{where}: regex {arg!r} cannot run in Elasticsearch: {exc}") from None
    return Regex(name, arg, ignore_case)


def fields_of(node) -> set[str]:
    """Every field a condition tree looks at."""
    if isinstance(node, (All, Any)):
        return set().union(*(fields_of(p) for p in node.parts))
    if isinstance(node, Not):
        return fields_of(node.part)
    return {node.field}
