"""Local log trees: discovery, rotation order, compression, names."""
import gzip

import pytest

from osloganalyze import schema as S
from osloganalyze.parse import Stats, parse_paths
from osloganalyze.sources.local import SourceError, discover
from osloganalyze.sources.naming import base_name, host_for_path, service_for_path


def line(second, message, pid=1):
    return f"2024-05-01 12:00:{second:02d}.000 {pid} INFO nova.compute.manager [-] {message}\n"


def test_rotated_files_are_read_oldest_first(tmp_path):
    d = tmp_path / "cmp-1" / "var" / "log" / "nova"
    d.mkdir(parents=True)
    (d / "nova-compute.log").write_text(line(4, "live"))
    (d / "nova-compute.log.1").write_text(line(3, "one"))
    with gzip.open(d / "nova-compute.log.2.gz", "wt") as fh:
        fh.write(line(2, "two"))
    with gzip.open(d / "nova-compute.log.10.gz", "wt") as fh:
        fh.write(line(1, "ten"))
    events = list(parse_paths([str(tmp_path)]))
    assert [e[S.MESSAGE] for e in events] == ["ten", "two", "one", "live"]
    assert {e[S.HOST_NAME] for e in events} == {"cmp-1"}
    assert {e[S.SERVICE_NAME] for e in events} == {"nova-compute"}


def test_dated_rotation_order(tmp_path):
    for name, msg in (("keystone.log", "live"), ("keystone.log-20240102.gz", "second"),
                      ("keystone.log-20240101.gz", "first")):
        path = tmp_path / name
        data = line(1, msg).encode()
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert [e[S.MESSAGE] for e in parse_paths([str(tmp_path)])] == ["first", "second", "live"]


def test_offsets_are_byte_offsets_of_the_first_line(tmp_path):
    path = tmp_path / "x.log"
    first = "2024-05-01 12:00:00.000 1 INFO nova.x [-] héllo\n"
    path.write_text(first + line(1, "second"), encoding="utf-8")
    events = list(parse_paths([str(path)]))
    assert [e[S.LOG_OFFSET] for e in events] == [0, len(first.encode())]
    with open(path, "rb") as fh:
        fh.seek(events[1][S.LOG_OFFSET])
        assert fh.readline().decode().startswith("2024-05-01 12:00:01")


@pytest.mark.parametrize("path, service", [
    ("/var/log/nova/nova-api.log", "nova-api"),
    ("/var/log/neutron/server.log", "neutron-server"),
    ("/var/log/neutron/openvswitch-agent.log.2.gz", "neutron-openvswitch-agent"),
    ("/var/log/kolla/neutron/neutron-server.log", "neutron-server"),
    ("/var/log/kolla/keystone/keystone-apache-public-access.log", "keystone-apache-public-access"),
    ("/var/log/glance/api.log", "glance-api"),
    ("/var/log/apache2/keystone_access.log", "keystone_access"),
    ("/var/log/keystone/keystone.log-20240101", "keystone"),
    ("logs/screen-n-cpu.txt.gz", "nova-compute"),
    ("logs/devstack@c-vol.service.log.txt", "cinder-volume"),
    ("nova-api.log.1.2017-05-16_13:53:08", "nova-api"),
])
def test_service_names(path, service):
    assert service_for_path(path) == service


def test_hosts_from_bundles_only():
    assert host_for_path("/tmp/bundle/ctl-1/var/log/nova/nova-api.log") == "ctl-1"
    assert host_for_path("/var/log/nova/nova-api.log") is None
    assert base_name("nova-api.log.3.gz") == "nova-api.log"


def test_live_var_log_gets_this_hostname(monkeypatch):
    """Naming only (this machine's /var/log need not hold nova's logs)."""
    from osloganalyze.sources.local import named

    monkeypatch.setattr("socket.gethostname", lambda: "node-x")
    (logfile,) = named(["/var/log/nova/nova-api.log"])
    assert logfile.host == "node-x" and logfile.service == "nova-api"
    (logfile,) = named(["/var/log/nova/nova-api.log"], host="given")
    assert logfile.host == "given"


def test_missing_path_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="no such file or directory"):
        discover([str(tmp_path / "nope")])


def test_corrupt_gzip_is_reported_and_other_files_still_read(tmp_path):
    (tmp_path / "a.log.1.gz").write_bytes(gzip.compress(line(1, "ok").encode())[:-12])
    (tmp_path / "b.log").write_text(line(2, "fine"))
    stats = Stats()
    events = list(parse_paths([str(tmp_path)], stats=stats))
    assert "fine" in [e[S.MESSAGE] for e in events]
    assert len(stats.errors) == 1 and "a.log.1.gz" in stats.errors[0]


def test_walk_skips_non_logs_and_hidden(tmp_path):
    (tmp_path / "notes.md").write_text("x")
    (tmp_path / ".hidden.log").write_text(line(1, "hidden"))
    (tmp_path / "data.json").write_text("{}")
    (tmp_path / "real.log").write_text(line(1, "real"))
    assert [f.path for f in discover([str(tmp_path)])] == [str(tmp_path / "real.log")]
