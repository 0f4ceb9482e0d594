"""The errors osla tells the operator about: one line each, exit status 2.

Every domain error derives from :class:`OslaError`; the command line turns it into
``osla: error: <text>`` in one place (:mod:`osloganalyze.cli`). :class:`ServerError` is the
only kind reported as the search server's failure. Any other exception is a bug in osla and is
shown as an internal error (its traceback with ``--debug``).
"""
from __future__ import annotations


class OslaError(Exception):
    """Bad input, an unusable source or setting: the message is one line, free of secrets."""

    exit_code = 2


class ServerError(OslaError):
    """The search server (Elasticsearch, OpenSearch) failed or could not be reached."""


def server_reason(error: object) -> str:
    """The server's reason from an answer's ``error`` (a dict as both servers write it, or text),
    with the first root cause when it says more ('all shards failed' says nothing alone)."""
    if not isinstance(error, dict):
        return str(error)[:300]
    reason = str(error.get("reason") or error.get("type"))
    causes = error.get("root_cause") or []
    cause = causes[0] if causes and isinstance(causes[0], dict) else {}
    if cause.get("reason") and cause["reason"] != reason:
        reason += f" ({cause.get('type', 'cause')}: {cause['reason']})"
    return reason[:300]
