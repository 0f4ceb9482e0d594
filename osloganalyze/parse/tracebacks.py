"""Python tracebacks inside log records: where they start, which exception ended them."""
from __future__ import annotations

import re

HEADER = "Traceback (most recent call last):"
_CHAIN_SENTENCES = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
# 'pkg.module.Class: text', 'Class', 'nova.exception_Remote.NoValidHost_Remote: text', 'error: text'
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::(?: (.*))?)?$")
_MESSAGE_LIMIT = 4096


_STARTS = re.compile(r"\s*Traceback \(most recent call last\):")


def starts_traceback(text: str) -> bool:
    return _STARTS.match(text) is not None


def final_exception(lines: list[str]) -> tuple[str | None, str | None]:
    """(error.type, error.message) of the last exception in traceback ``lines``.

    The exception line is the first unindented line after the frames of the last
    traceback of the chain; following unindented lines up to a blank line or a
    chaining sentence continue its message (ProcessExecutionError's Command:/Exit code:).
    A 'Traceback' header inside an exception message (py2 '_Remote' exceptions carry the
    remote traceback in their text) does not start a new traceback.
    """
    start = _last_chained_header(lines)
    if start is None:
        return _fallback(lines)
    indent = len(lines[start]) - len(lines[start].lstrip())
    for i in range(start + 1, len(lines)):
        line = lines[i]
        stripped = line.strip()
        if not stripped or (len(line) - len(line.lstrip())) > indent or stripped.startswith('File "'):
            continue  # blank, frame, source or caret line (a frame torn from its indent too)
        m = _EXCEPTION_LINE.match(stripped)
        if not m:
            return None, None
        message = [m.group(2) or ""]
        for follow in lines[i + 1:]:
            text = follow.strip()
            if not text or text in _CHAIN_SENTENCES or text.startswith(HEADER):
                break
            message.append(text)
        joined = "\n".join(message).strip()
        return m.group(1), (joined[:_MESSAGE_LIMIT] or None)
    return None, None


def _last_chained_header(lines: list[str]) -> int | None:
    """Index of the header of the last traceback in the chain (first one, or one after a chaining sentence)."""
    start = None
    previous = None  # last non-blank line seen
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(HEADER) and (start is None or previous in _CHAIN_SENTENCES):
            start = i
        if stripped:
            previous = stripped
    return start


def _fallback(lines: list[str]) -> tuple[str | None, str | None]:
    """Fragments without a header (cut tracebacks): the last unindented 'Type: text' line."""
    for line in reversed(lines):
        if line.strip() and not line[:1].isspace():
            m = _EXCEPTION_LINE.match(line.strip())
            if m and m.group(2) is not None:
                return m.group(1), m.group(2)[:_MESSAGE_LIMIT] or None
            return None, None
    return None, None
