"""A report's tables from Elasticsearch: every count is an aggregation the server computes
(composite, date_histogram, filters); only buckets come back, never a day of events.

Round trips: one per page of each composite aggregation, one for the day/period totals, one
for the keystone counts, one msearch per 200 spikes for their example requests, plus the rule
engine's aggregations and searches for the findings.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .. import schema
from ..query import EventQuery
from ..rules.engine import ElasticsearchEngine, base_condition
from ..rules.findings import Collector
from ..rules.signature import signature
from ..rules.to_elasticsearch import compile_query
from ..sources.elasticsearch import ElasticsearchSource
from ..times import stamp_of_millis
from .analyze import spike_hour, spike_key
from .period import HOUR, WINDOW, Period, bucket
from .tally import COUNTED_LEVELS, ERROR_LEVELS, HTTP_401, Tally, endpoint, keystone_rules

PAGE = 10000  # buckets per composite page: each page scans every matching event again
SAMPLE = 100  # events brought back per signature bucket that may hold several signatures
CONCURRENT = 2  # searches in flight: the findings, and the tally's parts one after another
SAMPLED_PAGE = 100  # buckets per page when each brings its samples (tracebacks: memory stays bounded)
_EXAMPLE_FIELDS = [schema.TIMESTAMP, schema.SERVICE_NAME, schema.HOST_NAME, schema.LOG_LEVEL, schema.MESSAGE,
                   schema.ERROR_TYPE, schema.ERROR_MESSAGE, schema.ERROR_STACK_TRACE, schema.HTTP_STATUS,
                   schema.HTTP_METHOD, schema.URL_ORIGINAL, schema.REQUEST_ID, schema.INSTANCE_UUID]


def _terms(name: str, field: str) -> dict:
    return {name: {"terms": {"field": field, "missing_bucket": True}}}


def _range(since: str, until: str) -> dict:
    return {"range": {schema.TIMESTAMP: {"gte": since, "lt": until}}}


class RemoteTally:
    def __init__(self, client, prefix: str, period: Period, rules):
        self.period, self.rules = period, rules
        self.source = ElasticsearchSource(client, prefix)
        self.tally = Tally(period)

    @property
    def round_trips(self) -> int:
        return self.source.round_trips

    def collect(self) -> tuple[Tally, Collector]:
        """The tally and the findings. The parts are independent searches, run :data:`CONCURRENT`
        at a time (the server answers a one-day search on one shard with about one core)."""
        period = self.period
        whole = _range(period.baseline_start, period.end)
        with ThreadPoolExecutor(CONCURRENT) as pool:
            findings = pool.submit(ElasticsearchEngine(self.rules, self.source).scan,
                                   EventQuery(since=period.start, until=period.end))
            parts = [pool.submit(part) for part in (
                self._totals, self._spikes, self._requests, lambda: self._keystone(whole),
                lambda: self._signatures("period", _range(period.start, period.end)),
                lambda: self._signatures("baseline", _range(period.baseline_start, period.start)))]
            for part in parts:
                part.result()
            return self.tally, findings.result()

    def _spikes(self) -> None:
        """WARNING and above per service, host, level and hour, over the baseline and the period."""
        query = {"bool": {"filter": [_range(self.period.baseline_start, self.period.end),
                                     {"terms": {schema.LOG_LEVEL: list(COUNTED_LEVELS)}}]}}
        hour = {"hour": {"date_histogram": {"field": schema.TIMESTAMP, "fixed_interval": "1h"}}}
        levels = self.tally.levels
        for b in self.source.composite(query, [_terms("service", schema.SERVICE_NAME), _terms("host", schema.HOST_NAME),
                                              _terms("level", schema.LOG_LEVEL), hour], page=PAGE):
            k = b["key"]
            levels[(k["service"] or "?", k["host"] or "?", k["level"], stamp_of_millis(k["hour"]))] += b["doc_count"]

    def _requests(self) -> None:
        """Requests and 5xx per service, endpoint and 10 minutes of the period. Ids in URLs are
        masked here, as bucket keys (a painless runtime field could mask on the server, but not
        every cluster has painless, and the buckets are already counts, not events)."""
        period = self.period
        query = {"bool": {"filter": [_range(period.start, period.end), {"exists": {"field": schema.HTTP_STATUS}}]}}
        window = {"window": {"date_histogram": {"field": schema.TIMESTAMP, "fixed_interval": f"{WINDOW}s"}}}
        errors = {"errors": {"filter": {"range": {schema.HTTP_STATUS: {"gte": 500}}},
                             "aggs": {"example": self._first_with(schema.REQUEST_ID)}}}
        for b in self.source.composite(query, [_terms("service", schema.SERVICE_NAME), _terms("method", schema.HTTP_METHOD),
                                              _terms("url", schema.URL_ORIGINAL), window], errors, PAGE):
            k, err = b["key"], b["errors"]
            self.tally.add_requests(k["service"] or "?", endpoint(k["method"], k["url"]), stamp_of_millis(k["window"]),
                                    b["doc_count"], err["doc_count"], _first_value(err["example"], schema.REQUEST_ID))

    @staticmethod
    def _first_with(field: str) -> dict:
        return {"filter": {"exists": {"field": field}},
                "aggs": {"hit": {"top_hits": {"size": 1, "sort": [{schema.TIMESTAMP: "asc"}],
                                              "_source": [field]}}}}

    def _totals(self) -> None:
        period = self.period
        aggs = self.source.aggregate(_range(period.baseline_start, period.end), {
            "baseline": {"filter": _range(period.baseline_start, period.start), "aggs": {"days": {"date_histogram": {
                "field": schema.TIMESTAMP, "calendar_interval": "1d", "min_doc_count": 1}}}},
            "period": {"filter": _range(period.start, period.end)}})
        for day in aggs["baseline"]["days"]["buckets"]:
            self.tally.days[stamp_of_millis(day["key"])[:10]] += day["doc_count"]
        self.tally.period_events = aggs["period"]["doc_count"]
        self.tally.events = aggs["period"]["doc_count"] + aggs["baseline"]["doc_count"]

    def _signatures(self, where: str, when: dict) -> None:
        errorish = {"bool": {"should": [{"terms": {schema.LOG_LEVEL: list(ERROR_LEVELS)}},
                                        {"exists": {"field": schema.ERROR_TYPE}}], "minimum_should_match": 1}}
        keyword = f"{schema.MESSAGE}.{schema.EXACT_SUBFIELD}"
        sources = [{"service": {"terms": {"field": schema.SERVICE_NAME, "missing_bucket": True}}},
                   {"type": {"terms": {"field": schema.ERROR_TYPE, "missing_bucket": True}}},
                   {"error": {"terms": {"field": f"{schema.ERROR_MESSAGE}.{schema.EXACT_SUBFIELD}",
                                        "missing_bucket": True}}},
                   {"message": {"terms": {"field": keyword, "missing_bucket": True}}}]
        aggs = {"first": {"min": {"field": schema.TIMESTAMP}}, "last": {"max": {"field": schema.TIMESTAMP}},
                "hosts": {"terms": {"field": schema.HOST_NAME, "size": 5, "missing": "?"}},
                "example": {"top_hits": {"size": 1, "sort": [{schema.TIMESTAMP: "asc"}],
                                         "_source": _EXAMPLE_FIELDS}},
                "request": self._first_with(schema.REQUEST_ID),
                "instance": self._first_with(schema.INSTANCE_UUID)}
        # one bucket can hold several signatures: the deepest frame of a traceback is not a
        # keyword, and messages longer than the keyword limit have no bucket of their own; such
        # buckets bring their events (up to SAMPLE) and are split by signature here
        aggs["samples"] = {"filter": {"bool": {"should": [
            {"exists": {"field": schema.ERROR_TYPE}},
            {"bool": {"must_not": {"exists": {"field": keyword}}}}], "minimum_should_match": 1}},
            "aggs": {"hits": {"top_hits": {"size": SAMPLE, "sort": [{schema.TIMESTAMP: "asc"}],
                                           "_source": _EXAMPLE_FIELDS}}}}
        for b in self.source.composite({"bool": {"filter": [when, errorish]}}, sources, aggs, SAMPLED_PAGE):
            service = b["key"]["service"] or "?"
            samples = [h["_source"] for h in b["samples"]["hits"]["hits"]["hits"]]
            if samples:
                self._split(where, service, b, samples)
                continue
            hit = b["example"]["hits"]["hits"][0]["_source"]
            example = dict(hit)
            example[schema.REQUEST_ID] = _first_value(b["request"], schema.REQUEST_ID)
            example[schema.INSTANCE_UUID] = _first_value(b["instance"], schema.INSTANCE_UUID)
            hosts = {h["key"]: h["doc_count"] for h in b["hosts"]["buckets"]}
            self.tally.add_signature(where, service, signature(hit), b["doc_count"], _bound(b["first"]),
                                     _bound(b["last"]), hosts, example)

    def _split(self, where: str, service: str, b: dict, samples: list[dict]) -> None:
        """A bucket's events by signature: exact when all of them came back, else in the
        proportions of the sample (the largest share takes the rounding)."""
        groups: dict[str, list[dict]] = {}
        for hit in samples:
            groups.setdefault(signature(hit), []).append(hit)
        total, seen = b["doc_count"], len(samples)
        shares = {sig: len(hits) if seen == total else round(len(hits) * total / seen) for sig, hits in groups.items()}
        largest = max(groups, key=lambda sig: len(groups[sig]))
        shares[largest] += total - sum(shares.values())
        for sig, hits in groups.items():
            hosts: dict = {}
            for hit in hits:
                host = hit.get(schema.HOST_NAME) or "?"
                hosts[host] = hosts.get(host, 0) + 1
            example = dict(hits[0])
            for name in (schema.REQUEST_ID, schema.INSTANCE_UUID):
                example[name] = next((h[name] for h in hits if h.get(name)), None)
            stamps = [h[schema.TIMESTAMP] for h in hits if h.get(schema.TIMESTAMP)]
            first, last = (min(stamps), max(stamps)) if stamps else (None, None)
            if seen < total and sig == largest:
                first, last = _bound(b["first"]) or first, _bound(b["last"]) or last
            self.tally.add_signature(where, service, sig, shares[sig], first, last, hosts, example)

    def _keystone(self, whole: dict) -> None:
        """Keystone-tagged rule matches (in keystone, or at WARNING and above elsewhere) and
        keystone's own 401s, per hour: the same events the local Observer counts."""
        where_counted = {"bool": {"should": [{"prefix": {schema.SERVICE_NAME: "keystone"}},
                                             {"terms": {schema.LOG_LEVEL: list(COUNTED_LEVELS)}}],
                                  "minimum_should_match": 1}}
        filters = {rule.id: {"bool": {"filter": [compile_query(base_condition(rule)), where_counted]}}
                   for rule in keystone_rules(self.rules)}
        filters[HTTP_401] = {"bool": {"filter": [{"prefix": {schema.SERVICE_NAME: "keystone"}},
                                                 {"term": {schema.HTTP_STATUS: 401}}]}}
        kinds = self.source.aggregate(whole, {"kinds": {"filters": {"filters": filters}, "aggs": {"hours": {
            "date_histogram": {"field": schema.TIMESTAMP, "fixed_interval": "1h", "min_doc_count": 1}}}}})
        kinds = kinds["kinds"]["buckets"]
        for kind, bucket_ in kinds.items():
            for h in bucket_["hours"]["buckets"]:
                stamp = stamp_of_millis(h["key"])
                self.tally.keystone[(self.period.where(stamp), bucket(stamp, HOUR), kind)] += h["doc_count"]

    def spike_examples(self, spikes: list[dict]) -> dict:
        """Request ids of one event behind each spike (one msearch per 200 spikes)."""
        queries = []
        for s in spikes:
            levels = ["WARNING"] if s["level"] == "warning" else list(ERROR_LEVELS)
            start = spike_hour(s)
            filters = [{"range": {schema.TIMESTAMP: {"gte": start, "lt": start + "||+1h"}}},
                       {"terms": {schema.LOG_LEVEL: levels}}, {"exists": {"field": schema.REQUEST_ID}}]
            for name, value in ((schema.SERVICE_NAME, s["service"]), (schema.HOST_NAME, s["host"])):
                filters.append({"term": {name: value}} if value != "?" else
                               {"bool": {"must_not": {"exists": {"field": name}}}})
            queries.append({"bool": {"filter": filters}})
        found = {}
        for s, event in zip(spikes, self.source.first_events(queries, [schema.REQUEST_ID])):
            if event:
                found[spike_key(s)] = event.get(schema.REQUEST_ID)
        return found


def _bound(agg: dict) -> str | None:
    return stamp_of_millis(agg.get("value"))


def _first_value(agg: dict, field: str):
    hits = agg["hit"]["hits"]["hits"]
    return hits[0]["_source"].get(field) if hits else None
