"""Search server (Elasticsearch or OpenSearch) connection settings, given once for every command.

Precedence: command-line options, then environment variables (OSLA_ES_URL, OSLA_ES_USER,
OSLA_ES_PASSWORD, OSLA_ES_CA, OSLA_ES_API_KEY), then the first config file found of
$OSLA_CONFIG, ~/.config/osla/config.toml, /etc/osla/config.toml:

    [elasticsearch]
    url = ["https://es-1:9200", "https://es-2:9200"]
    user = "osla"
    password = "..."          # or leave it out and set OSLA_ES_PASSWORD
    ca = "/etc/osla/ca.pem"

Secrets never leave this module in text: ``Settings.__repr__`` and ``describe()`` mask them.
"""
from __future__ import annotations

import contextlib
import logging
import os
import ssl
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import OslaError, ServerError, server_reason
from ..times import timed
from .client import TITLES, SearchClient, UnknownServer, http_status, open_client

CONFIG_PATHS = (Path.home() / ".config" / "osla" / "config.toml", Path("/etc/osla/config.toml"))
_SECRET = ("password", "api_key")


log = logging.getLogger("osla.server")


class EsError(OslaError):
    """A one-line, secret-free explanation of why the server settings cannot be used."""


def client_errors() -> tuple[type[BaseException], ...]:
    """What the search clients (elasticsearch-py, opensearch-py) raise for a server's or the
    network's failure."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError, SerializationError
    from opensearchpy import ImproperlyConfigured as OpenSearchConfig
    from opensearchpy import SerializationError as OpenSearchSerialization
    from opensearchpy import TransportError as OpenSearchTransport

    return (ApiError, TransportError, SerializationError, OpenSearchTransport, OpenSearchSerialization,
            OpenSearchConfig)


@contextlib.contextmanager
def server_errors(settings: Settings) -> Iterator[None]:
    """A client failure inside the block becomes one secret-free ServerError line; anything
    else (a bug in osla) goes through as it is."""
    try:
        yield
    except OslaError:
        raise
    except client_errors() as exc:
        raise ServerError(explain(exc, settings)) from None


@dataclass
class Settings:
    urls: list[str] = field(default_factory=list)
    user: str | None = None
    password: str | None = None
    ca: str | None = None
    api_key: str | None = None
    timeout: float = 30.0
    product: str | None = None  # known once connected: elasticsearch | opensearch

    @property
    def server(self) -> str:
        """The server's name in messages: its product once known."""
        return TITLES.get(self.product or "", "the search server")

    def __repr__(self) -> str:
        return f"Settings({self.describe()})"

    def describe(self) -> str:
        parts = []
        for f in fields(self):
            if f.name == "product":
                continue
            value = getattr(self, f.name)
            if f.name in _SECRET and value:
                value = "***"
            elif f.name == "urls":
                value = [shown(url) for url in value]
            parts.append(f"{f.name}={value!r}")
        return ", ".join(parts)


def shown(url: str) -> str:
    """A URL as osla prints it: a password written into it masked."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def _config_file(path: str | None) -> dict:
    candidates = [Path(path)] if path else ([Path(os.environ["OSLA_CONFIG"])] if os.environ.get("OSLA_CONFIG")
                                            else list(CONFIG_PATHS))
    for candidate in candidates:
        if candidate.is_file():
            try:
                with open(candidate, "rb") as fh:
                    data = tomllib.load(fh)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise EsError(f"cannot read config file {candidate}: {exc}") from None
            section = data.get("elasticsearch", {})
            if not isinstance(section, dict):
                raise EsError(f"{candidate}: [elasticsearch] must be a table")
            return section
        if path:
            raise EsError(f"config file not found: {candidate}")
    return {}


def _split(urls) -> list[str]:
    if isinstance(urls, str):
        urls = urls.replace(",", " ").split()
    return [u.rstrip("/") for u in urls or []]


def resolve(urls=(), user=None, password=None, ca=None, api_key=None, config=None, timeout=None) -> Settings:
    """Settings from options, environment and config file, in that order."""
    env = os.environ
    conf = _config_file(config)
    settings = Settings(
        urls=_split(urls) or _split(env.get("OSLA_ES_URL")) or _split(conf.get("url")),
        user=user or env.get("OSLA_ES_USER") or conf.get("user"),
        password=password or env.get("OSLA_ES_PASSWORD") or conf.get("password"),
        ca=ca or env.get("OSLA_ES_CA") or conf.get("ca"),
        api_key=api_key or env.get("OSLA_ES_API_KEY") or conf.get("api_key"),
        timeout=float(timeout or conf.get("timeout") or 30.0),
    )
    for url in settings.urls:
        if not url.startswith(("http://", "https://")):
            raise EsError(f"Elasticsearch URL must start with http:// or https://: {shown(url)}")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError as exc:
            raise EsError(f"bad Elasticsearch URL {shown(url)}: {exc}") from None
        if not parts.hostname:
            raise EsError(f"bad Elasticsearch URL {shown(url)}: no host")
    if settings.ca and not Path(settings.ca).is_file():
        raise EsError(f"CA file not found: {settings.ca}")
    if settings.user and not settings.password:
        raise EsError(f"no password for Elasticsearch user {settings.user!r} (set OSLA_ES_PASSWORD)")
    return settings


def connect(settings: Settings) -> SearchClient:
    """A client for the server at the settings' URLs, Elasticsearch or OpenSearch (told by its
    answer to ``GET /``), that has answered one request (health), or EsError/ServerError."""
    from elastic_transport import OrjsonSerializer

    if not settings.urls:
        raise EsError("no server URL: give --es URL, OSLA_ES_URL, or url in the config file")
    log.debug("connecting: %s", settings.describe())
    options: dict[str, Any] = {"request_timeout": settings.timeout, "retry_on_timeout": True, "max_retries": 3,
                               "serializer": OrjsonSerializer()}
    if settings.api_key:
        options["api_key"] = settings.api_key
    elif settings.user:
        options["basic_auth"] = (settings.user, settings.password)
    if settings.ca:
        options["ca_certs"] = settings.ca
    with server_errors(settings), timed(log, "server info"):
        try:
            client = open_client(settings.urls, options)
        except UnknownServer as exc:
            raise EsError(f"{', '.join(shown(u) for u in settings.urls)} is neither Elasticsearch nor OpenSearch "
                          f"(it answered: {exc})") from None
    settings.product = client.product
    log.debug("server: %s", client.info.title)
    check(client, settings)
    return client


def check(client: SearchClient, settings: Settings) -> dict:
    with server_errors(settings), timed(log, "cluster health"):
        return client.health(min(settings.timeout, 10))


def explain(exc: BaseException, settings: Settings) -> str:
    """One line for a client exception (either library), without secrets."""
    from elastic_transport import ConnectionError as TransportConnectionError
    from elastic_transport import TlsError
    from elasticsearch import ApiError, AuthenticationException, AuthorizationException
    from opensearchpy import AuthenticationException as OpenSearchAuthentication
    from opensearchpy import AuthorizationException as OpenSearchAuthorization
    from opensearchpy import ConnectionError as OpenSearchConnection
    from opensearchpy import SSLError as OpenSearchTls
    from opensearchpy import TransportError as OpenSearchTransport

    where = ", ".join(shown(url) for url in settings.urls)
    server = settings.server
    if isinstance(exc, (AuthenticationException, OpenSearchAuthentication)):
        who = f"user {settings.user!r}" if settings.user else ("the API key" if settings.api_key else "no credentials")
        return f"{server} at {where} refused {who}: authentication failed (HTTP 401)"
    if isinstance(exc, (AuthorizationException, OpenSearchAuthorization)):
        return f"{server} at {where}: not allowed (HTTP 403): {_reason(exc)}"
    if isinstance(exc, (TlsError, OpenSearchTls)) or _is_tls(exc):
        if _plain_http(exc):
            return (f"TLS to {server} at {where} failed: it answers plain HTTP, not HTTPS "
                    f"(use http:// in the URL, or turn TLS on at the server)")
        return (f"TLS to {server} at {where} failed: certificate not trusted or not valid for this host "
                f"(give the cluster's CA with --es-ca)")
    if isinstance(exc, (TransportConnectionError, OpenSearchConnection)):
        return f"cannot reach {server} at {where}: {_short(exc)}"
    status = http_status(exc) if isinstance(exc, (ApiError, OpenSearchTransport)) else None
    if status is not None:
        return f"{server} at {where} answered HTTP {status}: {_reason(exc)}"
    return f"{server} at {where}: {type(exc).__name__}: {_short(exc)}"


def _plain_http(exc: BaseException) -> bool:
    """Whether the TLS failure is the server answering in plain HTTP."""
    text = " ".join(str(e) for e in _causes(exc))
    return "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "http request" in text.lower()


def _causes(exc: BaseException) -> list[BaseException]:
    seen: set[int] = set()
    found: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        todo.extend([current.__cause__, current.__context__, *(getattr(current, "errors", None) or ())])
        info = getattr(current, "info", None)
        if isinstance(info, BaseException):
            todo.append(info)
    return found


def _is_tls(exc: BaseException) -> bool:
    """Whether a TLS failure is anywhere in the exception's causes."""
    return any(isinstance(e, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(e) for e in _causes(exc))


def _reason(exc) -> str:
    body = getattr(exc, "body", None)
    if body is None and isinstance(getattr(exc, "info", None), (dict, str, bytes)):  # opensearch-py
        body = exc.info
    if isinstance(body, dict):
        error = body.get("error")
        if error:
            return server_reason(error)
    if isinstance(body, (str, bytes)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        if "<html" in text[:500].lower() or "<!doctype" in text[:500].lower():
            return "not an Elasticsearch or OpenSearch API: the answer was an HTML page (a proxy, a login page?)"
        return " ".join(text.split())[:200] or _short(exc)
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "Connection refused" in text or "ECONNREFUSED" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name not found"
    return text[:300]
