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
