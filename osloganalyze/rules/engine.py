"""Run rules over events: locally with Python predicates, or server-side with Elasticsearch
queries. Both build the same condition per rule (:func:`effective_condition`) and feed the same
:class:`~.findings.Collector`."""
from __future__ import annotations

from typing import Callable, Iterable

from .. import schema
from ..query import EventQuery
from .conditions import All, Any, Equals, Not, StartsWith
from .findings import Collector, correlation_values
from .model import Rule
from .to_elasticsearch import compile_query
from .to_python import compile_matcher, compile_predicate

ESCALATION_BATCH = 1000  # correlation values per Elasticsearch terms query


def base_condition(rule: Rule):
    """The rule's match, limited to its services."""
    if not rule.services:
        return rule.match
    exact = tuple(s for s in rule.services if not s.endswith("*"))
    prefixes = [StartsWith(schema.SERVICE_NAME, s[:-1]) for s in rule.services if s.endswith("*")]
    service = Any(tuple(([Equals(schema.SERVICE_NAME, exact)] if exact else []) + prefixes))
    return All((rule.match, service))


def effective_condition(rule: Rule):
    """What the rule reports: its base condition, minus events a superseding rule explains better."""
    if not rule.superseded_by:
        return base_condition(rule)
    return All((base_condition(rule), Not(Any(tuple(base_condition(s) for s in rule.superseded_by)))))


class LocalEngine:
    """One pass over an event stream, every rule tested on every event."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self._matcher = compile_matcher([effective_condition(rule) for rule in rules])
        self._escalations = [(rule, compile_predicate(rule.escalate_when.match))
                             for rule in rules if rule.escalate_when is not None]

    def matching(self, event: dict) -> list[Rule]:
        return [self.rules[i] for i in self._matcher(event)]

    def scan(self, events: Iterable[dict], query: EventQuery | None = None,
             progress: Callable[[int], None] | None = None) -> Collector:
        collector = Collector()
        keys = collector.escalation_keys
        # correlated events count from any service or host, but only inside the time range
        period = EventQuery(since=query.since, until=query.until) if query is not None else None
        rules, matcher = self.rules, self._matcher
        seen = 0
        for event in events:
            seen += 1
            if progress is not None and seen % 1000 == 0:
                progress(seen)
            if query is None or query.matches(event):
                for index in matcher(event):
                    collector.add(rules[index], event)
            elif not period.matches(event):
                continue
            for rule, test in self._escalations:
                if test(event):
                    keys.setdefault(rule.id, set()).update(correlation_values(event, rule.escalate_when.same))
        collector.events = seen
        return collector


class ElasticsearchEngine:
    """One search per rule (paged), plus one terms search per escalating rule."""

    def __init__(self, rules: list[Rule], source):
        self.rules = rules
        self.source = source  # sources.elasticsearch.ElasticsearchSource

    def query(self, rule: Rule, query: EventQuery | None = None) -> dict:
        clauses = [compile_query(effective_condition(rule))]
        if query is not None and query != EventQuery():
            clauses.append(query.to_elasticsearch())
        return {"bool": {"filter": clauses}}

    def scan(self, query: EventQuery | None = None, progress: Callable[[int], None] | None = None) -> Collector:
        collector = Collector()
        for rule in self.rules:
            hit_keys: set = set()
            for event in self.source.search(self.query(rule, query)):
                collector.add(rule, event)
                if rule.escalate_when is not None:
                    hit_keys |= correlation_values(event, rule.escalate_when.same)
                if progress is not None and collector.hits % 1000 == 0:
                    progress(collector.hits)
            if hit_keys:
                collector.escalation_keys[rule.id] = self._escalating(rule, sorted(hit_keys), query)
        collector.events = None  # the server does not say how many events it looked at
        return collector

    def _escalating(self, rule: Rule, values: list, query: EventQuery | None) -> set:
        """Those of ``values`` that an event matching the escalation condition shares."""
        escalation = rule.escalate_when
        found: set = set()
        for start in range(0, len(values), ESCALATION_BATCH):
            batch = values[start:start + ESCALATION_BATCH]
            shared = {"bool": {"should": [{"terms": {name: batch}} for name in escalation.same],
                               "minimum_should_match": 1}}
            clauses = [compile_query(escalation.match), shared]
            if query is not None:
                clauses.append(EventQuery(since=query.since, until=query.until).to_elasticsearch())
            for event in self.source.search({"bool": {"filter": clauses}}, fields=list(escalation.same)):
                found |= correlation_values(event, escalation.same) & set(batch)
        return found
