"""Each rule compiles twice, to a Python predicate and to an Elasticsearch query; on the same events,
in a real node, both must select exactly the same events, rule by rule."""
import pytest
from esnode import Http, osla_client

from osloganalyze import schema as S
from osloganalyze.es.ingest import doc_id, ingest
from osloganalyze.es.template import setup
from osloganalyze.rules.conditions import parse_match
from osloganalyze.rules.engine import ElasticsearchEngine, LocalEngine, effective_condition
from osloganalyze.rules.examples import example_events
from osloganalyze.rules.model import load_rules
from osloganalyze.rules.signature import SIGNATURE_LIMIT
from osloganalyze.rules.to_elasticsearch import compile_query
from osloganalyze.rules.to_python import compile_predicate
from osloganalyze.sources.elasticsearch import ElasticsearchSource

PREFIX = "rulecheck"
RULES = load_rules()


# eight texts whose union as separate '.*text.*' regexps is too complex for Lucene to determinize
_MANY_TEXTS = ["No valid backend was found", "MySQL server has gone away", "Lost connection to MySQL server",
               "AMQP server on", "Timed out waiting for a reply", "Unable to establish connection to",
               "No valid host was found", "Connection refused"]


def _edge_events() -> list[dict]:
    """Events made to sit on the boundaries where the two engines could disagree."""
    base = {S.HOST_NAME: "edge", S.LOG_FILE_PATH: "/edge.log", S.TIMESTAMP: "2024-05-01T12:00:00.000Z"}
    amqp = "AMQP server on 10.0.0.1:5672 is unreachable: timed out."
    shapes = [  # one character over, and exactly at, the indexed length of message.keyword
        {S.MESSAGE: amqp + "x" * (S.TEXT_KEYWORD_LIMIT + 1 - len(amqp))},
        {S.MESSAGE: amqp + "y" * (S.TEXT_KEYWORD_LIMIT - len(amqp))},
        {S.MESSAGE: "Caught error: two\nlines", S.LOG_LEVEL: "ERROR"},
        {S.MESSAGE: "caught error: lower case", S.LOG_LEVEL: "ERROR"},
        {S.MESSAGE: "", S.ERROR_TYPE: ""},
        {S.HTTP_STATUS: 500, S.URL_ORIGINAL: "/v2/" + "a" * 1100, S.HTTP_METHOD: "GET"},
        {S.HTTP_STATUS: 599, S.URL_ORIGINAL: "/ok"},
        {S.HTTP_STATUS: 600, S.URL_ORIGINAL: "/ok"},
        {S.TAGS: ["truncated", "other"], S.MESSAGE: "Timed out waiting for a reply to message ID 1"},
        {S.ERROR_TYPE: "oslo_messaging.exceptions.MessagingTimeout", S.ERROR_MESSAGE: "x" * 9000},
        {S.MESSAGE: 'quote " hash # at @ amp & lt < tilde ~ star * question ?'},
        {S.LOG_LEVEL: "CRITICAL", S.LOG_LOGGER: "nova"},
        # counted by the server only when the message is whole in its keyword and no error type is set
        {S.LOG_LEVEL: "CRITICAL", S.LOG_LOGGER: "nova", S.MESSAGE: "Unhandled\n" + "z" * (S.TEXT_KEYWORD_LIMIT + 9)},
        {S.LOG_LEVEL: "CRITICAL", S.LOG_LOGGER: "nova", S.MESSAGE: "Unhandled\n" + "z" * 10},
        {S.LOG_LEVEL: "CRITICAL", S.LOG_LOGGER: "nova", S.ERROR_TYPE: "E" * 1100, S.MESSAGE: "Unhandled"},
        *({S.MESSAGE: f"at {n}: {text} (retrying)"} for n, text in enumerate(_MANY_TEXTS)),
        {S.MESSAGE: "Lost connection to MySQL server during query", S.LOG_LEVEL: "ERROR"},
        {S.MESSAGE: "lost connection to mysql server", S.LOG_LEVEL: "ERROR"},
    ]
    return [dict(base, **{S.LOG_OFFSET: i}, **shape) for i, shape in enumerate(shapes)]


EDGE_CONDITIONS = [
    {"message": {"contains": "is unreachable"}},
    {"message": {"regex": "unreachable: timed out"}},
    {"message": {"regex": "^Caught error: two.lines$"}},
    {"message": {"regex": "^caught ERROR", "ignore_case": True}},
    {"message": {"starts_with": "Caught"}},
    {"message": {"contains": 'quote " hash # at @ amp & lt < tilde ~ star * question ?'}},
    {"message": {"regex": r'" hash # at @ amp & lt < tilde ~ star \* question \?'}},
    {"message": ""},
    {"message": {"exists": True}},
    {"error.type": {"exists": True}},
    {"error.type": {"exists": False}},
    {"error.message": {"regex": "x{100}"}},
    {"http.response.status_code": {"gte": 500, "lt": 600}},
    {"http.response.status_code": {"gt": 599}},
    {"http.response.status_code": {"one_of": [500, 600]}},
    {"url.original": {"exists": True}},
    {"url.original": {"starts_with": "/v2/"}},
    {"tags": "truncated"},
    {"tags": {"contains": "runc"}},
    {"log.level": {"at_least": "ERROR"}},
    {"not": {"log.level": {"at_least": "ERROR"}}},
    # text conditions on one field inside an 'any' become one regexp (each regexp walks the terms)
    {"message": {"contains": _MANY_TEXTS}},
    {"any": [{"message": {"contains": _MANY_TEXTS[:4]}}, {"message": {"starts_with": "Lost connection"}},
             {"message": {"regex": r"^lost .* server$"}}, {"message": {"regex": r"gone (away|home)"}},
             {"log.level": "CRITICAL"}]},
    {"any": [{"message": {"regex": "^lost connection", "ignore_case": True}}, {"message": {"contains": "retrying"}}]},
    {"not": {"any": [{"message": {"contains": _MANY_TEXTS[4:]}}, {"message": {"regex": r"\(retrying\)$"}}]}},
    {"any": [{"message": {"contains": [f"{n}: {t}" for n, t in enumerate(_MANY_TEXTS)] * 6}},
             {"message": {"contains": "Unhandled"}}]},  # over 1,000 characters: two regexps
]


@pytest.fixture(scope="module")
def indexed(es_url):
    client = osla_client(es_url)
    setup(client, PREFIX)
    events = _edge_events()
    for rule in RULES:
        for kind, examples in (("raise", rule.raise_examples), ("not_raise", rule.not_raise_examples)):
            for index, example in enumerate(examples):
                events.extend(example_events(rule, kind, index, example))
    result = ingest(client, events, PREFIX)
    assert result.rejected == 0
    assert Http(es_url).count(f"{PREFIX}-*") == len(events)
    return client, events


def _both(indexed, node):
    client, events = indexed
    test = compile_predicate(node)
    local = {doc_id(e) for e in events if test(e)}
    hits = client.search(f"{PREFIX}-*", {"query": compile_query(node), "size": 10000, "_source": False},
                         allow_partial_search_results=False)["hits"]["hits"]
    return local, {hit["_id"] for hit in hits}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_python_and_elasticsearch_select_the_same_events(indexed, rule):
    local, remote = _both(indexed, effective_condition(rule))
    assert local == remote
    if rule.escalate_when:
        assert _both(indexed, rule.escalate_when.match)[0] == _both(indexed, rule.escalate_when.match)[1]


def test_every_rule_selects_something_in_the_examples(indexed):
    assert all(_both(indexed, effective_condition(rule))[0] for rule in RULES)


def test_values_longer_than_the_indexed_length_match_in_neither(indexed):
    client, events = indexed
    local, remote = _both(indexed, parse_match({"message": {"contains": "is unreachable"}}))
    over, at_limit = doc_id(events[0]), doc_id(events[1])
    assert at_limit in local and at_limit in remote
    assert over not in local and over not in remote


@pytest.mark.parametrize("block", EDGE_CONDITIONS, ids=lambda b: str(b)[:60])
def test_operators_agree_on_edge_values(indexed, block):
    local, remote = _both(indexed, parse_match(block))
    assert local == remote


class _CountingSource(ElasticsearchSource):
    """Counts the events the server sends (the rest of the hits it counts itself)."""

    sent = 0

    def search(self, *args, **kwargs):
        for event in super().search(*args, **kwargs):
            self.sent += 1
            yield event


def test_elasticsearch_scan_gives_the_local_findings(indexed):
    """Escalation (a second query per escalating rule), supersession and thresholds included;
    hits the server counts (by message, service and host) give the same groups as hits it sends."""
    client, events = indexed
    over_long = [e for e in events if len(e.get(S.ERROR_TYPE) or "") > S.KEYWORD_LIMIT]
    assert len(over_long) == 1
    if client.product == "opensearch":
        # OpenSearch keeps no _ignored list for ignore_above: an error type over 1,024 characters
        # is not seen by the server, so its event counts by message (README, "OpenSearch")
        events = [{k: v for k, v in e.items() if k != S.ERROR_TYPE} if e in over_long else e for e in events]
    local = LocalEngine(RULES).scan(events)
    source = _CountingSource(client, PREFIX, page_size=50)
    remote = ElasticsearchEngine(RULES, source).scan()
    assert remote.hits == local.hits
    assert source.sent < remote.hits  # some were counted, not sent
    local, remote = [f.to_json() for f in local.findings()], [f.to_json() for f in remote.findings()]

    def key(f):
        return (f["rule"], f["signature"], f["escalated"], f["count"], f["first_seen"], f["last_seen"],
                sorted(f["services"].items()), sorted(f["hosts"].items()), f["example"].get(S.TIMESTAMP),
                f["frame"], f["request_ids"], f["instance_uuids"])  # the earliest ids, in both
    assert sorted(map(key, remote)) == sorted(map(key, local))
    assert any(f["escalated"] for f in local)
    assert any(f.get("peak") for f in local)
    critical = {f["signature"]: f["count"] for f in remote if f["rule"] == "service-critical"}
    if client.product == "opensearch":
        assert critical["Unhandled"] == 3 and "E" * SIGNATURE_LIMIT not in critical
    else:
        assert critical["Unhandled"] == 2 and critical["E" * SIGNATURE_LIMIT] == 1  # the over-long values, sent
    assert source.round_trips > len(RULES)  # paging happened


def test_scan_command_against_elasticsearch_matches_the_local_scan(es_url):
    import json

    from click.testing import CliRunner

    from osloganalyze.cli import main

    def osla(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    sample = "samples/live-migration"
    assert osla("ingest", sample, "--es", es_url, "--prefix", "scancli").exit_code == 0
    Http(es_url).refresh("scancli-*")
    local = osla("scan", sample, "--json")
    remote = osla("scan", "--es", es_url, "--prefix", "scancli", "--json")
    assert local.exit_code == remote.exit_code == 1

    def key(result):
        return sorted((f["rule"], f["signature"], f["escalated"], f["count"]) for f in json.loads(result.stdout)["findings"])
    assert key(remote) == key(local)
    window = osla("scan", "--es", es_url, "--prefix", "scancli", "--json", "--since", "2015-10-29T10:51:13",
                  "--until", "2015-10-29T10:51:14", "--service", "nova-api")
    assert {s for f in json.loads(window.stdout)["findings"] for s in f["services"]} == {"nova-api"}
    down = osla("scan", "--es", "http://127.0.0.1:9", "--json")
    assert down.exit_code == 2 and down.stderr.startswith("osla: error: ") and len(down.stderr.splitlines()) == 1
