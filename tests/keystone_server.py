"""A real Keystone for the tests: installed from PyPI into its own cached venv, SQLite, Fernet
tokens, oslo.log's default file format, served by gunicorn on 127.0.0.1, stopped by the tests."""
from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import es_node  # noqa: E402 - the same cache folder as the Elasticsearch node

KEYSTONE = "keystone==30.0.0"  # 2025.2 (Flamingo)
SERVER = "gunicorn==23.0.0"
VENV = es_node.CACHE / "keystone-30.0.0"
PASSWORD = "osla-Adm1n-secret"


def install() -> Path:
    """The cached venv (created once; a stamp says it is complete)."""
    stamp = VENV / ".osla-complete"
    if not stamp.exists():
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", KEYSTONE, SERVER], check=True)
        stamp.touch()
    return VENV


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fault_hook(faults: tuple[str, ...]) -> str:
    """Lines for a WSGI entry point that let :mod:`lab_faults` break ``faults`` on demand."""
    if not faults:
        return ""
    return (f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
            f"import lab_faults\nlab_faults.install({list(faults)!r})\n")


def serve(venv: Path, root: Path, port: int, app: str, env: dict, errors: Path) -> subprocess.Popen:
    """gunicorn with one worker on 127.0.0.1; its own log (workers booting and dying) to ``errors``."""
    with open(errors, "a") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "60",
             "--chdir", str(root), app], env=env, stdout=subprocess.DEVNULL, stderr=log)


def wait_until_up(process: subprocess.Popen, url: str, errors: Path, name: str, limit: float = 90) -> None:
    """Return once ``url`` answers (any HTTP status); a clear error if the server exits first."""
    deadline = time.time() + limit
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {errors.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{name} did not answer within {limit:.0f} s")


def stop(process: subprocess.Popen | None) -> None:
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


class Keystone:
    def __init__(self, root: Path):
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "log" / "keystone" / "keystone.log"
        self.conf = root / "etc" / "keystone.conf"
        self.fernet = root / "fernet-keys"
        self.credential = root / "credential-keys"
        self.errors = root / "gunicorn.log"  # the WSGI server's own log
        self.database = f"sqlite:///{root / 'keystone.db'}"
        self.debug = False
        self.process = None

    def _env(self) -> dict:
        return dict(os.environ, OS_KEYSTONE_CONFIG_FILES=str(self.conf), PYTHONWARNINGS="ignore")

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        extra = ["--keystone-user", user, "--keystone-group", group] if args[0].endswith(("_setup", "_rotate")) else []
        return subprocess.run([str(VENV / "bin" / "keystone-manage"), "--config-file", str(self.conf), *args, *extra],
                              env=self._env(), capture_output=True, text=True, check=True)

    def setup(self) -> None:
        install()
        for path in (self.log.parent, self.conf.parent):
            path.mkdir(parents=True, exist_ok=True)
        self.write_conf()
        self.manage("db_sync")
        self.manage("fernet_setup")
        self.manage("credential_setup")
        self.manage("bootstrap", "--bootstrap-password", PASSWORD, "--bootstrap-public-url", f"{self.url}/v3",
                    "--bootstrap-region-id", "RegionOne")

    def write_conf(self) -> None:
        self.conf.write_text(f"""[DEFAULT]
debug = {str(self.debug).lower()}
log_file = {self.log}
use_stderr = false

[database]
connection = {self.database}

[token]
provider = fernet

[fernet_tokens]
key_repository = {self.fernet}
max_active_keys = 3

[fernet_receipts]
key_repository = {self.fernet}
max_active_keys = 3

[credential]
key_repository = {self.credential}
""")

    def start(self, faults: tuple[str, ...] = (), plan: Path | None = None) -> str:
        """Serve keystone; ``faults`` are functions :mod:`lab_faults` may break, as ``plan`` says."""
        # keystone's app reads sys.argv with oslo.config: give it none of gunicorn's arguments
        (self.root / "keystone_public.py").write_text(
            "import sys\nsys.argv = sys.argv[:1]\n"
            "from keystone.server.wsgi import initialize_public_application\n"
            "application = initialize_public_application()\n" + fault_hook(faults))
        self.process = serve(VENV, self.root, self.port, "keystone_public:application",
                             dict(self._env(), OSLA_FAULT_PLAN=str(plan or "")), self.errors)
        wait_until_up(self.process, f"{self.url}/v3", self.errors, "keystone")
        return self.url

    def stop(self) -> None:
        stop(self.process)

    # --- real HTTP requests --------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        """(status, headers, body) of one request."""
        return http(self.url, method, path, body, headers)

    def issue_token(self, password: str = PASSWORD, headers: dict | None = None):
        return self.request("POST", "/v3/auth/tokens", token_body(password), headers)


def http(url: str, method: str, path: str, body: dict | None = None, headers: dict | None = None,
         timeout: float = 60) -> tuple[int, dict, str]:
    """(status, headers, body) of one real HTTP request to an OpenStack API, JSON in."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def token_body(password: str = PASSWORD) -> dict:
    """The body of a password authentication as admin, scoped to the admin project."""
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
