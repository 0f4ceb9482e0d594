"""Real Elasticsearch and OpenSearch nodes for the tests (scripts/es_node.py does the work)."""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import es_node  # noqa: E402,F401 - scripts/es_node.py, also behind scripts/elasticsearch


def make_certs(folder: Path) -> dict:
    """A CA and a server certificate for 127.0.0.1/localhost, written as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("osla test CA")).issuer_name(name("osla test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return {k: str(v) for k, v in paths.items()}


class Http:
    """The tests' own look at a server, product-neutral: plain JSON over HTTP (urllib), so a test
    reads what the server holds without going through osla's client code."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def request(self, method: str, path: str, body=None, ignore: tuple[int, ...] = ()) -> dict:
        import json
        import urllib.error
        import urllib.request

        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/x-ndjson" if isinstance(body, bytes) else "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code in ignore:
                return {"status": exc.code}
            raise AssertionError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}") from None

    def get(self, path: str, **kw) -> dict:
        return self.request("GET", path, **kw)

    def put(self, path: str, body=None, **kw) -> dict:
        return self.request("PUT", path, body if body is not None else {}, **kw)

    def post(self, path: str, body=None, **kw) -> dict:
        return self.request("POST", path, body, **kw)

    def delete(self, path: str, **kw) -> dict:
        return self.request("DELETE", path, **kw)

    def refresh(self, pattern: str) -> None:
        self.post(f"/{pattern}/_refresh?allow_no_indices=true&ignore_unavailable=true")

    def count(self, pattern: str) -> int:
        self.refresh(pattern)
        return self.get(f"/{pattern}/_count?allow_no_indices=true&ignore_unavailable=true")["count"]

    def index(self, index: str, document: dict, doc_id: str | None = None, refresh: bool = False) -> dict:
        path = f"/{index}/_doc" + (f"/{doc_id}" if doc_id else "") + ("?refresh=true" if refresh else "")
        return self.request("PUT" if doc_id else "POST", path, document)

    def search(self, pattern: str, body: dict) -> dict:
        return self.post(f"/{pattern}/_search?allow_no_indices=true&ignore_unavailable=true", body)

    def settings(self, index: str, settings: dict) -> dict:
        return self.put(f"/{index}/_settings", settings)

    def product(self) -> str:
        """Told by the header Elasticsearch puts on every answer (its integ-test zip has no GET /)."""
        import urllib.request

        with urllib.request.urlopen(self.url + "/_cluster/health", timeout=30) as resp:
            return "elasticsearch" if resp.headers.get("X-Elastic-Product") == "Elasticsearch" else "opensearch"


def osla_client(url: str):
    """osla's own client (Elasticsearch or OpenSearch, as the server says) for a test node."""
    from osloganalyze.es.connection import connect, resolve

    return connect(resolve([url]))
