"""The osla command line: output, summary, and one-line errors with the documented exit codes."""
import json
import os
import subprocess
import sys

import click
from click.testing import CliRunner

from osloganalyze import __version__
from osloganalyze.cli import main

LINE = "2024-05-01 12:00:00.000 7 ERROR nova.compute.manager [-] boom\n"


def invoke(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_version_and_help_with_example():
    assert invoke("--version").output.strip() == f"osla, version {__version__}"
    for command in ([], ["parse"]):
        out = invoke(*command, "--help").output
        assert "Example" in out and "osla parse" in out


def test_parse_writes_json_lines_and_a_summary(tmp_path):
    path = tmp_path / "nova-compute.log"
    path.write_text(LINE + "continued\n")
    result = invoke("parse", str(path))
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert event["message"] == "boom\ncontinued" and event["service.name"] == "nova-compute"
    assert "1 files, 2 lines, 1 events, 0 unparsed lines (100.00% of non-blank lines parsed)" in result.stderr
    assert result.exit_code == 0


def test_file_names_that_are_not_utf8(tmp_path):
    folder = tmp_path / "nova"
    folder.mkdir()
    with open(bytes(folder) + b"/nova-api\xff.log", "wb") as fh:  # a name Linux allows and UTF-8 does not
        fh.write(LINE.encode())
    result = invoke("parse", str(tmp_path))
    (event,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert event["service.name"] == "nova-api\ufffd" and event["log.file.path"].endswith("/nova/nova-api\ufffd.log")
    assert result.exit_code == 0


def test_output_file_stdin_and_json_summary(tmp_path):
    out = tmp_path / "events.jsonl"
    result = invoke("parse", "-", "-o", str(out), "--json-summary", input="junk first\n" + LINE)
    assert json.loads(out.read_text())["log.level"] == "ERROR"
    summary = json.loads(result.stderr)
    assert summary["unparsed"] == 1 and summary["events"] == 1
    assert summary["unparsed_examples"][0] == {"file": "-", "line": 1, "text": "junk first"}


def test_bad_input_gives_one_line_and_exit_2(tmp_path):
    for args in (["parse", str(tmp_path / "missing.log")],
                 ["parse", "--tz", "Mars/Olympus", str(tmp_path)],
                 ["parse", str(tmp_path), "-o", str(tmp_path)]):
        (tmp_path / "a.log").write_text(LINE)
        result = invoke(*args)
        assert result.exit_code == 2, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("osla: error: "), result.stderr
        assert "Traceback" not in result.output


def test_unreadable_file_is_a_warning_and_exit_1(tmp_path):
    (tmp_path / "good.log").write_text(LINE)
    (tmp_path / "bad.log.1.gz").write_bytes(b"\x1f\x8b not really gzip")
    result = invoke("parse", str(tmp_path))
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert "osla: warning: " in result.stderr and "bad.log.1.gz" in result.stderr


def test_real_process_and_closed_pipe(tmp_path):
    path = tmp_path / "x.log"
    path.write_text(LINE * 20000)
    proc = subprocess.run(f"{sys.executable} -m osloganalyze parse {path} | head -1", shell=True,
                          capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["message"] == "boom"
    assert "Traceback" not in proc.stderr


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    import sys

    from osloganalyze.cli.common import colour_wanted

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_wanted()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    monkeypatch.delenv("NO_COLOR")
    assert not colour_wanted()


def test_no_command_list_cuts_a_help_line_short():
    """The lists of commands in `osla --help` and every group's help show whole sentences, at 80
    columns too."""
    from osloganalyze.cli.reference import commands

    for path, command in commands():
        if isinstance(command, click.Group):
            listed = CliRunner().invoke(main, [*path.split()[1:], "--help"], terminal_width=80).stdout
            assert "..." not in listed.split("Commands:")[1], (path, listed)


def test_parse_summary_tells_lines_in_events_without_a_level():
    """'100% parsed' is not the whole story when records have no level: say how many there are."""
    from corpus import CORPUS
    folder = CORPUS / "os-loganalyze"
    result = CliRunner().invoke(main, ["parse", str(folder), "--json-summary"])
    events = [json.loads(line) for line in result.stdout.splitlines()]
    bare = [e for e in events if "log.level" not in e and "http.response.status_code" not in e]
    summary = json.loads(result.stderr.strip().splitlines()[-1])
    assert bare and summary["levelless_events"] == len(bare)
    assert summary["levelless_lines"] >= len(bare)
    text = CliRunner().invoke(main, ["parse", str(folder), "-o", os.devnull]).stderr
    assert f"in {len(bare):,} events with no level or HTTP status" in text
