"""Classify one physical log line and pull out its fields.

A line is one of:

* RECORD    - starts a log record (oslo line with a context block, access line,
              journald/syslog message, JSON record, ...);
* EXCEPTION - an oslo.log exception-prefix line ('<ts> <pid> ERROR <logger> [instance: x] <text>'):
              a traceback line that belongs to the record of the same pid and logger;
* TEXT      - anything else: continuation text of the record before it;
* BLANK     - empty or white space only.

Which pattern applies is decided by the line's first character, so a typical oslo
line costs one regex match.
"""
from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC

from .. import schema
from ..patterns import PatternLibrary, default_library
from ..sources.naming import service_from_filename, service_from_program
from ..times import event_stamp
from .timestamps import TimeConverter

RECORD, EXCEPTION, TEXT, BLANK = range(4)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DEBUG_ENDINGS = ("}}", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
_IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_NO_VALUE = ("-", "None", "")


class Line:
    """One classified line. ``stream``: syslog (host, program, pid), so continuation lines stay
    in their stream; ``exc_key``: (pid, logger) of a record or exception-prefix line; ``clock``:
    its raw timestamp; ``match``: an exception line's match, converted only if no record claims it."""

    __slots__ = ("kind", "fields", "text", "stream", "exc_key", "clock", "match")

    def __init__(self, kind: int, fields: dict | None = None, text: str = "", stream: tuple | None = None,
                 exc_key: tuple | None = None, clock: str | None = None, match: re.Match | None = None):
        self.kind = kind
        self.fields = fields if fields is not None else {}
        self.text = text
        self.stream = stream
        self.exc_key = exc_key
        self.clock = clock
        self.match = match


_BLANK = Line(BLANK)


class LineParser:
    """Parses the lines of one file (time zone and year are per file)."""

    def __init__(self, times: TimeConverter, library: PatternLibrary | None = None):
        lib = library or default_library()
        self.times = times
        self.oslo = lib.compile("OSLO_LINE")
        self.oslo_bare = lib.compile("OSLO_BARE_LINE")
        # DEBUG_SUFFIX is DEBUG_ORIGIN at the end of the message; matching only the
        # tail (two words back from the end) avoids scanning the whole message.
        self.debug_origin = lib.compile("DEBUG_ORIGIN")
        self.error_summary = lib.compile("ERROR_SUMMARY")
        self.access_status = lib.compile("ACCESS_STATUS_FORMAT")
        self.access_eventlet = lib.compile("ACCESS_EVENTLET_FORMAT")
        self.apache_access = lib.compile("APACHE_ACCESS_LINE")
        self.uwsgi_access = lib.compile("UWSGI_ACCESS_LINE")
        self.python_simple = lib.compile("PYTHON_SIMPLE_LINE")
        self.apache_error = lib.compile("APACHE_ERROR_LINE")
        self.gunicorn = lib.compile("GUNICORN_LINE")
        self.timestamped = lib.compile("TIMESTAMPED_LINE")
        self.syslog = lib.compile("SYSLOG_PREFIX")
        self.syslog5424 = lib.compile("SYSLOG5424_PREFIX")
        self.cri = lib.compile("CRI_PREFIX")
        self.pebble = lib.compile("PEBBLE_PREFIX")
        self.file_prefix = lib.compile("FILE_PREFIX")
        self.pod_prefix = lib.compile("POD_PREFIX")
        self.journal_marker = lib.compile("JOURNAL_MARKER")
        self.devstack_debug_suffix = lib.compile("DEVSTACK_DEBUG_SUFFIX")
        # OSLO_LINE and OSLO_BARE_LINE share these group names; the bare one has no _ts/offset/pid
        self._head = ("_ts", "_ts_offset", "process_pid", "log_level", "log_logger", "_context",
                      "openstack_instance_uuid", "message")
        self._context_plan = tuple(step for step in _plan(self.oslo)[1]
                                   if step[1] in schema.CONTEXT_FIELDS)
        self._context_groups = tuple(step[0] for step in self._context_plan)
        self._contexts: dict[str, dict] = {}

    # -- entry point ---------------------------------------------------------------

    def parse(self, line: str) -> Line:
        if not line or line.isspace():
            return _BLANK
        if "\x1b" in line:
            line = _ANSI.sub("", line)
            if not line or line.isspace():
                return _BLANK
        first = line[0]
        if first.isdigit():
            m = self.oslo.match(line)
            if m:
                return self._oslo(m)
            for wrapper in (self.syslog, self.cri, self.pebble, self.file_prefix, self.pod_prefix):
                m = wrapper.match(line)
                if m:
                    return self._wrapped(m)
            for matcher, build in ((self.python_simple, self._plain), (self.apache_access, self._access_line),
                                   (self.timestamped, self._plain)):
                m = matcher.match(line)
                if m:
                    return build(m)
            return Line(TEXT, text=line)
        if first == "{":
            parsed = self._json(line)
            if parsed is not None:
                return parsed
            return Line(TEXT, text=line)
        if first == "[":
            for matcher, build in ((self.uwsgi_access, self._access_line), (self.apache_error, self._plain),
                                   (self.gunicorn, self._plain)):
                m = matcher.match(line)
                if m:
                    return build(m)
            return Line(TEXT, text=line)
        if first == "<":
            m = self.syslog5424.match(line)
            if m:
                return self._wrapped(m)
            return Line(TEXT, text=line)
        if first == "-" and line.startswith("-- "):
            m = self.journal_marker.match(line)
            if m:
                return self._journal_marker(m)
        if first.isalpha() or first == "." or first == "/":
            prefix = self._wrapper_for(line)
            m = prefix.match(line) if prefix is not None else None
            if m:
                return self._wrapped(m)
        if first == " " or first == "\t":
            # level-first lines may be indented (devstack dumps); frames and source lines never start with a level
            stripped = line.lstrip()
            if stripped[:1] not in _LEVEL_INITIALS:
                return Line(TEXT, None, line)
        m = self.oslo_bare.match(line)
        if m:
            return self._oslo(m)
        if first != " " and first != "\t":
            m = self.apache_access.match(line)
            if m:
                return self._access_line(m)
        return Line(TEXT, text=line)

    def _wrapper_for(self, line: str) -> re.Pattern | None:
        """The prefix pattern a line's first word can start (month, file name, pod name)."""
        space = line.find(" ")
        token = line[:space] if space > 0 else line
        if token in _MONTHS:
            return self.syslog
        if ".log" in token or ".txt" in token:
            return self.file_prefix
        if token.endswith(":"):
            return self.pod_prefix
        return None

    # -- oslo ------------------------------------------------------------------------

    def _oslo(self, m: re.Match) -> Line:
        if m.re is self.oslo:
            ts, offset, pid, level, logger, context, instance, message = m.group(*self._head)
        else:
            ts = offset = pid = None
            level, logger, context, instance, message = m.group(*self._head[3:])
        if context is None:
            # oslo.log prints the context block on every record; its exception prefix has none.
            return Line(EXCEPTION, None, message or "", None, (pid, logger), ts, m)
        level = _LEVELS[level]
        stamp = self.times.oslo(ts, offset) if ts is not None else None
        if stamp is not None and pid is not None and len(pid) < 19:  # the usual line, built in one go
            fields = {schema.TIMESTAMP: stamp, schema.PROCESS_PID: int(pid), schema.LOG_LEVEL: level,
                      schema.LOG_LOGGER: logger}
        else:
            fields = {schema.LOG_LEVEL: level, schema.LOG_LOGGER: logger}
            if stamp is not None:  # None: no timestamp, or a date that does not exist (2013-02-30)
                fields[schema.TIMESTAMP] = stamp
            if pid is not None:
                _set_long(fields, schema.PROCESS_PID, int(pid))
        if context != "[-]":
            fields.update(self._context_fields(context, m))
        if instance is not None:
            fields[schema.INSTANCE_UUID] = instance
        if message is None:
            message = ""
        fields[schema.MESSAGE] = message
        if level == "DEBUG":
            if message[-1:].isdigit():
                last = message.rfind(" ")
                start = message.rfind(" ", 0, last) if last > 0 else -1
                d = self.debug_origin.match(message, start + 1) if start >= 0 else None
                if d:
                    fields.update(self._fields(d))
                    fields[schema.MESSAGE] = message[:start]
            elif message.endswith("}}"):
                d = self.devstack_debug_suffix.match(message)
                if d:
                    fields.update(self._fields(d))
        elif '" status: ' in message or '] "' in message:
            a = self.access_status.match(message) or self.access_eventlet.match(message)
            if a:
                for key, value in self._fields(a).items():
                    fields.setdefault(key, value)  # the record's own time wins over the access date
        return Line(RECORD, fields, "", None, (pid, logger), ts, None)

    def _context_fields(self, context: str, m: re.Match) -> dict:
        """Fields of a context block; cached, since one request logs many lines."""
        cached = self._contexts.get(context)
        if cached is None:
            cached = {name: value for (_, name, _), value in zip(self._context_plan, m.group(*self._context_groups))
                      if value is not None and value not in _NO_VALUE}
            if len(self._contexts) > 4096:
                self._contexts.clear()
            self._contexts[context] = cached
        return cached

    def exception_fields(self, line: Line) -> dict:
        """Fields of an exception-prefix line that no record claimed (a headless traceback)."""
        fields = self._fields(line.match) if line.match else {}
        fields.pop(schema.MESSAGE, None)
        if fields.get(schema.LOG_LEVEL) in (None, "TRACE"):
            fields[schema.LOG_LEVEL] = "ERROR"  # TRACE was oslo's exception prefix before 2015
        for key, value in line.fields.items():
            fields.setdefault(key, value)
        return fields

    def error_summary_of(self, message: str) -> tuple[str, str] | None:
        """oslo's ': module.Class: text' suffix on WARNING+ records whose traceback was not logged.

        oslo.log appends it after the whole message, so it ends the last line."""
        lines = message.rsplit("\n", 1)
        for candidate in (lines[-1], lines[0]) if len(lines) > 1 else lines:
            if ": " in candidate:
                m = self.error_summary.match(candidate)
                if m:
                    return m.group("error_type"), m.group("error_message")
        return None

    # -- wrappers (journald, pebble, CRI, grep, pods) --------------------------------

    def _wrapped(self, m: re.Match) -> Line:
        """A wrapper prefix (journald, pebble, CRI, grep, pod): parse the rest, then add the
        wrapper's fields where the inner line has none of its own."""
        body = m.group("_body")
        inner = self.parse(body) if body else _BLANK
        if inner.kind == BLANK:
            return _BLANK
        if inner.kind == TEXT and m.re is self.pod_prefix:
            # 'x-image-meta-created_at: 2015-10-20T14:52:13' in a logged HTTP response: a word and a
            # date, not a pod's name before a record, so the line is kept whole
            return Line(TEXT, text=m.string)
        outer = self._fields(m)
        groups = m.re.groupindex
        program = m.group("_program") if "_program" in groups else None
        source = m.group("_source_file") if "_source_file" in groups else None
        service = service_from_filename(source) if source else service_from_program(program) if program else None
        if service:
            outer[schema.SERVICE_NAME] = service
        # a syslog message is a record of its own (RFC 5424's also when it names no program)
        stream = (outer.get(schema.HOST_NAME), program, outer.get(schema.PROCESS_PID)) \
            if program or m.re is self.syslog5424 else None
        if inner.kind == TEXT:
            if stream is not None:
                # A syslog line from a program that does not write oslo format is a record
                # of its own unless the grouper finds an oslo record of the same stream.
                outer[schema.MESSAGE] = inner.text
            return Line(TEXT, outer, inner.text, stream)
        fields = inner.fields
        for key, value in outer.items():
            if key not in fields:
                fields[key] = value
        inner.stream = stream
        if inner.exc_key is not None and inner.exc_key[0] is None:
            inner.exc_key = (outer.get(schema.PROCESS_PID), inner.exc_key[1])
        if inner.clock is None:
            inner.clock = outer.get(schema.TIMESTAMP)  # ISO; _close_in_time reads the same positions
        return inner

    def _journal_marker(self, m: re.Match) -> Line:
        fields = self._fields(m)
        fields[schema.MESSAGE] = m.group(0)
        begin = m.group("_journal_begin")
        if begin:
            self.times.year = self.times.year or int(begin[:4])
        return Line(RECORD, fields=fields)

    # -- other shapes ------------------------------------------------------------------

    def _plain(self, m: re.Match) -> Line:
        return Line(RECORD, fields=self._fields(m))

    def _access_line(self, m: re.Match) -> Line:
        fields = self._fields(m)
        fields[schema.MESSAGE] = m.string
        return Line(RECORD, fields=fields)

    def _json(self, line: str) -> Line | None:
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        if "\\ud" in line or "\\uD" in line:  # a \ud800-\udfff escape: JSON allows a lone surrogate
            obj = _without_surrogates(obj)
        if isinstance(obj.get("log"), str) and ("stream" in obj or "time" in obj):
            # docker json-file driver: the original line is in 'log'.
            inner = self.parse(obj["log"].rstrip("\n"))
            if inner.kind == RECORD and inner.fields.get(schema.TIMESTAMP) is None and isinstance(obj.get("time"), str):
                inner.fields[schema.TIMESTAMP] = self.times.rfc3339(obj["time"][:35])
            return inner
        if "levelname" not in obj or not _OSLO_JSON_KEYS & obj.keys():
            return None  # a JSON body some record logged (an image, a server), not oslo.log's JSONFormatter
        return Line(RECORD, fields=_oslo_json_fields(obj, self.times))

    # -- captures -> schema fields --------------------------------------------------------

    def _fields(self, m: re.Match) -> dict:
        """Schema fields of a match of any pattern."""
        names, steps = _plan(m.re)
        return self._convert(steps, m.group(*names), m.groupdict)

    def _captures(self, groups: dict, pattern: re.Pattern) -> dict:
        """Schema fields from a groupdict of ``pattern`` (after a wrapper removed its body)."""
        _, steps = _plan(pattern)
        return self._convert(steps, [groups.get(step[0]) for step in steps], lambda: groups)

    def _convert(self, steps: tuple, values: Sequence, groups: Callable[[], dict]) -> dict:
        """Fields from capture values; ``groups()`` is only called for conversions needing a sibling."""
        fields: dict = {}
        for (capture, name, kind), value in zip(steps, values):
            if value is None:
                continue
            if kind == _STR:
                fields[name] = value
            elif kind == _CTX:
                if value not in _NO_VALUE:
                    fields[name] = value
            elif kind == _INT:
                if value != "-":
                    try:
                        _set_long(fields, name, int(value))
                    except ValueError:  # a torn or corrupt line: the field is left out, the line kept
                        pass
            elif kind == _LEVEL:
                level = _LEVELS.get(value) or schema.normalize_level(value)
                if level:
                    fields[name] = level
            elif capture == "_ts":
                fields[schema.TIMESTAMP] = self.times.oslo(value, groups().get("_ts_offset"))
            else:
                try:
                    self._internal(capture, value, fields)
                except (ValueError, OverflowError):  # 'time: 1.2.3' on a torn line: left out
                    pass
        return fields

    def _internal(self, capture: str, value: str, fields: dict) -> None:
        times = self.times
        if capture == "_ts_utc":
            fields.setdefault(schema.TIMESTAMP, times.rfc3339(value))
        elif capture == "_syslog_ts":
            fields.setdefault(schema.TIMESTAMP, times.syslog(value))
        elif capture == "_syslog_pri":
            fields.setdefault(schema.LOG_LEVEL, _SYSLOG_SEVERITIES[int(value) % 8])
        elif capture == "_http_ts" or capture == "_eventlet_ts":
            fields.setdefault(schema.TIMESTAMP, times.http(value))
        elif capture == "_ctime":
            fields.setdefault(schema.TIMESTAMP, times.ctime(value))
        elif capture == "_journal_begin":
            fields[schema.TIMESTAMP] = times.oslo(value)
        elif capture == "_client":
            _client_fields(value, fields)
        elif capture == "_duration_s":
            seconds = float(value)
            if seconds < _LONG / 1e9:
                _set_long(fields, schema.EVENT_DURATION, round(seconds * 1e9))  # 0.1311848 s is 131184800 ns, not ...799
        elif capture == "_duration_ms":
            _set_long(fields, schema.EVENT_DURATION, int(value) * 1_000_000)
        elif capture == "_duration_us":
            _set_long(fields, schema.EVENT_DURATION, int(value) * 1000)


_STR, _CTX, _INT, _LEVEL, _INTERNAL = range(5)
_LEVELS = {name: schema.normalize_level(name) for name in
           ("TRACE", "DEBUG", "INFO", "AUDIT", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL")}
# keyed by id(): hashing a compiled pattern re-hashes its whole source every time
_PLANS: dict[int, tuple] = {}
_LEVEL_INITIALS = frozenset("TDIAWECF")
# syslog's severities 0-7 (RFC 5424 PRI % 8) as osla's levels
_SYSLOG_SEVERITIES = tuple(schema.normalize_level(name) for name in
                           ("EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"))
_MONTHS = frozenset(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))


_KEEP: list[re.Pattern] = []
# internal captures read by other conversions or by the code that matched, not converted themselves
_READ_ONLY = frozenset({"_ts_offset", "_context", "_summary_message", "_pod", "_body", "_source_file", "_program"})


def conversion(field: str | None) -> str:
    """How a capture's text becomes ``field``: level (normalized), int, ctx (oslo's '-' and 'None'
    mean no value) or str. The Fluentd plugins convert by the same names."""
    if field == schema.LOG_LEVEL:
        return "level"
    if field in schema.INTEGER_FIELDS:
        return "int"
    if field in schema.CONTEXT_FIELDS:
        return "ctx"
    return "str"


_KINDS = {"level": _LEVEL, "int": _INT, "ctx": _CTX, "str": _STR}


def _plan(pattern: re.Pattern) -> tuple:
    """(group names, steps): a (capture, field, kind) step per capture, computed once per pattern."""
    plan = _PLANS.get(id(pattern))
    if plan is None:
        steps: list[tuple[str, str | None, int]] = []
        for capture in pattern.groupindex:
            if capture.startswith("_"):
                if capture not in _READ_ONLY:
                    steps.append((capture, None, _INTERNAL))
                continue
            name = schema.field_for_capture(capture)
            steps.append((capture, name, _KINDS[conversion(name)]))
        names = tuple(step[0] for step in steps)
        if len(names) == 1:
            names = names + names  # m.group(x) returns a str; m.group(x, x) a tuple
        plan = _PLANS[id(pattern)] = (names, tuple(steps))
        _KEEP.append(pattern)  # the id stays valid while the pattern lives
    return plan


_LONG = 1 << 63
# what converting a captured value may raise on a corrupt line (the grouper keeps such a line as text)
CONVERSION_ERRORS = (ValueError, OverflowError, TypeError, IndexError, KeyError, UnicodeError)
_SURROGATE = re.compile("[" + chr(0xD800) + "-" + chr(0xDFFF) + "]")


def _without_surrogates(value: object) -> object:
    """``value`` with each lone surrogate replaced by U+FFFD: no UTF-8 encoder takes one (valid
    pairs were joined by json.loads already)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_surrogates(key): _without_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    return value


def _set_long(fields: dict, name: str, value: int) -> None:
    """Numbers are mapped as longs (and JSON encoders stop at 64 bits): a digit run too long for
    one, from a corrupt line, is left out rather than failing the whole file."""
    if -_LONG <= value < _LONG:
        fields[name] = value


def _client_fields(value: str, fields: dict) -> None:
    fields[schema.SOURCE_ADDRESS] = value
    first = value.split(",", 1)[0].strip()
    if first.startswith("[") or first.count(":") == 1:
        first = first.rsplit(":", 1)[0].strip("[]")  # host:port as in Apache error logs
    if _IPV4.match(first):
        fields[schema.SOURCE_IP] = first
        return
    try:
        fields[schema.SOURCE_IP] = str(ipaddress.ip_address(first))
    except ValueError:
        pass


def _epoch_stamp(created: object) -> str | None:
    """oslo's JSON 'created' (epoch seconds) as an event stamp; None if it is not a usable time."""
    if not isinstance(created, (int, float)) or isinstance(created, bool):
        return None
    from datetime import datetime
    try:
        return event_stamp(datetime.fromtimestamp(created, UTC))
    except (OverflowError, OSError, ValueError):  # out of range, NaN
        return None


# keys every oslo.log JSONFormatter record has beside 'levelname' (Python logging's own)
_OSLO_JSON_KEYS = frozenset({"created", "asctime", "levelno", "funcname", "funcName", "lineno", "msecs"})


def _oslo_json_fields(obj: dict, times: TimeConverter) -> dict:
    """oslo.log's JSONFormatter output (use_json = True) -> schema fields."""
    fields: dict = {}
    created = _epoch_stamp(obj.get("created"))
    if created is not None:
        fields[schema.TIMESTAMP] = created
    elif isinstance(obj.get("asctime"), str):
        fields[schema.TIMESTAMP] = times.oslo(obj["asctime"])
    level = schema.normalize_level(str(obj.get("levelname", "")))
    if level:
        fields[schema.LOG_LEVEL] = level
    for key, name in (("name", schema.LOG_LOGGER), ("process", schema.PROCESS_PID),
                      ("hostname", schema.HOST_NAME), ("message", schema.MESSAGE)):
        if obj.get(key) not in (None, ""):
            fields[name] = obj[key]
    pid = fields.pop(schema.PROCESS_PID, None)
    if isinstance(pid, str) and pid.isdigit():
        pid = int(pid)
    if isinstance(pid, int) and not isinstance(pid, bool):
        _set_long(fields, schema.PROCESS_PID, pid)
    context = obj.get("context")
    if not isinstance(context, dict):
        context = {}
    for key, name in (("request_id", schema.REQUEST_ID), ("global_request_id", schema.GLOBAL_REQUEST_ID),
                      ("user", schema.USER_ID), ("project_id", schema.PROJECT_ID),
                      ("project", schema.PROJECT_ID), ("domain", schema.DOMAIN_ID),
                      ("user_domain", schema.USER_DOMAIN), ("project_domain", schema.PROJECT_DOMAIN),
                      ("system_scope", schema.SYSTEM_SCOPE), ("user_name", schema.USER_NAME),
                      ("project_name", schema.PROJECT_NAME),
                      ("resource_uuid", schema.INSTANCE_UUID)):
        value = context.get(key)
        if isinstance(value, str) and value not in _NO_VALUE and name not in fields:
            fields[name] = value
    extra = obj.get("extra")
    if not isinstance(extra, dict):
        extra = {}
    instance = extra.get("instance_uuid")
    if instance is None and isinstance(extra.get("instance"), dict):
        instance = extra["instance"].get("uuid")
    if isinstance(instance, str):
        fields[schema.INSTANCE_UUID] = instance
    trace = obj.get("traceback")
    if isinstance(trace, list):
        trace = "".join(trace)
    if isinstance(trace, str) and trace.strip():
        fields["_traceback"] = trace.rstrip("\n")
    for key in (schema.MESSAGE, schema.LOG_LOGGER, schema.HOST_NAME):
        if key in fields and not isinstance(fields[key], str):
            fields[key] = str(fields[key])
    return fields
