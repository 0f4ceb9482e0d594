"""One backend per command, chosen by one rule at the command line's edge, and one error path:
domain errors are one line, server failures are the server's, anything else an internal error."""
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from osloganalyze.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TREE = str(SAMPLES / "live-migration")
FAILED = "req-e4f91dbb-6b8f-4240-8a23-f424f1900e54"


def osla(*args, env=None):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("command", [["triage", FAILED], ["scan"], ["report"]])
def test_the_environment_sends_every_command_to_the_server(command, closed_port):
    result = osla(*command, env={"OSLA_ES_URL": f"http://127.0.0.1:{closed_port}"})
    assert result.exit_code == 2, result.output
    assert result.stderr == f"osla: error: cannot reach the search server at http://127.0.0.1:{closed_port}: " \
                            "connection refused\n"
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["triage", FAILED, TREE], ["scan", TREE], ["report", TREE]])
def test_paths_win_over_the_environment(command, closed_port):
    period = ["--since", "2015-10-29", "--until", "2015-10-30"] if command[0] == "report" else []
    result = osla(*command, *period, env={"OSLA_ES_URL": f"http://127.0.0.1:{closed_port}"})
    assert result.exit_code == 1, result.output  # the tree was read: findings, no server error
    assert "Elasticsearch" not in result.stderr


@pytest.mark.parametrize("command", [["triage", FAILED, TREE], ["scan", TREE], ["report", TREE]])
def test_paths_and_a_server_together_are_one_line(command):
    result = osla(*command, "--es", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert result.stderr.startswith("osla: error: give either ") and result.stderr.endswith(" or --es, not both\n")


@pytest.mark.parametrize("command", [["triage", FAILED], ["scan"], ["report", "--since", "2015-10-29",
                                                                 "--until", "2015-10-30"]])
def test_nothing_given_reads_this_nodes_var_log_and_says_so(command, monkeypatch):
    """Triage, scan and report alike: no PATH and no server is /var/log (here a sample tree in its place)."""
    monkeypatch.setattr("osloganalyze.cli.backend.DEFAULT_PATHS", (TREE,))
    result = osla(*command, env={"OSLA_ES_URL": ""})
    assert result.exit_code == 1, result.output  # the tree was read: findings
    assert f"osla: note: reading {TREE} (no log PATH and no server given)" in result.stderr


def test_former_option_names_still_work_with_a_note(tmp_path):
    log = tmp_path / "nova-api.log"
    log.write_text("2024-05-02 08:01:10.114 21 INFO nova.api [-] started\n")
    for old, new in ((["parse", "--host", "ctl-1", str(log)], ["parse", "--host-name", "ctl-1", str(log)]),):
        before, now = osla(*old), osla(*new)
        assert before.stdout == now.stdout and '"host.name":"ctl-1"' in now.stdout
        assert "osla: note: --host is now --host-name" in before.stderr and "note" not in now.stderr
    logs = osla("triage", FAILED, "--logs", TREE)
    assert logs.exit_code == 1 and logs.stdout == osla("triage", FAILED, TREE).stdout
    assert "osla: note: --logs PATH is now a PATH argument after the ID" in logs.stderr
    canary = osla("pipeline", "check", "--fluentd", "127.0.0.1:9", "--es", "http://127.0.0.1:9", "--timeout", "1")
    assert canary.exit_code == 2 and "osla: note: --fluentd is now --forward" in canary.stderr
    missing = osla("pipeline", "check", "--es", "http://127.0.0.1:9")
    assert missing.exit_code == 2 and missing.stderr == ("osla: error: give --forward HOST:PORT: Fluentd's forward "
                                                          "input (127.0.0.1:24224 in osla's configs)\n")


def test_the_reference_lists_shared_options_and_former_names():
    from osloganalyze.cli.reference import vocabulary

    lines = vocabulary()
    assert any(line.startswith("| `--host-name` | `ingest`, `parse` |") for line in lines)
    assert not any(line.startswith("| `--host` |") for line in lines)  # --host filters, on scan only
    assert "- `osla triage --logs` is now a `[PATH...]` argument" in lines
    assert "- `osla pipeline check --fluentd` is now `--forward`" in lines


def test_an_osla_bug_is_an_internal_error_and_debug_shows_its_traceback(monkeypatch):
    from osloganalyze.report import build

    def broken(*args, **kwargs):
        raise KeyError("baseline")
    monkeypatch.setattr(build, "build", broken)
    args = ["report", TREE, "--since", "2015-10-29", "--until", "2015-10-30"]
    plain = osla(*args)
    assert plain.exit_code == 2
    assert plain.stderr == "osla: internal error: KeyError: 'baseline' (a bug in osla; run again with --debug " \
                           "for the traceback)\n"
    debug = osla("--debug", *args)
    assert debug.exit_code == 2
    assert "Traceback (most recent call last):" in debug.stderr and "in broken" in debug.stderr
    assert debug.stderr.endswith(plain.stderr)


def test_only_client_failures_are_the_servers():
    from elastic_transport import ConnectionError as TransportConnectionError

    from osloganalyze.errors import ServerError
    from osloganalyze.es.connection import Settings, server_errors

    settings = Settings(urls=["https://user:hunter2@es:9200"])
    with pytest.raises(ServerError, match="cannot reach the search server at") as caught, server_errors(settings):
        raise TransportConnectionError("Connection refused")
    assert "hunter2" not in str(caught.value) and "https://user:***@es:9200" in str(caught.value)
    assert "hunter2" not in settings.describe() and "hunter2" not in repr(settings)
    with pytest.raises(KeyError), server_errors(settings):  # a bug in osla stays a bug
        raise KeyError("rules")


def test_debug_logs_files_read_phases_and_round_trips_without_secrets():
    result = osla("--debug", "triage", FAILED, TREE)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("osla: debug: ")]
    assert any("backend: log tree" in line for line in lines)
    assert any(f"grep '{FAILED}'" in line and " files, " in line for line in lines)
    assert any("reading " in line and "nova-api.log" in line for line in lines)
    assert any(line.rstrip().endswith(" s") and "triage: 13 events in" in line for line in lines)
    assert result.stdout.startswith("Verdict: ")  # debug goes to stderr only
    quiet = osla("triage", FAILED, TREE)
    assert "osla: debug" not in quiet.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["triage", FAILED, TREE, "--tz", "Mars/Olympus"], "Invalid value for '--tz': unknown time zone"),
    (["triage", FAILED, TREE, "--around", "ten minutes"], "Invalid value for '--around': takes a duration"),
    (["scan", TREE, "--emit-fluentd", "localhost"], "Invalid value for '--emit-fluentd': takes HOST:PORT"),
    (["scan", TREE, "--emit-fluentd", "127.0.0.1:99999"], "with a port from 1 to 65535"),
    (["report", TREE, "--email", "a@b", "--smtp", "mail:x"], "Invalid value for '--smtp': takes HOST[:PORT]"),
    (["parse", TREE, "--year", "99999"], "Invalid value for '--year'"),
    (["report", TREE, "--baseline", "1 week"], "Invalid value for '--baseline': takes a duration"),
])
def test_option_values_are_checked_once_by_their_type(args, message):
    result = osla(*args)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert message in result.stderr, result.stderr


def test_a_real_process_with_a_closed_port_prints_one_line(closed_port):
    """The installed entry point, not the test runner: what cron sees."""
    result = subprocess.run([sys.executable, "-m", "osloganalyze", "scan"], capture_output=True, text=True,
                            env={"OSLA_ES_URL": f"http://127.0.0.1:{closed_port}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [f"osla: error: cannot reach the search server at http://127.0.0.1:{closed_port}: "
                                          "connection refused"]
