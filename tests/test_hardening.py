"""What a real cloud throws at osla, each case once failing: torn lines, loops and FIFOs in the
tree, option values past every limit, terminal escapes in logs, rules that would backtrack
without end, config injection through the inventory, long lines, a full disk."""
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from osloganalyze import schema as S
from osloganalyze.cli import main
from osloganalyze.parse import Stats, parse_paths, parse_text

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TREE = SAMPLES / "live-migration"
FAILED = "req-e4f91dbb-6b8f-4240-8a23-f424f1900e54"
TORN = ('2017-05-16 00:10:51.513 1 INFO nova.osapi_compute.wsgi.server [req-0a1b2c3d-0000-4000-8000-000000000001 '
        '- - - - -] 10.0.0.1 "GET /x HTTP/1.1" status: 500 len: 1 time: 1.2.3')


def osla(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


def run(*args, timeout=60):
    """A real osla process (a hang is a failure, not a stuck suite)."""
    return subprocess.run([sys.executable, "-m", "osloganalyze", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_a_torn_access_line_keeps_its_other_fields(tmp_path):
    (event,) = parse_text(TORN + "\n")
    assert event[S.HTTP_STATUS] == 500 and S.EVENT_DURATION not in event and event[S.LOG_LEVEL] == "INFO"
    logs = tmp_path / "nova"
    logs.mkdir()
    (logs / "nova-api.log").write_text(TORN + "\n")
    assert osla("parse", tmp_path).exit_code == 0
    assert osla("scan", tmp_path).exit_code == 1  # the 500 is a finding
    assert osla("triage", "req-0a1b2c3d-0000-4000-8000-000000000001", tmp_path).exit_code == 1
    assert osla("report", tmp_path, "--since", "2017-05-16", "--until", "2017-05-17").exit_code in (0, 1)


def test_every_conversion_failure_is_kept_as_text_not_raised():
    from osloganalyze.parse.lines import CONVERSION_ERRORS

    odd = ["9999-12-31 23:59:59.999 1 INFO nova.x [-] last second", "0001-01-01 00:00:00.000 1 INFO nova.x [-] first",
           "2024-02-30 10:00:00.000 1 INFO nova.x [-] no such day", TORN.replace("1.2.3", "1e999")]
    for zone in ("UTC", "America/Los_Angeles", "Pacific/Kiritimati"):
        events = parse_text("\n".join(odd) + "\n", tz=zone)
        assert len(events) == len(odd)
    assert ValueError in CONVERSION_ERRORS and OverflowError in CONVERSION_ERRORS


def _copy_tree(tmp_path: Path) -> Path:
    import shutil

    tree = tmp_path / "logs"
    shutil.copytree(TREE, tree)
    return tree


def test_a_symlink_loop_hides_nothing_else_and_is_said(tmp_path):
    tree = _copy_tree(tmp_path)
    before = osla("scan", tree, "--json")
    nova = next(tree.rglob("nova-api.log")).parent
    (nova / "aaa.log").symlink_to(nova / "aaa.log")  # a loop, listed before nova-api.log
    (nova / "loop-dir").symlink_to(nova)  # a folder loop: symlinked folders are not entered
    after = osla("scan", tree, "--json")
    assert after.exit_code == 2  # something could not be read: the scan says it is incomplete
    assert "aaa.log: Too many levels of symbolic links" in after.stderr
    import json
    assert json.loads(after.stdout)["findings"] == json.loads(before.stdout)["findings"]
    assert osla("triage", FAILED, tree).stdout.startswith("Verdict: ")


def test_a_fifo_is_skipped_with_a_note_and_hangs_nothing(tmp_path):
    tree = _copy_tree(tmp_path)
    fifo = next(tree.rglob("nova-api.log")).parent / "x.log"
    os.mkfifo(fifo)
    for args in (["parse", tree], ["scan", tree], ["triage", FAILED, tree],
                 ["report", tree, "--since", "2015-10-29", "--until", "2015-10-30"], ["parse", fifo]):
        result = run(*args)
        assert result.returncode in (0, 1), (args, result.stderr)
        assert f"{fifo}: a FIFO, not a log file: skipped" in result.stderr + result.stdout, args


def test_a_folder_that_cannot_be_listed_is_an_error_not_silence(tmp_path, monkeypatch):
    """Stand-in: the tests run as root, which reads any folder, so os.scandir is made to refuse
    one folder the way it refuses an unreadable one (PermissionError)."""
    tree = _copy_tree(tmp_path)
    locked = next(tree.rglob("nova-api.log")).parent
    real = os.scandir

    def scandir(path):
        if os.path.abspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)
    monkeypatch.setattr(os, "scandir", scandir)
    result = osla("scan", tree)
    assert result.exit_code == 2 and f"{locked}: Permission denied (folder not read)" in result.stderr
    stats = Stats()
    list(parse_paths([str(tree)], stats=stats))
    assert any("folder not read" in error for error in stats.errors)


def test_an_empty_folder_is_one_line_not_a_clean_bill(tmp_path):
    (tmp_path / "nova").mkdir()
    (tmp_path / "nova" / "README").write_text("no logs here\n")
    for args in (["scan", tmp_path], ["parse", tmp_path], ["report", tmp_path]):
        result = osla(*args)
        assert result.exit_code == 2 and "no log files (*.log, *.txt and their rotations) under" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["triage", FAILED, TREE, "--around", "1000000d"], "longer than a century"),
    (["scan", TREE, "--since", "99999999d"], "longer than a century"),
    (["report", TREE, "--baseline", "99999999d"], "longer than a century"),
    (["report", TREE, "--since", "0001-01-01", "--until", "0001-01-02"], "the baseline reaches before the year 1"),
    (["es", "check", "--es", "http://h:999999"], "bad Elasticsearch URL http://h:999999"),
    (["report", TREE, "--email", "ops@example.org\r\nBcc: x@evil.example", "--smtp", "localhost"], "--email"),
    (["report", TREE, "--email", "not an address", "--smtp", "localhost"], "takes a mail address"),
    (["report", TREE, "--cloud", "prod\r\nX-Injected: 1"], "--cloud"),
    (["report", TREE, "--kibana-url", "javascript:alert(1)"], "takes an http:// or https:// URL"),
    (["scan", TREE, "--since", "2015-10-30", "--until", "2015-10-29"], "--until must come after --since"),
    (["report", TREE, "--email", "a@b.example", "--smtp", "localhost", "--smtp-user", "osla"],
     "would send the password in clear"),
])
def test_bad_values_are_one_line(args, message):
    result = osla(*args, env={"OSLA_SMTP_PASSWORD": "x"})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("osla: error: ") and len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr, result.stderr


def test_an_inventory_that_is_not_utf8_is_one_line(tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_bytes(b"backend: {hosts: [https://es:9200]}\nnodes: [{name: caf\xe9, services: [nova-api]}]\n")
    result = osla("fluentd", "render", "--inventory", inventory, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "not UTF-8 text" in result.stderr


@pytest.mark.parametrize(("backend", "message"), [
    ('{hosts: [https://es:9200], ca_file: "/x.pem\\n  ssl_verify false"}', "backend.ca_file"),
    ('{hosts: [https://es:9200], user: "osla}#{`id`}"}', "backend.user"),
    ('{hosts: ["https://es:9200\\n@type stdout"]}', "backend.hosts"),
    ('{hosts: [https://es:9200], password_from: {file: "/etc/x #{ENV}"}}', "password_from"),
])
def test_inventory_values_cannot_inject_config(tmp_path, backend, message):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(f"backend: {backend}\nnodes: [{{name: ctl-1, services: [nova-api]}}]\n")
    result = osla("fluentd", "render", "--inventory", inventory, "--out", tmp_path / "out")
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_discovered_names_and_node_names_stay_plain(tmp_path):
    logs = tmp_path / "var-log"
    (logs / "nova").mkdir(parents=True)
    (logs / "nova" / "nova-api.log").write_text("x\n")
    (logs / "bad}name").mkdir()
    (logs / "bad}name" / "x.log").write_text("x\n")
    inventory = SAMPLES / "fluentd-inventory.yaml"
    escaped = osla("fluentd", "render", "--inventory", inventory, "--discover", logs, "--node", "../../escaped",
                   "--out", tmp_path / "out")
    assert escaped.exit_code == 2 and "--node '../../escaped'" in escaped.stderr
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.parent.glob("escaped*"))
    good = osla("fluentd", "render", "--inventory", inventory, "--discover", logs, "--node", "ctl-9",
                "--out", tmp_path / "out")
    assert good.exit_code == 0, good.output
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*.conf"))
    assert "bad}name" not in written and "nova" in written


def test_control_characters_from_logs_never_reach_the_terminal(tmp_path):
    logs = tmp_path / "nova"
    logs.mkdir()
    rid = "req-0a1b2c3d-0000-4000-8000-000000000002"
    (logs / "nova-api.log").write_text(
        f"2024-05-01 12:00:00.000 7 ERROR nova.api [{rid} - - - - -] boom \x1b]52;c;cm0gLXJmIH4=\x07 done\n"
        f"2024-05-01 12:00:00.001 7 ERROR nova.api [{rid} - - - - -] over\rwritten \x1b]0;owned\x07\x9b2J\n")
    for args in (["triage", rid, tmp_path], ["scan", tmp_path],
                 ["report", tmp_path, "--since", "2024-05-01", "--until", "2024-05-02"]):
        result = osla(*args)
        assert result.exit_code in (0, 1), result.output
        for control in ("\x1b]", "\x07", "\r", "\x9b"):
            assert control not in result.output, (args, control)
    assert "\\x1b]52;c;" in osla("triage", rid, tmp_path).stdout  # shown, escaped


@pytest.mark.parametrize("regex", ["(a+)+$", "(.*a){40}", "(x|y*)*z", r"(\w+\s?)+$"])
def test_rules_that_could_backtrack_without_end_are_refused(tmp_path, regex):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "site.yaml").write_text(f"""rules:
  - id: site-slow
    title: slow
    category: bug
    severity: medium
    match: {{message: {{regex: '{regex}'}}}}
    explain: x
    remediation: y
    examples: {{raise: ["2024-05-01 12:00:00.000 7 ERROR nova.x [-] aaaa"]}}
""")
    result = osla("scan", TREE, "--rules", rules)
    assert result.exit_code == 2 and "can take exponential time" in result.stderr, result.stderr


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, "
                                                    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(9)]
    (rules / "bomb.yaml").write_text("\n".join(bomb) + "\nrules: [*j]\n")
    result = osla("rules", "list", "--rules", rules)
    assert result.exit_code == 2 and "YAML aliases (*name) are not allowed" in result.stderr
    assert len(result.stderr) < 300


def test_a_long_line_is_cut_and_counted_and_the_next_line_is_where_it_was(tmp_path):
    from osloganalyze.sources.local import CUT_MARK, LINE_LIMIT

    path = tmp_path / "nova-api.log"
    head = b"2024-05-01 12:00:00.000 7 ERROR nova.api [-] "
    long_line = head + b"x" * (3 * LINE_LIMIT + 12345)
    next_line = b"2024-05-01 12:00:01.000 7 INFO nova.api [-] next\n"
    path.write_bytes(long_line + b"\n" + next_line)
    stats = Stats()
    first, second = parse_paths([str(path)], stats=stats)
    assert stats.cut_lines == 1 and len(first[S.MESSAGE]) < LINE_LIMIT + 100
    assert first[S.MESSAGE].endswith(CUT_MARK.format(skipped=len(long_line) - LINE_LIMIT))
    assert second[S.LOG_OFFSET] == len(long_line) + 1 and second[S.MESSAGE] == "next"
    summary = osla("parse", path).stderr
    assert "1 lines cut at 1 MiB" in summary and "(100.00%" not in summary


def test_a_record_past_the_line_limit_is_tagged_and_counted(tmp_path):
    path = tmp_path / "nova-api.log"
    lines = ["2024-05-01 12:00:00.000 7 ERROR nova.api [-] Traceback (most recent call last):"]
    lines += [f'  File "/x.py", line {i}, in f' for i in range(10_050)]
    path.write_text("\n".join(lines) + "\n")
    stats = Stats()
    (event,) = parse_paths([str(path)], stats=stats)
    assert event[S.TAGS] == ["truncated"] and stats.truncated_events == 1 and stats.dropped_lines == 51
    assert "51 lines past the record limit" in osla("parse", path).stderr


def test_a_full_disk_on_stdout_is_one_line():
    for args in (["scan", TREE], ["triage", FAILED, TREE],
                 ["report", TREE, "--since", "2015-10-29", "--until", "2015-10-30"], ["parse", TREE]):
        with open("/dev/full", "w") as full:
            result = subprocess.run([sys.executable, "-m", "osloganalyze", *map(str, args)], stdout=full,
                                    stderr=subprocess.PIPE, text=True, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        assert "osla: error: cannot write the output: No space left on device" in result.stderr
        assert "Traceback" not in result.stderr


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _es_check_against(handler, scheme: str):
    """`osla es check` against a real loopback HTTP server answering with ``handler``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return osla("es", "check", "--es", f"{scheme}://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()


def test_a_server_answering_html_is_one_short_line():
    """A real HTTP server on loopback that is not Elasticsearch (a login page in front of it)."""
    class Page(_Quiet):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = b"<!DOCTYPE html><html><body><h1>Sign in</h1>" + b"<p>lorem</p>" * 500 + b"</body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    result = _es_check_against(Page, "http")
    assert result.exit_code == 2 and len(result.stderr) < 300, result.stderr
    assert "not an Elasticsearch or OpenSearch API: the answer was an HTML page" in result.stderr
    assert "<p>" not in result.stderr


def test_https_to_a_plain_http_server_says_so_not_the_certificate():
    """`--es https://...` against a node that speaks plain HTTP (a real loopback HTTP server)."""
    class Plain(_Quiet):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.end_headers()

    result = _es_check_against(Plain, "https")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "it answers plain HTTP, not HTTPS (use http:// in the URL" in result.stderr, result.stderr
    assert "certificate" not in result.stderr
