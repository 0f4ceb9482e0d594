"""A fault-injection lab on real OpenStack services: Keystone and Placement from PyPI (SQLite,
gunicorn, oslo.log's default file format, Placement behind keystonemiddleware), a client calling
their real HTTP APIs, and faults injected the ways the literature does (:mod:`lab_faults`: an
exception inside a function, a wrong return value, a call missing a parameter, a worker killed;
and outside the code: the database locked or gone, keys removed or corrupted, Keystone down or
crashing under Placement, a schema never synced).

Every case is one API call whose request id the client saw, labelled with what broke: the
service, the category, the exception type and the function. Controls are calls that must not
be called bugs. :func:`run` leaves the logs as a node would, ``<root>/log/<service>/*.log``."""
from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keystone_server
from keystone_server import PASSWORD, Keystone, _free_port, fault_hook, http, serve, stop, token_body, wait_until_up

PLACEMENT = "openstack-placement==16.0.0"
PLACEMENT_VENV = keystone_server.es_node.CACHE / "placement-16.0.0"


def install_placement() -> Path:
    stamp = PLACEMENT_VENV / ".osla-complete"
    if not stamp.exists():
        shutil.rmtree(PLACEMENT_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(PLACEMENT_VENV)], check=True)
        subprocess.run([str(PLACEMENT_VENV / "bin" / "pip"), "install", "-q", PLACEMENT, keystone_server.SERVER,
                        "keystonemiddleware"], check=True)
        stamp.touch()
    return PLACEMENT_VENV


class Placement:
    """openstack-placement on SQLite, tokens checked by keystonemiddleware against ``keystone``."""

    def __init__(self, root: Path, keystone: Keystone, name: str = "placement"):
        self.root = root / name
        self.keystone = keystone
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "log" / "placement" / f"{name}-api.log"
        self.errors = root / "log" / "placement" / f"{name}-wsgi-error.log"
        self.database = self.root / "placement.db"
        self.interface = "public"  # keystone's bootstrap makes only a public endpoint
        self.process: subprocess.Popen | None = None

    def _env(self) -> dict:
        import os
        return dict(os.environ, OS_PLACEMENT_CONFIG_DIR=str(self.root), PYTHONWARNINGS="ignore")

    def setup(self, sync: bool = True) -> None:
        install_placement()
        self.root.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        identity = f"{self.keystone.url}/v3"
        (self.root / "placement.conf").write_text(f"""[DEFAULT]
debug = false
log_file = {self.log}
use_stderr = false

[api]
auth_strategy = keystone

[placement_database]
connection = sqlite:///{self.database}

[keystone_authtoken]
www_authenticate_uri = {identity}
auth_url = {identity}
auth_type = password
username = admin
password = {PASSWORD}
project_name = admin
user_domain_id = default
project_domain_id = default
interface = {self.interface}
""")
        if sync:
            subprocess.run([str(PLACEMENT_VENV / "bin" / "placement-manage"), "--config-file",
                            str(self.root / "placement.conf"), "db", "sync"], env=self._env(),
                           capture_output=True, text=True, check=True)

    def start(self, faults: tuple[str, ...] = (), plan: Path | None = None) -> None:
        (self.root / "placement_wsgi.py").write_text(
            "import sys\nsys.argv = sys.argv[:1]\nfrom placement.wsgi.api import application\n" + fault_hook(faults))
        self.process = serve(PLACEMENT_VENV, self.root, self.port, "placement_wsgi:application",
                             dict(self._env(), OSLA_FAULT_PLAN=str(plan or "")), self.errors)
        wait_until_up(self.process, self.url, self.errors, "placement")

    def stop(self) -> None:
        stop(self.process)


# --- the client -------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    request_id: str | None  # the id the client saw (x-openstack-request-id / openstack-request-id)
    body: str
    sent_id: str = ""  # the id the client sent (X-OpenStack-Request-ID), as OpenStack services do

    @property
    def id(self) -> str:
        """What an operator would paste: the answer's id, else the one the client sent (an
        exception that escapes to the WSGI server leaves no id in the answer)."""
        return self.request_id or self.sent_id


def call(url: str, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Answer:
    """One API call with a request id of the client's own, as OpenStack clients send it."""
    sent = f"req-{uuid.uuid4()}"
    status, seen, text = http(url, method, path, body, {"X-OpenStack-Request-ID": sent, **(headers or {})})
    rid = next((v for k, v in seen.items() if k.lower() in ("x-openstack-request-id", "openstack-request-id")), None)
    return Answer(status, rid, text, sent)


# --- the cases --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    call: str  # a key of CALLS
    service: str  # the service the verdict must name (osla's name for it)
    category: str | None  # bug | config | infrastructure; None for a control
    exception: str | None = None  # the exception type the verdict must name
    function: str | None = None  # the injected function
    fault: dict | None = None  # a lab_faults plan
    outside: str | None = None  # a fault outside the code: a key of Lab.OUTSIDE
    note: str = ""
    caller: str | None = None  # the frame that uses what the function returned wrongly


def _raise(target: str, exception: str, message: str) -> dict:
    return {"target": target, "mode": "raise", "exception": exception, "message": message}


KS_IDENTITY = "keystone.identity.core:Manager"
KS_RESOURCE = "keystone.resource.core:Manager"
KS_ASSIGNMENT = "keystone.assignment.core:Manager"
PL_RP = "placement.objects.resource_provider"

CASES = [
    # keystone, inside the code
    Case("ks-authenticate-raises", "issue-token", "keystone", "bug", "KeyError", "authenticate",
         _raise(f"{KS_IDENTITY}.authenticate", "KeyError", "password_hash")),
    Case("ks-roles-none", "issue-token", "keystone", "bug", "TypeError", "get_roles_for_user_and_project",
         {"target": f"{KS_ASSIGNMENT}.get_roles_for_user_and_project", "mode": "return", "value": None},
         caller="_get_project_roles",
         note="a wrong return value (None) breaks the caller"),
    Case("ks-create-project-missing-argument", "create-project", "keystone", "bug", "TypeError", "create_project",
         {"target": f"{KS_RESOURCE}.create_project", "mode": "drop-argument"}),
    Case("ks-list-projects-raises", "list-projects", "keystone", "bug", "AttributeError", "list_projects",
         _raise(f"{KS_RESOURCE}.list_projects", "AttributeError", "'NoneType' object has no attribute 'domain_id'")),
    Case("ks-create-project-raises", "create-project", "keystone", "bug", "ValueError", "create_project",
         _raise(f"{KS_RESOURCE}.create_project", "ValueError", "invalid literal for int() with base 10: 'abc'")),
    Case("ks-list-users-none", "list-users", "keystone", "bug", "TypeError", "list_users",
         {"target": f"{KS_IDENTITY}.list_users", "mode": "return", "value": None}, caller="wrap_collection"),
    Case("ks-create-user-raises", "create-user", "keystone", "bug", "IndexError", "create_user",
         _raise(f"{KS_IDENTITY}.create_user", "IndexError", "list index out of range")),
    # keystone, outside the code
    Case("ks-database-locked", "issue-token", "keystone", "infrastructure", "OperationalError", None,
         outside="lock-keystone-database"),
    Case("ks-fernet-keys-missing", "issue-token", "keystone", "config", "KeysNotFound", None,
         outside="remove-fernet-keys"),
    Case("ks-fernet-key-corrupted", "issue-token", "keystone", "config", "ValueError", None,
         outside="corrupt-fernet-key"),
    # placement, inside the code
    Case("pl-create-provider-raises", "create-provider", "placement-api", "bug", "KeyError", "create",
         _raise(f"{PL_RP}:ResourceProvider.create", "KeyError", "generation")),
    Case("pl-list-providers-none", "list-providers", "placement-api", "bug", "TypeError", "get_all_by_filters",
         {"target": f"{PL_RP}:get_all_by_filters", "mode": "return", "value": None}, caller="_serialize_providers"),
    Case("pl-get-provider-empty", "get-provider", "placement-api", "bug", "AttributeError", "get_by_uuid",
         {"target": f"{PL_RP}:ResourceProvider.get_by_uuid", "mode": "return", "value": []}, caller="_serialize_provider",
         note="a wrong return value (an empty list) breaks the caller"),
    Case("pl-inventories-missing-argument", "list-inventories", "placement-api", "bug", "TypeError",
         "get_all_by_resource_provider",
         {"target": "placement.objects.inventory:get_all_by_resource_provider", "mode": "drop-argument"}),
    Case("pl-resource-classes-raises", "list-resource-classes", "placement-api", "bug", "IndexError", "get_all",
         _raise("placement.objects.resource_class:get_all", "IndexError", "tuple index out of range")),
    Case("pl-set-inventory-raises", "set-inventory", "placement-api", "bug", "ValueError", "set_inventory",
         _raise(f"{PL_RP}:ResourceProvider.set_inventory", "ValueError", "total must be greater than reserved")),
    Case("pl-usages-none", "provider-usages", "placement-api", "bug", "TypeError", "get_all_by_resource_provider",
         {"target": "placement.objects.usage:get_all_by_resource_provider_uuid", "mode": "return", "value": None},
         caller="_serialize_usages"),
    # placement, outside the code
    Case("pl-database-locked", "create-provider", "placement-api", "infrastructure", "OperationalError", None,
         outside="lock-placement-database"),
    Case("pl-schema-incomplete", "provider-usages", "placement-api", "config", "DBNonExistentTable", None,
         outside="hide-allocations-table", note="a table the code needs is missing: a migration not run"),
    Case("pl-keystone-down", "list-providers-fresh-token", "placement-api", "infrastructure", None, None,
         outside="stop-keystone", note="keystonemiddleware cannot reach keystone to validate the token"),
    Case("pl-keystone-worker-killed", "list-providers-fresh-token", "keystone", "infrastructure", None, None,
         {"target": "keystone.token.provider:Manager.validate_token", "mode": "kill"},
         note="keystone's worker dies validating placement's token: the crash is the cause"),
    Case("ks-database-gone", "issue-token-db-gone", "keystone", "infrastructure", "OperationalError", None,
         note="keystone restarted with its database file unreachable"),
    # controls: must not be called a bug
    Case("control-token", "issue-token", "keystone", None),
    Case("control-wrong-password", "issue-token-wrong-password", "keystone", None),
    Case("control-list-projects", "list-projects", "keystone", None),
    Case("control-list-providers", "list-providers", "placement-api", None),
    Case("control-provider-not-found", "get-missing-provider", "placement-api", None),
    Case("control-duplicate-provider", "create-duplicate-provider", "placement-api", None),
]


@dataclass
class Outcome:
    case: Case
    answer: Answer
    started: float = field(default=0.0)


class Lab:
    """Keystone and Placement serving, the client's token and provider, and the fault plan file."""

    def __init__(self, root: Path):
        self.root = root
        self.plan = root / "fault-plan.json"
        self.keystone = Keystone(root)
        self.keystone.errors = self.keystone.log.parent / "keystone-wsgi-error.log"
        self.keystone.debug = True  # keystone logs a request only at DEBUG unless it fails in keystone's hands
        self.placement = Placement(root, self.keystone)
        self.provider = str(uuid.uuid4())
        self.token = ""
        self.generation = 0

    @staticmethod
    def _targets(service: str) -> tuple[str, ...]:
        return tuple(sorted({c.fault["target"] for c in CASES if c.fault and c.fault["target"].startswith(service)}))

    def start(self) -> None:
        self.keystone.setup()
        self.keystone.start(self._targets("keystone"), self.plan)
        self.placement.setup()
        self.placement.start(self._targets("placement"), self.plan)
        self.token = self.fresh_token()
        created = self.placement_call("POST", "/resource_providers", {"name": "compute-1", "uuid": self.provider})
        if created.status not in (200, 201):
            raise RuntimeError(f"placement did not create the provider: {created.status} {created.body[:300]}")
        self.generation = json.loads(created.body)["generation"]

    def stop(self) -> None:
        for server in (self.placement, self.keystone):
            server.stop()

    def fresh_token(self, password: str = PASSWORD) -> str:
        status, headers, _ = self.keystone.issue_token(password)
        return headers.get("X-Subject-Token", "") if status == 201 else ""

    def keystone_call(self, method: str, path: str, body: dict | None = None) -> Answer:
        return call(self.keystone.url, method, path, body, {"X-Auth-Token": self.token})

    def placement_call(self, method: str, path: str, body: dict | None = None, token: str | None = None,
                       server: Placement | None = None) -> Answer:
        headers = {"X-Auth-Token": token or self.token, "OpenStack-API-Version": "placement 1.39"}
        return call((server or self.placement).url, method, path, body, headers)

    def token_request(self, password: str = PASSWORD) -> Answer:
        return call(self.keystone.url, "POST", "/v3/auth/tokens", token_body(password))

    # the API calls the cases make
    def calls(self) -> dict[str, Callable[..., Answer]]:
        p = self.provider
        return {
            "issue-token": self.token_request,
            "issue-token-wrong-password": lambda: self.token_request("wrong-password"),
            "issue-token-db-gone": self._database_gone,
            "list-projects": lambda: self.keystone_call("GET", "/v3/projects"),
            "create-project": lambda: self.keystone_call("POST", "/v3/projects", {"project": {
                "name": f"lab-{uuid.uuid4().hex[:8]}", "domain_id": "default"}}),
            "list-users": lambda: self.keystone_call("GET", "/v3/users"),
            "create-user": lambda: self.keystone_call("POST", "/v3/users", {"user": {
                "name": f"lab-{uuid.uuid4().hex[:8]}", "domain_id": "default"}}),
            "create-provider": lambda: self.placement_call("POST", "/resource_providers", {
                "name": f"compute-{uuid.uuid4().hex[:8]}"}),
            "create-duplicate-provider": lambda: self.placement_call("POST", "/resource_providers",
                                                                     {"name": "compute-1"}),
            "list-providers": lambda: self.placement_call("GET", "/resource_providers"),
            "list-providers-fresh-token": self._with_fresh_token,
            "get-provider": lambda: self.placement_call("GET", f"/resource_providers/{p}"),
            "get-missing-provider": lambda: self.placement_call("GET", f"/resource_providers/{uuid.uuid4()}"),
            "list-inventories": lambda: self.placement_call("GET", f"/resource_providers/{p}/inventories"),
            "list-resource-classes": lambda: self.placement_call("GET", "/resource_classes"),
            "set-inventory": self._set_inventory,
            "provider-usages": lambda: self.placement_call("GET", f"/resource_providers/{p}/usages"),
        }

    def _set_inventory(self) -> Answer:
        return self.placement_call("PUT", f"/resource_providers/{self.provider}/inventories", {
            "resource_provider_generation": self.generation, "inventories": {"VCPU": {"total": 8}}})

    def _with_fresh_token(self, token: str) -> Answer:
        # keystonemiddleware caches what it validated: a token it has never seen makes it ask keystone
        return self.placement_call("GET", "/resource_providers", token=token)

    def _database_gone(self) -> Answer:
        self.keystone.stop()
        working = self.keystone.database
        self.keystone.database = f"sqlite:///{self.root / 'gone' / 'keystone.db'}"
        self.keystone.write_conf()
        self.keystone.start(plan=self.plan)
        try:
            return self.token_request()
        finally:
            self.keystone.stop()
            self.keystone.database = working
            self.keystone.write_conf()
            self.keystone.start(self._targets("keystone"), self.plan)

    # faults outside the code, each a context of its own: (before, after)
    def outside(self, name: str):
        if name == "lock-keystone-database":
            return _locked(self.root / "keystone.db")
        if name == "lock-placement-database":
            return _locked(self.placement.database)
        if name == "remove-fernet-keys":
            return _moved(self.keystone.fernet)
        if name == "corrupt-fernet-key":
            return _corrupted(self.keystone.fernet)
        if name == "hide-allocations-table":
            return _renamed_table(self.placement.database, "allocations")
        if name == "stop-keystone":
            return _stopped(self.keystone, self.plan)
        raise KeyError(name)


class _Context:
    def __init__(self, before: Callable[[], None], after: Callable[[], None]):
        self.before, self.after = before, after

    def __enter__(self):
        self.before()

    def __exit__(self, *exc):
        self.after()


def _locked(database: Path) -> _Context:
    """An exclusive lock held on the SQLite file (another writer stuck in a transaction): the
    service's statements wait out SQLite's busy timeout, then fail with 'database is locked'."""
    holder: dict = {}

    def hold() -> None:
        connection = sqlite3.connect(database, timeout=1, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN EXCLUSIVE")
        holder["connection"] = connection

    def release() -> None:
        connection = holder.pop("connection")
        connection.execute("ROLLBACK")
        connection.close()
    return _Context(hold, release)


def _renamed_table(database: Path, table: str) -> _Context:
    def rename(old: str, new: str) -> None:
        with sqlite3.connect(database, timeout=10) as connection:
            connection.execute(f"ALTER TABLE {old} RENAME TO {new}")
    return _Context(lambda: rename(table, f"{table}_hidden"), lambda: rename(f"{table}_hidden", table))


def _moved(folder: Path) -> _Context:
    moved = folder.with_name(folder.name + ".moved")
    return _Context(lambda: folder.rename(moved), lambda: moved.rename(folder))


def _corrupted(folder: Path) -> _Context:
    primary = max(folder.iterdir(), key=lambda p: int(p.name))
    good = primary.read_bytes()
    return _Context(lambda: primary.write_text("not-a-fernet-key\n"), lambda: primary.write_bytes(good))


def _stopped(keystone: Keystone, plan: Path) -> _Context:
    targets = Lab._targets("keystone")
    return _Context(keystone.stop, lambda: keystone.start(targets, plan))


def start_up_failures(root: Path, keystone: Keystone) -> dict[str, list[Path]]:
    """Placements that cannot start, each leaving its logs: its database never synced, its port
    taken by another process, its database driver (PyMySQL) not installed. Name -> its log files."""
    failed = {}
    unsynced = Placement(root, keystone, name="placement-unsynced")
    unsynced.setup(sync=False)
    port = Placement(root, keystone, name="placement-port-taken")
    port.setup()
    driver = Placement(root, keystone, name="placement-no-driver")
    driver.setup(sync=False)
    conf = driver.root / "placement.conf"
    conf.write_text(conf.read_text().replace(f"sqlite:///{driver.database}",
                                             "mysql+pymysql://placement@127.0.0.1/placement"))
    holder = socket.socket()
    holder.bind(("127.0.0.1", port.port))
    holder.listen()
    try:
        for name, server in (("schema-never-synced", unsynced), ("port-in-use", port), ("driver-missing", driver)):
            try:
                server.start()
            except RuntimeError:
                failed[name] = [path for path in (server.log, server.errors) if path.exists()]
            finally:
                server.stop()
    finally:
        holder.close()
    return failed


def run(root: Path) -> list[Outcome]:
    """Every case once, in order, on one lab; the logs stay under ``root / 'log'``."""
    lab = Lab(root)
    outcomes = []
    try:
        lab.start()
        calls = lab.calls()
        for case in CASES:
            # the fresh token is issued before the case's call, outside what the case judges
            arguments = (lab.fresh_token(),) if case.call == "list-providers-fresh-token" else ()
            started = time.time()
            if case.fault:
                lab.plan.write_text(json.dumps(case.fault))
            try:
                if case.outside:
                    with lab.outside(case.outside):
                        answer = calls[case.call](*arguments)
                else:
                    answer = calls[case.call](*arguments)
            finally:
                lab.plan.unlink(missing_ok=True)
            if case.fault and case.fault["mode"] == "kill":
                time.sleep(2)  # the master logs the death and boots a new worker
            outcomes.append(Outcome(case, answer, started))
            time.sleep(1.1)  # WSGI servers stamp whole seconds: one case per second keeps each failure its own
    finally:
        lab.stop()
    return outcomes


# --- judging a verdict ------------------------------------------------------------------------

def judge(case: Case, verdict: dict | None) -> tuple[bool, str]:
    """(right?, why not) for the verdict osla gave the case's request."""
    if case.category is None:
        if verdict is not None and verdict["category"] == "bug":
            return False, "a control called a probable bug"
        return True, ""
    if verdict is None:
        return False, "no verdict"
    text = verdict["text"]
    if not (verdict["service"] or "").startswith(case.service):
        return False, f"service {verdict['service']}, not {case.service}"
    if verdict["category"] != case.category:
        return False, f"category {verdict['category']}, not {case.category}"
    if case.exception and case.exception not in text:
        return False, f"{case.exception} not named"
    if case.function and not any(f" in {name}" in text for name in filter(None, (case.function, case.caller))):
        return False, f"neither {case.function} nor {case.caller} named"
    if case.fault and case.fault["mode"] == "kill" and verdict.get("cause") != "crash":
        return False, "the crash is not named as the cause"
    return True, ""
