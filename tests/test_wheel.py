"""The wheel carries parsers/, rules/ and fluentd/, works outside the repository, and its
compiled parser (hatch_build.py) gives exactly the events the pure-Python one gives."""
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from corpus import CORPUS
from test_fuzz import REAL, mutate

ROOT = Path(__file__).resolve().parents[1]
CAN_COMPILE = bool(shutil.which("cc") or shutil.which("gcc")) and \
    (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file()
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "OSLA_PURE_PYTHON")}


def _wheel(into: Path, **env) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(into), str(ROOT)],
                   check=True, cwd=into.parent, env={**CLEAN_ENV, **env})
    (wheel,) = into.glob("osloganalyze-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the wheel, the venv it is installed in), built once for this module's tests."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    wheel = _wheel(tmp_path / "dist")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   cwd=tmp_path)
    return wheel, env_dir


@pytest.mark.slow
def test_wheel_installs_and_parses_outside_the_repo(installed, tmp_path):
    wheel, env_dir = installed
    python = env_dir / "bin" / "python"
    work = tmp_path / "elsewhere"
    work.mkdir()
    log = work / "nova-api.log"
    log.write_text("2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi [req-adb018d8-afb7-4668-869c-"
                   "179b90ea5dbf - - - - -] Unexpected exception in API method\n"
                   "2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi Traceback (most recent call last):\n"
                   "2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi ValueError: boom\n")
    clean_env = CLEAN_ENV
    proc = subprocess.run([str(env_dir / "bin" / "osla"), "parse", "nova-api.log"], cwd=work, env=clean_env,
                          capture_output=True, text=True, check=True)
    (event,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert event["error.type"] == "ValueError" and event["service.name"] == "nova-api"
    where = subprocess.run([str(python), "-c", "import osloganalyze.resources as r;"
                            "print(r.data_dir('parsers'), r.data_dir('rules'), r.data_dir('fluentd'))"],
                           cwd=work, env=clean_env, capture_output=True, text=True, check=True).stdout.split()
    assert all("site-packages/osloganalyze/_data/" in path for path in where), where
    assert (Path(where[0]) / "grok" / "oslo.grok").is_file()
    # the rules ship too: the installed osla judges the same line, and every built-in example passes
    proc = subprocess.run([str(env_dir / "bin" / "osla"), "scan", "nova-api.log", "--json"], cwd=work,
                          env=clean_env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert [f["rule"] for f in json.loads(proc.stdout)["findings"]] == ["nova-api-unexpected-exception"]
    tested = subprocess.run([str(env_dir / "bin" / "osla"), "rules", "test"], cwd=work, env=clean_env,
                            capture_output=True, text=True)
    assert tested.returncode == 0 and " examples pass (" in tested.stderr
    # the Fluentd template and the triage page ship too
    example = subprocess.run([str(env_dir / "bin" / "osla"), "fluentd", "example-inventory"], cwd=work,
                             env=clean_env, capture_output=True, text=True)  # the sample inventory ships too
    assert example.returncode == 0 and "nodes:" in example.stdout
    (work / "inventory.yaml").write_text(example.stdout)
    rendered = subprocess.run([str(env_dir / "bin" / "osla"), "fluentd", "render", "--inventory", "inventory.yaml",
                               "--out", "conf"], cwd=work, env=clean_env, capture_output=True, text=True)
    assert rendered.returncode == 0 and (work / "conf" / "ctl-1" / "nova.conf").is_file(), rendered.stderr
    page = subprocess.run([str(env_dir / "bin" / "osla"), "triage", "req-adb018d8-afb7-4668-869c-179b90ea5dbf",
                           "nova-api.log", "--html", "t.html"], cwd=work, env=clean_env,
                          capture_output=True, text=True)
    assert page.returncode == 1 and "<!DOCTYPE html>" in (work / "t.html").read_text()


@pytest.mark.slow
def test_compiled_parser_gives_the_pure_parsers_events(installed, tmp_path):
    if not CAN_COMPILE:
        pytest.skip("no C compiler or Python headers here: the wheel is pure Python")
    wheel, env_dir = installed
    modules = [name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".so")]
    loaded = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import osloganalyze.parse.records as r; "
                             "print(r.__file__)"], cwd=tmp_path, env=CLEAN_ENV, capture_output=True, text=True,
                            check=True).stdout.strip()
    assert {"lines", "records", "timestamps"} <= {Path(name).name.split(".")[0] for name in modules}
    assert loaded.endswith(".so") and "-none-any" not in wheel.name
    # every shape of the corpus (eras, syslog, access logs, JSON, tracebacks), naive times read in a zone
    # with DST, syslog dates given a year: the installed, compiled parser against the sources'
    # and real lines cut, spliced and corrupted, random bytes, long lines (the compiled code checks
    # its argument types: a value the pure code lets through must not make it raise)
    broken = tmp_path / "broken" / "nova-compute.log"
    broken.parent.mkdir()
    broken.write_bytes(_broken_lines(random.Random(7), 5000))
    paths = [str(CORPUS / name) for name in ("loghub", "os-log-merger-live-migration", "uforia-OpenStackForensics",
                                              "os-loganalyze", "ParisaKalaki-openstack-logs", "snippets")] + \
        [str(broken.parent)]
    command = ["parse", *paths, "--tz", "Europe/Paris", "--year", "2019", "--json-summary"]
    compiled = subprocess.run([str(env_dir / "bin" / "osla"), *command], cwd=tmp_path, env=CLEAN_ENV,
                              capture_output=True)
    pure = subprocess.run([sys.executable, "-m", "osloganalyze", *command], cwd=ROOT, env=CLEAN_ENV,
                          capture_output=True)
    assert compiled.returncode == pure.returncode == 0, compiled.stderr[-500:]
    summaries = [json.loads(proc.stderr) for proc in (compiled, pure)]
    for summary in summaries:
        del summary["seconds"]
    assert summaries[0] == summaries[1] and summaries[0]["events"] > 150_000
    assert compiled.stdout == pure.stdout


@pytest.mark.slow
def test_compiled_report_gives_the_pure_report(installed, tmp_path):
    """The report's counting, the rule engine and the state store's plans are compiled too: the
    same report as the sources, from the files and from a store either build wrote."""
    if not CAN_COMPILE:
        pytest.skip("no C compiler or Python headers here: the wheel is pure Python")
    wheel, env_dir = installed
    compiled = {Path(name).name.split(".")[0] for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".so")}
    assert {"tally", "local", "engine", "findings"} <= compiled
    window = ["--since", "2014-04-21", "--until", "2014-04-23", "--baseline", "7d", "--json"]
    tree = str(CORPUS / "uforia-OpenStackForensics")

    def report(osla: list[str], *extra) -> dict:
        proc = subprocess.run([*osla, "report", tree, *window, *extra], cwd=tmp_path, env=CLEAN_ENV,
                              capture_output=True, text=True)
        assert proc.returncode == 1, proc.stderr[-500:]
        data = json.loads(proc.stdout)
        del data["elapsed_s"]
        return data
    installed_osla, sources = [str(env_dir / "bin" / "osla")], [sys.executable, "-m", "osloganalyze"]
    files = report(installed_osla, "--no-state")
    assert files["findings"] and files["new_signatures"] and files["totals"]["events"] > 10_000
    state = str(tmp_path / "state")
    assert report(sources, "--state", state) == files  # the first night, the store written by the sources
    assert report(installed_osla, "--state", state) == files  # the second night, compiled, from that store


@pytest.mark.slow
def test_pure_python_wheel_on_request(tmp_path):
    wheel = _wheel(tmp_path / "dist", OSLA_PURE_PYTHON="1")
    assert wheel.name.endswith("-py3-none-any.whl")
    assert not [name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".so")]


def _broken_lines(rnd: random.Random, count: int) -> bytes:
    lines = []
    for _ in range(count):
        pick = rnd.random()
        if pick < 0.5:
            lines.append(rnd.choice(REAL))
        elif pick < 0.8:
            lines.append(mutate(rnd.choice(REAL), rnd.randrange(300), rnd.randbytes(rnd.randrange(9))))
        elif pick < 0.98:
            lines.append(rnd.randbytes(rnd.randrange(120)))
        else:
            lines.append(rnd.choice(REAL) + b"x" * rnd.randrange(100_000))
    return b"\n".join(lines)
