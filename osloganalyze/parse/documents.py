"""Events from documents another shipper wrote (Kolla's ``flog-*`` indices): each document given
back as the oslo.log lines it was cut from (:func:`osloganalyze.sources.kolla.oslo_line`), the
documents of one file together and in order, then parsed by osla's own parser as the file itself
would be. Each event keeps the document's UTC ``@timestamp`` (Kolla's ``Timestamp`` text is the
container's local clock) and has no byte offset (the documents have none)."""
from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime

from .. import schema
from ..query import EventQuery, order
from ..sources.kolla import TIME, KollaSource, file_of, oslo_line
from ..sources.local import LogFile
from ..sources.naming import service_for_path
from ..times import event_stamp
from . import _events
from .records import Stats
from .timestamps import TimeConverter

_ISO = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d+))?\s*(Z|[+-]\d\d:?\d\d)?$")


def kolla_events(documents: Iterable[dict], stats: Stats | None = None) -> Iterator[dict]:
    """osla's events of Kolla documents given a file at a time (as KollaSource sorts them)."""
    stats = stats if stats is not None else Stats()
    times = TimeConverter("UTC", None)
    for (host, path), group in itertools.groupby(documents, key=file_of):
        starts: deque[tuple[int, str | None]] = deque()  # where each document's lines begin, its time

        def lines(group=group, starts=starts) -> Iterator[tuple[int, int, str]]:
            offset = 0
            for number, doc in enumerate(group, 1):
                starts.append((offset, utc_stamp(doc.get(TIME))))
                for part in oslo_line(doc).split("\n"):
                    yield offset, number, part
                    offset += len(part.encode("utf-8", "surrogateescape")) + 1

        for event in _events(lines(), LogFile(path, host or None, service_for_path(path)), times, stats):
            offset = event.pop(schema.LOG_OFFSET, None)
            while starts and offset is not None and starts[0][0] < offset:
                starts.popleft()
            if starts and starts[0][0] == offset and starts[0][1]:
                event[schema.TIMESTAMP] = starts[0][1]
            yield event


def utc_stamp(value: object) -> str | None:
    """An event stamp (UTC, milliseconds) of an @timestamp as Fluentd writes it ('Z' or an
    offset; up to nanoseconds), or None."""
    if not isinstance(value, str):
        return None
    found = _ISO.match(value.strip())
    if not found:
        return None
    day, clock, fraction, offset = found.groups()
    micros = ((fraction or "") + "000000")[:6]
    try:
        return event_stamp(datetime.fromisoformat(f"{day}T{clock}.{micros}{offset or 'Z'}"))
    except ValueError:
        return None


class KollaEvents:
    """Kolla's indices answering an EventQuery as :class:`~osloganalyze.sources.elasticsearch.ElasticsearchSource`
    does: osla's events, in :data:`~osloganalyze.query.SORT_FIELDS` order."""

    def __init__(self, source: KollaSource):
        self.source = source

    @property
    def round_trips(self) -> int:
        return self.source.round_trips

    def stream(self, query: EventQuery, stats: Stats | None = None) -> Iterator[dict]:
        """The events matching ``query``, a file at a time (a day of them never held at once)."""
        return (event for event in kolla_events(self.source.documents(query), stats) if query.matches(event))

    def events(self, query: EventQuery, limit: int | None = None) -> list[dict]:
        found = sorted(self.stream(query), key=order)
        return found[:limit] if limit is not None else found

    def time_range(self) -> tuple[str | None, str | None]:
        return self.source.time_range()

    def near(self, request_id: str) -> list[str]:
        return self.source.near(request_id)
