"""A real Elasticsearch or OpenSearch node for tests and local use, on 127.0.0.1 only.

    scripts/elasticsearch start [--name NAME] [--port N]     prints the node's URL
    scripts/elasticsearch stop [--name NAME]
    scripts/elasticsearch status [--name NAME]
    scripts/opensearch start|stop|status ...                 the same, for OpenSearch

Downloads the Maven Central artifact
org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip (or
org.opensearch.distribution.integ-test-zip:opensearch:<version>:zip) with `mvn dependency:copy`,
caches it in ~/.cache/osla (or $OSLA_CACHE), and runs it with the machine's Java 17: one node,
security off, disk threshold off, 512 MB heap. Python's standard library only, so it runs before
osla is installed. Tests import it (Node).
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
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Product:
    name: str  # elasticsearch | opensearch: the binary, the config file and the cache folder
    title: str
    version: str
    artifact: str
    env: str  # prefix of the launcher's variables: ES_PATH_CONF, OPENSEARCH_JAVA_OPTS, ...


PRODUCTS = {
    # the newest 8.x on Maven Central that runs on Java 17
    "elasticsearch": Product("elasticsearch", "Elasticsearch", os.environ.get("OSLA_ES_VERSION", "8.19.21"),
                             "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip", "ES"),
    # the newest 2.x (3.x needs Java 21); the integ-test zip has no security plugin
    "opensearch": Product("opensearch", "OpenSearch", os.environ.get("OSLA_OPENSEARCH_VERSION", "2.19.6"),
                          "org.opensearch.distribution.integ-test-zip:opensearch:{version}:zip", "OPENSEARCH"),
}
ELASTICSEARCH = PRODUCTS["elasticsearch"]
VERSION = ELASTICSEARCH.version
ES_USER = "osla-es"  # Elasticsearch refuses to run as root; as root we run it as this system user
AS_ROOT = os.geteuid() == 0
HEAP = os.environ.get("OSLA_ES_HEAP", "512m")  # the tests' nodes stay small
CACHE = Path(os.environ.get("OSLA_CACHE") or ("/var/tmp/osla" if AS_ROOT else Path.home() / ".cache" / "osla"))


class NodeError(RuntimeError):
    pass


def distribution(product: Product = ELASTICSEARCH) -> Path:
    """The unpacked distribution, downloaded and unpacked once (saying so: it takes a minute)."""
    version = product.version
    home = CACHE / f"{product.name}-{version}"
    if (home / "bin" / product.name).is_file():
        return home
    CACHE.mkdir(parents=True, exist_ok=True)
    CACHE.chmod(0o755)
    zip_path = CACHE / f"{product.name}-{version}.zip"
    if not zip_path.is_file():
        if not shutil.which("mvn"):
            raise NodeError(f"mvn (Maven) is needed to download {product.title}; install it (apt-get install maven)")
        print(f"{product.name}: downloading {product.title} {version} from Maven Central into {CACHE}",
              file=sys.stderr)
        subprocess.run(["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={product.artifact.format(version=version)}",
                        f"-DoutputDirectory={CACHE}", "-Dmdep.stripVersion=false"],
                       check=True, cwd=CACHE, stdout=subprocess.DEVNULL)
    staging = CACHE / f"unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(["unzip", "-q", str(zip_path), "-d", str(staging)], check=True)
    (staging / f"{product.name}-{version}").rename(home)  # atomic: a half-unpacked tree is never used
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
        raise NodeError("Java 17+ is needed to run the node (apt-get install openjdk-17-jre-headless)")
    return str(Path(os.path.realpath(java)).parent.parent)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Node:
    """One node in its own folder (config, data, logs) under ``root``."""

    def __init__(self, root: Path, product: Product | str = ELASTICSEARCH):
        self.root = Path(root)
        self.product = PRODUCTS[product] if isinstance(product, str) else product
        self.version = self.product.version
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
        product = self.product
        if secure and product.name != "elasticsearch":
            raise NodeError(f"{product.title}'s integ-test zip has no security plugin: no TLS or users here")
        home = distribution(product)
        self.root.mkdir(parents=True, exist_ok=True)
        if AS_ROOT:
            for parent in (CACHE / "nodes", self.root):
                parent.chmod(0o755)
        conf = self.root / "config"
        shutil.rmtree(conf, ignore_errors=True)
        shutil.copytree(home / "config", conf)
        jvm = conf / "jvm.options"  # OpenSearch's writes GC logs and heap dumps under the (read-only) home
        jvm.write_text(jvm.read_text().replace("logs/", f"{self.root}/logs/").replace("=data", f"={self.root}/data"))
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
            # the disk monitor lifts read-only-allow-delete blocks on its rounds; the tests set them
            "cluster.info.update.interval": "30m",
            "action.destructive_requires_name": False,
        }
        if product.name == "elasticsearch":
            settings["xpack.security.enabled"] = bool(secure)
        scheme = "http"
        variables = {f"{product.env}_PATH_CONF": str(conf), f"{product.env}_JAVA_OPTS": f"-Xms{HEAP} -Xmx{HEAP}",
                     f"{product.env}_JAVA_HOME": java_home(), "JAVA_HOME": java_home()}
        env = dict(os.environ, **variables)
        env.pop("JAVA_TOOL_OPTIONS", None)
        setenv = ["env"] + [f"{key}={value}" for key, value in variables.items()]
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
            subprocess.run(as_es_user(setenv + [str(home / "bin" / "elasticsearch-users"), "useradd", secure["user"],
                                                "-p", secure["password"], "-r", "superuser"]),
                           check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        (conf / f"{product.name}.yml").write_text(
            "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items()))
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        pid_file = self.root / "pid"
        pid_file.unlink(missing_ok=True)
        give_to_es_user(self.root)
        if sys.stderr.isatty():
            print(f"{product.name}: starting {product.title} {self.version} in {self.root} "
                  f"(about a minute)", file=sys.stderr)
        launch = setenv + [str(home / "bin" / product.name), "-d", "-p", str(pid_file)]
        # the launcher's output to a file: OpenSearch's daemon keeps it open (a pipe would never end)
        launched = self.root / "logs" / "launch.out"
        with open(launched, "wb") as out:
            proc = subprocess.run(as_es_user(launch), env=env, cwd=self.root, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise NodeError(f"{product.name} did not start: {launched.read_text(errors='replace')[-2000:]}")
        url = f"{scheme}://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        pid = int(pid_file.read_text().strip())
        self.state_file.write_text(json.dumps({"url": url, "pid": pid, "version": self.version,
                                               "product": self.product.name,
                                               "secure": bool(secure)}))
        self.wait_healthy(secure, timeout)
        return url

    def wait_healthy(self, secure: dict | None = None, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.running():
                raise NodeError(f"{self.product.name} exited; see {self.root / 'logs'}")
            try:
                health = self.request("/_cluster/health?wait_for_status=yellow&timeout=5s", secure)
                if health.get("status") in ("yellow", "green"):
                    return
            except (OSError, ValueError) as exc:
                last = exc
            time.sleep(1)
        raise NodeError(f"{self.product.name} not healthy after {timeout:.0f}s: {last}")

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


def main(product: str = "elasticsearch") -> int:
    title = PRODUCTS[product].title
    ap = argparse.ArgumentParser(description=f"A {title} node on 127.0.0.1, for tests and local use.",
                                 epilog=f"Example: scripts/{product} start --name dev   (prints the URL; then "
                                        f"export OSLA_ES_URL=<that URL>)")
    ap.add_argument("action", choices=("start", "stop", "status"))
    ap.add_argument("--name", default="dev" if product == "elasticsearch" else "dev-opensearch",
                    help="node name (a folder under the cache)")
    ap.add_argument("--port", type=int, help="HTTP port (default: a free one)")
    args = ap.parse_args()
    node = Node(CACHE / "nodes" / args.name, product)
    try:
        if args.action == "start":
            started = time.monotonic()
            url = node.start(args.port)
            print(url)
            if sys.stderr.isatty():
                print(f"{product}: up in {time.monotonic() - started:.0f} s; use it with: export OSLA_ES_URL={url}",
                      file=sys.stderr)
        elif args.action == "stop":
            node.stop()
        elif node.running():
            print(f"running: {node.url} (pid {node.state()['pid']}, {title} {node.state()['version']})")
        else:
            print("stopped")
            return 3
    except (NodeError, subprocess.CalledProcessError) as exc:
        print(f"{product}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
