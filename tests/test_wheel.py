"""The wheel carries parsers/, rules/ and fluentd/ and works outside the repository."""
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_parses_outside_the_repo(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, cwd=tmp_path)
    (wheel,) = dist.glob("osloganalyze-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, cwd=tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    log = work / "nova-api.log"
    log.write_text("2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi [req-adb018d8-afb7-4668-869c-"
                   "179b90ea5dbf - - - - -] Unexpected exception in API method\n"
                   "2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi Traceback (most recent call last):\n"
                   "2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi ValueError: boom\n")
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
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
    inventory = work / "inventory.yaml"
    inventory.write_text("backend: {hosts: [https://es:9200], password_from: {env: OSLA_ES_PASSWORD}}\n"
                         "nodes: [{name: n1, services: [nova-api]}]\n")
    rendered = subprocess.run([str(env_dir / "bin" / "osla"), "fluentd", "render", "--inventory", "inventory.yaml",
                               "--out", "conf"], cwd=work, env=clean_env, capture_output=True, text=True)
    assert rendered.returncode == 0 and (work / "conf" / "n1" / "nova.conf").is_file()
    page = subprocess.run([str(env_dir / "bin" / "osla"), "triage", "req-adb018d8-afb7-4668-869c-179b90ea5dbf",
                           "--logs", "nova-api.log", "--html", "t.html"], cwd=work, env=clean_env,
                          capture_output=True, text=True)
    assert page.returncode == 1 and "<!DOCTYPE html>" in (work / "t.html").read_text()
