"""The local report's state store: the report from the store equals the report from the files,
whatever happened to the files or the store between two nights."""
import gzip
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter

from click.testing import CliRunner
from corpus import CORPUS

from osloganalyze.cli import main
from osloganalyze.parse import Stats, discover_into
from osloganalyze.report.analyze import chart_bucket
from osloganalyze.report.local import collect
from osloganalyze.report.period import HOUR, Period, bucket
from osloganalyze.report.store import FILE_NAME, Store, hours_between
from osloganalyze.report.tally import HourCounts, SignatureStat
from osloganalyze.rules.model import load_rules

UFORIA = CORPUS / "uforia-OpenStackForensics"
APRIL_17 = ["--since", "2014-04-17", "--until", "2014-04-18", "--baseline", "7d"]
APRIL_21 = ["--since", "2014-04-21", "--until", "2014-04-23", "--baseline", "7d"]


def report(tree, window, *args):
    result = CliRunner().invoke(main, ["report", str(tree), *window, "--json", *args], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout), result.stderr


def comparable(data):
    from test_report import _comparable
    return _comparable(data)


def stored_hours(state):
    with sqlite3.connect(state / FILE_NAME) as db:
        return db.execute("SELECT count(*), count(DISTINCT file) FROM hours").fetchone()


def stored_ends(state):
    with sqlite3.connect(state / FILE_NAME) as db:
        return {file: (first, last) for file, first, last in db.execute("SELECT file, first, last FROM ends")}


def hours_within(ends, since, until):
    """The hours of [since, until) that a file with these ends may hold events in."""
    return {hour for hour in hours_between(since, until) if bucket(ends[0], HOUR) <= hour <= ends[1]}


def test_the_second_night_takes_its_baseline_from_the_store_and_gives_the_same_report(tmp_path):
    state = tmp_path / "state"
    files, _ = report(UFORIA, APRIL_17, "--no-state")
    first, _ = report(UFORIA, APRIL_17, "--state", state)
    rows, known = stored_hours(state)
    ends = stored_ends(state)
    assert known >= 10 and len(ends) >= known
    # every hour of the 7-day baseline and the day that may hold a file's events, and no other
    period = Period("2014-04-17T00:00:00.000Z", "2014-04-18T00:00:00.000Z", "2014-04-10T00:00:00.000Z")
    assert rows == sum(len(hours_within(e, period.baseline_start, period.end)) for e in ends.values()) > known
    plan_of = Store(state).planner(period)
    plans = {f.path: plan_of(f) for f in discover_into(Stats(), [str(UFORIA)])}
    for plan in (p for p in plans.values() if p.key):
        assert plan.ends == ends[plan.key]
        assert plan.stored == hours_within(plan.ends, period.baseline_start, period.start)
        in_period = bool(hours_within(plan.ends, period.start, period.end))
        assert plan.parse == ([(period.start, period.end)] if in_period else [])
    assert len({id(p.stored) for p in plans.values() if p.key}) == len({p.stored for p in plans.values() if p.key})
    second, _ = report(UFORIA, APRIL_17, "--state", state)
    assert comparable(first) == comparable(files) == comparable(second)
    assert files["new_signatures"] and files["spikes"] and files["tracebacks"]
    later, _ = report(UFORIA, APRIL_21, "--state", state)  # a later night: some baseline stored, some not
    assert comparable(later) == comparable(report(UFORIA, APRIL_21, "--no-state")[0])


def _split_by_day(source, day):
    """A file's lines before ``day`` and from it (as a log rotated at midnight holds them)."""
    before, after = [], []
    for line in source.read_text().splitlines(keepends=True):
        (after if line[:10] >= day else before).append(line)
    return "".join(before), "".join(after)


def test_rotation_and_compression_between_two_nights_count_nothing_twice(tmp_path):
    tree = tmp_path / "node" / "var/log/nova"
    tree.mkdir(parents=True)
    state = tmp_path / "state"
    old, new = _split_by_day(UFORIA / "var/log/nova/nova-api.log", "2014-04-18")
    assert old and new
    (tree / "nova-api.log").write_text(old)
    report(tmp_path / "node", APRIL_17, "--state", state)  # night 1: the live file
    (tree / "nova-api.log").rename(tree / "nova-api.log.1")  # logrotate: the file moves, a new one starts
    (tree / "nova-api.log").write_text(new)
    second, _ = report(tmp_path / "node", APRIL_21, "--state", state)
    assert comparable(second) == comparable(report(tmp_path / "node", APRIL_21, "--no-state")[0])
    with open(tree / "nova-api.log.1", "rb") as plain, gzip.open(tree / "nova-api.log.2.gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)  # the next rotation compresses it: a new inode, the same content
    (tree / "nova-api.log.1").unlink()
    third, _ = report(tmp_path / "node", APRIL_21, "--state", state)
    assert comparable(third) == comparable(second)
    assert second["baseline"]["days_with_logs"] and second["new_signatures"] is not None


def test_a_second_night_opens_no_rotation_that_ends_before_the_period(tmp_path):
    """logrotate's daily rotations (.1, then .2.gz ...) hold no event of a new night: the store
    knows their ends, and the .gz sizes its content in its last four bytes, so neither is read
    again, while the report stays the one the files give."""
    tree = tmp_path / "node" / "var/log/nova"
    tree.mkdir(parents=True)
    state = tmp_path / "state"
    older, live = _split_by_day(UFORIA / "var/log/nova/nova-api.log", "2014-04-22")
    oldest, yesterday = _split_by_day(UFORIA / "var/log/nova/nova-api.log", "2014-04-21")
    with gzip.open(tree / "nova-api.log.2.gz", "wt") as packed:
        packed.write(oldest)
    (tree / "nova-api.log.1").write_text(older[len(oldest):])
    (tree / "nova-api.log").write_text(live)
    period = Period("2014-04-22T00:00:00.000Z", "2014-04-23T00:00:00.000Z", "2014-04-15T00:00:00.000Z")
    rules = load_rules()
    nights = [collect([str(tmp_path / "node")], period, rules, store=Store(state), workers=1) for _ in range(2)]
    assert [stats.files for _, _, stats in nights] == [3, 1]  # the second night reads the live file only
    assert nights[1][0].events == nights[0][0].events > 0
    again, _ = report(tmp_path / "node", ["--since", "2014-04-22", "--until", "2014-04-23", "--baseline", "7d"],
                      "--state", state)
    assert comparable(again) == comparable(report(tmp_path / "node", ["--since", "2014-04-22", "--until",
                                                                      "2014-04-23", "--baseline", "7d"],
                                                  "--no-state")[0])
    with sqlite3.connect(state / FILE_NAME) as db:
        assert db.execute("SELECT count(*) FROM ends").fetchone()[0] == 3
    # a .gz still being written (its trailer not there yet) is read whole, its hours not stored
    data = (tree / "nova-api.log.2.gz").read_bytes()
    (tree / "nova-api.log.2.gz").write_bytes(data[:len(data) // 2])
    torn = collect([str(tmp_path / "node")], period, rules, store=Store(state), workers=1)
    assert torn[2].errors and torn[2].files == 2


def test_a_store_from_another_version_or_unreadable_is_rebuilt_with_a_note(tmp_path):
    state = tmp_path / "state"
    files, _ = report(UFORIA, APRIL_17, "--no-state")
    report(UFORIA, APRIL_17, "--state", state)
    with sqlite3.connect(state / FILE_NAME) as db:
        db.execute("UPDATE meta SET value = '0.1.0' WHERE key = 'osla'")
    again, said = report(UFORIA, APRIL_17, "--state", state)
    assert comparable(again) == comparable(files)
    assert f"osla: note: state store {state / FILE_NAME} rebuilt (it was written by osla 0.1.0)" in said
    data = (state / FILE_NAME).read_bytes()
    (state / FILE_NAME).write_bytes(data[:len(data) // 3] + b"\0garbage" * 512)  # a torn, overwritten file
    torn, said = report(UFORIA, APRIL_17, "--state", state)
    assert comparable(torn) == comparable(files)
    assert "rebuilt (SQLite could not read it" in said and said.count("\n") <= 2
    (state / FILE_NAME).write_bytes(b"not a database at all" * 100)
    _, said = report(UFORIA, APRIL_17, "--state", state)
    assert "rebuilt (SQLite could not read it" in said


def _osla(*args):
    return subprocess.Popen([sys.executable, "-m", "osloganalyze", "report", *map(str, args), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_runs_killed_mid_way_and_two_at_once_leave_a_store_that_gives_the_same_report(tmp_path):
    state = tmp_path / "state"
    files, _ = report(UFORIA, APRIL_21, "--no-state")
    for delay in (0.4, 0.8, 1.2, 1.6, 2.0):  # kill -9 at several points of a run, writing or not
        proc = _osla(UFORIA, *APRIL_21, "--state", state)
        time.sleep(delay)
        proc.kill()
        proc.communicate()
    both = [_osla(UFORIA, *APRIL_21, "--state", state) for _ in range(2)]  # two at once
    outputs = [proc.communicate(timeout=300) for proc in both]
    assert [proc.returncode for proc in both] == [1, 1], outputs
    for out, err in outputs:
        assert comparable(json.loads(out)) == comparable(files), err
    assert comparable(report(UFORIA, APRIL_21, "--state", state)[0]) == comparable(files)


def test_hour_counts_survive_the_store_and_buckets_follow_the_period():
    counts = HourCounts(events=3)
    counts.levels[("nova-api", "c1", "ERROR")] += 2
    counts.keystone["http-401"] += 1
    counts.signatures[("nova-api", "E: x")] = SignatureStat(2, "2024-05-01T10:00:00.000Z", "2024-05-01T10:30:00.000Z",
                                                            Counter({"c1": 2}), True, "E", "x", "req-1", None)
    again = HourCounts.of_json(counts.to_json())
    assert again == counts
    assert [chart_bucket(days) for days in (1, 3, 4, 120, 121, 1100, 3650)] == \
        ["hour", "hour", "day", "day", "week", "week", "month"]


def test_a_ten_year_period_draws_a_bounded_readable_chart(tmp_path):
    out = tmp_path / "long.html"
    result = CliRunner().invoke(main, ["report", "samples/live-migration", "--since", "2005-11-01", "--until",
                                       "2015-10-30", "--html", str(out), "--json", "--no-state"])
    assert result.exit_code == 1, result.output
    charts = json.loads(result.stdout)["charts"]
    assert {c["bucket"] for c in charts.values()} == {"month"}
    assert all(len(c["starts"]) <= 125 and sum(c["counts"]) > 0 for c in charts.values())
    assert out.read_text().count('src="data:image/png;base64,') == len(charts) >= 1
    assert "errors per month" in out.read_text()


def test_a_window_without_events_says_what_the_logs_cover_and_exits_3(tmp_path):
    """`osla report PATH` with the default --since 24h on last week's logs (here: 2015's) is not a
    clean bill of health: it says which window was empty and when the logs are from."""
    for command in (["report", "samples/live-migration", "--since", "24h", "--no-state"],
                    ["scan", "samples/live-migration", "--since", "24h"]):
        result = CliRunner().invoke(main, command, catch_exceptions=False)
        assert result.exit_code == 3, result.output
        note = [line for line in result.stderr.splitlines() if line.startswith("osla: note: no events from ")]
        assert len(note) == 1 and "its logs run from 2015-10-29T10:51:09.000Z to 2015-10-29T10:51:27.000Z" in note[0]
    inside = CliRunner().invoke(main, ["scan", "samples/live-migration", "--since", "2015-10-29"])
    assert inside.exit_code == 1
