"""osla on Kolla-Ansible's central logging as it is: documents shaped exactly as Kolla's Fluentd
writes them into daily flog-* indices (tests/kolla_shipper.py, Kolla's own regular expressions),
read back by osla's parser, and triage/scan/report on them against the same files read locally."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus import CORPUS
from esnode import Http
from kolla_shipper import bulk_body, ship_tree

from osloganalyze import schema as S
from osloganalyze.cli import main
from osloganalyze.parse import parse_paths
from osloganalyze.parse.documents import kolla_events, utc_stamp
from osloganalyze.query import EventQuery
from osloganalyze.sources.kolla import KollaFields, oslo_line, query_of

SAMPLE = "samples/live-migration"
FAILED = "req-e4f91dbb-6b8f-4240-8a23-f424f1900e54"
UFORIA = CORPUS / "uforia-OpenStackForensics"
APRIL_17 = ["--since", "2014-04-17", "--until", "2014-04-18", "--baseline", "7d"]
# what a Kolla document cannot give back: where the line was in its file
NOT_KEPT = {S.LOG_FILE_PATH, S.LOG_OFFSET}


def osla(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


def as_source_sorts(docs):
    """The order KollaSource asks the server for: host, program, time, then index order."""
    return sorted(docs, key=lambda d: (d["Hostname"], d["programname"], utc_stamp(d["@timestamp"])))


def comparable(events):
    """Events without what documents do not keep, in one order (KollaSource's sort is by time
    within a file, and processes writing one file interleave their lines out of time order)."""
    kept = [{k: v for k, v in e.items() if k not in NOT_KEPT} for e in events]
    return sorted(kept, key=lambda e: json.dumps(e, sort_keys=True))


def test_documents_give_back_the_events_of_the_files(tmp_path):
    tree, docs = ship_tree(Path(SAMPLE), tmp_path / "kolla")
    assert len(docs) == 173 and all("req-" not in (d.get("request_id") or "") for d in docs)
    local = sorted(parse_paths([str(tree)]), key=lambda e: (e[S.HOST_NAME], e[S.LOG_FILE_PATH], e[S.LOG_OFFSET]))
    rebuilt = list(kolla_events(as_source_sorts(docs)))
    assert comparable(rebuilt) == comparable(local)
    assert {e[S.SERVICE_NAME] for e in rebuilt} == {"nova-api", "neutron-server"}
    assert sum(1 for e in rebuilt if e.get(S.ERROR_STACK_TRACE)) >= 5


def test_tracebacks_kolla_splits_per_line_are_joined_again(tmp_path):
    """Kolla's parser starts a record at every line with a bracket after the logger, so each line
    of an instance-scoped traceback ('TRACE nova.compute.manager [instance: ...]') is a document;
    read back together they are one event with its stack trace, as from the file."""
    compute = UFORIA / "var/log/nova/nova-compute.log"
    lines = compute.read_text().split("\n")[2474:2584]  # instance-scoped tracebacks of 2014-04-17, from a record
    node = tmp_path / "src" / "var/log/nova"
    node.mkdir(parents=True)
    (node / "nova-compute.log").write_text("\n".join(lines) + "\n")
    tree, docs = ship_tree(tmp_path / "src", tmp_path / "kolla", host="compute-1")
    split = [d for d in docs if "[instance: 89990e3a" in d.get("Payload", "") and "File " in d["Payload"]]
    assert len(split) > 10  # one document per traceback line
    local = list(parse_paths([str(tree)]))
    rebuilt = list(kolla_events(as_source_sorts(docs)))
    assert comparable(rebuilt) == comparable(local)
    joined = [e for e in rebuilt if e.get(S.ERROR_STACK_TRACE) and e.get(S.INSTANCE_UUID, "").startswith("89990e3a")]
    assert joined and all(e[S.ERROR_STACK_TRACE].count("File ") > 5 for e in joined)


def test_lines_rebuilt_from_each_parser_kolla_had():
    newer = {"Timestamp": "2024-05-02 08:01:10.114", "Pid": "21", "log_level": "INFO", "python_module": "nova.api",
             "global_request_id": "0f3c", "request_id": "9a1b", "user_id": "u", "tenant_id": "p", "domain_id": "-",
             "system_scope": "None", "user_domain": "d", "project_domain": "d", "Payload": " GET /v2.1 status: 200"}
    assert oslo_line(newer) == "2024-05-02 08:01:10.114 21 INFO nova.api [req-0f3c req-9a1b u p - None d d] GET /v2.1 status: 200"
    no_global = {**newer, "global_request_id": None}
    assert "[None req-9a1b u p - None d d]" in oslo_line(no_global)
    older = {k: v for k, v in newer.items() if k not in ("global_request_id", "system_scope")} | {"Payload": "hi"}
    assert oslo_line(older).endswith("nova.api [req-9a1b u p - d d] hi")
    assert oslo_line({**newer, "request_id": None, "Payload": "[-] started"}).endswith("nova.api [-] started")
    assert oslo_line({"Payload": '10.0.0.1 - - [02/May/2024:08:01:10 +0000] "GET / HTTP/1.1" 200 5'}).startswith("10.0.0.1")
    assert utc_stamp("2024-05-02T10:01:10.114000000+02:00") == "2024-05-02T08:01:10.114Z"


def test_queries_use_the_fields_the_mapping_has():
    dynamic = {"flog-2024.05.02": {"mappings": {"properties": {
        "Payload": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
        "programname": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
        "request_id": {"type": "keyword"}}}}}
    fields = KollaFields.of_mapping(dynamic)
    assert fields is not None and fields.name("request_id") == "request_id"
    assert fields.name("programname") == "programname.keyword" and fields.name("Hostname") == "Hostname.keyword"
    assert KollaFields.of_mapping({"openstack-2024.05.02": {"mappings": {"properties": {"message": {}}}}}) is None
    query = json.dumps(query_of(EventQuery(request_ids=(FAILED,), levels=("ERROR",)), fields))
    assert '"request_id": ["e4f91dbb-6b8f-4240-8a23-f424f1900e54"]' in query  # stored without req-
    assert f'"Payload": "{FAILED}"' in query and '"log_level.keyword": ["ERROR"]' in query


# --- on a real server ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kolla_indexed(es_url, tmp_path_factory):
    """The sample and the Havana cloud shipped as Kolla's Fluentd would, into flog-* (and, for
    the auto-detection test, the sample ingested by osla into osla's own indices)."""
    root = tmp_path_factory.mktemp("kolla")
    sample_tree, sample_docs = ship_tree(Path(SAMPLE), root / "sample")
    uforia_tree, uforia_docs = ship_tree(UFORIA, root / "uforia", host="uforia")
    server = Http(es_url)
    server.delete("/flog-*", ignore=(404,))
    for docs in (sample_docs, uforia_docs):
        for start in range(0, len(docs), 5000):
            answer = server.post("/_bulk", bulk_body(docs[start:start + 5000]))
            assert not answer["errors"]
    assert server.count("flog-*") == len(sample_docs) + len(uforia_docs)
    assert osla("ingest", SAMPLE, "--es", es_url, "--prefix", "oslaown").exit_code == 0
    return {"url": es_url, "sample": sample_tree, "uforia": uforia_tree}


def _verdict_and_timeline(view):
    return view["verdict"], [(r["time"], r["host"], r["service"], r["level"], r["message"], r["rules"])
                             for r in view["timeline"]]


def test_triage_on_kolla_indices_gives_the_local_verdict(kolla_indexed):
    url = kolla_indexed["url"]
    remote = osla("triage", FAILED, "--es", url, "--prefix", "flog", "--json")
    assert remote.exit_code == 1, remote.output
    view = json.loads(remote.stdout)
    local = json.loads(osla("triage", FAILED, SAMPLE, "--json").stdout)
    assert _verdict_and_timeline(view) == _verdict_and_timeline(local)
    assert view["verdict"]["text"].startswith("probable bug in neutron-server: it crashed")
    assert any("request ids stored without 'req-'" in note for note in view["skipped"])
    human = osla("triage", FAILED, "--es", url, "--profile", "kolla")  # flog is the profile's prefix
    assert human.exit_code == 1 and human.stdout.splitlines()[0] == \
        osla("triage", FAILED, SAMPLE).stdout.splitlines()[0]
    assert "note: Kolla's indices" in human.stdout


def test_scan_on_kolla_indices_equals_the_local_scan(kolla_indexed):
    url = kolla_indexed["url"]
    window = ["--since", "2014-04-17", "--until", "2014-04-18"]

    def findings(*args):
        result = osla("scan", *args, *window, "--json")
        assert result.exit_code in (0, 1), result.output
        data = json.loads(result.stdout)
        return data["summary"]["events"], sorted((f["rule"], f["count"], f["signature"], f["category"])
                                                 for f in data["findings"])
    remote, local = findings("--es", url, "--prefix", "flog"), findings(kolla_indexed["uforia"])
    assert remote == local and len(local[1]) >= 5
    day = EventQuery(since="2014-04-17T00:00:00.000Z", until="2014-04-18T00:00:00.000Z")
    assert local[0] == sum(1 for e in parse_paths([str(kolla_indexed["uforia"])]) if day.matches(e)) > 5000


def test_report_on_kolla_indices_equals_the_local_report(kolla_indexed):
    from test_report import _comparable

    url = kolla_indexed["url"]
    remote = osla("report", "--es", url, "--prefix", "flog", *APRIL_17, "--json")
    local = osla("report", kolla_indexed["uforia"], *APRIL_17, "--json")
    assert remote.exit_code == local.exit_code == 1, remote.output
    remote_report, local_report = json.loads(remote.stdout), json.loads(local.stdout)
    assert _comparable(remote_report) == _comparable(local_report)
    assert local_report["new_signatures"] and local_report["tracebacks"] and local_report["findings"]
    assert "(Kolla's fields)" in remote_report["source"]


def test_profile_is_told_by_the_mapping_or_refused_in_one_line(kolla_indexed):
    url = kolla_indexed["url"]
    own = osla("triage", FAILED, "--es", url, "--prefix", "oslaown", "--json")
    assert own.exit_code == 1 and not any("Kolla" in n for n in json.loads(own.stdout)["skipped"])
    wrong = osla("triage", FAILED, "--es", url, "--prefix", "oslaown", "--profile", "kolla")
    assert wrong.exit_code == 2 and wrong.stderr.strip() == (
        "osla: error: oslaown-* does not hold Kolla's documents (no Payload and programname fields); "
        "leave out --profile kolla for osla's own indices")
    assert osla("scan", "--es", url, "--prefix", "flog", "--profile", "osla", "--json").exit_code in (0, 1)


def test_an_empty_default_prefix_falls_back_to_kollas_indices(kolla_indexed):
    """`osla triage ID` with only OSLA_ES_URL set, on a Kolla cloud: openstack-* holds nothing,
    flog-* holds Kolla's documents, so those are read, and the output says so."""
    from osloganalyze.backends.server import SearchServer
    from osloganalyze.es.connection import resolve

    server = SearchServer(resolve([kolla_indexed["url"]]), "nothing-here", fallback="flog")
    assert server.kolla() is not None and server.prefix == "flog"
    assert server.notes()[0] == "nothing-here-* holds nothing: reading Kolla's flog-* (--prefix chooses)"
    given = SearchServer(resolve([kolla_indexed["url"]]), "nothing-here")  # --prefix given: no fallback
    assert given.kolla() is None and given.prefix == "nothing-here"
