"""Rules as data: the format of ``rules/*.yaml``, read and checked at load time.

A file holds ``rules:``, a list of rules (one rule per file or a small themed file):

    rules:
      - id: rabbitmq-unreachable           # lowercase words and dashes, unique
        title: RabbitMQ unreachable
        category: infrastructure           # bug | config | infrastructure
        severity: high                     # info | low | medium | high | critical
        services: [nova-*, neutron-server] # optional; a trailing * is a prefix
        match: {...}                       # see osloganalyze.rules.conditions
        supersedes: [python-traceback]     # optional: this rule explains those events better
        escalate_when:                     # optional correlation
          same: [openstack.request_id]     # an event sharing one of these values...
          match: {...}                     # ...and matching this...
          category: bug                    # ...turns the finding into this
          severity: high
          reason: a traceback shares its request id
        threshold: {count: 20, within: 5m} # optional: report only bursts
        tags: [keystone]                   # optional: sections of the nightly report that list it
        explain: what it means
        remediation: the operator's next steps
        references: [https://...]
        examples:
          raise: [<log lines>, {log: <lines>, service: keystone, escalated: true, source: ...}]
          not_raise: [...]

Any mistake is reported as '<file>: rule <id>: <what is wrong>'.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import schema
from ..durations import DURATION, SECONDS
from ..errors import OslaError
from ..resources import data_dir
from .conditions import ConditionError, parse_match

CATEGORIES = ("bug", "config", "infrastructure")
SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KEYS = {"id", "title", "category", "severity", "services", "match", "supersedes", "escalate_when",
         "threshold", "explain", "remediation", "references", "examples", "tags"}
TAGS = {"keystone": "the report's Keystone authentication and Fernet section",
        "crash": "a service or its workers died: triage blames it for the failures of requests that called it",
        "symptom": "what a client saw (an HTTP 5xx): triage names the finding that explains it instead"}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: much faster
_REQUIRED = ("id", "title", "category", "severity", "match", "explain", "remediation", "examples")


class RuleError(OslaError, ValueError):
    """A rule file that cannot be used: the message names the file, the rule and the problem."""


@dataclass(frozen=True)
class Example:
    log: str
    service: str | None = None
    escalated: bool | None = None  # None: not checked
    source: str | None = None


@dataclass(frozen=True)
class Escalation:
    same: tuple[str, ...]
    match: object
    category: str
    severity: str
    reason: str


@dataclass(frozen=True)
class Threshold:
    count: int
    within: int  # seconds
    text: str


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    category: str
    severity: str
    match: object
    explain: str
    remediation: str
    path: str
    services: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()
    escalate_when: Escalation | None = None
    threshold: Threshold | None = None
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    raise_examples: tuple[Example, ...] = ()
    not_raise_examples: tuple[Example, ...] = ()
    superseded_by: tuple[Rule, ...] = field(default=(), compare=False, repr=False)

    def summary(self) -> dict:
        return {"id": self.id, "title": self.title, "category": self.category, "severity": self.severity,
                "services": list(self.services), "file": self.path}


def builtin_dir() -> Path:
    return data_dir("rules")


def load_rules(extra_dirs: tuple[str, ...] = (), builtin: bool = True) -> list[Rule]:
    """Built-in rules plus every ``*.yaml`` in ``extra_dirs`` (an id defined twice is an error)."""
    dirs = ([builtin_dir()] if builtin else []) + [Path(d) for d in extra_dirs]
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise RuleError(f"{directory}: not a directory of rule files")
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
            for rule in load_file(path):
                if rule.id in seen:
                    raise RuleError(f"{path}: rule {rule.id}: id already defined in {seen[rule.id]}")
                seen[rule.id] = str(path)
                rules.append(rule)
    return link(rules)


def link(rules: list[Rule]) -> list[Rule]:
    """Resolve ``supersedes`` into each rule's ``superseded_by`` (unknown ids are errors)."""
    by_id = {rule.id: rule for rule in rules}
    superseders: dict[str, list[Rule]] = {rule.id: [] for rule in rules}
    for rule in rules:
        for target in rule.supersedes:
            if target not in by_id:
                raise RuleError(f"{rule.path}: rule {rule.id}: supersedes unknown rule {target!r}")
            if target == rule.id:
                raise RuleError(f"{rule.path}: rule {rule.id}: a rule cannot supersede itself")
            superseders[target].append(rule)
    linked = []
    for rule in rules:
        object.__setattr__(rule, "superseded_by", tuple(superseders[rule.id]))
        linked.append(rule)
    return linked


MAX_RULE_FILE = 1 << 20  # bytes: a rule file is text a person wrote


def load_file(path: Path) -> list[Rule]:
    try:
        if path.stat().st_size > MAX_RULE_FILE:
            raise RuleError(f"{path}: larger than {MAX_RULE_FILE >> 20} MiB: not a rule file")
        text = path.read_text(encoding="utf-8")
        if "&" in text or "*" in text:  # only then can the file hold YAML anchors or aliases
            for event in yaml.parse(text, Loader=_LOADER):
                if isinstance(event, yaml.AliasEvent):
                    line = event.start_mark.line + 1 if event.start_mark is not None else "?"
                    raise RuleError(f"{path}: line {line}: YAML aliases (*name) are not allowed in rule "
                                    f"files (write the value out)")
        document = yaml.load(text, Loader=_LOADER)
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise RuleError(f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list) or not document["rules"]:
        raise RuleError(f"{path}: expected a mapping with a non-empty 'rules:' list")
    extra = set(document) - {"rules"}
    if extra:
        raise RuleError(f"{path}: unknown top-level key {sorted(extra)[0]!r} (only 'rules:')")
    return [_rule(item, path, i) for i, item in enumerate(document["rules"])]


def _rule(item, path: Path, index: int) -> Rule:
    name = item.get("id") if isinstance(item, dict) else None
    label = f"{path}: rule {name}" if isinstance(name, str) else f"{path}: rule #{index + 1}"

    def fail(message: str):
        raise RuleError(f"{label}: {message}")

    if not isinstance(item, dict):
        fail("must be a mapping")
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        fail(f"unknown key {unknown[0]!r} (keys: {', '.join(sorted(_KEYS))})")
    for key in _REQUIRED:
        if item.get(key) in (None, "", [], {}):
            fail(f"missing {key}")
    if not isinstance(name, str) or not _ID.match(name):
        fail("id must be lowercase words joined by dashes")
    for key in ("title", "explain", "remediation"):
        if not isinstance(item[key], str):
            fail(f"{key} must be text")
    if item["category"] not in CATEGORIES:
        fail(f"category must be one of {', '.join(CATEGORIES)}, not {item['category']!r}")
    if item["severity"] not in SEVERITIES:
        fail(f"severity must be one of {', '.join(SEVERITIES)}, not {item['severity']!r}")
    try:
        match = parse_match(item["match"])
        escalation = _escalation(item.get("escalate_when"))
    except (ConditionError, ValueError) as exc:
        fail(str(exc))
    examples = item["examples"]
    if not isinstance(examples, dict) or set(examples) - {"raise", "not_raise"}:
        fail("examples must be a mapping with 'raise' and 'not_raise' lists")
    parsed = {}
    for kind in ("raise", "not_raise"):
        items = examples.get(kind)
        if not isinstance(items, list) or not items:
            fail(f"examples.{kind} must list at least one example (real log lines)")
        try:
            parsed[kind] = tuple(_example(e) for e in items)
        except ValueError as exc:
            fail(f"examples.{kind}: {exc}")
    try:
        threshold = _threshold(item.get("threshold"))
        services = _names(item.get("services"), "services")
        supersedes = _names(item.get("supersedes"), "supersedes")
        references = _names(item.get("references"), "references")
        tags = _names(item.get("tags"), "tags")
        if set(tags) - set(TAGS):
            raise ValueError(f"unknown tag {sorted(set(tags) - set(TAGS))[0]!r} (tags: {', '.join(TAGS)})")
    except ValueError as exc:
        fail(str(exc))
    return Rule(id=str(name), title=item["title"].strip(), category=item["category"], severity=item["severity"],
                match=match, explain=item["explain"].strip(), remediation=item["remediation"].strip(),
                path=str(path), services=services, supersedes=supersedes, escalate_when=escalation,
                threshold=threshold, references=references, tags=tags, raise_examples=parsed["raise"],
                not_raise_examples=parsed["not_raise"])


def _names(value, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{key} must be a list of texts")
    return tuple(value)


def _example(item) -> Example:
    if isinstance(item, str):
        return Example(item)
    if not isinstance(item, dict) or not isinstance(item.get("log"), str):
        raise ValueError("each example is log text, or a mapping with 'log' (and service, escalated, source)")
    extra = set(item) - {"log", "service", "escalated", "source"}
    if extra:
        raise ValueError(f"unknown example key {sorted(extra)[0]!r}")
    if "escalated" in item and not isinstance(item["escalated"], bool):
        raise ValueError("escalated takes true or false")
    return Example(item["log"], item.get("service"), item.get("escalated"), item.get("source"))


def _escalation(block) -> Escalation | None:
    if block is None:
        return None
    if not isinstance(block, dict):
        raise ValueError("escalate_when must be a mapping")
    extra = set(block) - {"same", "match", "category", "severity", "reason"}
    if extra:
        raise ValueError(f"escalate_when: unknown key {sorted(extra)[0]!r}")
    same = block.get("same")
    same = [same] if isinstance(same, str) else same
    if not isinstance(same, list) or not same or not all(f in schema.FIELDS for f in same):
        raise ValueError("escalate_when.same must name schema fields (e.g. openstack.request_id)")
    if block.get("category") not in CATEGORIES or block.get("severity") not in SEVERITIES:
        raise ValueError("escalate_when needs a category and a severity")
    try:
        match = parse_match(block.get("match"))
    except ConditionError as exc:
        raise ValueError(f"escalate_when.{exc}") from None
    return Escalation(tuple(same), match, block["category"], block["severity"],
                      str(block.get("reason") or "a correlated event matched"))


def _threshold(block) -> Threshold | None:
    if block is None:
        return None
    count, within = (block.get("count"), str(block.get("within", ""))) if isinstance(block, dict) else (None, "")
    m = DURATION.match(within)
    if not isinstance(count, int) or isinstance(count, bool) or count < 2 or not m:
        raise ValueError("threshold needs count (2 or more) and within (e.g. 30s, 5m, 1h)")
    return Threshold(count, int(m.group(1)) * SECONDS[m.group(2)], f"{count} within {within}")
