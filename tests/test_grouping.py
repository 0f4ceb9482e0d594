"""Multi-line grouping rules (osloganalyze/parse/records.py), each with a case that must and must not join."""
from osloganalyze import schema as S
from osloganalyze.parse import Stats, parse_text, records

TS = "2024-05-01 12:00:00.100"


def test_traceback_joins_its_own_process_not_the_neighbour():
    text = "\n".join([
        f"{TS} 11 ERROR nova.compute.manager [req-aaaaaaaa-0000-4000-8000-000000000011 - - - - - -] failed in 11",
        f"{TS} 22 INFO nova.compute.manager [req-bbbbbbbb-0000-4000-8000-000000000022 - - - - - -] fine in 22",
        f"{TS} 11 ERROR nova.compute.manager Traceback (most recent call last):",
        f"{TS} 11 ERROR nova.compute.manager   File \"/x.py\", line 1, in f",
        f"{TS} 11 ERROR nova.compute.manager ValueError: eleven",
        f"{TS} 11 ERROR nova.compute.manager ",
    ])
    first, second = parse_text(text)
    assert first[S.PROCESS_PID] == 11 and first[S.ERROR_TYPE] == "ValueError"
    assert first[S.EVENT_ORIGINAL].count("\n") == 4
    assert second[S.PROCESS_PID] == 22 and S.ERROR_STACK_TRACE not in second


def test_same_pid_other_logger_does_not_join():
    text = "\n".join([
        f"{TS} 11 ERROR nova.a [-] a failed",
        f"{TS} 11 ERROR nova.b Traceback (most recent call last):",
        f"{TS} 11 ERROR nova.b KeyError: 'x'",
    ])
    a, b = parse_text(text)
    assert S.ERROR_STACK_TRACE not in a
    assert b[S.LOG_LOGGER] == "nova.b" and b[S.ERROR_TYPE] == "KeyError"  # headless traceback event
    assert b[S.MESSAGE] == "KeyError: 'x'" and b[S.LOG_LEVEL] == "ERROR"


def test_stale_record_does_not_claim_a_later_traceback():
    text = "\n".join([
        "2024-05-01 12:00:00.100 11 ERROR nova.a [-] long ago",
        "2024-05-01 12:05:00.100 11 ERROR nova.a Traceback (most recent call last):",
        "2024-05-01 12:05:00.100 11 ERROR nova.a OSError: later",
    ])
    assert len(parse_text(text)) == 2


def test_instance_scoped_traceback_stays_whole():
    uuid = "0f4745b1-9d4b-4e8a-82f7-9eaa1f9bb08f"
    text = "\n".join([
        f"{TS} 29166 ERROR nova.compute.manager [None req-ff89b8c5-b80a-4ac6-b48f-b71db22cbd40 - - - - - -] "
        f"[instance: {uuid}] Instance failed to spawn: ValueError: boom",
        f"{TS} 29166 ERROR nova.compute.manager [instance: {uuid}] Traceback (most recent call last):",
        f"{TS} 29166 ERROR nova.compute.manager [instance: {uuid}]   File \"/opt/demo/demo.py\", line 23, in <module>",
        f"{TS} 29166 ERROR nova.compute.manager [instance: {uuid}]     raise ValueError('boom')",
        f"{TS} 29166 ERROR nova.compute.manager [instance: {uuid}]              ^^^^^^^^^^^^^^^^",
        f"{TS} 29166 ERROR nova.compute.manager [instance: {uuid}] ValueError: boom",
        f"{TS} 29166 ERROR nova.compute.manager [instance: {uuid}] ",
    ])
    (event,) = parse_text(text)
    assert event[S.INSTANCE_UUID] == uuid
    assert event[S.ERROR_STACK_TRACE].split("\n")[0] == "Traceback (most recent call last):"
    assert event[S.ERROR_STACK_TRACE].split("\n")[-1] == "ValueError: boom"
    assert event[S.MESSAGE] == "Instance failed to spawn: ValueError: boom"


def test_unprefixed_remote_traceback_after_warning_joins_but_bare_one_after_info_does_not():
    joined = "\n".join([
        f"{TS} 7 WARNING nova.scheduler.utils [req-3ccf19e4-0000-4000-8000-000000000001 admin admin] "
        "Failed to schedule instances: NoValidHost_Remote: No valid host was found.",
        "Traceback (most recent call last):",
        '  File "/usr/lib/python3/dist-packages/oslo_messaging/rpc/server.py", line 235, in inner',
        "nova.exception.NoValidHost: No valid host was found.",
    ])
    (event,) = parse_text(joined)
    assert event[S.ERROR_TYPE] == "nova.exception.NoValidHost"
    assert event[S.MESSAGE].startswith("Failed to schedule instances")
    bare = joined.replace("WARNING", "INFO")
    info, trace = parse_text(bare)
    assert S.ERROR_STACK_TRACE not in info
    assert trace[S.LOG_LEVEL] == "ERROR" and trace[S.ERROR_TYPE] == "nova.exception.NoValidHost"


def test_multiline_message_continuation():
    text = f"{TS} 5 WARNING neutron.db.agents_db [-] Agent healthcheck: found 1 dead agents out of 3:\n" \
           "                Type       Last heartbeat host\n" \
           "          L3 agent  2024-05-01 11:00:00 net-1"
    (event,) = parse_text(text)
    assert event[S.MESSAGE].count("\n") == 2 and S.ERROR_STACK_TRACE not in event


def test_journald_streams_keep_programs_apart():
    text = "\n".join([
        "May 26 20:44:32.276580 host-1 cinder-volume[27348]: INFO cinder.volume.manager [-] done",
        "May 26 20:44:39.848686 host-1 sudo[552]:    stack : TTY=unknown ; PWD=/ ; USER=root",
        "May 26 20:44:39.849078 host-1 sudo[552]: pam_unix(sudo:session): session opened for user root",
        "May 26 20:44:40.000000 host-1 cinder-volume[27348]: multi-line message continued",
    ])
    events = parse_text(text, year=2017)
    assert [e[S.SERVICE_NAME] for e in events] == ["cinder-volume", "sudo", "sudo"]
    assert events[0][S.MESSAGE] == "done\nmulti-line message continued"
    assert events[1][S.TIMESTAMP] == "2017-05-26T20:44:39.848Z" and events[1][S.PROCESS_PID] == 552


def test_lines_before_the_first_record_are_counted_unparsed():
    stats = Stats()
    events = parse_text("+ export PYTHONUNBUFFERED=1\n\n" + f"{TS} 1 INFO nova.x [-] first", stats=stats)
    assert len(events) == 1
    assert (stats.lines, stats.blank, stats.unparsed, stats.record_lines) == (3, 1, 1, 1)
    assert stats.unparsed_examples[0][1:] == (1, "+ export PYTHONUNBUFFERED=1")


def test_events_leave_in_start_order_with_many_interleaved_writers():
    lines = []
    for i in range(100):
        pid = 1000 + i % 7
        lines.append(f"{TS} {pid} ERROR nova.x [req-{i:08x}-0000-4000-8000-000000000000 - - - - -] n{i}")
        lines.append(f"{TS} {pid} ERROR nova.x Traceback (most recent call last):")
        lines.append(f"{TS} {pid} ERROR nova.x RuntimeError: {i}")
    events = parse_text("\n".join(lines))
    assert [e[S.MESSAGE] for e in events] == [f"n{i}" for i in range(100)]
    assert [e[S.ERROR_MESSAGE] for e in events] == [str(i) for i in range(100)]


def test_huge_record_is_truncated_not_unbounded(monkeypatch):
    monkeypatch.setattr(records, "MAX_LINES", 50)
    stats = Stats()
    text = f"{TS} 1 ERROR nova.x [-] start\n" + "\n".join(f"continued {i}" for i in range(500))
    (event,) = parse_text(text, stats=stats)
    assert event[S.TAGS] == ["truncated"]
    assert event[S.EVENT_ORIGINAL].count("\n") == 49
    assert stats.continuation_lines == 500  # still counted, once each
