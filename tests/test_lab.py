"""The fault-injection lab (tests/openstack_lab.py): real Keystone and Placement, faults injected
inside their code and around it, each a real API call. For every failing case the Verdict line
names the service, the category, the exception and the injected function (or the frame that
uses its wrong answer); no control is called a bug; a request that called a service which
crashed names the crash. The same verdicts come back from a search server."""
import json

import pytest
from click.testing import CliRunner
from openstack_lab import CASES, judge, run, start_up_failures

from osloganalyze.cli import main

pytestmark = pytest.mark.slow


def osla(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    outcomes = run(root)
    failed = start_up_failures(tmp_path_factory.mktemp("startup"), _Unstarted())
    return root, outcomes, failed


class _Unstarted:
    """The keystone a placement that never starts would call."""
    url = "http://127.0.0.1:9"


def _verdict(outcome, logs) -> dict | None:
    result = osla("triage", outcome.answer.id, str(logs), "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)["verdict"]


def test_every_case_did_what_its_fault_makes_the_service_do(lab):
    _, outcomes, _ = lab
    assert len(outcomes) == len(CASES) >= 25
    assert sum(1 for c in CASES if c.category) >= 20 and sum(1 for c in CASES if not c.category) >= 5
    for outcome in outcomes:
        status = outcome.answer.status
        if outcome.case.category is None:
            assert status < 500, (outcome.case.name, status)
        else:
            assert status >= 400, (outcome.case.name, status)
        assert outcome.answer.id.startswith("req-"), outcome.case.name


def test_every_verdict_names_what_broke(lab):
    root, outcomes, _ = lab
    wrong = []
    for outcome in outcomes:
        verdict = _verdict(outcome, root / "log")
        right, why = judge(outcome.case, verdict)
        if not right:
            wrong.append(f"{outcome.case.name}: {why}: {verdict and verdict['text']}")
    assert not wrong, "\n".join(wrong)


def test_the_crash_of_a_called_service_is_the_cause(lab):
    root, outcomes, _ = lab
    killed = next(o for o in outcomes if o.case.name == "pl-keystone-worker-killed")
    verdict = _verdict(killed, root / "log")
    assert verdict["cause"] == "crash" and verdict["service"].startswith("keystone")
    assert "SIGKILL" in verdict["text"] and "what placement-api saw: " in verdict["text"]
    down = next(o for o in outcomes if o.case.name == "pl-keystone-down")  # stopped, not crashed
    assert _verdict(down, root / "log").get("cause") is None


def test_a_failure_the_wsgi_server_logged_is_linked_by_process_and_time(lab):
    root, outcomes, _ = lab
    escaped = next(o for o in outcomes if o.case.name == "ks-authenticate-raises")
    assert escaped.answer.request_id is None  # the answer carried no id: the client's own is pasted
    view = json.loads(osla("triage", escaped.answer.id, str(root / "log"), "--json").stdout)
    linked = [row for row in view["timeline"] if row["linked"]]
    assert linked and all(row["message"].startswith("Error handling request /v3/auth/tokens") for row in linked)
    assert "linked by process and time" in view["verdict"]["linked"]
    healthy = next(o for o in outcomes if o.case.name == "control-token")
    assert not any(row["linked"] for row in json.loads(
        osla("triage", healthy.answer.id, str(root / "log"), "--json").stdout)["timeline"])


def test_a_continued_request_costs_one_error_search(lab):
    """The continuation's errors (widened by the nearby window) answer the nearby errors of the
    failures it links: one search of the tree for errors, not two."""
    from osloganalyze.parse import Stats, discover_into
    from osloganalyze.triage.correlate import correlate
    from osloganalyze.triage.local import LocalFetcher

    root, outcomes, _ = lab
    escaped = next(o for o in outcomes if o.case.name == "ks-authenticate-raises")

    class Counting(LocalFetcher):
        searches = 0

        def errors(self, since, until):
            self.searches += 1
            return super().errors(since, until)

    fetcher = Counting(discover_into(Stats(), [str(root / "log")]))
    result = correlate(fetcher, escaped.answer.id)
    assert result.linked and fetcher.searches == 1


def test_start_up_failures_are_configuration(lab):
    _, _, failed = lab
    expected = {"schema-never-synced": "database-schema-missing", "port-in-use": "port-in-use",
                "driver-missing": "python-module-missing"}
    assert set(failed) == set(expected)
    for name, rule in expected.items():
        findings = json.loads(osla("scan", *map(str, failed[name]), "--json").stdout)["findings"]
        ours = [f for f in findings if f["rule"] == rule]
        assert ours and ours[0]["category"] == "config", (name, [f["rule"] for f in findings])
        assert not any(f["category"] == "bug" for f in findings), (name, [f["rule"] for f in findings])


def test_the_search_server_gives_the_same_verdicts(lab, es_url):
    root, outcomes, _ = lab
    from esnode import Http

    node = Http(es_url)
    try:
        assert osla("ingest", str(root / "log"), "--es", es_url, "--prefix", "lab").exit_code == 0
        node.refresh("lab-*")
        for outcome in outcomes:
            remote = json.loads(osla("triage", outcome.answer.id, "--es", es_url, "--prefix", "lab", "--json").stdout)
            local = _verdict(outcome, root / "log")
            assert (remote["verdict"] or {}).get("text") == (local or {}).get("text"), outcome.case.name
    finally:  # the session's node is small: leave it as the next tests expect it
        for row in node.get("/_cat/indices/lab-*?format=json&expand_wildcards=all"):
            node.delete(f"/{row['index']}")


def test_recurring_tracebacks_are_tracebacks(lab):
    """keystone logs WARNINGs that end in an exception's text with no traceback ('Authorization
    failed. ... from 127.0.0.1: keystone.exception.Unauthorized: ...'): the report's tracebacks
    leave them out."""
    root, _, _ = lab
    parsed = [json.loads(line) for line in osla("parse", str(root / "log" / "keystone")).stdout.splitlines()]
    warnings = [e for e in parsed if e.get("log.level") == "WARNING" and e.get("error.type")
                and not e.get("error.stack_trace")]
    assert warnings  # the shape is there to be left out
    report = json.loads(osla("report", str(root / "log"), "--since", "3h", "--baseline", "1d", "--json",
                             "--no-state").stdout)
    assert report["tracebacks"] and all(row["traceback"] for row in report["tracebacks"])
    examples = {w["message"].split("\n", 1)[0] for w in warnings}
    assert not [row for row in report["tracebacks"] if row["example"] in examples]
