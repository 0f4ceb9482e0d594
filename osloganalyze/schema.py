"""The event schema: every field name osla writes, spelled once, here.

Events are flat dicts with dotted keys (``{"log.level": "ERROR", ...}``) and are
written as flat JSON objects. Names follow the Elastic Common Schema where ECS has
one; OpenStack-specific ids live under ``openstack.*``.

Grok patterns in ``parsers/`` name their captures after these fields: a capture is
the field name with ``.`` written as ``_`` (``log_level`` -> ``log.level``),
optionally followed by ``__<tag>`` when one pattern needs two alternative captures
for the same field (``openstack_request_id__devstack``). Captures starting with
``_`` are intermediate values (raw timestamps, durations) that the parser
converts; :data:`INTERNAL_CAPTURES` lists them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # keyword, text, long, date, ip; raw = stored only
    doc: str
    exact: bool = False  # a text field that is also indexed whole (as '<name>.keyword') for exact/regex search


# Longest value (in characters) indexed whole for exact and regex search; longer values are
# stored but not matched by such conditions, in Elasticsearch (ignore_above) and locally alike.
KEYWORD_LIMIT = 1024
TEXT_KEYWORD_LIMIT = 8191  # Lucene's 32,766-byte term limit / 4 bytes per UTF-8 character
EXACT_SUBFIELD = "keyword"


_FIELDS = [
    Field("@timestamp", "date", "When the record was written, UTC, ISO 8601 with milliseconds."),
    Field("log.level", "keyword", "Normalized level: TRACE DEBUG INFO AUDIT WARNING ERROR CRITICAL."),
    Field("log.logger", "keyword", "Python logger name, e.g. nova.compute.manager."),
    Field("log.file.path", "keyword", "File the event was read from."),
    Field("log.offset", "long", "Byte offset of the event's first line in that file."),
    Field("log.origin.function", "keyword", "Function named by oslo.log's DEBUG suffix."),
    Field("log.origin.file.name", "keyword", "Source file named by oslo.log's DEBUG suffix."),
    Field("log.origin.file.line", "long", "Source line named by oslo.log's DEBUG suffix."),
    Field("process.pid", "long", "Process id."),
    Field("host.name", "keyword", "Node the log came from."),
    Field("service.name", "keyword", "OpenStack service, e.g. nova-compute, neutron-server."),
    Field("message", "text", "The record's message (without traceback).", exact=True),
    Field("event.original", "raw", "The raw lines of the whole record (stored, not indexed)."),
    Field("event.duration", "long", "Request duration in nanoseconds (access lines)."),
    Field("error.type", "keyword", "Exception class from the traceback's last line."),
    Field("error.message", "text", "Exception text from the traceback's last line.", exact=True),
    Field("error.stack_trace", "text", "The traceback, prefixes removed."),
    Field("http.request.method", "keyword", "HTTP method of an access line."),
    Field("http.request.referrer", "keyword", "Referer header (Apache access logs)."),
    Field("http.response.status_code", "long", "HTTP status of an access line."),
    Field("http.response.body.bytes", "long", "Response size of an access line."),
    Field("http.version", "keyword", "HTTP protocol version of an access line."),
    Field("url.original", "keyword", "Request path and query of an access line."),
    Field("source.address", "keyword", "Client address as logged (may be an X-Forwarded-For chain)."),
    Field("source.ip", "ip", "First client IP address of an access line."),
    Field("user.name", "keyword", "Authenticated user of an Apache/uwsgi access line."),
    Field("user_agent.original", "keyword", "User-Agent of an Apache access line."),
    Field("tags", "keyword", "Markers such as 'truncated' (event cut at the size limit)."),
    Field("openstack.request_id", "keyword", "Local request id (req-uuid)."),
    Field("openstack.global_request_id", "keyword", "Global request id set by the caller."),
    Field("openstack.user_id", "keyword", "User from the context block."),
    Field("openstack.project_id", "keyword", "Project (tenant) from the context block."),
    Field("openstack.domain_id", "keyword", "Domain from the context block."),
    Field("openstack.user_domain", "keyword", "User domain from the context block."),
    Field("openstack.project_domain", "keyword", "Project domain from the context block."),
    Field("openstack.system_scope", "keyword", "System scope from the context block (Zed+)."),
    Field("openstack.user_name", "keyword", "User name (devstack's context format)."),
    Field("openstack.project_name", "keyword", "Project name (devstack's context format)."),
    Field("openstack.instance_uuid", "keyword", "Instance from the [instance: uuid] prefix."),
    Field("openstack.microversion", "keyword", "API microversion of a nova/placement request line."),
]

FIELDS: dict[str, Field] = {f.name: f for f in _FIELDS}

TIMESTAMP = "@timestamp"
LOG_LEVEL = "log.level"
LOG_LOGGER = "log.logger"
LOG_FILE_PATH = "log.file.path"
LOG_OFFSET = "log.offset"
LOG_ORIGIN_FUNCTION = "log.origin.function"
LOG_ORIGIN_FILE_NAME = "log.origin.file.name"
LOG_ORIGIN_FILE_LINE = "log.origin.file.line"
PROCESS_PID = "process.pid"
HOST_NAME = "host.name"
SERVICE_NAME = "service.name"
MESSAGE = "message"
EVENT_ORIGINAL = "event.original"
EVENT_DURATION = "event.duration"
ERROR_TYPE = "error.type"
ERROR_MESSAGE = "error.message"
ERROR_STACK_TRACE = "error.stack_trace"
HTTP_METHOD = "http.request.method"
HTTP_STATUS = "http.response.status_code"
HTTP_BYTES = "http.response.body.bytes"
HTTP_VERSION = "http.version"
URL_ORIGINAL = "url.original"
SOURCE_ADDRESS = "source.address"
SOURCE_IP = "source.ip"
TAGS = "tags"
REQUEST_ID = "openstack.request_id"
GLOBAL_REQUEST_ID = "openstack.global_request_id"
USER_ID = "openstack.user_id"
PROJECT_ID = "openstack.project_id"
DOMAIN_ID = "openstack.domain_id"
USER_DOMAIN = "openstack.user_domain"
PROJECT_DOMAIN = "openstack.project_domain"
SYSTEM_SCOPE = "openstack.system_scope"
USER_NAME = "openstack.user_name"
PROJECT_NAME = "openstack.project_name"
INSTANCE_UUID = "openstack.instance_uuid"
MICROVERSION = "openstack.microversion"

# Fields whose values come as text from a log line but are numbers in the schema.
INTEGER_FIELDS = frozenset(f.name for f in _FIELDS if f.type == "long")
# the fields that carry free text as logged, where a secret can hide (redact.scrub masks them)
TEXT_FIELDS = (MESSAGE, EVENT_ORIGINAL, ERROR_MESSAGE, ERROR_STACK_TRACE, URL_ORIGINAL)

# Context-block fields where oslo.log prints '-' or 'None' for "no value".
CONTEXT_FIELDS = frozenset(f.name for f in _FIELDS if f.name.startswith("openstack.")) - {
    INSTANCE_UUID,
    MICROVERSION,
}

# Intermediate captures the parser converts into schema fields.
INTERNAL_CAPTURES = {
    "_ts": "oslo-style timestamp 'YYYY-MM-DD HH:MM:SS.mmm' in the configured time zone",
    "_ts_utc": "RFC 3339 timestamp with an explicit offset or Z",
    "_syslog_ts": "syslog timestamp without a year ('May 26 20:44:32.283596')",
    "_syslog_pri": "RFC 5424 PRI: facility * 8 + severity; the severity gives log.level when the body has none",
    "_http_ts": "Apache/eventlet access-log date ('19/Sep/2021:11:50:55 +0000')",
    "_ctime": "ctime-style date ('Mon Mar 25 15:07:52 2019'), uwsgi and Apache error logs",
    "_program": "syslog program name (becomes service.name)",
    "_source_file": "file name a grep or loghub prefix put before the line (names the service)",
    "_duration_s": "duration in seconds",
    "_duration_ms": "duration in milliseconds",
    "_duration_us": "duration in microseconds",
    "_journal_begin": "first timestamp named by a journalctl header",
    "_ts_offset": "UTC offset written after an oslo-style timestamp",
    "_eventlet_ts": "eventlet access-log date ('19/Sep/2021 11:50:55')",
    "_client": "client address as logged (becomes source.address and source.ip)",
    "_context": "the whole context block, for diagnostics",
    "_summary_message": "message part before oslo's error_summary",
    "_pod": "Kubernetes/Argo step or pod name in front of a line",
    "_body": "the rest of a line after a wrapper prefix, parsed again",
}

LEVELS = ("TRACE", "DEBUG", "INFO", "AUDIT", "WARNING", "ERROR", "CRITICAL")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
# Levels at which oslo.log appends its error_summary (': module.Class: text') to the message.
SUMMARY_LEVELS = tuple(level for level in LEVELS if LEVEL_RANK[level] >= LEVEL_RANK["WARNING"])
LEVEL_ALIASES = {
    "WARN": "WARNING",
    "FATAL": "CRITICAL",
    "CRIT": "CRITICAL",
    "ERR": "ERROR",
    "NOTICE": "INFO",
    "EMERG": "CRITICAL",
    "ALERT": "CRITICAL",
    "EXCEPTION": "ERROR",
}


def exact_search(name: str) -> tuple[str, int] | None:
    """(index field, longest value indexed) for exact/regex search on a field, or None if the
    field cannot be searched that way (analysed-only text, stored-only raw)."""
    field = FIELDS[name]
    if field.type in ("keyword", "long", "ip", "date"):
        return name, KEYWORD_LIMIT
    if field.exact:
        return f"{name}.{EXACT_SUBFIELD}", TEXT_KEYWORD_LIMIT
    return None


def exact_field(name: str) -> tuple[str, int]:
    """:func:`exact_search` of a field known to be searchable so (rules are checked at load)."""
    found = exact_search(name)
    if found is None:
        raise ValueError(f"{name} cannot be searched by exact value")
    return found


def normalize_level(text: str) -> str | None:
    """Map a level as logged (any case, aliases) to one of :data:`LEVELS`."""
    upper = text.upper()
    if upper in LEVEL_RANK:
        return upper
    return LEVEL_ALIASES.get(upper)


def field_for_capture(capture: str) -> str | None:
    """The schema field a grok capture fills, or None for an internal capture."""
    if capture.startswith("_"):
        return None
    base = capture.split("__", 1)[0]
    if base == "timestamp":
        return TIMESTAMP
    dotted = _CAPTURE_TO_FIELD.get(base)
    if dotted is None:
        raise KeyError(f"grok capture {capture!r} names no schema field")
    return dotted


_CAPTURE_TO_FIELD = {f.name.replace(".", "_").lstrip("@"): f.name for f in _FIELDS}
