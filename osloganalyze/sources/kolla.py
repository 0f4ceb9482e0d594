"""Kolla-Ansible's central logging as it is: the daily ``flog-*`` indices Kolla's own Fluentd
writes into OpenSearch (or Elasticsearch), with Kolla's field names.

Kolla's parser splits each oslo.log record into ``Timestamp``, ``Pid``, ``log_level``,
``python_module``, the context (``request_id`` and ``global_request_id`` *without* ``req-``,
``user_id``, ``tenant_id``, ...) and ``Payload`` (the message with its joined lines); Fluentd adds
``Hostname``, ``Logger`` (``openstack.<project>``) and ``programname`` (the file's base name).
There are no ``error.*`` or ``http.*`` fields and no byte offsets.

So osla reads these documents back as the oslo.log lines they were cut from
(:func:`oslo_line`), grouped per host and program in the order they were written
(:class:`KollaSource`), and its own parser makes osla's events of them: the same fields, stack
traces and request ids as from the files (:mod:`osloganalyze.parse.documents`). What Kolla's
shipping lost cannot come back and is said where it matters: a traceback whose lines carry
``[instance: ...]`` is split by Kolla's parser into one document per line, and documents without
``Pid``/``log_level`` (Apache and uWSGI lines) keep only their text.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .. import schema
from ..query import EventQuery
from ..times import stamp_of_millis, timed

log = logging.getLogger("osla.server")
PREFIX = "flog"  # Kolla's opensearch_log_index_prefix (kibana_log_prefix on older clouds)
PAGE = 5000
SCROLL = "2m"

# Kolla's field names, in one place
PAYLOAD, LEVEL, PROGRAM, HOST, LOGGER, PID, TIMESTAMP_TEXT, MODULE = (
    "Payload", "log_level", "programname", "Hostname", "Logger", "Pid", "Timestamp", "python_module")
REQUEST, GLOBAL_REQUEST, SYSTEM_SCOPE = "request_id", "global_request_id", "system_scope"
USER_FIELDS = ("user_id", "tenant_id", "domain_id")
DOMAIN_FIELDS = ("user_domain", "project_domain")
TIME = schema.TIMESTAMP  # Fluentd's logstash_format names it as osla does: the record's time in UTC
# (Timestamp is the container's local clock)
EXACT = (LEVEL, PROGRAM, HOST, REQUEST, GLOBAL_REQUEST)  # the fields queries, sorts and aggregations use
SIGNATURE = (PAYLOAD, PROGRAM)  # a mapping with these is Kolla's

NOTES = [
    "Kolla's indices: request ids stored without 'req-' (osla adds it back); events rebuilt from Payload "
    "by osla's parser; a traceback whose lines carry [instance: ...] is one document per line in Kolla's "
    "indices, rejoined only where its lines were found together",
]


class ScrollApi(Protocol):
    def search(self, index: str, body: dict, **params: Any) -> dict: ...

    def scroll(self, index: str, body: dict) -> Iterator[dict]: ...


@dataclass(frozen=True)
class KollaFields:
    """The names under which this cluster's mapping lets Kolla's fields be matched exactly: the
    field itself where it is a keyword, else the ``.keyword`` subfield dynamic mapping adds to
    text (Kolla installs no template of its own)."""

    exact: dict[str, str]

    @classmethod
    def of_mapping(cls, mappings: dict) -> KollaFields | None:
        """From ``GET <pattern>/_mapping``; None when the indices are not Kolla's."""
        merged: dict[str, dict] = {}
        for index in mappings.values():
            merged.update((index.get("mappings") or {}).get("properties") or {})
        if not all(name in merged for name in SIGNATURE):
            return None
        exact = {}
        for name in EXACT:
            field = merged.get(name) or {}
            if field.get("type") == "keyword":
                exact[name] = name
            elif (field.get("fields") or {}).get("keyword", {}).get("type") == "keyword":
                exact[name] = f"{name}.keyword"
            else:
                exact[name] = f"{name}.keyword"  # not seen yet (no document has it): what dynamic mapping will make
        return cls(exact)

    def name(self, field: str) -> str:
        return self.exact[field]


def bare(request_id: str) -> str:
    """A request id as Kolla stores it: without 'req-'."""
    return request_id[4:] if request_id.startswith("req-") else request_id


def query_of(query: EventQuery, fields: KollaFields) -> dict:
    """A superset of ``query`` on Kolla's fields; the events made of the answer are tested
    against ``query`` itself (services and instances are only in the text)."""
    filters: list[dict] = []
    should: list[dict] = []
    if query.request_ids:
        should.append({"terms": {fields.name(REQUEST): sorted({bare(r) for r in query.request_ids})}})
    if query.global_request_ids:
        ids = sorted({bare(r) for r in query.global_request_ids})
        should.append({"terms": {fields.name(GLOBAL_REQUEST): ids}})
        should.append({"terms": {fields.name(REQUEST): ids}})  # an older parser: one id per record
    # a context Kolla's parser did not cut (short ones: '[req-... None]') leaves the id in Payload
    for text in sorted({f"req-{bare(r)}" for r in (*query.request_ids, *query.global_request_ids)}):
        should.append({"match_phrase": {PAYLOAD: text}})
    for uuid in query.instance_uuids:
        should.append({"match_phrase": {PAYLOAD: uuid}})
    if should:
        filters.append({"bool": {"should": should, "minimum_should_match": 1}})
    if query.since or query.until:
        filters.append(query.time_filter(TIME))
    if query.hosts:
        filters.append({"terms": {fields.name(HOST): list(query.hosts)}})
    if query.levels:
        filters.append({"terms": {fields.name(LEVEL): list(query.levels)}})
    return {"bool": {"filter": filters}} if filters else {"match_all": {}}


def oslo_line(doc: dict) -> str:
    """The oslo.log record a Kolla document was parsed from, as Kolla's parser saw it (a record
    with its joined lines keeps them). Both of Kolla's parsers are undone: the newer one (global
    request id and system scope; Payload begins right after the context's ']') and the older."""
    payload = doc.get(PAYLOAD)
    payload = payload if isinstance(payload, str) else ("" if payload is None else str(payload))
    if doc.get(LEVEL) is None or doc.get(PID) is None:
        return payload  # an Apache, uWSGI or syslog line: its text is all there is
    stamp = doc.get(TIMESTAMP_TEXT) or _local_text(doc.get(TIME))
    head = f"{stamp} {doc.get(PID)} {doc.get(LEVEL)} {doc.get(MODULE) or '-'}"
    request = doc.get(REQUEST)
    if not request:
        if payload.startswith(" ["):
            return f"{head}{payload}"
        return f"{head} {payload}" if payload.startswith("[") else f"{head} [-] {payload}"
    users = [str(doc.get(name) or "-") for name in USER_FIELDS]
    domains = [str(doc.get(name) or "-") for name in DOMAIN_FIELDS]
    if SYSTEM_SCOPE in doc:  # the newer parser
        glob = doc.get(GLOBAL_REQUEST)
        context = " ".join([f"req-{glob}" if glob else "None", f"req-{request}", *users,
                            str(doc.get(SYSTEM_SCOPE) or "None"), *domains])
    else:
        context = " ".join([f"req-{request}", *users, *domains])
    return f"{head} [{context}]" + (payload if payload.startswith(" ") else f" {payload}")


def _local_text(stamp: Any) -> str:
    """'YYYY-MM-DD HH:MM:SS.mmm' of an @timestamp (documents whose Timestamp was not kept)."""
    if not isinstance(stamp, str):
        return "1970-01-01 00:00:00.000"
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return stamp
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def file_of(doc: dict) -> tuple[str, str]:
    """(host, the log file's path) a document came from: /var/log/kolla/<project>/<program>.log."""
    program = str(doc.get(PROGRAM) or "unknown")
    logger = str(doc.get(LOGGER) or "")
    project = logger.split(".", 1)[1] if logger.startswith("openstack.") else program.split("-", 1)[0]
    return str(doc.get(HOST) or ""), f"/var/log/kolla/{project}/{program}.log"


class KollaSource:
    """Kolla's documents of ``<prefix>-*``, a file at a time: sorted by host, program, time and
    index order (the order one Fluentd wrote them in), so the lines of one record and of one
    traceback come together. ``round_trips`` counts requests."""

    def __init__(self, client: Any, fields: KollaFields, prefix: str = PREFIX):
        self.client = client
        self.fields = fields
        self.index = f"{prefix}-*"
        self.round_trips = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.round_trips += 1

    def documents(self, query: EventQuery) -> Iterator[dict]:
        """Every document matching (a superset of) ``query``, in file order."""
        sort = [{self.fields.name(HOST): {"order": "asc", "missing": "_first", "unmapped_type": "keyword"}},
                {self.fields.name(PROGRAM): {"order": "asc", "missing": "_first", "unmapped_type": "keyword"}},
                {TIME: {"order": "asc", "missing": "_first", "unmapped_type": "date"}}, "_doc"]
        body = {"query": query_of(query, self.fields), "sort": sort, "size": PAGE}
        with timed(log, f"kolla documents {self.index}"):
            for page in self.client.scroll(self.index, body):
                self._count()
                for hit in page:
                    yield hit["_source"]

    def aggregate(self, query: dict, aggs: dict) -> dict:
        self._count()
        body = {"size": 0, "track_total_hits": False, "query": query, "aggs": aggs}
        with timed(log, f"kolla aggregate {self.index}"):
            return self.client.search(self.index, body, ignore_unavailable=True, allow_no_indices=True,
                                      allow_partial_search_results=False).get("aggregations", {})

    def time_range(self) -> tuple[str | None, str | None]:
        aggs = self.aggregate({"match_all": {}}, {"from": {"min": {"field": TIME}}, "to": {"max": {"field": TIME}}})
        return (stamp_of_millis((aggs.get("from") or {}).get("value")),
                stamp_of_millis((aggs.get("to") or {}).get("value")))

    def near(self, request_id: str) -> list[str]:
        """Request ids that begin like this one (a mistyped or cut id), with 'req-' as osla shows them."""
        field = self.fields.name(REQUEST)
        answer = self.aggregate({"prefix": {field: bare(request_id)[:8]}}, {"ids": {"terms": {"field": field, "size": 20}}})
        return sorted(f"req-{b['key']}" for b in answer.get("ids", {}).get("buckets", []))
