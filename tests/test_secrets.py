"""One definition of secrets (parsers/secrets.yaml) and every output checked against the real
forms in tests/secrets/forms.yaml: the terminal, --json, HTML, the findings sent to Fluentd,
and what osla ingest indexes (masked by default, as logged with --keep-secrets)."""
import json
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from forward_receiver import ForwardReceiver

from osloganalyze.cli import main
from osloganalyze.redact import redact, rules, scrub

HERE = Path(__file__).resolve().parent
FORMS = yaml.safe_load((HERE / "secrets" / "forms.yaml").read_text())["forms"]
SECRETS = sorted({s for form in FORMS for s in form["secrets"]})
DEFINED = yaml.safe_load((HERE.parent / "parsers" / "secrets.yaml").read_text())["secrets"]


def osla(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_at_least_forty_forms_each_with_its_source():
    assert len(FORMS) >= 40
    assert all(form["source"].strip() and form["secrets"] for form in FORMS)
    assert all(secret in form["text"] for form in FORMS for secret in form["secrets"])


@pytest.mark.parametrize("form", FORMS, ids=[f["text"][:40] for f in FORMS])
def test_every_form_is_masked(form):
    out = redact(form["text"])
    assert not [s for s in form["secrets"] if s in out], out
    assert "***" in out


@pytest.mark.parametrize("entry", DEFINED, ids=[e["name"][:40] for e in DEFINED])
def test_every_definition_masks_its_own_example(entry):
    out = redact(entry["example"])
    assert out != entry["example"] and "***" in out
    assert len(rules()) == len(DEFINED)


def test_ordinary_text_keeps_its_words():
    for line in ("2 fernet keys have been placed to secret 'keystone-fernet-keys'",
                 "Extending resource: os-server-password _setup_ext_routes",
                 "GET http://ctl:8774/v2.1/servers/detail HTTP/1.1 status: 200",
                 "keystone_authtoken.admin_token = ****"):
        assert redact(line) == line


def _tree(tmp_path: Path) -> Path:
    """One nova-api log: every form in an ERROR record (its own request id), then a traceback
    holding the form too, so each reaches findings, examples, the timeline and stack traces."""
    folder = tmp_path / "logs" / "nova"
    folder.mkdir(parents=True)
    lines = []
    for i, form in enumerate(FORMS):
        rid = f"req-{i:08d}-0000-4000-8000-000000000000"
        stamp = f"2024-05-01 12:{i // 60:02d}:{i % 60:02d}.000"
        lines.append(f"{stamp} 7 ERROR nova.api.openstack [{rid} u p - - -] Caught error: {form['text']}")
        lines.append(f"{stamp} 7 ERROR nova.api.openstack [{rid} u p - - -] Traceback (most recent call last):")
        lines.append(f'{stamp} 7 ERROR nova.api.openstack [{rid} u p - - -]   File "/usr/lib/python3/nova/api.py", '
                     f'line 1, in call')
        lines.append(f"{stamp} 7 ERROR nova.api.openstack [{rid} u p - - -] ValueError: {form['text']}")
    (folder / "nova-api.log").write_text("\n".join(lines) + "\n")
    return tmp_path / "logs"


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_no_output_carries_a_secret(tmp_path):
    tree = str(_tree(tmp_path))
    period = ["--since", "2024-05-01", "--until", "2024-05-02"]
    outputs = {}
    for args in (["scan", tree], ["scan", tree, "--json"], ["report", tree, *period],
                 ["report", tree, *period, "--json"],
                 ["report", tree, *period, "--html", str(tmp_path / "report.html")]):
        result = osla(*args)
        assert result.exit_code in (0, 1), result.output
        outputs[" ".join(args[:1] + args[2:])] = result.output
    outputs["report.html"] = (tmp_path / "report.html").read_text()
    for i in (0, 7, len(FORMS) - 1):
        rid = f"req-{i:08d}-0000-4000-8000-000000000000"
        html = tmp_path / f"triage-{i}.html"
        for args in (["triage", rid, tree], ["triage", rid, tree, "--json"],
                     ["triage", rid, tree, "--html", str(html)]):
            result = osla(*args)
            assert result.exit_code == 1, result.output
            outputs[" ".join(args[:2] + args[4:])] = result.output
        outputs[html.name] = html.read_text()
    leaks = {name: _leaks(text) for name, text in outputs.items() if _leaks(text)}
    assert leaks == {}
    assert sum(text.count("***") for text in outputs.values()) > len(FORMS)  # the text was there, masked


def test_findings_sent_to_fluentd_carry_no_secret(tmp_path):
    receiver = ForwardReceiver()
    try:
        result = osla("scan", str(_tree(tmp_path)), "--json", "--emit-fluentd", receiver.address)
        sent = json.loads(result.stdout)["summary"]["sent_to_fluentd"]
        deadline = time.time() + 5
        while len(receiver.records) < sent and time.time() < deadline:
            time.sleep(0.05)
    finally:
        receiver.close()
    assert sent > 0 and len(receiver.records) == sent
    assert _leaks(json.dumps([record for _, _, record in receiver.records])) == []


def test_scrub_masks_every_text_field_and_leaves_clean_events_alone():
    from osloganalyze.parse import parse_text

    text = "\n".join(f"2024-05-01 12:00:{i % 60:02d}.000 7 ERROR nova.api [-] {form['text']}"
                     for i, form in enumerate(FORMS)) + "\n"
    events = parse_text(text, service="nova-api")
    assert _leaks(json.dumps(events)) != []
    assert _leaks(json.dumps([scrub(e) for e in events])) == []
    clean = parse_text("2024-05-01 12:00:00.000 7 INFO nova.api [-] Instance spawned in 3.2 s\n")[0]
    assert scrub(clean) is clean


def test_ingest_masks_by_default_and_keeps_secrets_when_asked(tmp_path, es_url):
    from esnode import Http

    tree = str(_tree(tmp_path))
    server = Http(es_url)
    for prefix, extra in (("scrubbed", []), ("verbatim", ["--keep-secrets"])):
        result = osla("ingest", tree, "--es", es_url, "--prefix", prefix, "--json", *extra)
        assert result.exit_code == 0, result.output
        indexed_count = json.loads(result.stdout)["indexed"]
        hits = server.search(f"{prefix}-*", {"size": 1000, "query": {"match_all": {}}})["hits"]["hits"]
        assert len(hits) == indexed_count >= len(FORMS)
        indexed = json.dumps([hit["_source"] for hit in hits])
        if extra:
            assert sorted(set(_leaks(indexed))) == SECRETS  # the opt-out keeps them all
        else:
            assert _leaks(indexed) == []


def test_the_report_email_carries_no_secret(tmp_path):
    """The message osla report --email sends, received by a real SMTP server (aiosmtpd on 127.0.0.1)."""
    import email

    from smtp_server import smtp_server

    with smtp_server() as (port, handler):
        result = osla("report", str(_tree(tmp_path)), "--since", "2024-05-01", "--until", "2024-05-02",
                      "--email", "ops@example.org", "--smtp", f"127.0.0.1:{port}")
        assert result.exit_code in (0, 1), result.output
    (_, _, raw), = handler.messages
    parsed = email.message_from_bytes(raw)
    parts = [part.get_payload(decode=True).decode("utf-8", "replace") for part in parsed.walk()
             if part.get_content_maintype() == "text"]
    assert len(parts) == 2 and all(_leaks(part) == [] for part in parts)
    assert all("***" in part for part in parts)


def test_parse_masks_by_default_and_keeps_secrets_when_asked(tmp_path):
    tree = str(_tree(tmp_path))
    masked = osla("parse", tree)
    assert masked.exit_code == 0, masked.output
    assert _leaks(masked.stdout) == [] and "***" in masked.stdout
    kept = osla("parse", tree, "--keep-secrets")
    assert sorted(set(_leaks(kept.stdout))) == SECRETS
