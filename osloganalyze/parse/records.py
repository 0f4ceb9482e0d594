"""Assemble classified lines into events: one event per logical log record.

Rules (oslo.log's behaviour, see parsers/README.md):

* a RECORD line opens an event;
* an EXCEPTION line (oslo's exception prefix, no context block) joins the open event
  with the same pid and logger written within two seconds, so a traceback never joins
  a neighbour from another process; with none, it opens a headless traceback event;
* a TEXT line continues the newest open event of its stream (message continuation,
  remote tracebacks). 'Traceback (most recent call last):' after an INFO/DEBUG record
  is a bare traceback printed outside logging, so it opens an event of its own;
* in syslog/journald streams a TEXT line from a program with no open oslo record is a
  record of its own (systemd, sudo, ...).

A few events stay open (``WINDOW``) so interleaved writers are grouped right; events
leave in the order they started. An event stops collecting at ``MAX_LINES`` /
``MAX_CHARS`` (tagged 'truncated') so memory stays flat.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from .. import schema
from . import tracebacks
from .lines import CONVERSION_ERRORS, EXCEPTION, RECORD, TEXT, Line, LineParser

WINDOW = 32
MAX_LINES = 10_000
MAX_CHARS = 4_000_000
_SUMMARY_LEVELS = schema.SUMMARY_LEVELS


class Stats:
    """What happened to every input line (each is counted exactly once)."""

    def __init__(self) -> None:
        self.files = 0
        self.lines = 0
        self.blank = 0
        self.record_lines = 0
        self.continuation_lines = 0
        self.unparsed = 0
        self.events = 0
        self.unparsed_examples: list[tuple[str, int, str]] = []
        self.errors: list[str] = []  # what could not be read: the reading is incomplete
        self.skipped: list[str] = []  # special files skipped on purpose (FIFOs, devices, sockets)
        self.cut_lines = 0  # lines longer than sources.local.LINE_LIMIT: their rest not read
        self.truncated_events = 0  # records past MAX_LINES / MAX_CHARS (tagged 'truncated')
        self.dropped_lines = 0  # the lines those records did not keep
        # events with neither a level nor an HTTP status (plain text a pattern took as a record),
        # and their lines: parsed, but with less in them than "parsed" suggests
        self.levelless_events = 0
        self.levelless_lines = 0

    def merge(self, other: Stats) -> None:
        """Add another reader's counts (files read in another process)."""
        for name in ("files", "lines", "blank", "record_lines", "continuation_lines", "unparsed", "events", "cut_lines",
                     "truncated_events", "dropped_lines", "levelless_events", "levelless_lines"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unparsed_examples.extend(other.unparsed_examples[:max(0, 5 - len(self.unparsed_examples))])
        self.errors.extend(other.errors)
        self.skipped.extend(other.skipped)

    def as_dict(self) -> dict:
        return {
            "files": self.files, "lines": self.lines, "blank": self.blank,
            "record_lines": self.record_lines, "continuation_lines": self.continuation_lines,
            "unparsed": self.unparsed, "events": self.events,
            "unparsed_examples": [{"file": f, "line": n, "text": t} for f, n, t in self.unparsed_examples],
            "cut_lines": self.cut_lines, "truncated_events": self.truncated_events,
            "dropped_lines": self.dropped_lines, "levelless_events": self.levelless_events,
            "levelless_lines": self.levelless_lines, "errors": self.errors, "skipped": self.skipped,
        }


class _Event:
    """An open event. One-line records (most of them) need nothing but their fields and
    line; ``more`` is made when a second line arrives."""

    __slots__ = ("fields", "raw", "exc_key", "clock", "stream", "oslo", "more")

    def __init__(self, fields: dict, raw: str, exc_key: tuple | None, clock: str | None, stream: tuple | None,
                 oslo: bool):
        self.fields = fields
        self.raw = raw
        self.exc_key = exc_key
        self.clock = clock
        self.stream = stream
        self.oslo = oslo
        self.more: _More | None = None

    def add(self, raw: str, text: str, to_stack: bool) -> None:
        more = self.more
        if more is None:
            more = self.more = _More(self.raw)
        more.add(raw, text, to_stack)

    def start_stack(self, text: str) -> None:
        self.more = _More(self.raw)
        self.more.in_stack = True
        self.more.stack.append(text)

    def in_stack(self) -> bool:
        return self.more is not None and self.more.in_stack


class _More:
    """Continuation lines of an event: message lines, then traceback lines."""

    __slots__ = ("raw", "message", "stack", "in_stack", "chars", "truncated", "dropped")

    def __init__(self, first_raw: str):
        self.raw = [first_raw]
        self.message: list[str] = []
        self.stack: list[str] = []
        self.in_stack = False
        self.chars = len(first_raw)
        self.truncated = False
        self.dropped = 0  # lines past MAX_LINES / MAX_CHARS, counted, not kept

    def add(self, raw: str, text: str, to_stack: bool) -> None:
        if self.truncated:
            self.dropped += 1
            return
        if len(self.raw) >= MAX_LINES or self.chars + len(raw) > MAX_CHARS:
            self.truncated = True
            self.dropped += 1
            return
        self.raw.append(raw)
        self.chars += len(raw)
        if to_stack or self.in_stack:
            self.in_stack = True
            self.stack.append(text)
        else:
            self.message.append(text)


def _close_in_time(a: str | None, b: str | None) -> bool:
    if a is None or b is None or a == b:
        return True
    if a[:10] != b[:10] or len(a) < 19 or len(b) < 19:
        return a[:19] == b[:19]
    try:
        sa = int(a[11:13]) * 3600 + int(a[14:16]) * 60 + int(a[17:19])
        sb = int(b[11:13]) * 3600 + int(b[14:16]) * 60 + int(b[17:19])
    except ValueError:
        return False
    return abs(sa - sb) <= 2


class Grouper:
    """Groups the lines of one file into events (see the module docstring for the rules)."""

    def __init__(self, parser: LineParser, base_fields: dict, stats: Stats, path: str):
        self.parser = parser
        self.stats = stats
        self.path = path
        self.base = {key: value for key, value in base_fields.items() if value is not None}
        self.open: deque[_Event] = deque()

    def run(self, lines: Iterable[tuple[int, int, str]]) -> Iterator[dict]:
        """Events from (byte offset, line number, text) lines, in the order they started."""
        parse = self.parser.parse
        opened = self.open
        stats = self.stats
        count = records = 0
        try:
            for offset, lineno, raw in lines:
                count += 1
                try:
                    line = parse(raw)
                except CONVERSION_ERRORS:  # a value no conversion takes: kept as text, never a crash
                    line = Line(TEXT, text=raw)
                kind = line.kind
                if kind == RECORD:
                    records += 1
                    fields = line.fields
                    fields[schema.LOG_OFFSET] = offset
                    event = _Event(fields, raw, line.exc_key, line.clock, line.stream, line.exc_key is not None)
                    if "_traceback" in fields:  # oslo JSON records carry their traceback
                        for text in fields.pop("_traceback").split("\n"):
                            event.add(text, text, True)
                        if event.more is not None:
                            event.more.raw = [raw]
                    opened.append(event)  # _open(), inlined: this is the per-line hot path
                    if len(opened) > WINDOW:
                        yield self._finalize(opened.popleft())
                    continue
                if kind == EXCEPTION:
                    done = self._exception(line, raw, offset)
                elif kind == TEXT:
                    done = self._text(line, raw, offset, lineno)
                else:
                    stats.blank += 1
                    if opened:
                        opened[-1].add(raw, "", False)
                    continue
                if done is not None:
                    yield done
            while opened:
                yield self._finalize(opened.popleft())
        finally:
            stats.lines += count
            stats.record_lines += records

    # -- line kinds ----------------------------------------------------------------

    def _open(self, event: _Event) -> dict | None:
        self.stats.record_lines += 1
        self.open.append(event)
        if len(self.open) > WINDOW:
            return self._finalize(self.open.popleft())
        return None

    def _exception(self, line: Line, raw: str, offset: int) -> dict | None:
        key, clock, stream = line.exc_key, line.clock, line.stream
        for event in reversed(self.open):
            if event.exc_key == key and event.stream == stream and _close_in_time(event.clock, clock):
                self.stats.continuation_lines += 1
                event.add(raw, line.text, True)
                return None
        # no record claims it: a traceback whose record line is missing (headless)
        fields = self.parser.exception_fields(line)
        fields[schema.LOG_OFFSET] = offset
        event = _Event(fields, raw, key, clock, stream, True)
        event.start_stack(line.text)
        return self._open(event)

    def _text(self, line: Line, raw: str, offset: int, lineno: int) -> dict | None:
        stats = self.stats
        target = self._newest_in_stream(line.stream)
        if line.stream is not None and (target is None or not target.oslo):
            # journald/syslog line of a program that does not write oslo records
            fields = dict(line.fields)
            fields[schema.LOG_OFFSET] = offset
            return self._open(_Event(fields, raw, None, None, line.stream, False))
        starts = tracebacks.starts_traceback(line.text)
        if starts and not self._may_carry_traceback(target):
            fields = dict(line.fields)
            fields.pop(schema.MESSAGE, None)
            fields[schema.LOG_OFFSET] = offset
            fields[schema.LOG_LEVEL] = "ERROR"
            event = _Event(fields, raw, None, None, line.stream, True)
            event.start_stack(line.text)
            return self._open(event)
        if target is None:
            stats.unparsed += 1
            if len(stats.unparsed_examples) < 5:
                stats.unparsed_examples.append((self.path, lineno, raw[:200]))
            return None
        stats.continuation_lines += 1
        target.add(raw, line.text, starts)
        return None

    def _newest_in_stream(self, stream: tuple | None) -> _Event | None:
        if not self.open:
            return None
        if stream is None:
            return self.open[-1]
        for event in reversed(self.open):
            if event.stream == stream:
                return event
        return None

    @staticmethod
    def _may_carry_traceback(event: _Event | None) -> bool:
        """Only a WARNING+ record (or one already in a traceback) carries an unprefixed traceback."""
        if event is None:
            return False
        if event.in_stack():
            return True
        return event.fields.get(schema.LOG_LEVEL) in _SUMMARY_LEVELS

    # -- finishing ------------------------------------------------------------------

    def _finalize(self, event: _Event) -> dict:
        fields = event.fields
        self.stats.events += 1
        if not fields.get(schema.LOG_LEVEL) and fields.get(schema.HTTP_STATUS) is None:
            self.stats.levelless_events += 1
            self.stats.levelless_lines += 1 if event.more is None else len(event.more.raw)
        if fields.get(schema.TIMESTAMP, "") is None:  # a date that does not exist (2013-02-30)
            del fields[schema.TIMESTAMP]
        more = event.more
        if more is None:  # the common one-line record
            fields[schema.EVENT_ORIGINAL] = event.raw
            if schema.MESSAGE not in fields:
                fields[schema.MESSAGE] = ""
            elif fields.get(schema.LOG_LEVEL) in _SUMMARY_LEVELS:
                self._error_summary(fields)
            return {**self.base, **fields}
        message = [fields.get(schema.MESSAGE, "")] + more.message if schema.MESSAGE in fields else more.message
        _trim(message)
        stack = more.stack
        _trim(stack)
        raw = more.raw
        while len(raw) > 1 and not raw[-1].strip():
            raw.pop()
        text = "\n".join(message)
        if stack:
            fields[schema.ERROR_STACK_TRACE] = "\n".join(stack)
            error_type, error_message = tracebacks.final_exception(stack)
            if error_type:
                fields[schema.ERROR_TYPE] = error_type
                if error_message:
                    fields[schema.ERROR_MESSAGE] = error_message
            if not text.strip():
                text = f"{error_type}: {error_message}" if error_type and error_message else (error_type or stack[0].strip())
        fields[schema.MESSAGE] = text
        fields[schema.EVENT_ORIGINAL] = "\n".join(raw)
        if not stack and fields.get(schema.LOG_LEVEL) in _SUMMARY_LEVELS:
            self._error_summary(fields)
        if more.truncated:
            fields[schema.TAGS] = ["truncated"]
            self.stats.truncated_events += 1
            self.stats.dropped_lines += more.dropped
        return {**self.base, **fields}

    def _error_summary(self, fields: dict) -> None:
        summary = self.parser.error_summary_of(fields[schema.MESSAGE])
        if summary:
            fields[schema.ERROR_TYPE], fields[schema.ERROR_MESSAGE] = summary


def _trim(lines: list[str]) -> None:
    while lines and not lines[-1].strip():
        lines.pop()
