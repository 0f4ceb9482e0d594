"""Run every rule's examples: each ``raise`` example must produce a finding of its rule (escalated
or not, if the example says), each ``not_raise`` example must not. Examples run against the whole
rule set, so a rule that supersedes another is part of what is tested."""
from __future__ import annotations

from dataclasses import dataclass

from ..parse import parse_text
from .engine import LocalEngine
from .model import Example, Rule

EXAMPLE_HOST = "example-host"


@dataclass(frozen=True)
class Outcome:
    rule: str
    kind: str  # raise | not_raise
    index: int
    ok: bool
    problem: str | None = None
    source: str | None = None


def example_service(rule: Rule, example: Example) -> str | None:
    if example.service:
        return example.service
    return next((s for s in rule.services if not s.endswith("*")), None)


def example_events(rule: Rule, kind: str, index: int, example: Example) -> list[dict]:
    service = example_service(rule, example)
    path = f"/examples/{rule.id}/{kind}-{index}/{service or 'log'}.log"
    return parse_text(example.log if example.log.endswith("\n") else example.log + "\n",
                      path=path, host=EXAMPLE_HOST, service=service)


def run_examples(rules: list[Rule], only: set[str] | None = None) -> list[Outcome]:
    engine = LocalEngine(rules)
    outcomes = []
    for rule in rules:
        if only is not None and rule.id not in only:
            continue
        for kind, examples in (("raise", rule.raise_examples), ("not_raise", rule.not_raise_examples)):
            for index, example in enumerate(examples):
                outcomes.append(_check(engine, rule, kind, index, example))
    return outcomes


def _check(engine: LocalEngine, rule: Rule, kind: str, index: int, example: Example) -> Outcome:
    def outcome(problem: str | None) -> Outcome:
        return Outcome(rule.id, kind, index, problem is None, problem, example.source)

    if rule.services and example_service(rule, example) is None:
        return outcome("the rule's services are all prefixes: the example needs service:")
    events = example_events(rule, kind, index, example)
    if not events:
        return outcome("the example's text parses into no events")
    mine = [f for f in engine.scan(events).findings() if f.rule == rule.id]
    if kind == "not_raise":
        return outcome(f"raised: {mine[0].signature}" if mine else None)
    if not mine:
        return outcome("did not raise")
    if example.escalated is not None and not any(f.escalated == example.escalated for f in mine):
        return outcome("raised, but " + ("not escalated" if example.escalated else "escalated"))
    return outcome(None)
