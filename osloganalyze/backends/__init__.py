"""Where the logs are: a log tree on disk (:class:`~.tree.LogTree`) or a search server
(:class:`~.server.SearchServer`). Both answer the same :class:`Backend` interface, and every
command gets its one backend from the command line's edge (``cli/backend.py``), chosen by one
rule for all commands.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..query import EventQuery
    from ..report.period import Period
    from ..report.tally import Tally
    from ..rules.findings import Collector
    from ..rules.model import Rule

Progress = Callable[[int], None]


@dataclass
class ScanResult:
    collector: Collector
    files: int | None = None  # files read (a log tree)
    read_errors: list[str] = field(default_factory=list)  # what could not be read: the scan is incomplete
    skipped: list[str] = field(default_factory=list)  # special files passed over on purpose


@dataclass
class ReportInput:
    """What the report is built from: the tally of the period and its baseline, the findings,
    and a way to find a request behind each spike."""

    tally: Tally
    collector: Collector
    spike_examples: Callable[[list[dict]], dict]
    read_errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class Backend(Protocol):
    kind: str  # files | elasticsearch

    def describe(self) -> str:
        """The source for a person: 'samples/x' or 'Elasticsearch openstack-*'."""

    def triage_options(self) -> str:
        """The options by which ``osla triage`` reaches these same logs."""

    def scan(self, rules: list[Rule], query: EventQuery, progress: Progress | None = None) -> ScanResult:
        """The rules over the events matching ``query``."""

    def triage(self, seed: str, rules: Callable[[], list[Rule]], *, around: int, hops: int,
               max_ids: int) -> dict:
        """The triage view of one request or instance (``rules`` loads the rules when needed)."""

    def report(self, period: Period, rules: list[Rule], progress: Progress | None = None,
               state: str | None = None) -> ReportInput:
        """The tables and findings of a report period and its baseline (``state``: the folder of
        a log tree's state store; a server keeps none)."""

    def time_range(self) -> tuple[str | None, str | None]:
        """The first and last event stamps there (UTC)."""
