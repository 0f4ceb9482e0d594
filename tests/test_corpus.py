"""osla on the real corpus in ../shared/corpus (see its SOURCES.md)."""
import csv
import re

import pytest
from corpus import CORPUS, log_files, read_text

from osloganalyze import schema as S
from osloganalyze.parse import Stats, parse_paths, parse_text


def corpus_text(path):
    """A corpus log file's text; in snippets/, '#' lines are annotations, not log lines."""
    text = read_text(path)
    if path.parent.name == "snippets":
        text = "\n".join(line for line in text.split("\n") if not line.startswith("#"))
    return text


@pytest.fixture(scope="module")
def coverage():
    figures = {}
    for path in log_files():
        stats = Stats()
        events = parse_text(corpus_text(path), path=str(path), stats=stats)
        figures[path.relative_to(CORPUS).as_posix()] = (stats, events)
    return figures


def test_every_line_is_accounted_for(coverage):
    for name, (stats, _) in coverage.items():
        assert stats.lines == stats.blank + stats.record_lines + stats.continuation_lines + stats.unparsed, name
        assert stats.events == stats.record_lines, name


def test_coverage_per_file_and_total(coverage, capsys):
    total = unparsed = 0
    rows = []
    for name, (stats, _) in sorted(coverage.items()):
        nonblank = stats.lines - stats.blank
        total += nonblank
        unparsed += stats.unparsed
        rows.append((100.0 * (nonblank - stats.unparsed) / nonblank, nonblank, stats.events, name))
    with capsys.disabled():
        print("\ncorpus coverage (non-blank lines in a parsed event):")
        for pct, nonblank, events, name in rows:
            print(f"  {pct:8.3f}%  {nonblank:7,} lines  {events:7,} events  {name}")
        print(f"  {100.0 * (total - unparsed) / total:8.3f}%  {total:7,} lines in all")
    assert 100.0 * (total - unparsed) / total >= 99.9
    for pct, _, _, name in rows:
        assert pct >= 99.5, name


def test_loghub_ground_truth():
    """Every event equals the manually corrected loghub-2.0 parse, field by field."""
    with open(CORPUS / "loghub2" / "OpenStack_2k.log_structured_corrected.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    events = parse_text(read_text(CORPUS / "loghub" / "OpenStack_2k.log"))
    assert len(events) == len(rows) == 2000
    for row, event in zip(rows, events):
        ctx = row["ADDR"].split()
        instance = event.get(S.INSTANCE_UUID)
        content = (f"[instance: {instance}] " if instance else "") + event[S.MESSAGE]
        assert event[S.TIMESTAMP] == f"{row['Date']}T{row['Time']}Z", row["LineId"]
        assert event[S.PROCESS_PID] == int(row["Pid"]), row["LineId"]
        assert event[S.LOG_LEVEL] == row["Level"], row["LineId"]
        assert event[S.LOG_LOGGER] == row["Component"], row["LineId"]
        assert event.get(S.REQUEST_ID) == (ctx[0] if ctx[0] != "-" else None), row["LineId"]
        assert event.get(S.USER_ID) == (ctx[1] if len(ctx) > 1 and ctx[1] != "-" else None), row["LineId"]
        assert event.get(S.PROJECT_ID) == (ctx[2] if len(ctx) > 2 and ctx[2] != "-" else None), row["LineId"]
        assert content == row["Content"], row["LineId"]
        assert event[S.SERVICE_NAME] == row["Logrecord"].split(".log")[0], row["LineId"]
    assert sum(1 for e in events if e.get(S.HTTP_STATUS) == 200) > 900


def test_tracebacks_go_to_stack_trace(coverage):
    """Every line that starts a traceback ends up in some event's error.stack_trace."""
    for name, (_, events) in coverage.items():
        text = corpus_text(CORPUS / name)
        starting = sum(1 for line in text.split("\n") if _starts_traceback(line))
        in_stacks = sum(sum(1 for line in e.get(S.ERROR_STACK_TRACE, "").split("\n")
                            if line.lstrip().startswith("Traceback (most recent call last)")) for e in events)
        assert in_stacks == starting, name


# Tracebacks the sources themselves cut off before the exception line.
def _starts_traceback(line):
    body = re.sub(r"^.*?(?=Traceback \(most recent call last\):$)", "", line.rstrip())
    return body == "Traceback (most recent call last):"


CUT_OFF = {
    "ParisaKalaki-openstack-logs/openstack-nova-sample.log.gz": 1,  # header line only, dataset dropped the rest
    "snippets/fernet_snippets.txt": 1,  # block F1: the stored page stops mid-traceback
}


def test_tracebacks_name_their_exception(coverage):
    for name, (_, events) in coverage.items():
        untyped = [e for e in events if S.ERROR_STACK_TRACE in e and S.ERROR_TYPE not in e]
        assert len(untyped) == CUT_OFF.get(name, 0), (name, [e[S.ERROR_STACK_TRACE][-200:] for e in untyped])


def test_torn_concurrent_writes_keep_tracebacks_per_process():
    """neutron-server workers 3404 and 3405 wrote their tracebacks into each other (mid-line):
    each process's traceback stays with its pid and still names its exception."""
    events = parse_text(read_text(CORPUS / "os-log-merger-live-migration/hp-ms-01-c29/var/log/neutron/server.log"))
    torn = [e for e in events if e.get(S.PROCESS_PID) in (3404, 3405) and e.get(S.LOG_LOGGER) == "neutron"
            and S.ERROR_STACK_TRACE in e]
    assert {e[S.PROCESS_PID] for e in torn} == {3404, 3405}
    for event in torn:
        assert event[S.ERROR_TYPE] == "AssertionError"
        assert event[S.LOG_LEVEL] in ("ERROR", "CRITICAL")
        pids = {line.split()[2] for line in event[S.EVENT_ORIGINAL].split("\n") if line[:4].isdigit()}
        assert pids == {str(event[S.PROCESS_PID])}


def test_uforia_remote_and_local_traceback_in_one_event():
    """An ERROR record carrying a remote (unprefixed) traceback and then its TRACE lines is one event."""
    events = parse_text(read_text(CORPUS / "uforia-OpenStackForensics/var/log/nova/nova-compute.log"))
    event = next(e for e in events if e.get(S.REQUEST_ID) == "req-8ab6878b-e9a4-4ff9-b7b1-1b113d3139dd"
                 and S.ERROR_STACK_TRACE in e)
    trace = event[S.ERROR_STACK_TRACE]
    assert "NoMoreFloatingIps: Zero floating ips available." in trace  # the remote one
    assert trace.count("Traceback (most recent call last):") == 2
    assert event[S.INSTANCE_UUID] == "89990e3a-11fa-4c73-bb35-ce9345fbcbf2"
    # the local exception (py2 RPC: '<Name>_Remote', its text carrying the remote traceback) ends the record
    assert event[S.ERROR_TYPE] == "NoMoreFloatingIps_Remote"
    assert event[S.ERROR_MESSAGE].startswith("Zero floating ips available.")


def test_bundle_layout_names_hosts_and_services():
    events = list(parse_paths([str(CORPUS / "os-log-merger-live-migration")]))
    pairs = {(e[S.HOST_NAME], e[S.SERVICE_NAME]) for e in events}
    assert pairs == {
        ("hp-ms-01-c29", "neutron-dhcp-agent"), ("hp-ms-01-c29", "neutron-openvswitch-agent"),
        ("hp-ms-01-c29", "neutron-server"), ("hp-ms-01-c29", "nova-api"), ("hp-ms-01-c29", "nova-compute"),
        ("hp-ms-01-c29", "nova-conductor"), ("hp-ms-01-c29", "nova-scheduler"),
        ("hp-ms-01-c30", "neutron-l3-agent"), ("hp-ms-01-c30", "neutron-openvswitch-agent"),
        ("hp-ms-01-c30", "nova-compute"),
    }
    api_500 = [e for e in events if e.get(S.HTTP_STATUS) == 500]
    assert len(api_500) == 1 and api_500[0][S.SERVICE_NAME] == "nova-api"
    assert api_500[0][S.HTTP_METHOD] == "GET" and "os-floating-ips" in api_500[0][S.URL_ORIGINAL]


def test_devstack_screen_and_journald_names():
    names = {e[S.SERVICE_NAME] for e in parse_paths([str(CORPUS / "os-loganalyze")])}
    assert {"nova-api", "neutron-server", "cinder-api", "neutron-l3-agent", "cinder-volume"} <= names
