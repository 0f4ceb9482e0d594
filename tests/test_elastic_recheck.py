"""Traceback grouping against Logstash's: elastic-recheck's exports of real 2013 gate logs.

Each hit is one Logstash event: '@message' holds the first line without its oslo prefix
(split into @fields) followed by the verbatim TRACE lines. None of these raw lines are in the
corpus log files, so the test rebuilds each job's log from the hits (prefix from the fields,
then the verbatim lines), replays it in time order, and asks osla to group it again.
"""
import json
import re
from collections import defaultdict

from corpus import CORPUS

from osloganalyze import schema as S
from osloganalyze.parse import parse_text

_PREFIX = re.compile(r"^\S+ \S+ \d+ TRACE \S+ ?(?:\[instance: [0-9a-f-]{36}\] ?)?")


def _first(value):
    return value[0] if isinstance(value, list) else value


def _jobs():
    """log_url -> hits sorted by time; only oslo-format hits (console.html ones are not)."""
    jobs = defaultdict(list)
    for path in sorted((CORPUS / "elastic-recheck").glob("*.json")):
        for hit in json.loads(path.read_text())["hits"]["hits"]:
            src = hit["_source"]
            if "oslofmt" not in src.get("@tags", []):
                continue
            jobs[_first(src["@fields"]["log_url"])].append(src)
    for hits in jobs.values():
        hits.sort(key=lambda s: s["@timestamp"])
    return jobs


def _raw_lines(src):
    fields = src["@fields"]
    stamp = src["@timestamp"].replace("T", " ").rstrip("Z")
    first, *rest = src["@message"].split("\n")
    return [f"{stamp} {_first(fields['pid'])} {_first(fields['loglevel'])} {_first(fields['module'])} {first}"] + rest


def test_grouping_matches_logstash():
    jobs = _jobs()
    compared = multiline = 0
    for url, hits in jobs.items():
        # the same event can be exported by two bug queries: keep one copy
        unique = list({src["@message"] + src["@timestamp"]: src for src in hits}.values())
        text = "\n".join(line for src in unique for line in _raw_lines(src))
        events = parse_text(text, path=url)
        assert len(events) == len(unique), url
        for src, event in zip(unique, events):
            raw = _raw_lines(src)
            while len(raw) > 1 and not raw[-1].strip():
                raw.pop()
            assert event[S.EVENT_ORIGINAL] == "\n".join(raw)
            assert event[S.PROCESS_PID] == int(_first(src["@fields"]["pid"]))
            assert event[S.LOG_LOGGER] == _first(src["@fields"]["module"])
            trace = [_PREFIX.sub("", line, count=1) for line in raw[1:]]
            while trace and not trace[-1].strip():
                trace.pop()
            if "multiline" in src["@tags"] and trace:
                multiline += 1
                assert event[S.ERROR_STACK_TRACE].split("\n") == trace
                assert event.get(S.ERROR_TYPE), trace[-1]
            else:
                assert S.ERROR_STACK_TRACE not in event
            compared += 1
    assert compared >= 400 and multiline >= 150, (compared, multiline)
