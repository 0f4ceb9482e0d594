"""A real Keystone (PyPI, SQLite, gunicorn): healthy requests, a tagged request, then broken Fernet
keys; osla must parse every line it writes, judge the failures and explain the failed request."""
import json
import os
import shutil
import uuid

import pytest
from click.testing import CliRunner
from keystone_server import KEYSTONE, Keystone

from osloganalyze.cli import main

pytestmark = pytest.mark.slow


def osla(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _request_id(headers: dict) -> str:
    return next(v for k, v in headers.items() if k.lower() == "x-openstack-request-id")


@pytest.fixture(scope="module")
def keystone(tmp_path_factory):
    """Run every scenario once, in order; keep what happened for the tests."""
    root = tmp_path_factory.mktemp("keystone")
    server = Keystone(root)
    server.setup()
    server.start()
    seen = {}
    try:
        status, headers, _ = server.issue_token()
        token = headers["X-Subject-Token"]
        seen["healthy"] = (status, server.request("GET", "/v3/auth/tokens",
                                                  headers={"X-Auth-Token": token, "X-Subject-Token": token})[0])
        seen["global"] = "req-" + str(uuid.uuid4())
        status, headers, _ = server.issue_token(password="wrong", headers={"X-OpenStack-Request-ID": seen["global"]})
        seen["tagged"] = (status, _request_id(headers))
        # the key repository disappears (a lost volume, an upgrade that did not carry it over)
        moved = root / "fernet-keys.moved"
        server.fernet.rename(moved)
        status, headers, body = server.issue_token()
        seen["no_repository"] = (status, _request_id(headers), body)
        moved.rename(server.fernet)
        # rotations past max_active_keys (3): the first token's key is gone
        for _ in range(3):
            server.manage("fernet_rotate")
        admin = server.issue_token()[1]["X-Subject-Token"]
        seen["rotated"] = server.request("GET", "/v3/auth/tokens", headers={"X-Auth-Token": admin,
                                                                             "X-Subject-Token": token})[0]
        # a key file overwritten with garbage (a hand copy, a broken template)
        primary = max(server.fernet.iterdir(), key=lambda p: int(p.name))
        good = primary.read_bytes()
        primary.write_text("not-a-fernet-key\n")
        seen["malformed"] = server.issue_token()[0]
        primary.write_bytes(good)
        seen["after_repair"] = server.issue_token()[0]
    finally:
        server.stop()
    # the WSGI server's own error log goes beside keystone's, as on a deployed node
    shutil.copy(root / "gunicorn.log", server.log.parent / "keystone-wsgi-error.log")
    return server, seen


def test_scenarios_behave_as_keystone_does(keystone):
    _, seen = keystone
    assert seen["healthy"] == (201, 200)
    assert seen["tagged"][0] == 401
    assert seen["no_repository"][0] == 500
    assert "An unexpected error prevented the server from fulfilling your request." in seen["no_repository"][2]
    assert seen["rotated"] == 404
    assert seen["malformed"] == 500 and seen["after_repair"] == 201


def test_every_line_keystone_wrote_is_parsed(keystone):
    server, _ = keystone
    for name in ("keystone.log", "keystone-wsgi-error.log"):
        result = osla("parse", str(server.log.parent / name), "--json-summary", "-o", os.devnull)
        summary = json.loads(result.stderr)
        assert result.exit_code == 0 and summary["unparsed"] == 0 and summary["events"] > 0, name


def test_scan_finds_the_fernet_problems_and_ties_the_500_to_them(keystone):
    server, seen = keystone
    result = osla("scan", str(server.root / "log"), "--json")
    assert result.exit_code == 1
    findings = {f["rule"]: f for f in json.loads(result.stdout)["findings"]}
    failed = seen["no_repository"][1]
    repository = findings["fernet-key-repository-unusable"]
    assert repository["category"] == "config" and repository["request_ids"] == [failed]
    assert "keystone-manage fernet_setup" in repository["remediation"]
    bug = findings["keystone-unexpected-error"]
    assert bug["category"] == "bug" and bug["request_ids"] == [failed]
    assert bug["signature"].startswith("keystone.exception.KeysNotFound")
    malformed = findings["fernet-key-malformed"]
    assert malformed["signature"].startswith("ValueError: Fernet key must be <n> url-safe base<n>-encoded bytes.")
    assert "python-traceback" not in findings


def test_triage_of_the_failed_request_puts_the_fernet_verdict_first(keystone, es_url):
    server, seen = keystone
    failed = seen["no_repository"][1]
    local = osla("triage", failed, str(server.root / "log"), "--json")
    view = json.loads(local.stdout)
    assert local.exit_code == 1
    assert view["verdict"]["rule"] == "fernet-key-repository-unusable" and view["verdict"]["category"] == "config"
    assert view["verdict"]["text"].startswith("configuration: Keystone Fernet key repository missing or unreadable")
    assert any(row["stack_trace"] and "KeysNotFound" in row["stack_trace"] for row in view["timeline"])
    tagged = json.loads(osla("triage", seen["global"], str(server.root / "log"), "--json").stdout)
    assert {row["global_request_id"] for row in tagged["timeline"]} == {seen["global"]}
    assert {row["request_id"] for row in tagged["timeline"]} == {seen["tagged"][1]}
    assert osla("ingest", str(server.root / "log"), "--es", es_url, "--prefix", "keystone").exit_code == 0
    from esnode import Http
    Http(es_url).refresh("keystone-*")
    remote = json.loads(osla("triage", failed, "--es", es_url, "--prefix", "keystone", "--json").stdout)
    assert remote["verdict"] == view["verdict"]
    assert [r["offset"] for r in remote["timeline"]] == [r["offset"] for r in view["timeline"]]
    print(f"\n{KEYSTONE}: " + " | ".join(sorted({row["message"][:120] for row in view["timeline"]
                                                 if row["level"] in ("ERROR", "WARNING")})))


def test_report_has_a_keystone_section_with_the_fernet_failures(keystone):
    server, seen = keystone
    result = osla("report", str(server.root / "log"), "--since", "3h", "--baseline", "1d", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    counts = {row["kind"]: row for row in report["keystone"]["counts"]}
    assert counts["fernet-key-repository-unusable"]["count"] >= 1
    assert counts["fernet-key-malformed"]["count"] >= 1
    assert counts["token-validation-failures"]["count"] >= 1  # the wrong password: 'Authorization failed'
    assert counts["fernet-key-repository-unusable"]["baseline_daily_mean"] is None  # no logs the day before
    tagged = {f["rule"] for f in report["keystone"]["findings"]}
    assert {"fernet-key-repository-unusable", "fernet-key-malformed", "keystone-unexpected-error"} <= tagged
    failed = seen["no_repository"][1]
    bug = next(f for f in report["findings"] if f["rule"] == "keystone-unexpected-error")
    assert bug["triage"].startswith(f"osla triage {failed} ")
    text = osla("report", str(server.root / "log"), "--since", "3h", "--baseline", "1d").stdout
    assert "KEYSTONE AUTHENTICATION AND FERNET" in text and "Keystone Fernet key repository missing or unreadable" in text
