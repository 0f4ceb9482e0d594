"""Against a real Elasticsearch node and a real OpenSearch node (scripts/es_node.py; started by the
fixtures in conftest.py): every test taking es_url runs on both."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from corpus import CORPUS
from esnode import Http, osla_client

from osloganalyze import schema as S
from osloganalyze.cli import main
from osloganalyze.es.template import properties
from osloganalyze.parse import parse_paths
from osloganalyze.query import EventQuery
from osloganalyze.sources.elasticsearch import ElasticsearchSource

BUNDLE = str(CORPUS / "os-log-merger-live-migration")


class LocalTreeEvents:
    """What the server must answer for a query: the tree's events that match it, in query order."""

    def __init__(self, paths):
        self.paths = paths

    def events(self, query, limit=None):
        from osloganalyze.parse import parse_paths
        from osloganalyze.query import order
        from osloganalyze.redact import scrub

        # what osla ingest indexed: the tree's events with their secrets masked
        found = sorted((scrub(e) for e in parse_paths(self.paths) if query.matches(e)), key=order)
        return found[:limit] if limit is not None else found


def local_events(query):
    return LocalTreeEvents([BUNDLE]).events(query)


def osla(*args, env=None):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)
    return result


def count(url, prefix):
    return Http(url).count(f"{prefix}-*")


def test_template_maps_every_field_and_setup_is_idempotent(es_url, server_product):
    first = osla("es", "setup", "--es", es_url, "--prefix", "maptest", "--json")
    second = osla("es", "setup", "--es", es_url, "--prefix", "maptest", "--json")
    assert first.exit_code == second.exit_code == 0 and first.stdout == second.stdout
    events = [{S.TIMESTAMP: "2024-05-01T12:00:00.000Z", S.MESSAGE: "m", S.SOURCE_IP: "10.0.0.1", S.HTTP_STATUS: 500,
               S.REQUEST_ID: "req-1", "custom": "text"},
              {S.TIMESTAMP: "2024-05-01T12:00:01.000Z", S.MESSAGE: "n", "custom": {"nested": 1}}]
    assert json.loads(first.stdout)["server"].startswith({"elasticsearch": "Elasticsearch ",
                                                          "opensearch": "OpenSearch "}[server_product])
    server = Http(es_url)
    for i, event in enumerate(events):  # an unknown field as text, then as an object: no conflict
        server.index("maptest-2024.05.01", event, str(i), refresh=True)
    assert server.count("maptest-*") == 2
    mapping = server.get("/maptest-2024.05.01/_mapping")["maptest-2024.05.01"]["mappings"]
    # unknown fields: runtime fields on Elasticsearch; kept in _source, not indexed, on OpenSearch
    assert mapping["dynamic"] == {"elasticsearch": "runtime", "opensearch": "false"}[server_product]
    props = mapping["properties"]
    assert props["@timestamp"]["type"] == "date"
    assert props["message"]["type"] == "text" and props["message"]["fields"]["keyword"]["type"] == "keyword"
    assert props["openstack"]["properties"]["request_id"]["type"] == "keyword"
    assert props["http"]["properties"]["response"]["properties"]["status_code"]["type"] == "long"
    assert props["source"]["properties"]["ip"]["type"] == "ip"
    assert props["error"]["properties"]["stack_trace"]["type"] == "text"
    def leaves(tree, prefix=""):
        for key, value in tree.items():
            if "properties" in value:
                yield from leaves(value["properties"], f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value["type"]

    assert dict(leaves(properties())).items() <= dict(leaves(props)).items()
    assert len(dict(leaves(properties()))) == len(S.FIELDS)


def test_retention_without_the_lifecycle_feature_is_one_line_and_changes_nothing(es_url, server_product):
    """The test nodes have no lifecycle feature: the integ-test zips leave out Elasticsearch's ILM
    (x-pack) and OpenSearch's Index State Management plugin, whose zip is not on Maven Central."""
    result = osla("es", "setup", "--es", es_url, "--prefix", "noilm", "--retention-days", "7")
    assert result.exit_code == 2
    feature = {"elasticsearch": "has no index lifecycle management (ILM)",
               "opensearch": "has no Index State Management plugin (opensearch-index-management)"}[server_product]
    assert result.stderr.count("\n") == 1 and feature in result.stderr, result.stderr
    assert Http(es_url).get("/_index_template/noilm", ignore=(404,)) == {"status": 404}


def test_ingest_twice_never_doubles(es_url):
    events = list(parse_paths([BUNDLE]))
    for _ in range(2):
        result = osla("ingest", BUNDLE, "--es", es_url, "--prefix", "twice", "--json")
        summary = json.loads(result.stdout)
        assert result.exit_code == 0 and summary["indexed"] == len(events) and summary["rejected"] == 0
    assert count(es_url, "twice") == len(events)
    days = {e[S.TIMESTAMP][:10].replace("-", ".") for e in events}
    assert sorted(Http(es_url).get("/twice-*")) == sorted(f"twice-{day}" for day in days)
    assert len(days) >= 2


def test_ids_are_unique_and_one_files_share_a_prefix_in_offset_order():
    from osloganalyze.es.ingest import doc_id

    events = list(parse_paths([BUNDLE]))
    ids = [doc_id(e) for e in events]
    assert len(set(ids)) == len(events)
    by_file: dict = {}
    for event, key in zip(events, ids):
        by_file.setdefault((event[S.HOST_NAME], event[S.LOG_FILE_PATH]), []).append((event[S.LOG_OFFSET], key))
    prefixes = {pairs[0][1][:12] for pairs in by_file.values()}
    assert len(prefixes) == len(by_file) >= 5  # one prefix per file, none shared
    for pairs in by_file.values():
        assert {key[:12] for _, key in pairs} == {pairs[0][1][:12]} and all(len(key) == 20 for _, key in pairs)
        tails = [key[12:] for _, key in sorted(pairs)]
        assert len(set(tails)) == len(tails) and tails == sorted(tails)  # ids grow with the offset
    stdin = {S.LOG_FILE_PATH: "-", S.TIMESTAMP: "2024-05-08T10:00:00.000Z", S.EVENT_ORIGINAL: "x"}
    assert len(doc_id(stdin)) == 22 and doc_id(stdin) != doc_id({**stdin, S.EVENT_ORIGINAL: "y"})


def test_rejected_documents_are_reported_with_the_reason(es_url, tmp_path):
    log = tmp_path / "nova-api.log"
    log.write_text("2024-05-02 12:00:00.000 42 INFO nova.x [-] hello\n")
    Http(es_url).put("/reject-2024.05.02", {"mappings": {"properties": {"process": {"properties": {
        "pid": {"type": "ip"}}}}}})  # an incompatible mapping made by someone else
    result = osla("ingest", str(log), "--es", es_url, "--prefix", "reject")
    assert result.exit_code == 1
    assert "0 indexed, 1 rejected" in result.stderr
    assert "rejected reject-2024.05.02/" in result.stderr and "HTTP 400" in result.stderr


def test_elasticsearch_source_answers_like_the_local_tree(es_url):
    assert osla("ingest", BUNDLE, "--es", es_url, "--prefix", "same").exit_code == 0
    count(es_url, "same")  # refresh
    local = LocalTreeEvents([BUNDLE])
    remote = ElasticsearchSource(osla_client(es_url), "same", page_size=500)
    queries = [
        EventQuery(request_ids=("req-e4f91dbb-6b8f-4240-8a23-f424f1900e54",)),
        EventQuery(instance_uuids=("2a39b3b0-30b3-4c3b-9f47-0b0a3b1e1ab5", "6d0b8f7c-44ed-4b6e-a0c0-d5b0d2e9cd5e")),
        EventQuery(since="2015-10-29T10:51:12.000Z", until="2015-10-29T10:51:14.000Z"),
        EventQuery(services=("nova-compute",), hosts=("hp-ms-01-c30",), levels=("ERROR", "WARNING")),
        EventQuery(levels=("ERROR",)),
    ]
    for query in queries:
        expected = local.events(query)
        assert remote.events(query) == expected, query
    assert len(local.events(queries[0])) == 9 and len(local.events(queries[4])) > 20
    everything = remote.events(EventQuery())
    assert len(everything) == len(list(parse_paths([BUNDLE])))  # several pages of search_after


def test_first_events_and_a_failed_msearch_item(es_url):
    """first_events answers several queries per msearch; one bad query is an ordinary one-line error."""
    from osloganalyze.errors import ServerError

    assert osla("ingest", BUNDLE, "--es", es_url, "--prefix", "firsts").exit_code == 0
    # no refresh here: ingest refreshed before returning
    assert Http(es_url).get("/firsts-*/_count")["count"] == len(list(parse_paths([BUNDLE])))
    source = ElasticsearchSource(osla_client(es_url), "firsts")
    hosts = ["hp-ms-01-c29", "hp-ms-01-c30", "nowhere"]
    local = LocalTreeEvents([BUNDLE])
    found = source.first_events([EventQuery(hosts=(h,)).to_elasticsearch() for h in hosts])
    assert found[:2] == [local.events(EventQuery(hosts=(h,)))[0] for h in hosts[:2]] and found[2] is None
    assert source.round_trips == 1
    with pytest.raises(ServerError) as failed:
        source.first_events([{"range": {S.TIMESTAMP: {"gte": "not a date"}}}])
    line = str(failed.value)
    assert "HTTP 400" in line and "not a date" in line and "\n" not in line


def test_a_failed_shard_is_an_error_not_fewer_events(es_url):
    """Elasticsearch answers 200 with the shards it could search; osla asks for all or nothing,
    so a shard that cannot run the query is an error, not a day of counts silently gone."""
    from osloganalyze.errors import ServerError
    from osloganalyze.es.connection import client_errors

    server = Http(es_url)
    for name, kind in (("partial-a", "keyword"), ("partial-b", "long")):
        server.delete(f"/{name}", ignore=(404,))
        server.put(f"/{name}", {"mappings": {"properties": {"x": {"type": kind}}}})
        server.index(name, {"x": "7"}, refresh=True)
    query = {"term": {"x": "seven"}}  # not a number: the long-typed index's shard fails
    answer = server.search("partial-*", {"query": {"bool": {"should": [query, {"exists": {"field": "x"}}]}}})
    assert answer["_shards"]["failed"] == 1 and answer["hits"]["total"]["value"] == 1  # the default: partial
    source = ElasticsearchSource(osla_client(es_url), "partial")
    for ask in (lambda: list(source.search({"bool": {"should": [query, {"exists": {"field": "x"}}]}})),
                lambda: source.aggregate({"bool": {"should": [query, {"exists": {"field": "x"}}]}},
                                         {"n": {"value_count": {"field": "_index"}}}),
                lambda: source.first_events([{"bool": {"should": [query, {"exists": {"field": "x"}}]}}])):
        with pytest.raises((ServerError, *client_errors())):
            ask()


def test_instance_query_finds_events_on_both_hosts(es_url):
    events = list(parse_paths([BUNDLE]))
    instance = next(e[S.INSTANCE_UUID] for e in events if e.get(S.INSTANCE_UUID) and e[S.HOST_NAME] == "hp-ms-01-c30")
    hosts = {e[S.HOST_NAME] for e in local_events(EventQuery(instance_uuids=(instance,)))}
    assert hosts == {"hp-ms-01-c29", "hp-ms-01-c30"}


@pytest.mark.slow
@pytest.mark.parametrize("product", ["elasticsearch", "opensearch"])
def test_server_stopped_mid_ingest_then_rerun_gives_exact_count(tmp_path, product):
    """Stop the node while `osla ingest` runs: one line, non-zero exit; restart, run again:
    the count equals the events parsed, exactly."""
    from esnode import es_node

    big = tmp_path / "logs"
    big.mkdir()
    source = (CORPUS / "uforia-OpenStackForensics/var/log/nova/nova-api.log").read_bytes()
    for i in range(6):
        (big / f"nova-api-{i}.log").write_bytes(source)
    expected = sum(1 for _ in parse_paths([str(big)]))
    node = es_node.Node(es_node.CACHE / "nodes" / f"crash-{product}-{tmp_path.parent.parent.name}", product)
    shutil.rmtree(node.root, ignore_errors=True)  # an empty node: the restart below keeps its data
    try:
        url = node.start()
        osla_bin = [sys.executable, "-m", "osloganalyze"]
        proc = subprocess.Popen(osla_bin + ["ingest", str(big), "--es", url, "--prefix", "crash"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                if Http(url).count("crash-*") > 5000:
                    break
            except Exception:  # noqa: BLE001 - index not there yet
                pass
        node.stop(timeout=30)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, (out, err)
        errors = [line for line in err.splitlines() if line.startswith("osla: error: ")]
        assert len(errors) == 1 and "Traceback" not in err, err
        assert "Run the same command again" in err
        url = node.start(port=int(url.rsplit(":", 1)[1]))
        rerun = subprocess.run(osla_bin + ["ingest", str(big), "--es", url, "--prefix", "crash", "--json"],
                               capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        assert json.loads(rerun.stdout)["indexed"] == expected
        assert count(url, "crash") == expected
    finally:
        node.stop()
        shutil.rmtree(node.root, ignore_errors=True)


def test_secure_node_with_user_password_and_ca(secure_es):
    env = {"OSLA_ES_PASSWORD": secure_es["password"]}
    ok = osla("es", "check", "--es", secure_es["url"], "--es-user", "osla", "--es-ca", secure_es["ca"], "--json", env=env)
    assert ok.exit_code == 0 and json.loads(ok.stdout)["status"] in ("yellow", "green")
    assert json.loads(ok.stdout)["product"] == "elasticsearch"


def test_es_check_names_the_product_and_version(es_url, server_product):
    """The same command and options for both servers; which one it is comes from the server."""
    from esnode import es_node

    version = es_node.PRODUCTS[server_product].version
    title = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}[server_product]
    human = osla("es", "check", "--es", es_url)
    assert human.exit_code == 0 and human.stdout.startswith(f"{title} {version} at {es_url}: cluster osla-test, status ")
    scripted = osla("es", "check", "--server", es_url, "--json")
    assert json.loads(scripted.stdout) | {"status": "x"} == {"product": server_product, "version": version,
                                                              "cluster_name": "osla-test", "status": "x",
                                                              "number_of_nodes": 1}
    env = osla("es", "check", env={"OSLA_ES_URL": es_url, "OSLA_CONFIG": os.devnull})
    assert env.exit_code == 0 and env.stdout == human.stdout


def test_secure_node_failures_are_one_line_and_never_show_the_password(secure_es, tmp_path):
    wrong = "not-the-right-one-42"
    cases = {
        "wrong password": (["--es-user", "osla", "--es-password", wrong, "--es-ca", secure_es["ca"]], "authentication failed"),
        "untrusted certificate": (["--es-user", "osla", "--es-password", secure_es["password"]], "certificate not trusted"),
    }
    for name, (args, expected) in cases.items():
        result = osla("--debug", "es", "check", "--es", secure_es["url"], *args)
        assert result.exit_code == 2, name
        errors = [line for line in result.stderr.splitlines() if line.startswith("osla: error: ")]
        assert len(errors) == 1 and expected in errors[0], (name, result.stderr)
        for secret in (wrong, secure_es["password"]):
            assert secret not in result.output and secret not in result.stderr, name
        assert "password='***'" in result.stderr  # --debug shows the settings, masked
    unreachable = osla("es", "check", "--es", "https://127.0.0.1:1", "--es-user", "osla", "--es-password", wrong)
    assert unreachable.exit_code == 2 and unreachable.stderr.strip() == \
        "osla: error: cannot reach the search server at https://127.0.0.1:1: connection refused"


def test_settings_from_config_file_and_environment(secure_es, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[elasticsearch]\nurl = ["{secure_es["url"]}"]\nuser = "osla"\nca = "{secure_es["ca"]}"\n')
    result = osla("es", "check", "--config", str(config), env={"OSLA_ES_PASSWORD": secure_es["password"]})
    assert result.exit_code == 0, result.stderr
    missing = osla("es", "check", "--config", str(config), env={"OSLA_ES_PASSWORD": ""})
    assert missing.exit_code == 2 and "no password for Elasticsearch user 'osla'" in missing.stderr
    env_only = osla("es", "check", env={"OSLA_ES_URL": secure_es["url"], "OSLA_ES_USER": "osla",
                                        "OSLA_ES_PASSWORD": secure_es["password"], "OSLA_ES_CA": secure_es["ca"],
                                        "OSLA_CONFIG": os.devnull})
    assert env_only.exit_code == 0, env_only.stderr


def test_429_is_retried_with_backoff_until_accepted(es_url, tmp_path):
    """The flood-stage block makes a real node answer 429 per document; osla backs off and
    re-sends until the block is lifted, losing and doubling nothing."""
    import threading

    from osloganalyze.es.connection import connect, resolve
    from osloganalyze.es.ingest import ingest

    log = tmp_path / "nova-api.log"
    log.write_text("".join(f"2024-05-03 12:00:{i % 60:02d}.000 7 INFO nova.x [-] line {i}\n" for i in range(300)))
    server = Http(es_url)
    server.put("/throttle-2024.05.03")
    server.settings("throttle-2024.05.03", {"index.blocks.read_only_allow_delete": True})
    unblock = threading.Timer(3.0, lambda: server.settings(
        "throttle-2024.05.03", {"index.blocks.read_only_allow_delete": None}))
    unblock.start()
    started = time.monotonic()
    result = ingest(connect(resolve([es_url])), parse_paths([str(log)]), "throttle", chunk_size=100)
    unblock.join()
    assert time.monotonic() - started >= 3.0
    assert (result.indexed, result.rejected) == (300, 0) and result.retried >= 300
    assert count(es_url, "throttle") == 300


def test_a_write_block_is_said_at_once_and_given_up_after_the_wait(es_url, tmp_path):
    """A read-only-allow-delete block (what the flood-stage watermark sets) that is not lifted:
    the first answer is said with the server's reason, the ingest stops after --block-wait
    with exit 1, and once the block is lifted a re-run gives the exact count."""
    from osloganalyze.es.connection import connect, resolve
    from osloganalyze.es.ingest import WritesBlocked, ingest

    log = tmp_path / "nova-api.log"
    log.write_text("".join(f"2024-05-04 12:00:{i % 60:02d}.000 7 INFO nova.x [-] line {i}\n" for i in range(250)))
    server = Http(es_url)
    server.put("/blocked-2024.05.04")
    server.settings("blocked-2024.05.04", {"index.blocks.read_only_allow_delete": True})
    said = []
    started = time.monotonic()
    with pytest.raises(WritesBlocked, match="refused writes for") as stopped:
        ingest(connect(resolve([es_url])), parse_paths([str(log)]), "blocked", chunk_size=100, block_wait=4,
               warn=lambda text: said.append((time.monotonic() - started, text)))
    assert said and said[0][0] < 30 and "read-only-allow-delete" in said[0][1]
    assert stopped.value.exit_code == 1 and time.monotonic() - started < 60
    cli = osla("ingest", str(log), "--es", es_url, "--prefix", "blocked", "--block-wait", "3s")
    assert cli.exit_code == 1 and "osla: warning: the server refuses writes" in cli.stderr
    assert cli.stderr.strip().splitlines()[-1].startswith("osla: error: the server refused writes for")
    server.settings("blocked-2024.05.04", {"index.blocks.read_only_allow_delete": None})
    again = osla("ingest", str(log), "--es", es_url, "--prefix", "blocked")
    assert again.exit_code == 0, again.output
    assert count(es_url, "blocked") == 250


class _IsmStandIn:
    """A loopback stand-in for an OpenSearch node WITH the Index State Management plugin: the
    plugin's zip (opensearch-index-management) is not on Maven Central, so the real test node has
    no ISM. It answers what `osla es setup` asks (GET /, health, the template, ISM policies) the
    way OpenSearch 2.x documents it, and records the requests."""

    def __init__(self):
        import http.server
        import threading

        stand_in = self
        self.requests: list[tuple[str, str, dict | None]] = []
        self.policies: dict[str, dict] = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                stand_in.requests.append((self.command, self.path, body))
                path = self.path.split("?", 1)[0]
                if path == "/":
                    return self._answer(200, {"cluster_name": "ism", "version": {"distribution": "opensearch",
                                                                                 "number": "2.19.6"}})
                if path == "/_cluster/health":
                    return self._answer(200, {"cluster_name": "ism", "status": "green", "number_of_nodes": 1})
                if path.startswith("/_index_template/"):
                    return self._answer(200, {"acknowledged": True})
                name = path.rsplit("/", 1)[1]
                known = stand_in.policies.get(name)
                if self.command == "GET":
                    if known is None:
                        return self._answer(404, {"error": {"type": "status_exception", "reason": "Policy not found"}})
                    return self._answer(200, {"_id": name, "_seq_no": known["seq"], "_primary_term": 1,
                                              "policy": known["policy"]})
                if known is not None and f"if_seq_no={known['seq']}" not in self.path:
                    return self._answer(409, {"error": {"type": "version_conflict_engine_exception",
                                                        "reason": "policy exists"}})
                stand_in.policies[name] = {"seq": (known["seq"] + 1) if known else 0, "policy": body["policy"]}
                return self._answer(201 if known is None else 200, {"_id": name})

            do_GET = do_PUT = do_POST = _handle  # noqa: N815 - http.server's names

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


def test_retention_on_opensearch_is_an_ism_policy_set_idempotently():
    stand_in = _IsmStandIn()
    try:
        first = osla("es", "setup", "--es", stand_in.url, "--prefix", "kept", "--retention-days", "30")
        second = osla("es", "setup", "--es", stand_in.url, "--prefix", "kept", "--retention-days", "14", "--json")
    finally:
        stand_in.close()
    assert first.exit_code == 0 and "deleted after 30 days by policy kept-retention" in first.stdout
    assert second.exit_code == 0 and json.loads(second.stdout)["lifecycle"] == "kept-retention"
    policy = stand_in.policies["kept-retention"]["policy"]
    assert policy["ism_template"] == [{"index_patterns": ["kept-*"], "priority": 100}]
    hot, delete = policy["states"]
    assert hot["transitions"] == [{"state_name": "delete", "conditions": {"min_index_age": "14d"}}]
    assert delete["actions"] == [{"delete": {}}]
    updates = [path for method, path, _ in stand_in.requests if method == "PUT" and "_ism" in path]
    assert len(updates) == 2 and "if_seq_no=0" in updates[1] and "if_primary_term=1" in updates[1]
    template = next(body for method, path, body in stand_in.requests if path.startswith("/_index_template/"))
    assert template["template"]["mappings"]["dynamic"] is False  # no runtime fields on OpenSearch
    assert "index.lifecycle.name" not in template["template"]["settings"]  # ISM names its indices itself


def test_a_prefix_with_no_indices_gives_an_empty_scan_and_report(es_url):
    """A new cluster before anything was shipped, or a mistyped prefix: the server answers
    aggregations over no index without them; scan and report say the window holds no events
    (exit 3: no logs is not a clean bill of health)."""
    assert osla("es", "setup", "--es", es_url, "--prefix", "fresh").exit_code == 0
    scan = osla("scan", "--es", es_url, "--prefix", "fresh", "--json")
    assert scan.exit_code == 3, scan.output
    assert json.loads(scan.stdout)["summary"]["findings"] == 0 and json.loads(scan.stdout)["summary"]["events"] == 0
    assert "osla: note: no events from the start to now in " in scan.stderr
    assert "fresh-*, which holds no timestamped events at all (exit 3)" in scan.stderr
    report = osla("report", "--es", es_url, "--prefix", "fresh", "--since", "2024-05-01", "--until", "2024-05-02",
                  "--json")
    assert report.exit_code == 3, report.output
    assert json.loads(report.stdout)["totals"]["events"] == 0
    assert "no events from 2024-05-01T00:00:00.000Z to 2024-05-02T00:00:00.000Z in " in report.stderr
