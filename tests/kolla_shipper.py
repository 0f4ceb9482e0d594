"""What Kolla-Ansible's own Fluentd makes of a node's /var/log/kolla, for the tests: documents
shaped exactly as its templates write them into the daily ``flog-*`` indices. This is a
stand-in for Kolla's Fluentd (its config needs Kolla's container layout and
fluent-plugin-opensearch, which the vendored Fluentd lacks); the regular expressions are
Kolla's own, from kolla-ansible's ansible/roles/fluentd/templates/conf:

- input/00-global.conf.j2: in_tail of /var/log/kolla/<service>/*.log (not *-access.log,
  *_access.log, *-error.log, *_error.log, *-uwsgi.log, dnsmasq.log), the multiline parser below,
  ``time_key Timestamp``, ``keep_time_key true``, ``time_format %F %T.%L``;
- filter/00-record_transformer.conf.j2: Hostname, Logger openstack.<dir>, programname <file>;
- output/03-opensearch.conf.j2: logstash_format, prefix flog, no document ids.

Logs from releases before the global request id (2015's, as in samples/) are cut by the parser of
their own release, whose context has no global id or system scope (the newer one would leave their
request ids in Payload).
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

FIRSTLINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}.\d{3} \d+ \S+ \S+ \[.*\]")
FORMAT1 = re.compile(
    r"^(?P<Timestamp>\S+ \S+) (?P<Pid>\d+) (?P<log_level>\S+) (?P<python_module>\S+) "
    r"((?:\[)(?:None|req-)(?P<global_request_id>\S+)? (?:None|req-)(?P<request_id>\S+) (?P<user_id>\S+) "
    r"(?P<tenant_id>\S+) (?P<domain_id>\S+) (?P<system_scope>\S+) (?P<user_domain>\S+) (?P<project_domain>\S+)"
    r"(?:\]))?(?P<Payload>.*)?$", re.DOTALL)
# the parser of Kolla's releases before the global request id (kolla-ansible before 2019)
FORMAT1_BEFORE_GLOBAL = re.compile(
    r"^(?P<Timestamp>\S+ \S+) (?P<Pid>\d+) (?P<log_level>\S+) (?P<python_module>\S+) "
    r"(\[(req-(?P<request_id>\S+) (?P<user_id>\S+) (?P<tenant_id>\S+) (?P<domain_id>\S+) (?P<user_domain>\S+) "
    r"(?P<project_domain>\S+)|-)\])? (?P<Payload>.*)?$", re.DOTALL)
EXCLUDED = re.compile(r"([-_]access|[-_]error|-uwsgi)\.log$|^dnsmasq\.log$")


def records(text: str) -> list[str]:
    """Fluentd's multiline parser: a record starts at a FIRSTLINE match; other lines join the
    record before them (lines before the first record are dropped, as in_tail does)."""
    found: list[list[str]] = []
    for line in text.split("\n"):
        if FIRSTLINE.match(line):
            found.append([line])
        elif found:
            found[-1].append(line)
    if found and found[-1] and found[-1][-1] == "":
        found[-1].pop()  # the file's last newline
    return ["\n".join(lines) for lines in found]


def document(record: str, host: str, project: str, program: str) -> dict | None:
    match = FORMAT1.match(record)
    if match and match.group("request_id") is None and "[req-" in record.split("\n", 1)[0]:
        match = FORMAT1_BEFORE_GLOBAL.match(record) or match
    if not match:
        return None  # Fluentd's pattern-not-match warning: the record is not shipped
    doc = {key: value for key, value in match.groupdict().items() if value is not None}
    local = datetime.strptime(doc["Timestamp"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)  # containers in UTC
    doc["@timestamp"] = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}000000+00:00"
    doc.update(Hostname=host, Logger=f"openstack.{project}", programname=program)
    return doc


def ship(node_root: Path, host: str) -> list[dict]:
    """Kolla's documents for every file of /var/log/kolla/<project>/*.log under ``node_root``."""
    docs = []
    for path in sorted((node_root / "var/log/kolla").glob("*/*.log")):
        if EXCLUDED.search(path.name):
            continue
        program = path.name.split(".", 1)[0]  # tag_parts[5]: the tag splits on dots
        for record in records(path.read_text(encoding="utf-8", errors="replace")):
            doc = document(record, host, path.parent.name, program)
            if doc is not None:
                docs.append(doc)
    return docs


def bulk_body(docs: list[dict], prefix: str = "flog") -> bytes:
    """A _bulk body as fluent-plugin-opensearch sends it: logstash_format, no ids."""
    lines = []
    for doc in docs:
        day = doc["@timestamp"][:10].replace("-", ".")
        lines.append(json.dumps({"index": {"_index": f"{prefix}-{day}"}}))
        lines.append(json.dumps(doc))
    return ("\n".join(lines) + "\n").encode()


def kolla_layout(tree: Path, out: Path, host: str | None = None) -> dict[str, Path]:
    """A tree of <host>/var/log/<project>/<file>.log (or, with ``host``, one node's
    var/log/<project>/<file>.log) copied into Kolla's layout, <host>/var/log/kolla/<project>/<file>.log,
    with Kolla's file names (neutron-server.log); returns host -> its root."""
    renames = {("neutron", "server.log"): "neutron-server.log"}
    roots = {}
    for path in sorted(tree.glob("var/log/*/*.log" if host else "*/var/log/*/*.log")):
        node = host or path.relative_to(tree).parts[0]
        project = path.parent.name
        target = out / node / "var/log/kolla" / project / renames.get((project, path.name), path.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        roots[node] = out / node
    return roots


def ship_tree(tree: Path, out: Path, host: str | None = None) -> tuple[Path, list[dict]]:
    """The tree in Kolla's layout under ``out`` and the documents Kolla's Fluentd makes of it."""
    roots = kolla_layout(tree, out, host)
    return out, [doc for node, root in roots.items() for doc in ship(root, node)]
