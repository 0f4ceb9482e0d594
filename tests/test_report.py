"""osla report: new signatures against a baseline on real logs, spikes, 5xx rates, the keystone
section, the email through a real SMTP server (aiosmtpd), and Elasticsearch agreeing with the
local tree while counting with aggregations."""
import email
import email.policy
import json
import re

import pytest
from click.testing import CliRunner
from corpus import CORPUS
from esnode import Http, osla_client
from smtp_server import smtp_server

from osloganalyze.cli import main
from osloganalyze.report import analyze
from osloganalyze.report.period import Period
from osloganalyze.report.tally import Observer, Tally

UFORIA = str(CORPUS / "uforia-OpenStackForensics")
# 2014-04-17 against the week before it (only 2014-04-16 has logs)
APRIL_17 = ["--since", "2014-04-17", "--until", "2014-04-18", "--baseline", "7d"]
LIVE_MIGRATION = "samples/live-migration"


def osla(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


def report_json(*args) -> dict:
    result = osla("report", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def april_17():
    return report_json(UFORIA, *APRIL_17, "--cloud", "uforia")


def _corpus_days(text: str) -> set:
    """Days on which a line of the uforia logs contains ``text``."""
    days = set()
    for path in (CORPUS / "uforia-OpenStackForensics").rglob("*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if text in line:
                days.add(line[:10])
    return days


def test_a_traceback_only_in_the_period_is_new_and_one_in_both_is_not(april_17):
    new = {(s["service"], s["signature"]) for s in april_17["new_signatures"]}
    # nova-compute's RPC timeout towards the conductor: first logged on 2014-04-17
    assert min(_corpus_days("Timeout while waiting on RPC response - topic: \"conductor\"")) == "2014-04-17"
    timeout = ("nova-compute", 'Timeout: Timeout while waiting on RPC response - topic: "conductor", RPC method: '
               '"service_update" info: "<unknown>" @ nova/openstack/common/rpc/proxy.py in call')
    assert timeout in new
    # RabbitMQ's 'Socket closed' in nova-compute's consumer: on 2014-04-16 and 2014-04-17
    assert {"2014-04-16", "2014-04-17"} <= _corpus_days("IOError: Socket closed")
    socket_closed = ("nova-compute", "IOError: Socket closed @ nova/openstack/common/rpc/impl_kombu.py in _consume")
    assert socket_closed not in new
    recurring = {(t["service"], t["signature"]): t for t in april_17["tracebacks"]}
    assert recurring[socket_closed]["new"] is False and recurring[socket_closed]["count"] >= 2
    assert recurring[timeout]["new"] is True
    assert all(t["triage"].startswith("osla triage req-") for t in april_17["new_signatures"] if t["request_id"])


def test_no_baseline_means_nothing_is_called_new(april_17):
    # the day before 2014-04-16 has no logs: nothing to compare with
    first_day = report_json(UFORIA, "--since", "2014-04-16", "--until", "2014-04-17", "--baseline", "2d")
    assert first_day["baseline"]["days_with_logs"] == []
    assert first_day["new_signatures"] == [] and first_day["spikes"] == []
    assert first_day["tracebacks"] and first_day["findings"]  # still reported, just not compared
    assert april_17["baseline"]["days_with_logs"] == ["2014-04-16"]


def test_counts_and_findings_cover_only_the_period(april_17):
    assert april_17["totals"]["events"] == 8440  # events stamped 2014-04-17 (osla parse counts the same)
    for finding in april_17["findings"]:
        assert "2014-04-17" <= finding["first_seen"] <= finding["last_seen"] < "2014-04-18"
    for row in april_17["spikes"]:
        assert row["hour"].startswith("2014-04-17") and row["count"] >= analyze.SPIKE_MIN_COUNT


def _events(day: str, hour: int, count: int, service="nova-compute", level="ERROR", host="c1"):
    return [{"@timestamp": f"{day}T{hour:02d}:{i % 60:02d}:00.000Z", "service.name": service, "host.name": host,
             "log.level": level, "message": "Instance failed network setup"} for i in range(count)]


def test_the_report_leads_with_what_to_look_at_first(april_17):
    """That day MySQL and RabbitMQ on the controller 'csi' went away: the summary names both first,
    one item per rule (its signatures counted together), each with its span, services, hosts and
    the first step; no item repeats another's request or text; at most five."""
    items = april_17["look_first"]
    assert 1 <= len(items) <= 5
    assert [i["title"] for i in items[:2]] == ["RabbitMQ unreachable", "Database connection lost or refused"]
    rabbit = items[0]
    by_rule = [f for f in april_17["findings"] if f["title"] == "RabbitMQ unreachable"]
    assert len(by_rule) > 1 and rabbit["count"] == sum(f["count"] for f in by_rule)
    assert rabbit["first_seen"] == min(f["first_seen"] for f in by_rule) < rabbit["last_seen"]
    assert rabbit["next"].startswith("1. rabbitmqctl cluster_status")
    assert all(i["services"] and i["first_seen"] <= i["last_seen"] for i in items)
    triages = [i["triage"] for i in items if i["triage"]]
    assert len(triages) == len(set(triages)) and all(t.startswith("osla triage ") for t in triages)
    text = osla("report", UFORIA, *APRIL_17, "--text").stdout
    sections = [line for line in text.splitlines() if line.isupper() and line.strip()]
    assert sections[0] == "LOOK AT FIRST" and text.index("LOOK AT FIRST") < text.index("NEW ERROR SIGNATURES")
    assert "  1. high infrastructure: RabbitMQ unreachable (" in text


def test_spikes_compare_an_hour_with_the_same_hour_of_each_baseline_day():
    # constructed events: the numbers are the point (no real log has this shape on purpose)
    period = Period.between(*(analyze.pd.Timestamp(t).to_pydatetime() for t in ("2024-05-08", "2024-05-09")),
                            analyze.timedelta(days=7))
    tally = Tally(period)
    events = []
    for day, n in zip(range(1, 8), (3, 4, 2, 3, 5, 3, 4)):  # a steady 2-5 errors at 10:00 every day
        events += _events(f"2024-05-0{day}", 10, n) + _events(f"2024-05-0{day}", 14, 30)
    events += _events("2024-05-08", 10, 40)  # 10x the usual: a spike
    events += _events("2024-05-08", 14, 33)  # busy, but as busy as every day
    events += _events("2024-05-08", 3, 12, host="c2")  # a host that never logged errors before
    list(Observer(tally, lambda e: []).observe(events))
    spikes = {(s["host"], s["hour"][11:13]): s for s in analyze.spikes(tally)}
    assert set(spikes) == {("c1", "10"), ("c2", "03")}
    ten = spikes[("c1", "10")]
    assert ten["count"] == 40 and ten["baseline_mean"] == pytest.approx(24 / 7, abs=0.01)
    assert ten["baseline_days"] == 7 and ten["ratio"] == pytest.approx(40 / (24 / 7), abs=0.1) and ten["z"] > 3
    assert spikes[("c2", "03")]["ratio"] is None  # never seen before: 'new', no ratio


def test_5xx_rates_per_endpoint_are_flagged_over_one_percent_in_ten_minutes():
    result = report_json(LIVE_MIGRATION, "--since", "2015-10-29", "--until", "2015-10-30")
    rows = {(r["service"], r["endpoint"]): r for r in result["http_errors"]}
    floating = rows[("nova-api", "GET /v2/<id>/os-floating-ips")]
    assert floating["errors"] == 1 and floating["flagged"] and floating["worst_rate"] > analyze.HTTP_5XX_RATE
    assert floating["request_id"] == "req-e4f91dbb-6b8f-4240-8a23-f424f1900e54"
    assert floating["triage"] == f"osla triage req-e4f91dbb-6b8f-4240-8a23-f424f1900e54 {LIVE_MIGRATION}"
    assert result["totals"]["http_5xx"] == 1 and result["totals"]["requests"] > 1


def test_kibana_links_when_asked(april_17):
    result = report_json(LIVE_MIGRATION, "--since", "2015-10-29", "--until", "2015-10-30",
                         "--kibana-url", "https://kibana.example:5601/")
    link = result["http_errors"][0]["kibana"]
    assert link.startswith("https://kibana.example:5601/app/discover#/?_g=(time:(from:'2015-10-29T10:50:00.000Z'")
    assert "openstack.request_id" not in link and "service.name" in link
    assert all(f["kibana"].startswith("https://kibana.example:5601/app/discover#/") for f in result["findings"])
    assert april_17["findings"][0]["kibana"] is None  # no --kibana-url, no link


# --- the email -------------------------------------------------------------------------------------------

TOKEN = "gAAAAABmX1Zk3lqK8pW2nZ7Vd4T5yH6jUoP0aQ9sR_cE-fG1hI2jK3lM4nO5pQ6rS7tU8vW9xY0zA"
HEADER_TOKEN = "3f0c2a9be1d84c7fa6b5e4d3c2b1a0ff"


def _tree(tmp_path):
    """A nova-api log written for this test (a line with <script> and tokens does not occur in
    the corpus); its shapes are the corpus's nova-api lines."""
    lines = []
    for minute in range(0, 50, 10):  # the day before: one known error
        lines.append(f"2024-05-01 09:{minute:02d}:00.000 4470 ERROR nova.api.openstack [req-0e9f4b7c-1d2a-4c3b-9e8f-"
                     f"7a6b5c4d3e{minute:02d} None] Known failure talking to glance")
    for i in range(12):  # the report day: a burst of errors with markup and secrets in them
        rid = f"req-5d1c8b2a-6e4f-4a3b-8c7d-9e0f1a2b3c{i:02d}"
        lines.append(f"2024-05-02 10:{i:02d}:13.338 4470 ERROR nova.api.openstack.wsgi [{rid} None] Unexpected "
                     f"exception in API method: <script>alert('x')</script> token {TOKEN} "
                     f"X-Auth-Token: {HEADER_TOKEN}")
        lines.append(f"2024-05-02 10:{i:02d}:13.354 4470 INFO nova.osapi_compute.wsgi.server [{rid} None] 10.12.27.29 "
                     f"\"GET /v2/e6ed98db2fbf4e8ea3642ca9b7e2ace1/os-floating-ips HTTP/1.1\" status: 500 len: 359 "
                     f"time: 2.1434112")
    folder = tmp_path / "ctl1" / "var" / "log" / "nova"
    folder.mkdir(parents=True)
    (folder / "nova-api.log").write_text("\n".join(lines) + "\n")
    return str(tmp_path)


MAY_2 = ["--since", "2024-05-02", "--until", "2024-05-03", "--baseline", "3d", "--cloud", "lab-cloud"]


def _parts(raw: bytes):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return msg, {part.get_content_type(): part for part in msg.walk() if not part.is_multipart()}, msg.walk()


def test_the_email_arrives_with_text_html_and_inline_charts_escaped_and_redacted(tmp_path):
    tree = _tree(tmp_path)
    with smtp_server() as (port, server):
        result = osla("report", tree, *MAY_2, "--email", "ops@example.org", "--email", "oncall@example.org",
                      "--smtp", f"127.0.0.1:{port}", "--from", "osla@lab.example")
    assert result.exit_code == 1, result.output  # something was flagged
    assert "mailed" in result.stderr
    assert len(server.messages) == 1
    sender, recipients, raw = server.messages[0]
    assert sender == "osla@lab.example" and recipients == ["ops@example.org", "oncall@example.org"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Subject"].startswith("[osla] lab-cloud: 1 new, ") and "(2024-05-02)" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    html_part = msg.get_body(("html",))
    html = html_part.get_content()
    assert "NEW ERROR SIGNATURES" in text and "New error signatures" in html
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert images and all(p.get_content().startswith(b"\x89PNG") for p in images)
    cids = {p["Content-ID"].strip("<>") for p in images}
    assert set(re.findall(r'src="cid:([^"]+)"', html)) == cids
    # markup from a log line arrives as text, never as markup
    assert "&lt;script&gt;alert(" in html and "<script" not in html
    # tokens never arrive, in any part or header
    for secret in (TOKEN, TOKEN[:24], HEADER_TOKEN):
        assert secret not in raw.decode("ascii", "replace")
        assert secret not in text and secret not in html and secret not in result.output


def test_starttls_and_login_with_the_password_from_the_environment(tmp_path, tmp_path_factory):
    from esnode import make_certs

    certs = make_certs(tmp_path_factory.mktemp("smtp-certs"))
    tree = _tree(tmp_path)
    password = "Smtp-s3cret-pw"
    with smtp_server(certs, login=("osla", password)) as (port, server):
        args = ["report", tree, *MAY_2, "--email", "ops@example.org", "--smtp", f"127.0.0.1:{port}",
                "--smtp-user", "osla", "--smtp-ca", certs["ca"]]
        plain = osla(*args)  # without --starttls the server refuses to go on in clear text
        assert plain.exit_code == 2 and plain.stderr.startswith("osla: error: ") and len(plain.stderr.splitlines()) == 1
        assert password not in plain.output
        wrong = osla(*args, "--starttls", env={"OSLA_SMTP_PASSWORD": "nope"})
        assert wrong.exit_code == 2 and "SMTP login as 'osla' refused" in wrong.stderr
        good = osla(*args, "--starttls", "--text", env={"OSLA_SMTP_PASSWORD": password})
        assert good.exit_code == 1, good.output
        assert len(server.messages) == 1
        assert password not in good.output and password.encode() not in server.messages[0][2]
        assert "NEW ERROR SIGNATURES" in good.stdout  # --text prints as well as mailing


def test_smtps_with_a_verified_certificate(tmp_path, tmp_path_factory):
    from esnode import make_certs

    certs = make_certs(tmp_path_factory.mktemp("smtps-certs"))
    tree = _tree(tmp_path)
    with smtp_server(certs, implicit_tls=True) as (port, server):
        args = ["report", tree, *MAY_2, "--email", "ops@example.org", "--smtp", f"127.0.0.1:{port}", "--ssl"]
        untrusted = osla(*args)  # the test CA is not in the system's store
        assert untrusted.exit_code == 2 and f"TLS with 127.0.0.1:{port} failed" in untrusted.stderr
        trusted = osla(*args, "--smtp-ca", certs["ca"])
        assert trusted.exit_code == 1, trusted.output
    assert len(server.messages) == 1


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    tree = _tree(tmp_path)
    cases = [
        (["report", tree, "--since", "yesterday"], "--since takes a duration"),
        (["report", tree, "--baseline", "a week"], "'--baseline': takes a duration"),
        (["report", tree, "--since", "2024-05-03", "--until", "2024-05-02"], "the report period is empty"),
        (["report", tree, "--email", "ops@example.org"], "--email needs --smtp"),
        (["report", tree, "--email", "a@b", "--smtp", "127.0.0.1:9"], "cannot reach SMTP server 127.0.0.1:9"),
        (["report", tree, "--html", str(tmp_path / "no" / "such" / "dir" / "r.html")], "cannot write"),
        (["report", str(tmp_path / "missing")], "missing"),
    ]
    for args, message in cases:
        result = osla(*args, *(["--until", "2024-05-03"] if "--until" not in args and len(args) > 1 else []))
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("osla: error: ") and len(result.stderr.splitlines()) == 1, result.stderr
        assert message in result.stderr, (args, result.stderr)


def test_nothing_flagged_exits_0_and_no_events_exits_3(tmp_path):
    quiet = tmp_path / "quiet" / "var" / "log" / "nova"
    quiet.mkdir(parents=True)
    (quiet / "nova-api.log").write_text("".join(
        f"2024-05-01 {h:02d}:00:00.000 7 INFO nova.api.openstack [-] all well {h}\n" for h in range(24)))
    result = osla("report", tmp_path / "quiet", "--since", "2024-05-01", "--until", "2024-05-02")
    assert result.exit_code == 0 and "Nothing flagged." in result.stdout, result.output
    empty = osla("report", _tree(tmp_path), "--since", "2030-01-01", "--until", "2030-01-02")
    assert empty.exit_code == 3 and "osla: note: no events from 2030-01-01T00:00:00.000Z to 2030-01-02T00:00:00.000Z" \
        in empty.stderr


def test_html_file_is_self_contained(tmp_path):
    out = tmp_path / "report.html"
    result = osla("report", _tree(tmp_path), *MAY_2, "--html", out)
    assert result.exit_code == 1 and result.stdout == "" and f"osla: wrote {out}" in result.stderr
    html = out.read_text()
    assert html.count('src="data:image/png;base64,') == 1 and "cid:" not in html
    assert "&lt;script&gt;" in html and "<script" not in html and TOKEN not in html


# --- Elasticsearch ----------------------------------------------------------------------------------------

class _Counting:
    """osla's real client, counting the documents each response carries (hits, top hits)."""

    def __init__(self, client):
        self.client, self.documents = client, 0

    def search(self, *args, **kwargs):
        response = self.client.search(*args, **kwargs)
        self.documents += len(response["hits"]["hits"]) + len(re.findall(r"'_source'", repr(response.get("aggregations"))))
        return response

    def __getattr__(self, name):
        return getattr(self.client, name)


@pytest.fixture(scope="module")
def uforia_indexed(es_url):
    result = osla("ingest", UFORIA, "--es", es_url, "--prefix", "report")
    assert result.exit_code == 0, result.output
    Http(es_url).refresh("report-*")
    return es_url


def _comparable(report: dict) -> dict:
    return {
        "totals": report["totals"],
        "days": report["baseline"]["days_with_logs"],
        "new": sorted((s["service"], s["signature"], s["count"], s["first_seen"], s["last_seen"])
                      for s in report["new_signatures"]),
        "spikes": sorted((s["service"], s["host"], s["level"], s["hour"], s["count"], s["z"]) for s in report["spikes"]),
        "http": sorted((h["service"], h["endpoint"], h["requests"], h["errors"], h["flagged"])
                       for h in report["http_errors"]),
        "keystone": report["keystone"],
        "tracebacks": sorted((t["service"], t["signature"], t["count"], t["new"]) for t in report["tracebacks"]),
        "findings": sorted((f["rule"], f["signature"], f["count"], f["escalated"]) for f in report["findings"]),
        "charts": report["charts"],
    }


@pytest.mark.parametrize("window", [APRIL_17, ["--since", "2014-04-21", "--until", "2014-04-23", "--baseline", "7d"]],
                         ids=["2014-04-17", "2014-04-21+22"])
def test_elasticsearch_aggregations_give_the_local_report(uforia_indexed, window):
    local = report_json(UFORIA, *window)
    remote = report_json("--es", uforia_indexed, "--prefix", "report", *window)
    assert _comparable(remote) == _comparable(local)
    assert local["new_signatures"] and local["spikes"] and local["findings"]
    assert remote["source"] in ("Elasticsearch report-*", "OpenSearch report-*")
    assert remote["source"].split()[0] == {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}[
        Http(uforia_indexed).product()]


def test_elasticsearch_report_counts_on_the_server(uforia_indexed):
    from osloganalyze.report.remote import RemoteTally
    from osloganalyze.rules.model import load_rules

    client = _Counting(osla_client(uforia_indexed))
    period = Period.between(*(analyze.pd.Timestamp(t).to_pydatetime() for t in ("2014-04-21", "2014-04-23")),
                            analyze.timedelta(days=7))
    remote = RemoteTally(client, "report", period, load_rules())
    tally, collector = remote.collect()
    # what came back: the events rules matched (findings), the events of traceback buckets
    # (split by deepest frame, at most 100 per bucket) and one example per bucket; not the days
    errorish = sum(stat.count for stat in tally.signatures.values())
    assert client.documents <= collector.hits + errorish + 3 * len(tally.signatures)
    assert tally.period_events == 25815 and client.documents < tally.events / 4
    assert remote.round_trips <= 12 + len(load_rules()) * 2


def test_files_shared_over_two_processes_give_the_same_tables(monkeypatch):
    from osloganalyze.report import local
    from osloganalyze.rules.model import load_rules

    rules = load_rules()
    period = Period.between(*(analyze.pd.Timestamp(t).to_pydatetime() for t in ("2014-04-21", "2014-04-23")),
                            analyze.timedelta(days=7))
    one, one_found, one_stats = local.collect([UFORIA], period, rules, workers=1)
    monkeypatch.setattr(local, "PARSE_PARALLEL_BYTES", 0)
    seen = []
    two, two_found, two_stats = local.collect([UFORIA], period, rules, workers=2, progress=seen.append)
    assert (two.levels, two.days, two.requests, two.keystone) == (one.levels, one.days, one.requests, one.keystone)
    assert {k: (s.count, s.first, s.last) for k, s in two.signatures.items()} == \
        {k: (s.count, s.first, s.last) for k, s in one.signatures.items()}
    assert two.period_events == one.period_events == 25815 and two_stats.files == one_stats.files
    key = lambda f: (f.rule, f.signature, f.count, f.escalated, f.first_seen, f.last_seen)  # noqa: E731
    assert sorted(map(key, two_found.findings())) == sorted(map(key, one_found.findings()))
    assert seen and seen[-1] == two.period_events  # progress counted the period's events of both workers
