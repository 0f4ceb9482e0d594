"""Run rules over events: locally with Python predicates, or server-side with Elasticsearch
queries. Both build the same condition per rule (:func:`effective_condition`) and feed the same
:class:`~.findings.Collector`."""
from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable

from .. import schema
from ..parse.timestamps import stamp_of_millis
from ..query import EventQuery
from .conditions import All, Any, Equals, Not, StartsWith
from .findings import IDS_KEPT, Collector, correlation_values, keep_earliest
from .model import Rule
from .signature import signature
from .to_elasticsearch import compile_query
from .to_python import compile_matcher, compile_predicate

ESCALATION_BATCH = 1000  # correlation values per Elasticsearch terms query
_MESSAGE_KEYWORD = f"{schema.MESSAGE}.{schema.EXACT_SUBFIELD}"
# Hits whose signature is their masked message (no error type, no HTTP status) and whose message,
# if any, is whole in its keyword (ignored values are listed in _ignored): the server can count
# them by message, host and service. Retry loops make these most of a busy cloud's hits.
_COUNTABLE = {"bool": {"must_not": [
    {"exists": {"field": schema.ERROR_TYPE}}, {"exists": {"field": schema.HTTP_STATUS}},
    {"terms": {"_ignored": [schema.ERROR_TYPE, _MESSAGE_KEYWORD]}}]}}
COUNT_PAGE = 5000  # buckets per page (each page evaluates the rule over the range again)
HITS_PAGE = 2000  # events per page (a traceback with its event.original can be 40 kB: memory)
_COUNT_BY = [{name: {"terms": {"field": field, "missing_bucket": True}}} for name, field in
             (("message", _MESSAGE_KEYWORD), ("service", schema.SERVICE_NAME), ("host", schema.HOST_NAME))]
_COUNT_AGGS = {
    "first": {"min": {"field": schema.TIMESTAMP}}, "last": {"max": {"field": schema.TIMESTAMP}},
    **{name: {"terms": {"field": field, "size": IDS_KEPT, "order": {"first": "asc"}},  # the earliest ids
              "aggs": {"first": {"min": {"field": schema.TIMESTAMP}}}}
       for name, field in (("requests", schema.REQUEST_ID), ("instances", schema.INSTANCE_UUID))}}


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
    """Per rule: a composite aggregation counting the hits that differ only by message, host
    and service, one msearch for an example of each signature, and a search (paged) for the
    other hits; escalating and threshold rules get every hit, plus one terms search per
    escalating rule."""

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
            condition = self.query(rule, query)
            if rule.escalate_when is None and rule.threshold is None:
                self._count(rule, condition, collector)
                if progress is not None:
                    progress(collector.hits)
                condition = {"bool": {"filter": [condition], "must_not": [_COUNTABLE]}}
            for event in self.source.search(condition, page_size=HITS_PAGE):
                collector.add(rule, event)
                if rule.escalate_when is not None:
                    hit_keys |= correlation_values(event, rule.escalate_when.same)
                if progress is not None and collector.hits % 1000 == 0:
                    progress(collector.hits)
            if hit_keys:
                collector.escalation_keys[rule.id] = self._escalating(rule, sorted(hit_keys), query)
        collector.events = None  # the server does not say how many events it looked at
        return collector

    def _count(self, rule: Rule, condition: dict, collector: Collector) -> None:
        """Add the rule's countable hits to ``collector`` as the server counts them."""
        countable = {"bool": {"filter": [condition, _COUNTABLE]}}
        groups: dict[str, list[dict]] = {}  # signature -> its buckets
        for b in self.source.composite(countable, _COUNT_BY, _COUNT_AGGS, COUNT_PAGE):
            groups.setdefault(signature({schema.MESSAGE: b["key"]["message"]}), []).append(b)
        # an example per signature: the first event of its earliest bucket
        examples = self.source.first_events([
            {"bool": {"filter": [countable] + _bucket_filters(min(buckets, key=_first_millis))}}
            for buckets in groups.values()])
        for (sig, buckets), example in zip(groups.items(), examples):
            if example is None:  # the events went away between the two requests
                continue
            services: Counter = Counter()
            hosts: Counter = Counter()
            for b in buckets:
                services[b["key"]["service"] or "?"] += b["doc_count"]
                hosts[b["key"]["host"] or "?"] += b["doc_count"]
            firsts = [b["first"]["value"] for b in buckets if b["first"]["value"] is not None]
            lasts = [b["last"]["value"] for b in buckets if b["last"]["value"] is not None]
            collector.add_counted(
                rule, sig, sum(b["doc_count"] for b in buckets), stamp_of_millis(min(firsts, default=None)),
                stamp_of_millis(max(lasts, default=None)), services, hosts,
                _earliest_keys(buckets, "requests"), _earliest_keys(buckets, "instances"), example)

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


def _bucket_filters(bucket: dict) -> list[dict]:
    """Filters selecting exactly the events of one composite bucket of :data:`_COUNT_BY`."""
    filters = []
    for source in _COUNT_BY:
        (name, spec), = source.items()
        field, value = spec["terms"]["field"], bucket["key"][name]
        filters.append({"term": {field: value}} if value is not None
                       else {"bool": {"must_not": {"exists": {"field": field}}}})
    return filters


def _first_millis(bucket: dict) -> float:
    value = bucket["first"]["value"]
    return value if value is not None else float("inf")


def _earliest_keys(buckets: list[dict], name: str) -> dict:
    """The earliest distinct values over the buckets' terms aggregations, value -> first stamp."""
    kept: dict = {}
    for b in buckets:
        for t in b[name]["buckets"]:
            keep_earliest(kept, t["key"], stamp_of_millis(t["first"]["value"]))
    return kept
