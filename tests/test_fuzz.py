"""Property tests: no input makes the parser raise, and every line is accounted for once."""
import gzip
import io
import threading

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osloganalyze import schema as S
from osloganalyze.parse import Stats, _events, parse_paths
from osloganalyze.parse.timestamps import TimeConverter
from osloganalyze.sources.local import LogFile, read_lines

REAL = [  # real shapes (reference notes, corpus); the fuzzer cuts, splices and corrupts them
    b"2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi [req-adb018d8-afb7-4668-869c-179b90ea5dbf "
    b"9942eb4321644336a0c7383d9f1c2bed a7d812868cb74f1a978035530f55f1d0 - default default] Unexpected exception",
    b"2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi Traceback (most recent call last):",
    b"2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi   File \"/x.py\", line 1, in f",
    b"2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi MessagingTimeout: Timed out",
    b"2014-04-17 14:50:12.128 1455 TRACE nova.compute.manager [instance: 89990e3a-11fa-4c73-bb35-ce9345fbcbf2] x",
    b"Traceback (most recent call last):",
    b"  File \"/usr/lib/python2.7/dist-packages/nova/db/api.py\", line 275, in floating_ip_allocate_address",
    b"May 26 20:44:32.283596 host cinder-volume[27348]: Traceback (most recent call last):",
    b"INFO nova.compute.claims [req-a4498d64-47bb-491f-adde-effccaba43f0] Claim successful",
    b"2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [-] 10.11.10.1 \"GET /v2 HTTP/1.1\" "
    b"status: 200 len: 1893 time: 0.2477829",
    b"[pid: 1|app: 0|req: 1/1] 1.2.3.4 () {1 vars in 2 bytes} [Mon Mar 25 15:07:52 2019] GET / => generated 1 "
    b"bytes in 1 msecs (HTTP/1.1 500)",
    b'{"log":"2024-01-01 10:00:00.120 7 INFO nova.x [-] hi\\n","stream":"stderr"}',
    b'{"levelname": "ERROR", "levelno": 40, "name": "nova", "message": "m", "traceback": "Traceback\\nX: y"}',
    b"-- Logs begin at Tue 2017-03-28 12:02:58 UTC, end at Tue 2017-03-28 13:16:45 UTC. --",
    b"\x1b[01;31mERROR nova.x [\x1b[01;36mNone req-0b3c7c1e-1111-4222-8333-944455556666 admin admin] boom\x1b[00m",
    b"", b"   ", b"\x1b[00m",
    # numbers and JSON values no log should hold, as corrupt lines hold them
    b"2024-05-08 10:00:00.123 99999999999999999999999 ERROR nova.x [-] pid beyond 64 bits",
    b"2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [-] 10.11.10.1 \"GET /v2 HTTP/1.1\" "
    b"status: 200 len: 99999999999999999999999 time: 99999999999999999999.5",
    b'{"levelname": 5, "name": ["x"], "process": 1180591620717411303424, "created": 1e20, "message": {"a": 1}, '
    b'"context": [], "extra": {"instance": 3}, "traceback": 7}',
    b'{"levelname": "ERROR", "name": "x", "process": true, "created": NaN, "asctime": 7, '
    b'"context": {"request_id": 5}, "traceback": ["a\\n", "b\\n"]}',
    b'{"log": 5, "stream": "stdout", "time": 3}',
    # JSON may escape a lone surrogate, which no UTF-8 encoder takes
    b'{"levelname": "INFO", "levelno": 20, "name": "x", "message": "bad \\ud800 half", "context": {"request_id": "req-\\uDFFF"}}',
    b'{"log": "2024-01-01 10:00:00.120 7 INFO nova.x [-] hi \\udc80 \\ud83d\\ude00\\n", "stream": "stderr"}',
]


def mutate(data: bytes, cut: int, junk: bytes) -> bytes:
    cut = cut % (len(data) + 1)
    return data[:cut] + junk + data[cut:]


lines = st.one_of(
    st.sampled_from(REAL),
    st.builds(mutate, st.sampled_from(REAL), st.integers(0, 300), st.binary(max_size=8)),
    st.binary(max_size=120),
)


def run(data: bytes):
    stats = Stats()
    events = list(_events(read_lines(io.BytesIO(data)), LogFile("<fuzz>", None, None), TimeConverter(year=2024), stats))
    return stats, events


def check(data: bytes, stats: Stats, events: list):
    expected_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert stats.lines == expected_lines
    assert stats.lines == stats.blank + stats.record_lines + stats.continuation_lines + stats.unparsed
    assert stats.events == stats.record_lines == len(events)
    for event in events:
        assert set(event) <= set(S.FIELDS), set(event) - set(S.FIELDS)
        orjson.dumps(event)  # what osla parse and osla ingest write: fails on a non-JSON value or a 65-bit int
        assert isinstance(event[S.EVENT_ORIGINAL], str)
        assert event[S.EVENT_ORIGINAL].count("\n") + 1 <= stats.lines
    # every non-blank line the parser took is in exactly one event's original text
    in_events = sum(sum(1 for line in e[S.EVENT_ORIGINAL].split("\n") if line.strip()) for e in events)
    assert in_events <= stats.record_lines + stats.continuation_lines + stats.blank


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=40), st.sampled_from([b"\n", b"\r\n"]))
def test_any_mix_of_real_broken_and_random_lines(parts, newline):
    data = newline.join(parts)
    stats, events = run(data)
    check(data, stats, events)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes(data):
    stats, events = run(data)
    check(data, stats, events)


def test_numbers_beyond_64_bits_are_left_out():
    stats, events = run(b"\n".join(REAL[-7:-2]))
    check(b"\n".join(REAL[-7:-2]), stats, events)
    huge_pid, huge_access, odd_json, odd_types = events
    assert S.PROCESS_PID not in huge_pid and huge_pid[S.MESSAGE] == "pid beyond 64 bits"
    assert S.HTTP_BYTES not in huge_access and S.EVENT_DURATION not in huge_access
    assert huge_access[S.HTTP_STATUS] == 200 and huge_access[S.PROCESS_PID] == 25746
    assert S.PROCESS_PID not in odd_json and S.TIMESTAMP not in odd_json and odd_json[S.LOG_LOGGER] == "['x']"
    assert S.PROCESS_PID not in odd_types and S.TIMESTAMP not in odd_types  # true is no pid, NaN no time


def test_lone_surrogates_in_json_are_replaced():
    stats, (oslo_json, docker) = run(b"\n".join(REAL[-2:]))
    check(b"\n".join(REAL[-2:]), stats, [oslo_json, docker])
    assert oslo_json[S.MESSAGE] == "bad \ufffd half" and oslo_json[S.REQUEST_ID] == "req-\ufffd"
    assert docker[S.MESSAGE] == "hi \ufffd \U0001f600"  # a valid pair stays one character


def test_invalid_utf8_is_replaced_not_fatal():
    stats, (event,) = run(b"2024-05-01 12:00:00.000 1 INFO nova.x [-] caf\xe9 \xff\xfe\n")
    assert event[S.MESSAGE] == "caf\ufffd \ufffd\ufffd"


def test_one_megabyte_line():
    big = b"2024-05-01 12:00:00.000 1 ERROR nova.x [-] " + b"x" * 1_000_000 + b"\n" + b"y" * 1_000_000
    stats, (event,) = run(big)
    assert len(event[S.MESSAGE]) == 2_000_001 and stats.continuation_lines == 1


def test_crlf_and_truncated_first_line():
    data = b"ack (most recent call last):\r\n2024-05-01 12:00:00.000 1 INFO nova.x [-] ok\r\n"
    stats, (event,) = run(data)
    assert stats.unparsed == 1 and event[S.MESSAGE] == "ok" and "\r" not in event[S.EVENT_ORIGINAL]


def test_file_that_grows_while_read(tmp_path):
    path = tmp_path / "growing.log"
    record = b"2024-05-01 12:00:00.000 1 INFO nova.x [-] line\n"
    path.write_bytes(record * 1000)
    stats = Stats()
    events = parse_paths([str(path)], stats=stats)
    seen = [next(events) for _ in range(10)]
    def append() -> None:
        with open(path, "ab") as out:
            out.write(record * 5000)
    appender = threading.Thread(target=append)
    appender.start()
    appender.join()
    seen.extend(events)
    # whatever was there when reading reached the end is read, each line once
    assert stats.lines == len(seen) == stats.record_lines
    assert 1000 <= stats.lines <= 6000


def test_gzip_with_trailing_garbage_is_reported_not_raised(tmp_path):
    path = tmp_path / "x.log.1.gz"
    path.write_bytes(gzip.compress(b"2024-05-01 12:00:00.000 1 INFO nova.x [-] ok\n") + b"garbage")
    stats = Stats()
    events = list(parse_paths([str(path)], stats=stats))
    assert [e[S.MESSAGE] for e in events] == ["ok"] and len(stats.errors) == 1
