"""What the Fluentd configs are generated for: an inventory file (nodes, their services, the
backend) or what is found in a node's /var/log at deploy time. Nothing is hard-coded: a
component is a directory of logs, whatever its name."""
from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import OslaError

BACKENDS = ("elasticsearch", "opensearch")
LOG_ROOTS = ("/var/log", "/var/log/kolla")
_SIZE = re.compile(r"^\d+(?:\.\d+)?\s*[kmgKMG]?[bB]?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")
# a value written into a Fluentd config: no line break (a new directive), no quote, '#', '{' or
# '}' (Ruby interpolation and placeholders in Fluentd's strings), no space or '$'
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_.@%+=:,/-]*$")
_SAFE_WORD = re.compile(r"^[A-Za-z0-9_.@%+=:-]+$")
_DURATION = re.compile(r"^\d+(?:\.\d+)?[smhd]?$")
# directories of /var/log that are not OpenStack components
_NOT_COMPONENTS = {"apt", "journal", "installer", "dist-upgrade", "private", "sysstat", "unattended-upgrades",
                   "kolla", "fluentd", "td-agent", "landscape", "chrony", "cups", "lightdm", "samba"}


class InventoryError(OslaError, ValueError):
    """An inventory that cannot be used (one line: file, key, problem)."""


@dataclass(frozen=True)
class Secret:
    env: str | None = None   # the config reads "#{ENV['NAME']}"
    file: str | None = None  # the config @includes this file, which holds the 'password ...' line


@dataclass(frozen=True)
class Backend:
    type: str
    hosts: tuple[str, ...]
    ca_file: str | None
    user: str | None
    password: Secret | None
    api_key: Secret | None
    ssl_verify: bool = True


@dataclass(frozen=True)
class Node:
    name: str
    components: tuple[str, ...]


@dataclass
class Inventory:
    backend: Backend
    nodes: list[Node]
    index_prefix: str = "openstack"
    timezone: str = "UTC"
    log_roots: tuple[str, ...] = LOG_ROOTS
    buffer: dict = field(default_factory=dict)
    forward: dict = field(default_factory=dict)
    source: str = "inventory"
    keep_secrets: bool = False  # ship text as logged (default: the osla_scrub filter masks secrets)
    state_dir: str = "/var/lib/fluentd"  # Fluentd's pos files, dead letters (and buffers unless buffer.path)
    skipped: tuple[str, ...] = ()  # folders discovery found without oslo.log records (not shipped)


BUFFER_DEFAULTS = {"path": None, "chunk_limit_size": "8MB", "total_limit_size": "2GB",
                   "flush_interval": "5s", "retry_max_interval": "30s", "retry_timeout": "24h",
                   "overflow_action": "block"}  # path: <state_dir>/buffer unless given


def buffer_settings(given: dict, state_dir: str) -> dict:
    """The buffer's settings: the defaults, what the inventory gives, the path under state_dir."""
    buffer = dict(BUFFER_DEFAULTS, **given)
    if buffer["path"] is None:
        buffer["path"] = f"{state_dir}/buffer"
    return buffer
FORWARD_DEFAULTS = {"enabled": True, "bind": "127.0.0.1", "port": 24224}


def component_of(service: str) -> str:
    """'nova-api' -> 'nova', 'neutron-openvswitch-agent' -> 'neutron', 'keystone' -> 'keystone'."""
    return service.split("-", 1)[0]


def _size_bytes(text: str) -> int:
    m = re.match(r"[\d.]+", text)
    number = float(m.group(0)) if m else 0.0
    unit = text.strip().rstrip("bB")[-1:].lower()
    return int(number * {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(unit, 1))


def load(path: str, require_nodes: bool = True) -> Inventory:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InventoryError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"{path}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise InventoryError(f"{path}: expected a mapping (backend, nodes, ...)")

    def fail(message: str):
        raise InventoryError(f"{path}: {message}")

    unknown = set(data) - {"backend", "nodes", "index_prefix", "timezone", "log_roots", "buffer", "forward",
                           "keep_secrets", "state_dir"}
    if unknown:
        fail(f"unknown key {sorted(unknown)[0]!r}")
    nodes = []
    for i, node in enumerate(data.get("nodes") or []):
        if not isinstance(node, dict) or not _NAME.match(str(node.get("name", ""))):
            fail(f"nodes[{i}] needs a name (letters, digits, . _ -)")
        services = node.get("services")
        if not isinstance(services, list) or not services or not all(isinstance(s, str) and _NAME.match(s)
                                                                      for s in services):
            fail(f"nodes[{i}] ({node['name']}): services must be a list of service names")
        nodes.append(Node(str(node["name"]), tuple(dict.fromkeys(component_of(s) for s in services))))
    if not nodes and require_nodes:
        fail("nodes: at least one node with its services")
    inventory = Inventory(backend=_backend(data.get("backend"), fail), nodes=nodes, source=str(path))
    _common(inventory, data, fail)
    return inventory


def _common(inventory: Inventory, data: dict, fail) -> None:
    prefix = data.get("index_prefix", "openstack")
    if not isinstance(prefix, str) or not re.match(r"^[a-z0-9][a-z0-9_-]*$", prefix):
        fail("index_prefix must be lowercase letters, digits, - or _")
    inventory.index_prefix = prefix
    keep = data.get("keep_secrets", False)
    if not isinstance(keep, bool):
        fail("keep_secrets must be true or false")
    inventory.keep_secrets = keep
    tz = data.get("timezone", "UTC")
    from ..times import BadTimeZone, zone
    try:
        zone(str(tz))
    except BadTimeZone as exc:
        fail(f"timezone: {exc}")
    inventory.timezone = str(tz)
    roots = data.get("log_roots", list(LOG_ROOTS))
    if not isinstance(roots, list) or not all(isinstance(r, str) and _SAFE_PATH.match(r) for r in roots):
        fail("log_roots must be a list of absolute paths (letters, digits, / . _ - only)")
    inventory.log_roots = tuple(roots)
    state_dir = data.get("state_dir", inventory.state_dir)
    if not isinstance(state_dir, str) or not _SAFE_PATH.match(state_dir):
        fail("state_dir must be an absolute path (letters, digits, / . _ - only)")
    inventory.state_dir = state_dir.rstrip("/") or "/"
    buffer = buffer_settings(data.get("buffer") or {}, inventory.state_dir)
    unknown = set(buffer) - set(BUFFER_DEFAULTS)
    if unknown:
        fail(f"buffer: unknown key {sorted(unknown)[0]!r}")
    for key in ("chunk_limit_size", "total_limit_size"):
        if not _SIZE.match(str(buffer[key])):
            fail(f"buffer.{key} must be a size such as 8MB")
    if _size_bytes(str(buffer["chunk_limit_size"])) > 8 << 20:
        fail("buffer.chunk_limit_size must be at most 8MB (Elasticsearch's bulk requests stay small)")
    if buffer["overflow_action"] not in ("block", "drop_oldest_chunk", "throw_exception"):
        fail("buffer.overflow_action must be block, drop_oldest_chunk or throw_exception")
    if not _SAFE_PATH.match(str(buffer["path"])):
        fail("buffer.path must be an absolute path (letters, digits, / . _ - only)")
    for key in ("flush_interval", "retry_max_interval", "retry_timeout"):
        if not _DURATION.match(str(buffer[key])):
            fail(f"buffer.{key} must be a duration such as 5s, 30s or 24h")
    inventory.buffer = buffer
    forward = dict(FORWARD_DEFAULTS, **(data.get("forward") or {}))
    if not isinstance(forward["port"], int) or isinstance(forward["port"], bool) or not 0 < forward["port"] < 65536:
        fail("forward.port must be a port number")
    if not isinstance(forward["enabled"], bool):
        fail("forward.enabled must be true or false")
    if not _SAFE_WORD.match(str(forward["bind"])):
        fail("forward.bind must be an address such as 127.0.0.1")
    inventory.forward = forward


def _secret(value, where: str, fail) -> Secret | None:
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"env"} and re.match(r"^[A-Z_][A-Z0-9_]*$", str(value["env"])):
        return Secret(env=value["env"])
    if isinstance(value, dict) and set(value) == {"file"} and _SAFE_PATH.match(str(value["file"])):
        return Secret(file=value["file"])
    fail(f"{where} must be {{env: VARIABLE}} or {{file: /absolute/path}}: secrets are never written into configs")
    return None  # not reached: fail raises


def _backend(data, fail) -> Backend:
    if not isinstance(data, dict):
        fail("backend: a mapping with type and hosts")
    unknown = set(data) - {"type", "hosts", "ca_file", "user", "password_from", "api_key_from", "ssl_verify"}
    if unknown:
        bad = sorted(unknown)[0]
        fail(f"backend: unknown key {bad!r}" + (" (give password_from: {env: VAR} instead)" if bad == "password" else ""))
    if data.get("type", "elasticsearch") not in BACKENDS:
        fail(f"backend.type must be one of {', '.join(BACKENDS)}")
    hosts = data.get("hosts")
    if not isinstance(hosts, list) or not hosts or not all(
            re.match(r"^https?://[A-Za-z0-9_.-]+(?::\d{1,5})?/?$|^https?://\[[0-9A-Fa-f:.]+\](?::\d{1,5})?/?$", str(h))
            for h in hosts):
        fail("backend.hosts must list URLs such as https://es-1:9200")
    ssl_verify = data.get("ssl_verify", True)
    if not isinstance(ssl_verify, bool):
        fail("backend.ssl_verify must be true or false")
    if any(str(h).startswith("http://") for h in hosts) and (data.get("password_from") or data.get("api_key_from")):
        fail("backend: credentials over http:// would travel in clear; use https:// hosts")
    if data.get("ca_file") is not None and not _SAFE_PATH.match(str(data["ca_file"])):
        fail("backend.ca_file must be an absolute path (letters, digits, / . _ - only)")
    if data.get("user") is not None and not _SAFE_WORD.match(str(data["user"])):
        fail("backend.user must be a user name (letters, digits, . _ @ -)")
    if data.get("password_from") and not data.get("user"):
        fail("backend.password_from needs backend.user: a password alone gets every bulk request refused (401)")
    return Backend(type=data.get("type", "elasticsearch"), hosts=tuple(str(h).rstrip("/") for h in hosts),
                   ca_file=data.get("ca_file"), user=data.get("user"),
                   password=_secret(data.get("password_from"), "backend.password_from", fail),
                   api_key=_secret(data.get("api_key_from"), "backend.api_key_from", fail), ssl_verify=ssl_verify)


_SNIFF_BYTES = 65536  # the head of each *.log file read to tell oslo.log from other logs


def _writes_oslo_log(directory: str, first_line: re.Pattern) -> bool:
    """Whether one of a folder's *.log files has an oslo.log record (``first_line``, osla's
    OSLO_FIRST_LINE) in its first 64 KiB."""
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.endswith(".log") or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                head = handle.read(_SNIFF_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        if any(first_line.match(line) for line in head.splitlines()):
            return True
    return False


def discover(root: str = "/var/log", backend: Backend | None = None, node: str | None = None) -> Inventory:
    """This node's components: every directory of ``root`` (and ``root``/kolla) with *.log files
    that is named after an OpenStack project or whose files hold oslo.log records. Other folders
    (a database's, a message broker's: the configs parse oslo.log) are listed in ``skipped``."""
    from ..patterns import PatternLibrary
    from ..sources.naming import OPENSTACK_PACKAGES

    root = os.path.abspath(root)
    if not _SAFE_PATH.match(root):
        raise InventoryError(f"{root}: a log root must be a plain path (letters, digits, / . _ - only)")
    if node is not None and not _NAME.match(node):
        raise InventoryError(f"--node {node!r}: a node name is letters, digits, . _ - (it names the config files)")
    first_line = re.compile(PatternLibrary().expand("OSLO_FIRST_LINE"))
    components: list[str] = []
    skipped: list[str] = []
    roots = [root, os.path.join(root, "kolla")]
    for base in roots:
        if not os.path.isdir(base):
            continue
        for entry in sorted(os.listdir(base)):
            directory = os.path.join(base, entry)
            if entry in _NOT_COMPONENTS or not _NAME.match(entry) or not os.path.isdir(directory):
                continue  # a name that is not a plain word is never written into a config
            if entry in components or not any(name.endswith(".log") for name in os.listdir(directory)):
                continue
            if entry in OPENSTACK_PACKAGES or _writes_oslo_log(directory, first_line):
                components.append(entry)
            elif directory not in skipped:
                skipped.append(directory)
    if not components:
        raise InventoryError(f"{root}: no <component>/*.log with oslo.log records found to ship")
    backend = backend or Backend("elasticsearch", ("https://localhost:9200",), None, None, Secret(env="OSLA_ES_PASSWORD"),
                                 None)
    inventory = Inventory(backend=backend, nodes=[Node(node or socket.gethostname(), tuple(components))],
                          log_roots=tuple(roots), source=f"discovered in {root}", skipped=tuple(skipped))
    inventory.buffer = buffer_settings({}, inventory.state_dir)
    inventory.forward = dict(FORWARD_DEFAULTS)
    return inventory
