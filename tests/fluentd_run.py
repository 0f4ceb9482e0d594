"""The real Fluentd (../shared/vendor/fluentd, 1.16.11 with fluent-plugin-elasticsearch 5.2.5) run
by the tests, and the small front it needs before the tests' search node.

Why a front: Debian's elasticsearch-ruby 7.17, under fluent-plugin-elasticsearch, asks ``GET /``
before its first bulk request to verify the server. The Elasticsearch integ-test zip the tests
run answers ``GET /`` with HTTP 405 (a real distribution answers it), and OpenSearch answers as
OpenSearch, which that client refuses (fluent-plugin-opensearch cannot load on Debian's
libraries). So ``SearchFront`` answers ``GET /`` as an Elasticsearch 8 does and passes every other
request, bytes unchanged, to the real node: the bulk requests, their answers and every document
are the real node's. It can also go away and come back on the same port (connection refused in
between), which is how a server outage looks to Fluentd.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLUENTD = ROOT.parent / "shared" / "vendor" / "fluentd" / "bin" / "fluentd"

_ROOT_ANSWER = json.dumps({
    "name": "osla-front", "cluster_name": "osla-test", "cluster_uuid": "front",
    "version": {"number": "8.19.0", "build_flavor": "default", "lucene_version": "9.12.0",
                "minimum_wire_compatibility_version": "7.17.0", "minimum_index_compatibility_version": "7.0.0"},
    "tagline": "You Know, for Search"}).encode()


def fluentd_runs() -> bool:
    """Whether the vendored Fluentd starts here (it needs Debian's Ruby libraries)."""
    return FLUENTD.is_file() and subprocess.run([str(FLUENTD), "--version"], capture_output=True).returncode == 0


# skip where the vendored Fluentd cannot run, except in CI, where that is a failure
needs_fluentd = pytest.mark.skipif(not fluentd_runs() and not os.environ.get("CI"),
                                   reason="the vendored Fluentd needs Debian's Ruby libraries (scripts/test installs them)")


class SearchFront:
    """``GET /`` answered as Elasticsearch 8; everything else passed through to ``upstream``."""

    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 9200)
        self.requests = 0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server: ThreadingHTTPServer | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                front.requests += 1
                if self.command in ("GET", "HEAD") and self.path.split("?")[0] == "/":
                    self._answer(200, _ROOT_ANSWER, "application/json")
                    return
                upstream = http.client.HTTPConnection(*front.upstream, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    self._answer(answer.status, answer.read(), answer.getheader("Content-Type") or "application/json")
                finally:
                    upstream.close()

            def _answer(self, status, data, kind):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _relay  # noqa: N815 - http.server's names

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: Fluentd's requests are refused until up()."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def close(self) -> None:
        self.down()


class Fluentd:
    """One Fluentd process (its supervisor and worker in their own process group)."""

    def __init__(self, config: Path, plugins: Path, log: Path):
        self.config, self.plugins, self.log = config, plugins, log
        self.process: subprocess.Popen | None = None

    def start(self) -> Fluentd:
        self.process = subprocess.Popen([str(FLUENTD), "-c", str(self.config), "-p", str(self.plugins),
                                         "-o", str(self.log)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self, timeout: float = 30) -> None:
        """TERM (Fluentd writes its buffer and pos files), then KILL after a bounded wait."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass
        self.process = None

    def kill(self) -> None:
        """kill -9, supervisor and worker: nothing is flushed or written on the way out."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for(check, timeout: float, step: float = 0.5):
    """Poll ``check()`` until it returns something true; returns it, or the last value at timeout."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = check()
    return value
