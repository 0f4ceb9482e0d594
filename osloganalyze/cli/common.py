"""Helpers shared by commands: one-line errors, progress on a terminal."""
from __future__ import annotations

import sys
import time

import click


class Failure(click.ClickException):
    """A clear one-line error and exit status 2 (bad input, unusable source)."""

    exit_code = 2


class Progress:
    """Events/s on stderr while work runs, only when stderr is a terminal."""

    def __init__(self, label: str, enabled: bool | None = None, interval: float = 0.5):
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.interval = interval
        self.start = self.last = time.monotonic()
        self.count = 0

    def update(self, count: int) -> None:
        """Report ``count`` items done so far (call it every few hundred items)."""
        self.count = count
        if self.enabled:
            now = time.monotonic()
            if now - self.last >= self.interval:
                self.last = now
                rate = count / max(now - self.start, 1e-9)
                sys.stderr.write(f"\r{self.label}: {count:,} events, {rate:,.0f} events/s ")
                sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.count >= 1000:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start
