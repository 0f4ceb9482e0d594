"""`osla scan` and `osla rules`: findings on real logs, exit codes for cron, Fluentd forwarding."""
import json
import time

import pytest
from click.testing import CliRunner
from corpus import CORPUS, snippet_blocks
from forward_receiver import ForwardReceiver

from osloganalyze.cli import main
from osloganalyze.cli.scan import time_bound

SAMPLE = "samples/live-migration"


def osla(*args, env=None):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


def scan_json(*args):
    result = osla("scan", *args, "--json")
    assert result.exit_code in (0, 1, 3), result.output
    return result.exit_code, json.loads(result.stdout)


def by_rule(findings, rule, escalated=None):
    return [f for f in findings if f["rule"] == rule and (escalated is None or f["escalated"] == escalated)]


@pytest.fixture(scope="module")
def corpus_scans():
    """One scan per corpus dataset (the whole corpus, ~20 s)."""
    names = ("uforia-OpenStackForensics", "os-log-merger-live-migration", "os-loganalyze", "loghub",
             "ParisaKalaki-openstack-logs")
    return {name: scan_json(str(CORPUS / name))[1] for name in names}


def test_nova_api_500s_in_uforia_are_escalated_bugs(corpus_scans):
    findings = corpus_scans["uforia-OpenStackForensics"]["findings"]
    (access,) = by_rule(findings, "http-500-response")
    assert access["escalated"] and access["category"] == "bug" and access["severity"] == "high"
    assert access["count"] == 2 and access["signature"] == "GET /v2/<id>/images/detail -> 500"
    assert set(access["request_ids"]) == {"req-77595e20-d0c2-4840-b9ab-3473cc4bfee1",
                                          "req-f12f3e60-3545-4051-b1d5-0b2340c2c94a"}
    glance = by_rule(findings, "image-service-unreachable")
    assert sum(f["count"] for f in glance) >= 20 and all(f["category"] == "infrastructure" for f in glance)
    cinder_500 = by_rule(findings, "http-500-app-line", escalated=True)
    assert cinder_500 and cinder_500[0]["count"] >= 20 and "cinder-api" in cinder_500[0]["services"]


def test_nova_api_500_in_os_log_merger_points_at_neutron(corpus_scans):
    findings = corpus_scans["os-log-merger-live-migration"]["findings"]
    (access,) = by_rule(findings, "http-500-response")
    assert access["escalated"] and access["request_ids"] == ["req-e4f91dbb-6b8f-4240-8a23-f424f1900e54"]
    assert access["hosts"] == {"hp-ms-01-c29": 1}
    (caught,) = by_rule(findings, "api-caught-error")
    assert caught["signature"].startswith("ConnectionFailed: Connection to neutron failed")
    rabbit = by_rule(findings, "rabbitmq-unreachable")
    assert {"hp-ms-01-c29", "hp-ms-01-c30"} <= {h for f in rabbit for h in f["hosts"]}


def test_neutron_traceback_bursts_are_grouped_by_signature(corpus_scans):
    findings = corpus_scans["os-loganalyze"]["findings"]
    neutron = [f for f in by_rule(findings, "python-traceback") if "neutron-server" in f["services"]]
    assert neutron and sum(f["count"] for f in neutron) >= 30
    biggest = max(neutron, key=lambda f: f["count"])
    assert biggest["count"] >= 10 and " @ neutron/" in biggest["signature"]  # names the frame in neutron code
    assert len({f["signature"] for f in neutron}) == len(neutron)
    assert not by_rule(findings, "database-connection-lost")  # 'datetime(2013, 9, ...)' is not MySQL error 2013


def test_info_only_loghub_sample_raises_no_probable_bug(corpus_scans):
    scan = corpus_scans["loghub"]
    assert scan["summary"]["events"] == 2000
    assert [f for f in scan["findings"] if f["category"] == "bug"] == []


def test_fernet_snippets(tmp_path):
    blocks = snippet_blocks("fernet_snippets.txt")
    for name in ("F1", "F2", "F4", "F5"):
        (tmp_path / "keystone").mkdir(exist_ok=True)
        (tmp_path / "keystone" / f"keystone-{name}.log").write_text(blocks[name] + "\n")
    code, scan = scan_json(str(tmp_path))
    rules = {f["rule"]: f for f in scan["findings"]}
    assert code == 1
    assert rules["fernet-key-malformed"]["severity"] == "critical"
    assert rules["fernet-key-repository-unusable"]["signature"].startswith("Either [fernet_tokens] key_repository")
    assert rules["fernet-repository-world-readable"]["count"] == 2 + 4  # F4 once each, F5 doubled by its collector
    assert "keystone-unexpected-error" not in rules  # the malformed key explains F1's 500
    assert "python-traceback" not in rules


def test_exit_codes_and_terminal_table(tmp_path):
    clean = tmp_path / "clean.log"
    clean.write_text("2024-05-01 12:00:00.000 7 INFO nova.compute.manager [-] fine\n")
    result = osla("scan", str(clean))
    assert result.exit_code == 0 and result.stdout == ""
    assert "0 findings from 1 events" in result.stderr
    result = osla("scan", SAMPLE)
    assert result.exit_code == 1
    header, first = result.stdout.splitlines()[:2]
    assert header.split()[:4] == ["SEVERITY", "CATEGORY", "COUNT", "LAST"]
    assert "http-500-response (escalated: a traceback shares its request id)" in result.stdout
    assert "    GET /v2/<id>/os-floating-ips -> 500\n    nova-api on hp-ms-01-c29; requests: req-e4f91dbb" in result.stdout
    assert osla("scan", str(tmp_path / "missing")).exit_code == 2
    result = osla("scan", SAMPLE, "--since", "yesterday-ish")
    assert result.exit_code == 2 and result.stderr.startswith("osla: error: --since takes a duration")


def test_time_range_service_and_severity_filters():
    assert time_bound("2015-10-29T10:51", "--since") == "2015-10-29T10:51:00.000Z"
    assert time_bound("24h", "--since").endswith("Z")
    _, everything = scan_json(SAMPLE)
    _, window = scan_json(SAMPLE, "--since", "2015-10-29T10:51:13", "--until", "2015-10-29T10:51:14")
    assert 0 < window["summary"]["findings"] < everything["summary"]["findings"]
    assert all("2015-10-29T10:51:13" <= f["first_seen"] < "2015-10-29T10:51:14" for f in window["findings"])
    code, none = scan_json(SAMPLE, "--since", "1h")  # 2015 logs: nothing in the last hour
    assert code == 3 and none["findings"] == [] and none["summary"]["events"] == 0  # no events: not a clean bill
    _, neutron = scan_json(SAMPLE, "--service", "neutron-server")
    assert {s for f in neutron["findings"] for s in f["services"]} == {"neutron-server"}
    _, high = scan_json(SAMPLE, "--min-severity", "high")
    assert high["findings"] and all(f["severity"] in ("high", "critical") for f in high["findings"])


def test_finding_examples_never_carry_tokens(tmp_path):
    log = tmp_path / "nova-api.log"
    log.write_text('2024-05-01 12:00:00.000 7 ERROR nova.api.openstack [req-9d369ea4-8c4e-4a5f-9e6b-2f1a3c4d5e6f - - -] '
                   'Caught error: boom X-Auth-Token: gAAAAABsecretsecret password=hunter2\n')
    result = osla("scan", str(log), "--json")
    assert result.exit_code == 1
    assert "gAAAAABsecretsecret" not in result.stdout and "hunter2" not in result.stdout
    assert "X-Auth-Token: ***" in result.stdout


OWN_RULE = """\
rules:
  - id: site-ceph-slow-ops
    title: Ceph slow requests seen by cinder-volume
    category: infrastructure
    severity: medium
    services: [cinder-volume]
    match:
      message: {regex: 'slow requests?'}
    explain: Ceph is slow.
    remediation: ceph health detail
    examples:
      raise:
        - "2024-05-01 12:00:00.000 7 WARNING cinder.volume.drivers.rbd [-] 3 slow requests"
      not_raise:
        - "2024-05-01 12:00:00.000 7 INFO cinder.volume.drivers.rbd [-] fine"
"""


def test_operators_add_rules_with_rules_dir(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "site.yaml").write_text(OWN_RULE)
    listed = osla("rules", "list", "--rules", str(rules), "--json").stdout.splitlines()
    assert any(json.loads(line)["id"] == "site-ceph-slow-ops" for line in listed)
    shown = osla("rules", "show", "site-ceph-slow-ops", "--rules", str(rules), "--json")
    assert json.loads(shown.stdout)["elasticsearch_query"]["bool"]["filter"][0]["regexp"]
    tested = osla("rules", "test", str(rules))
    assert tested.exit_code == 0 and "2/2 examples pass (1 rules)" in tested.stderr
    logs = tmp_path / "logs" / "cinder"
    logs.mkdir(parents=True)
    (logs / "cinder-volume.log").write_text("2024-05-01 12:00:00.000 7 WARNING cinder.volume.drivers.rbd [-] 1 slow request\n")
    code, scan = scan_json(str(tmp_path / "logs"), "--rules", str(rules), "--rule", "site-ceph-slow-ops")
    assert code == 1 and [f["rule"] for f in scan["findings"]] == ["site-ceph-slow-ops"]
    (rules / "site.yaml").write_text(OWN_RULE.replace("3 slow requests", "3 fast replies"))
    failing = osla("rules", "test", str(rules))
    assert failing.exit_code == 1 and "FAIL site-ceph-slow-ops raise[0]: did not raise" in failing.stdout
    (rules / "site.yaml").write_text(OWN_RULE.replace("category: infrastructure", "category: weather"))
    broken = osla("scan", SAMPLE, "--rules", str(rules))
    assert broken.exit_code == 2
    assert broken.stderr.strip().endswith(
        "rule site-ceph-slow-ops: category must be one of bug, config, infrastructure, not 'weather'")


def test_rules_list_show_and_test_builtin():
    listed = osla("rules", "list")
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) >= 30
    shown = osla("rules", "show", "http-500-response")
    assert "escalates to bug/high when a traceback shares its request id" in shown.stdout
    assert '"term": {\n    "http.response.status_code": 500' in shown.stdout
    assert osla("rules", "show", "nope").exit_code == 2
    tested = osla("rules", "test")
    assert tested.exit_code == 0 and tested.stdout == ""


def test_findings_are_sent_to_fluentd_over_the_forward_protocol():
    receiver = ForwardReceiver()
    try:
        code, scan = scan_json(SAMPLE, "--emit-fluentd", receiver.address)
        deadline = time.time() + 5
        while len(receiver.records) < len(scan["findings"]) and time.time() < deadline:
            time.sleep(0.05)
    finally:
        receiver.close()
    assert code == 1 and scan["summary"]["sent_to_fluentd"] == len(scan["findings"]) > 0
    assert len(receiver.records) == len(scan["findings"])
    tags = {tag for tag, _, _ in receiver.records}
    assert tags == {"osla.finding"}
    sent = sorted((r["rule"], r["signature"], r["count"]) for _, _, r in receiver.records)
    assert sent == sorted((f["rule"], f["signature"], f["count"]) for f in scan["findings"])
    assert all(len(r["finding_id"]) == 24 and abs(t - time.time()) < 60 for _, t, r in receiver.records)


def test_fluentd_unreachable_is_one_line_and_exit_2():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    result = osla("scan", SAMPLE, "--emit-fluentd", f"127.0.0.1:{port}")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"osla: error: Fluentd at 127.0.0.1:{port} did not take")
    assert "0 of" in result.stderr
    assert osla("scan", SAMPLE, "--emit-fluentd", "nowhere").exit_code == 2


def test_findings_do_not_depend_on_the_order_files_are_read(tmp_path):
    """Two hosts logging the same failure at the same moment: the example is the same host's
    whichever file is read first (workers share files out as they go), hosts tie by name."""
    line = ("2024-05-02 08:01:10.114 21 ERROR oslo.messaging._drivers.impl_rabbit [-] AMQP server on "
            "10.0.0.5:5672 is unreachable: [Errno 111] ECONNREFUSED. Trying again in 1 seconds.\n")
    for host in ("ctl-2", "ctl-1"):
        folder = tmp_path / host / "var" / "log" / "nova"
        folder.mkdir(parents=True)
        (folder / "nova-conductor.log").write_text(line)
    paths = [str(tmp_path / "ctl-2"), str(tmp_path / "ctl-1")]
    seen = []
    for order in (paths, paths[::-1]):
        finding = next(f for f in json.loads(osla("scan", *order, "--json").stdout)["findings"]
                       if f["rule"] == "rabbitmq-unreachable")
        seen.append((finding["example"]["host.name"], list(finding["hosts"])))
    assert seen[0] == seen[1] == ("ctl-1", ["ctl-1", "ctl-2"])
