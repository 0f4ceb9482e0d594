"""Run rules over events: locally with Python predicates, or server-side with Elasticsearch
queries. Both build the same condition per rule (:func:`effective_condition`) and feed the same
:class:`~.findings.Collector`."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from .. import schema
from ..es.client import OPENSEARCH
from ..query import SORT_FIELDS, EventQuery, order
from ..sources.elasticsearch import SORT
from ..times import stamp_of_millis
from .conditions import All, Any, Equals, Not, StartsWith, fields_of
from .findings import IDS_KEPT, Collector, correlation_values, keep_earliest
from .model import Rule
from .signature import signature
from .to_elasticsearch import compile_query
from .to_python import compile_matcher, compile_predicate

RULES_PER_COUNT = 8  # rules counted per request
ESCALATION_BATCH = 1000  # correlation values per Elasticsearch terms query
_MESSAGE_KEYWORD = f"{schema.MESSAGE}.{schema.EXACT_SUBFIELD}"
# Hits whose signature is their masked message (no error type, no HTTP status) and whose message,
# if any, is whole in its keyword: the server can count them by message, host and service. Retry
# loops make these most of a busy cloud's hits. Values too long for their keyword (ignore_above)
# are not indexed: Elasticsearch lists such fields in _ignored. OpenSearch does not, so there a
# message is whole when its keyword exists, and an error type over 1,024 characters (no exception
# name is) is not seen: its event is counted by message (README, "OpenSearch").
_COUNTABLE = {"bool": {"must_not": [
    {"exists": {"field": schema.ERROR_TYPE}}, {"exists": {"field": schema.HTTP_STATUS}},
    {"terms": {"_ignored": [schema.ERROR_TYPE, _MESSAGE_KEYWORD]}}]}}
_COUNTABLE_OPENSEARCH = {"bool": {"must_not": [
    {"exists": {"field": schema.ERROR_TYPE}}, {"exists": {"field": schema.HTTP_STATUS}},
    {"bool": {"filter": [{"exists": {"field": schema.MESSAGE}}], "must_not": [{"exists": {"field": _MESSAGE_KEYWORD}}]}}]}}
COUNT_PAGE = 5000  # buckets per page (each page evaluates the rule over the range again)
SLIM_PAGE = 10000  # events per page when only a few short fields come back
HITS_PAGE = 2000  # events per page (a traceback with its event.original can be 40 kB: memory)
_COUNT_BY = [{name: {"terms": {"field": field, "missing_bucket": True}}} for name, field in
             (("message", _MESSAGE_KEYWORD), ("service", schema.SERVICE_NAME), ("host", schema.HOST_NAME))]
_COUNT_AGGS = {"first": {"min": {"field": schema.TIMESTAMP}}, "last": {"max": {"field": schema.TIMESTAMP}}}
# a signature's first event and earliest distinct ids (exact over shards: an id among the first
# IDS_KEPT overall is among the first IDS_KEPT of the shard holding its first event)
_DETAILS = {"example": {"top_hits": {"size": 1, "sort": SORT}},
            **{name: {"terms": {"field": field, "size": IDS_KEPT, "order": [{"first": "asc"}, {"_key": "asc"}]},
                      "aggs": {"first": {"min": {"field": schema.TIMESTAMP}}}}
               for name, field in (("requests", schema.REQUEST_ID), ("instances", schema.INSTANCE_UUID))}}
SIGNATURES_PER_SEARCH = 1000  # filters per search (each with up to 11 buckets: search.max_buckets)
TERMS_PER_FILTER = 10000  # messages per terms query (index.max_terms_count is 65,536)


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
        # each rule's own condition once; a rule another one supersedes is dropped after
        # (effective_condition would test the superseding rules again inside every such rule)
        tested = list(rules) + [s for s in dict.fromkeys(s for r in rules for s in r.superseded_by)
                                if s not in rules]  # superseders outside this rule set count too
        escalating = [rule for rule in rules if rule.escalate_when is not None]
        # one generated function tests the rules, the superseders and the escalations' conditions
        base = compile_matcher([base_condition(rule) for rule in tested]
                               + [rule.escalate_when.match for rule in escalating])  # type: ignore[union-attr]
        position = {id(rule): i for i, rule in enumerate(tested)}
        superseders = {i: frozenset(position[id(s)] for s in rule.superseded_by)
                       for i, rule in enumerate(rules) if rule.superseded_by}
        own, first_escalation = len(rules), len(tested)
        self._escalations = [(rule, rule.escalate_when.same) for rule in escalating]  # type: ignore[union-attr]

        def classify(event: dict) -> tuple[list[int], list[int]]:
            """(the rules the event is a finding of, the escalations whose condition it meets)."""
            hits = base(event)
            if not hits:
                return hits, hits
            held = frozenset(hits)
            found = [i for i in hits if i < own and held.isdisjoint(superseders.get(i, ()))]
            return found, [i - first_escalation for i in hits if i >= first_escalation]

        self._classify = classify
        self._matcher = lambda event: classify(event)[0]

    def matching(self, event: dict) -> list[Rule]:
        return [self.rules[i] for i in self._matcher(event)]

    def scan(self, events: Iterable[dict], query: EventQuery | None = None,
             progress: Callable[[int], None] | None = None) -> Collector:
        collector = Collector()
        keys = collector.escalation_keys
        # correlated events count from any service or host, but only inside the time range
        period = EventQuery(since=query.since, until=query.until) if query is not None else None
        rules, classify, escalations = self.rules, self._classify, self._escalations
        seen = inside = 0
        for event in events:
            seen += 1
            if progress is not None and seen % 1000 == 0:
                progress(seen)
            if query is None or query.matches(event):
                inside += 1
                found, escalated = classify(event)
                for index in found:
                    collector.add(rules[index], event)
            elif period is not None and not period.matches(event):
                continue
            else:
                escalated = classify(event)[1]
            for index in escalated:
                rule, same = escalations[index]
                keys.setdefault(rule.id, set()).update(correlation_values(event, same))
        collector.events = inside  # the events in the query's window (read: seen)
        return collector


class ElasticsearchEngine:
    """First one count per :data:`RULES_PER_COUNT` rules; then, per rule with hits, a composite
    aggregation counting the hits that differ only by message, host and service, one search for
    each signature's first event and earliest ids, and a search (paged) for the other hits;
    escalating and threshold rules get every hit, plus one terms search per escalating rule."""

    def __init__(self, rules: list[Rule], source):
        self.rules = rules
        self.source = source  # sources.elasticsearch.ElasticsearchSource
        self.countable = _COUNTABLE_OPENSEARCH if source.product == OPENSEARCH else _COUNTABLE

    def query(self, rule: Rule, query: EventQuery | None = None, condition=None) -> dict:
        """The rule's search (its effective condition, or ``condition``) within ``query``."""
        return {"bool": {"filter": [compile_query(condition or effective_condition(rule)), *_scope(query)]}}

    def scan(self, query: EventQuery | None = None, progress: Callable[[int], None] | None = None) -> Collector:
        collector = Collector()
        hits = self._hit_counts(query)
        for rule in self.rules:
            total, countable = hits[rule.id]
            if not total:
                continue
            hit_keys: set = set()
            simple = rule.escalate_when is None and rule.threshold is None
            if simple:
                if countable:
                    self._count(rule, self.query(rule, query), collector)
                    if progress is not None:
                        progress(collector.hits)
                if total == countable:
                    continue
            for event in self._sent(rule, query, uncountable=simple):
                collector.add(rule, event)
                if rule.escalate_when is not None:
                    hit_keys |= correlation_values(event, rule.escalate_when.same)
                if progress is not None and collector.hits % 1000 == 0:
                    progress(collector.hits)
            if hit_keys:
                collector.escalation_keys[rule.id] = self._escalating(rule, sorted(hit_keys), query)
        # the events the rules looked at: one count (a window without any is said, not a clean bill)
        collector.events = self.source.count({"bool": {"filter": _scope(query)}})
        return collector

    def _hit_counts(self, query: EventQuery | None) -> dict[str, tuple[int, int]]:
        """Rule id -> (hits, hits the server can count) of the rule's base condition (a superset
        of what it reports), :data:`RULES_PER_COUNT` rules per request: most rules find nothing
        on most days, and then cost no more than this. (All rules' automata in one request
        overflow a 512 MB node's memory.)"""
        # the scope itself as the top query, not wrapped in another bool: so wrapped, the cold
        # report was slower (the filters aggregation runs otherwise; benchmarks/README.md)
        scope: dict = next(iter(_scope(query)), {"match_all": {}})
        counts = {}
        for start in range(0, len(self.rules), RULES_PER_COUNT):
            rules = {str(n): rule for n, rule in enumerate(self.rules[start:start + RULES_PER_COUNT])}  # valid keys
            answer = self.source.aggregate(scope, {"rules": {
                "filters": {"filters": {n: compile_query(base_condition(rule)) for n, rule in rules.items()}},
                "aggs": {"countable": {"filter": self.countable}}}})["rules"]["buckets"]
            counts.update({rule.id: (answer[n]["doc_count"], answer[n]["countable"]["doc_count"])
                           for n, rule in rules.items()})
        return counts

    def _sent(self, rule: Rule, query: EventQuery | None, uncountable: bool) -> Iterator[dict]:
        """The rule's hits as events (only those the server cannot count, if ``uncountable``).
        A rule that others supersede (python-traceback: 32 of them) is searched by its base
        condition: the server fetches only the fields the superseding conditions look at, they
        are tested here, and the events left are fetched whole. Asked of the server, the
        superseding patterns walk their term dictionaries again for every page."""
        def narrowed(condition: dict) -> dict:
            return {"bool": {"filter": [condition], "must_not": [self.countable]}} if uncountable else condition
        if not rule.superseded_by:
            yield from self.source.search(narrowed(self.query(rule, query)), page_size=HITS_PAGE)
            return
        superseding = Any(tuple(base_condition(s) for s in rule.superseded_by))
        superseded = compile_predicate(superseding)
        fields = sorted(fields_of(superseding) | set(SORT_FIELDS))
        kept = [(index, doc_id) for index, doc_id, event in self.source.search(
            narrowed(self.query(rule, query, base_condition(rule))), fields=fields, page_size=SLIM_PAGE,
            addressed=True) if not superseded(event)]
        for start in range(0, len(kept), HITS_PAGE):
            yield from self.source.documents(kept[start:start + HITS_PAGE])

    def _count(self, rule: Rule, condition: dict, collector: Collector) -> None:
        """Add the rule's countable hits to ``collector`` as the server counts them."""
        countable = {"bool": {"filter": [condition, self.countable]}}
        groups: dict[str, list[dict]] = {}  # signature -> its buckets
        for b in self.source.composite(countable, _COUNT_BY, _COUNT_AGGS, COUNT_PAGE):
            groups.setdefault(signature({schema.MESSAGE: b["key"]["message"]}), []).append(b)
        for (sig, buckets), (example, request_ids, instance_uuids) in zip(groups.items(),
                                                                          self._details(countable, groups)):
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
                stamp_of_millis(max(lasts, default=None)), services, hosts, request_ids, instance_uuids, example)

    def _details(self, countable: dict, groups: dict[str, list[dict]]) -> list[tuple]:
        """Per signature: its first event, and its earliest request ids and instance uuids
        (id -> first stamp). One search per :data:`SIGNATURES_PER_SEARCH` signatures, a filter
        per signature on its messages (:data:`TERMS_PER_FILTER` at most, else several): the
        rule's patterns are compiled once, and the terms aggregations run on one signature's
        events (under every composite bucket they cost five times the counting)."""
        filters, owners = [], []
        for n, buckets in enumerate(groups.values()):
            messages = sorted({b["key"]["message"] for b in buckets if b["key"]["message"] is not None})
            chunks: list = [messages[i:i + TERMS_PER_FILTER] for i in range(0, len(messages), TERMS_PER_FILTER)]
            if any(b["key"]["message"] is None for b in buckets):
                chunks.append(None)
            filters += [_with_messages(chunk) for chunk in chunks]
            owners += [n] * len(chunks)
        details: list[list] = [[None, {}, {}] for _ in groups]
        for start in range(0, len(filters), SIGNATURES_PER_SEARCH):
            batch = {str(i): filters[i] for i in range(start, min(start + SIGNATURES_PER_SEARCH, len(filters)))}
            answer = self.source.aggregate(countable, {"signatures": {"filters": {"filters": batch}, "aggs": _DETAILS}})
            for i, found in answer["signatures"]["buckets"].items():
                kept = details[owners[int(i)]]
                example = found["example"]["hits"]["hits"]
                if example and (kept[0] is None or order(example[0]["_source"]) < order(kept[0])):
                    kept[0] = example[0]["_source"]
                for ids, name in ((kept[1], "requests"), (kept[2], "instances")):
                    for t in found[name]["buckets"]:
                        keep_earliest(ids, t["key"], stamp_of_millis(t["first"]["value"]))
        return [tuple(d) for d in details]

    def _escalating(self, rule: Rule, values: list, query: EventQuery | None) -> set:
        """Those of ``values`` that an event matching the escalation condition shares."""
        escalation = rule.escalate_when
        found: set = set()
        if escalation is None:
            return found
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


def _scope(query: EventQuery | None) -> list[dict]:
    """The query's filter clauses (none when it asks for everything)."""
    return [query.to_elasticsearch()] if query is not None and query != EventQuery() else []


def _with_messages(messages: list[str] | None) -> dict:
    """Events with one of these whole messages (None: with no message)."""
    if messages is None:
        return {"bool": {"must_not": {"exists": {"field": _MESSAGE_KEYWORD}}}}
    return {"terms": {_MESSAGE_KEYWORD: messages}}
