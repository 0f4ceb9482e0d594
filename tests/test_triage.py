"""`osla triage`: one request followed across services and hosts, on real logs, locally and in Elasticsearch."""
import gzip
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus import CORPUS, snippet_blocks

from osloganalyze.cli import main
from osloganalyze.triage.ids import BadId, classify

BUNDLE = str(CORPUS / "os-log-merger-live-migration")
FAILED = "req-e4f91dbb-6b8f-4240-8a23-f424f1900e54"  # nova-api 'Returning 500 to user'
NEUTRON_CALL = "req-9d527390-6a7e-41cf-9244-e1e053f4befb"  # neutron's id in nova's RESP:200 line
MIGRATED = "a18a5824-4215-4e24-bcfc-cb9f89f6bcbd"  # an instance on both compute hosts


def osla(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def triage_json(*args):
    result = osla("triage", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_ids_operators_paste_are_understood():
    assert classify("(Request-ID: req-E4F91DBB-6b8f-4240-8a23-f424f1900e54)") == ("request", FAILED)
    assert classify("A18A5824-4215-4E24-BCFC-CB9F89F6BCBD") == ("instance", MIGRATED)
    assert classify("a18a582442154e24bcfccb9f89f6bcbd") == ("instance", MIGRATED)
    with pytest.raises(BadId):
        classify("req-123")
    result = osla("triage", "nonsense", BUNDLE)
    assert result.exit_code == 2 and result.stderr.startswith("osla: error: 'nonsense' is not a request id")


def test_a_cli_error_pasted_whole_is_followed():
    nova = (f'ERROR (ClientException): Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ '
            f'and attach the Nova API log if possible. (HTTP 500) (Request-ID: {FAILED.upper()})')
    neutron = f"Connection to neutron failed: Request-ID: {FAILED}),"
    for text in (nova, neutron):
        result = osla("triage", text, BUNDLE, "--json")
        assert result.exit_code == 1 and json.loads(result.stdout)["id"] == FAILED, text
        assert "note" not in result.stderr
    both = osla("triage", f"{FAILED} then {NEUTRON_CALL}", BUNDLE, "--json")
    assert json.loads(both.stdout)["id"] == FAILED
    assert both.stderr.startswith(f"osla: note: the text holds 2 request ids ({FAILED}, {NEUTRON_CALL})")


@pytest.fixture(scope="module")
def failed_request():
    return triage_json(FAILED, BUNDLE)


def test_nova_api_500_is_blamed_on_neutrons_crash(failed_request):
    view = failed_request
    verdict = view["verdict"]
    # the cause: neutron-server, which the request called, died at that moment; nova-api's error is the symptom
    assert verdict["category"] == "bug" and verdict["service"] == "neutron-server" and verdict["cause"] == "crash"
    assert verdict["text"].startswith("probable bug in neutron-server: it crashed on hp-ms-01-c29 at "
                                      "2015-10-29T10:51:12.503Z (CRITICAL AssertionError: Calling waitall()")
    assert "@ neutron/wsgi.py in stop" in verdict["text"]
    assert "what nova-api saw: ConnectionFailed: Connection to neutron failed" in verdict["text"]
    caught = [row for row in view["timeline"] if row["message"].startswith("Caught error: Connection to neutron")]
    assert len(caught) == 1 and "neutronclient/client.py" in caught[0]["stack_trace"]
    assert "api-caught-error" in caught[0]["rules"]
    assert {row["service"] for row in view["timeline"]} == {"nova-api", "neutron-server"}
    (root,) = view["requests"]
    assert root["request_id"] == FAILED and root["http"][0]["status"] == 500
    assert [child["request_id"] for child in root["children"]] == [NEUTRON_CALL]
    assert root["children"][0]["http"][0]["status"] == 200
    followed = {f["id"]: f for f in view["followed"]}
    assert followed[NEUTRON_CALL]["reason"].startswith(f"named in a message of {FAILED}")
    # neutron-server died meanwhile: its errors carry no id of this request, and are shown as such
    assert any(row["service"] == "neutron-server" and row["level"] == "CRITICAL" for row in view["nearby_errors"])
    assert any(row["gap_s"] for row in view["timeline"])
    times = [row["time"] for row in view["timeline"]]
    assert times == sorted(times)


def test_text_view_on_a_pipe_is_plain_and_complete():
    result = osla("triage", FAILED, BUNDLE)
    assert result.exit_code == 1
    out = result.stdout
    assert out.startswith("Verdict: probable bug in neutron-server: it crashed")
    assert "\x1b[" not in out  # no colour when piped
    assert f"  {FAILED}  nova-api on hp-ms-01-c29" in out and f"    {NEUTRON_CALL}  neutron-server" in out
    assert "X-Auth-Token: ***" in out and not re.search(r"X-Auth-Token: [0-9a-f]{8}", out)
    for title in ("Findings", "Errors close in time, not linked by any id", "Followed", "Requests", "Timeline"):
        assert f"\n{title}\n" in out


def test_html_page_is_self_contained_and_escaped(tmp_path):
    page = tmp_path / "triage.html"
    result = osla("triage", FAILED, BUNDLE, "--html", str(page))
    assert result.exit_code == 1
    # the terminal gets the verdict and where the page is, not the whole triage again
    assert result.stdout.startswith("Verdict: ") and result.stdout.count("\n") <= 2
    assert f"osla: wrote {page}" in result.stderr
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "Verdict: probable bug in neutron-server: it crashed" in html
    assert not re.search(r"""<(?:script|link|img)[^>]+(?:src|href)=["']?https?:""", html)
    assert "&lt;bound method FloatingIPController.index" in html and "<bound method" not in html


def test_nova_api_and_conductor_share_the_request_id(tmp_path):
    """http500 snippet A: nova-api's 500 and nova-conductor's MessagingTimeout, one request id."""
    lines = snippet_blocks("http500_snippets.txt")["A"].split("\n")
    host = tmp_path / "ctl-1" / "var" / "log" / "nova"
    host.mkdir(parents=True)
    api = [line for line in lines if " nova.api.openstack.wsgi " in line]
    conductor = [line for line in lines if line.strip() and " nova.api.openstack.wsgi " not in line]
    (host / "nova-api.log").write_text("\n".join(api) + "\n")
    (host / "nova-conductor.log").write_text("\n".join(conductor) + "\n")
    view = triage_json("req-adb018d8-afb7-4668-869c-179b90ea5dbf", str(tmp_path))
    assert set(view["summary"]["services"]) == {"nova-api", "nova-conductor"}
    assert view["summary"]["hosts"] == {"ctl-1": view["summary"]["events"]}
    assert view["verdict"]["category"] == "infrastructure" and view["verdict"]["rule"] == "messaging-timeout"
    assert {row["error_type"] for row in view["timeline"] if row["stack_trace"]} >= {"MessagingTimeout"}


def test_one_global_request_id_leads_to_its_local_ids(tmp_path):
    """global-request-id snippet G2: cinder-volume, one global id, several local ids."""
    folder = tmp_path / "cinder-node" / "var" / "log" / "cinder"
    folder.mkdir(parents=True)
    (folder / "cinder-volume.log").write_text(snippet_blocks("global_request_id_snippets.txt")["G2"] + "\n")
    view = triage_json("req-e4e454d2-8922-4a2a-abd9-9b67af159199", str(tmp_path))
    called = {f["id"] for f in view["followed"] if f["reason"] == "called by req-e4e454d2-8922-4a2a-abd9-9b67af159199"}
    assert {"req-757c8e35-c498-438f-be57-dc8a302ad923", "req-7488b9f7-8dd4-4df5-bdbc-441ce123ef96"} <= called
    assert len(view["requests"]) >= 2  # the global id logs nothing itself: its local requests are the roots
    # starting from one local id, the chase goes up to the caller and down to its other calls
    up = triage_json("req-757c8e35-c498-438f-be57-dc8a302ad923", str(tmp_path))
    assert {f["id"] for f in up["followed"]} >= called | {"req-e4e454d2-8922-4a2a-abd9-9b67af159199"}


def test_an_instance_on_both_compute_hosts(tmp_path):
    view = triage_json(MIGRATED, BUNDLE)
    compute_hosts = {row["host"] for row in view["timeline"] if row["service"] == "nova-compute"}
    assert compute_hosts == {"hp-ms-01-c29", "hp-ms-01-c30"}
    assert view["kind"] == "instance" and len([f for f in view["followed"] if f["kind"] == "request"]) > 1
    assert all(f["hop"] <= 3 for f in view["followed"])


def test_bounds_hold_and_are_said():
    narrow = triage_json(MIGRATED, BUNDLE, "--max-ids", "3")
    assert len(narrow["followed"]) <= 3
    assert any("stopped following at 3 ids" in limit for limit in narrow["limits"])
    one_hop = triage_json(FAILED, BUNDLE, "--hops", "1")
    assert NEUTRON_CALL in {f["id"] for f in one_hop["followed"]}
    assert any("stopped after 1 hops" in limit for limit in one_hop["limits"])
    assert "neutron-server" not in {row["service"] for row in one_hop["timeline"]}


def test_not_found_lists_near_matches_and_the_time_searched():
    result = osla("triage", "req-e4f91dbb-0000-4000-8000-000000000000", BUNDLE)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("osla: error: req-e4f91dbb-0000-4000-8000-000000000000 not found in 10 files")
    assert "logs from 2015-10-20T" in line and line.count("Z to 2015-10-") == 1 and f"near matches: {FAILED}" in line
    assert len(result.stderr.splitlines()) == 1
    missing = osla("triage", FAILED, "/nonexistent/logs")
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_elasticsearch_gives_the_same_triage_in_at_most_5_round_trips(es_url, failed_request):
    from esnode import Http, osla_client

    from osloganalyze.rules import load_rules
    from osloganalyze.triage import triage_elasticsearch

    assert osla("ingest", BUNDLE, "--es", es_url, "--prefix", "triage").exit_code == 0
    Http(es_url).refresh("triage-*")
    client = osla_client(es_url)
    for seed, local in ((FAILED, failed_request), (MIGRATED, triage_json(MIGRATED, BUNDLE))):
        remote = triage_elasticsearch(client, "triage", seed, load_rules())
        assert remote["round_trips"] <= 5
        assert [(r["time"], r["host"], r["file"], r["offset"]) for r in remote["timeline"]] == \
            [(r["time"], r["host"], r["file"], r["offset"]) for r in local["timeline"]]
        assert remote["verdict"] == local["verdict"]
        assert [f["id"] for f in remote["followed"]] == [f["id"] for f in local["followed"]]
        assert len(remote["nearby_errors"]) == len(local["nearby_errors"])
    cli = osla("triage", FAILED, "--es", es_url, "--prefix", "triage", "--json")
    assert cli.exit_code == 1 and json.loads(cli.stdout)["verdict"] == failed_request["verdict"]
    # an id found nowhere: the near matches and the time the indices cover, as for a log tree
    missing = triage_elasticsearch(client, "triage", "req-e4f91dbb-0000-4000-8000-000000000000", load_rules())
    covered = missing["searched"]
    assert not missing["timeline"] and FAILED in missing["near_matches"]
    assert covered["from"].startswith("2015-10-20T") and covered["to"] >= covered["from"]
    assert missing["round_trips"] <= 5
    gone = osla("triage", "req-e4f91dbb-0000-4000-8000-000000000000", "--es", es_url, "--prefix", "triage")
    assert gone.exit_code == 2 and f"near matches: {FAILED}" in gone.stderr


def test_colour_only_when_asked(failed_request):
    from osloganalyze.triage.render import text

    coloured = text(failed_request, colour=True)
    assert "\x1b[" in coloured and coloured.count("\x1b[") > 10
    assert "\x1b[" not in text(failed_request, colour=False)


def _children() -> set[int]:
    """This process's child processes (the Elasticsearch node of other tests is one)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


def test_the_forked_search_finds_what_one_process_finds(monkeypatch):
    """A tree over PARALLEL_BYTES is searched by one forked process per core; the bundle is made
    to count as one, and the hits, each file's time ends and the whole triage must not change."""
    from osloganalyze.sources import grep
    from osloganalyze.sources.local import log_paths
    from osloganalyze.sources.seek import FileEnds

    paths = log_paths([BUNDLE])
    ends_alone = FileEnds()
    alone = grep.search_all(paths, b"req-9d527390", ends=ends_alone)
    view_alone = triage_json(FAILED, BUNDLE)
    before = _children()
    monkeypatch.setattr(grep, "GREP_PARALLEL_BYTES", 0)
    ends_forked = FileEnds()
    calls = []
    forked = grep.search_all(paths, b"req-9d527390", meanwhile=lambda: calls.append(len(_children() - before)),
                             ends=ends_forked)
    assert calls == [min(os.cpu_count() or 1, 8)]  # the children were searching while meanwhile ran
    assert forked == alone and sum(len(hits) for hits in forked.values()) >= 2
    assert ends_forked.known == ends_alone.known and len(ends_alone.known) == len(paths)
    assert triage_json(FAILED, BUNDLE) == view_alone
    assert _children() == before  # every child reaped


def test_an_error_in_a_search_process_is_raised_here_and_no_process_is_left(monkeypatch):
    from osloganalyze.sources import grep
    from osloganalyze.sources.local import log_paths

    def broken(path, *args):
        raise RuntimeError(f"cannot search {path}")

    before = _children()
    monkeypatch.setattr(grep, "GREP_PARALLEL_BYTES", 0)
    monkeypatch.setattr(grep, "search", broken)
    with pytest.raises(RuntimeError, match="cannot search"):
        grep.search_all(log_paths([BUNDLE]), b"req-")
    with pytest.raises(KeyError):  # the caller's own work failing while the children search
        grep.search_all(log_paths([BUNDLE]), b"req-", meanwhile=lambda: {}["x"])
    assert _children() == before


@pytest.mark.parametrize("forked", [False, True])
def test_files_that_cannot_be_read_are_skipped_and_said(tmp_path, monkeypatch, forked):
    from osloganalyze.sources import grep

    if forked:
        monkeypatch.setattr(grep, "GREP_PARALLEL_BYTES", 0)
    tree = tmp_path / "logs"
    shutil.copytree(Path(__file__).resolve().parents[1] / "samples" / "live-migration", tree)
    (tree / "gone.log").symlink_to(tmp_path / "rotated-away")
    whole = gzip.compress(b"".join(b"2015-10-29 10:51:11.%03d 1 ERROR nova.api %d\n" % (i % 1000, i * 7919)
                                   for i in range(5000)))
    (tree / "hp-ms-01-c29" / "var" / "log" / "nova" / "nova-api.log.1.gz").write_bytes(whole[:len(whole) // 2])
    result = osla("triage", FAILED, str(tree))
    assert result.exit_code == 1 and result.stdout.startswith("Verdict: probable bug in neutron-server: it crashed")
    assert f"note: not read: {tree / 'gone.log'}: No such file or directory" in result.stdout
    assert "nova-api.log.1.gz: " in result.stdout
    view = triage_json(FAILED, str(tree))
    assert len(view["read_errors"]) == 2 and view["summary"]["events"] == 13
    # what the cut .gz holds before the damage is still read: its first error is a nearby one
    assert any(row["service"] == "nova-api" and row["message"] == "0" for row in view["nearby_errors"])


def test_a_bad_time_zone_is_one_line():
    result = osla("triage", FAILED, BUNDLE, "--tz", "Mars/Olympus")
    assert result.exit_code == 2 and result.stderr == "osla: error: Invalid value for '--tz': unknown time zone " \
        "'Mars/Olympus' (use an IANA name such as Europe/Paris, an offset such as +02:00, or UTC) " \
        "(see 'osla triage --help')\n"


def test_lines_outside_a_window_are_told_by_their_stamps():
    from osloganalyze.sources.seek import may_be_within

    window = ("2024-05-08 10:00:00", "2024-05-08 10:00:10")
    assert may_be_within(b"2024-05-08 10:00:05.123 1 ERROR nova x", *window)
    assert not may_be_within(b"2024-05-08 10:00:11.000 1 ERROR nova x", *window)
    assert may_be_within(b"May  8 10:00:05 ctl-1 nova-api[12]: ERROR x", *window)  # syslog: no year
    assert not may_be_within(b"May 26 20:44:32.276580 host cinder-volume[27348]: ERROR x", *window)
    assert may_be_within(b"    raise ValueError('no stamp')", *window)  # cannot tell: kept
    assert may_be_within(b"Dec 31 23:59:59 h p: ERROR", "2023-12-31 23:59:50", "2024-01-01 00:00:10")  # two years


SAMPLE = str(Path(__file__).resolve().parents[1] / "samples" / "live-migration")


def test_the_sample_verdict_names_neutrons_crash_and_what_the_user_saw():
    result = osla("triage", FAILED, SAMPLE)
    first = result.stdout.splitlines()[0]
    assert result.exit_code == 1
    assert first.startswith("Verdict: probable bug in neutron-server: it crashed on hp-ms-01-c29 at ")
    assert "what nova-api saw: ConnectionFailed: Connection to neutron failed" in first


def test_an_instance_named_in_a_request_body_is_followed():
    # os-server-external-events: the instance is only in the JSON body nova-api logged
    external = "req-eaee6b6a-ef3e-4536-b1a2-854c10a6d647"
    view = triage_json(external, str(CORPUS / "os-log-merger-live-migration" / "hp-ms-01-c29"))
    followed = {f["id"]: f for f in view["followed"]}
    assert followed[MIGRATED]["reason"] == f"an instance named in a message of {external}"
    assert view["summary"]["services"].get("nova-compute", 0) > 0
