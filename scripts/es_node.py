"""A real Elasticsearch node for tests and local use, on 127.0.0.1 only.

    scripts/elasticsearch start [--name NAME] [--port N]     prints the node's URL
    scripts/elasticsearch stop [--name NAME]
    scripts/elasticsearch status [--name NAME]

Downloads Elasticsearch as the Maven Central artifact
org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip with
`mvn dependency:copy`, caches it in ~/.cache/osla (or $OSLA_CACHE), and runs it with the
machine's Java 17: one node, security off, disk threshold off, 512 MB heap. Python's standard
library only, so it runs before osla is installed. Tests import it (start_node/Node).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

VERSION = os.environ.get("OSLA_ES_VERSION", "8.19.21")  # newest 8.x on Maven Central that runs on Java 17
ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
ES_USER = "osla-es"  # Elasticsearch refuses to run as root; as root we run it as this system user
AS_ROOT = os.geteuid() == 0
HEAP = os.environ.get("OSLA_ES_HEAP", "512m")  # the tests' nodes stay small
CACHE = Path(os.environ.get("OSLA_CACHE") or ("/var/tmp/osla" if AS_ROOT else Path.home() / ".cache" / "osla"))


class NodeError(RuntimeError):
    pass


def distribution(version: str = VERSION) -> Path:
    """The unpacked distribution, downloaded and unpacked once."""
    home = CACHE / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").is_file():
        return home
    CACHE.mkdir(parents=True, exist_ok=True)
    CACHE.chmod(0o755)
    zip_path = CACHE / f"elasticsearch-{version}.zip"
    if not zip_path.is_file():
        if not shutil.which("mvn"):
            raise NodeError("mvn (Maven) is needed to download Elasticsearch; install it (apt-get install maven)")
        subprocess.run(["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={ARTIFACT.format(version=version)}",
                        f"-DoutputDirectory={CACHE}", "-Dmdep.stripVersion=false"],
                       check=True, cwd=CACHE, stdout=subprocess.DEVNULL)
    staging = CACHE / f"unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(["unzip", "-q", str(zip_path), "-d", str(staging)], check=True)
    (staging / f"elasticsearch-{version}").rename(home)  # atomic: a half-unpacked tree is never used
    staging.rmdir()
    return home


def ensure_es_user() -> None:
    if subprocess.run(["id", "-u", ES_USER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        ES_USER], check=True)


def as_es_user(cmd: list[str]) -> list[str]:
    """cmd, run as ES_USER when we are root."""
    if not AS_ROOT:
        return cmd
    ensure_es_user()
    return ["runuser", "-u", ES_USER, "--"] + cmd


def give_to_es_user(path: Path) -> None:
    if AS_ROOT:
        ensure_es_user()
        subprocess.run(["chown", "-R", f"{ES_USER}:{ES_USER}", str(path)], check=True)


def java_home() -> str:
    """The machine's JDK (the integ-test-zip has none bundled): $JAVA_HOME, else where `java` lives."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if not java:
        raise NodeError("Java 17+ is needed to run Elasticsearch (apt-get install openjdk-17-jre-headless)")
    return str(Path(os.path.realpath(java)).parent.parent)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Node:
    """One node in its own folder (config, data, logs) under ``root``."""

    def __init__(self, root: Path, version: str = VERSION):
        self.root = Path(root)
        self.version = version
        self.state_file = self.root / "state.json"

    # -- state ---------------------------------------------------------------------

    def state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    @property
    def url(self) -> str:
        state = self.state()
        if not state:
            raise NodeError(f"no node in {self.root}")
        return state["url"]

    def running(self) -> bool:
        state = self.state()
        if not state:
            return False
        try:
            os.kill(state["pid"], 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    # -- start/stop ------------------------------------------------------------------

    def start(self, port: int | None = None, secure: dict | None = None, timeout: float = 180) -> str:
        """Start the node and wait for a yellow or green cluster; returns its URL.

        ``secure``: {"cert": PEM path, "key": PEM path, "ca": PEM path, "user": name, "password": text}
        turns on security with TLS on HTTP and a file-realm user."""
        if self.running():
            return self.url
        home = distribution(self.version)
        self.root.mkdir(parents=True, exist_ok=True)
        if AS_ROOT:
            for parent in (CACHE / "nodes", self.root):
                parent.chmod(0o755)
        conf = self.root / "config"
        shutil.rmtree(conf, ignore_errors=True)
        shutil.copytree(home / "config", conf)
        port = port or free_port()
        settings = {
            "cluster.name": "osla-test",
            "node.name": self.root.name,
            "network.host": "127.0.0.1",
            "http.port": port,
            "transport.port": free_port(),
            "discovery.type": "single-node",
            "path.data": str(self.root / "data"),
            "path.logs": str(self.root / "logs"),
            "cluster.routing.allocation.disk.threshold_enabled": False,
            "action.destructive_requires_name": False,
            "xpack.security.enabled": bool(secure),
        }
        scheme = "http"
        env = dict(os.environ, ES_PATH_CONF=str(conf), ES_JAVA_OPTS=f"-Xms{HEAP} -Xmx{HEAP}", ES_JAVA_HOME=java_home())
        env.pop("JAVA_TOOL_OPTIONS", None)
        if secure:
            scheme = "https"
            certs = conf / "certs"
            certs.mkdir()
            for key in ("cert", "key", "ca"):
                shutil.copy(secure[key], certs / f"{key}.pem")
            settings.update({
                "xpack.security.http.ssl.enabled": True,
                "xpack.security.http.ssl.certificate": "certs/cert.pem",
                "xpack.security.http.ssl.key": "certs/key.pem",
                "xpack.security.http.ssl.certificate_authorities": "certs/ca.pem",
                "xpack.security.transport.ssl.enabled": False,
                "xpack.security.authc.realms.file.file1.order": 0,
            })
            # the distribution's own tool writes the bcrypt hash to config/users
            give_to_es_user(self.root)
            subprocess.run(as_es_user(["env", f"ES_PATH_CONF={conf}", f"ES_JAVA_HOME={env['ES_JAVA_HOME']}",
                                       str(home / "bin" / "elasticsearch-users"), "useradd", secure["user"],
                                       "-p", secure["password"], "-r", "superuser"]),
                           check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        (conf / "elasticsearch.yml").write_text(
            "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items()))
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        pid_file = self.root / "pid"
        pid_file.unlink(missing_ok=True)
        give_to_es_user(self.root)
        launch = ["env", f"ES_PATH_CONF={conf}", f"ES_JAVA_OPTS={env['ES_JAVA_OPTS']}",
                  f"ES_JAVA_HOME={env['ES_JAVA_HOME']}", str(home / "bin" / "elasticsearch"), "-d", "-p", str(pid_file)]
        proc = subprocess.run(as_es_user(launch), env=env, cwd=self.root,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise NodeError(f"elasticsearch did not start: {proc.stdout[-2000:]}")
        url = f"{scheme}://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        pid = int(pid_file.read_text().strip())
        self.state_file.write_text(json.dumps({"url": url, "pid": pid, "version": self.version,
                                               "secure": bool(secure)}))
        self.wait_healthy(secure, timeout)
        return url

    def wait_healthy(self, secure: dict | None = None, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.running():
                raise NodeError(f"elasticsearch exited; see {self.root / 'logs'}")
            try:
                health = self.request("/_cluster/health?wait_for_status=yellow&timeout=5s", secure)
                if health.get("status") in ("yellow", "green"):
                    return
            except (OSError, ValueError) as exc:
                last = exc
            time.sleep(1)
        raise NodeError(f"elasticsearch not healthy after {timeout:.0f}s: {last}")

    def request(self, path: str, secure: dict | None = None) -> dict:
        req = urllib.request.Request(self.url + path)
        context = None
        if secure:
            context = ssl.create_default_context(cafile=secure["ca"])
            token = b64encode(f"{secure['user']}:{secure['password']}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return json.loads(resp.read())

    def stop(self, timeout: float = 60) -> None:
        state = self.state()
        if not state or not self.running():
            self.state_file.unlink(missing_ok=True)
            return
        os.kill(state["pid"], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.running():
            os.kill(state["pid"], signal.SIGKILL)
            time.sleep(0.5)
        self.state_file.unlink(missing_ok=True)


def _node(name: str) -> Node:
    return Node(CACHE / "nodes" / name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("start", "stop", "status"))
    ap.add_argument("--name", default="dev", help="node name (a folder under the cache)")
    ap.add_argument("--port", type=int, help="HTTP port (default: a free one)")
    args = ap.parse_args()
    node = _node(args.name)
    try:
        if args.action == "start":
            print(node.start(args.port))
        elif args.action == "stop":
            node.stop()
        elif node.running():
            print(f"running: {node.url} (pid {node.state()['pid']}, Elasticsearch {node.state()['version']})")
        else:
            print("stopped")
            return 3
    except (NodeError, subprocess.CalledProcessError) as exc:
        print(f"elasticsearch: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
