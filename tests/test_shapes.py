"""One test per line shape. Lines are the verified oslo.log 8.3.2 output and the real lines
quoted in ../shared/reference/oslo-log-formats.md (sections 1.4, 1.5, 1.6, 3, 4, 6)."""
from pathlib import Path

import pytest

from osloganalyze import schema as S
from osloganalyze.parse import parse_text


def one(text, **kw):
    events = parse_text(text, **kw)
    assert len(events) == 1, [e.get("message") for e in events]
    return events[0]


CASES = {
    "no context [-]": (
        "2026-11-22 02:38:31.120 29166 INFO nova.compute.manager [-] No context here",
        {S.TIMESTAMP: "2026-11-22T02:38:31.120Z", S.PROCESS_PID: 29166, S.LOG_LEVEL: "INFO",
         S.LOG_LOGGER: "nova.compute.manager", S.MESSAGE: "No context here"},
        [S.REQUEST_ID]),
    "zed+ global and local id, 6-field identity": (
        "2026-11-22 02:38:31.121 29166 INFO nova.compute.manager [req-11111111-2222-4333-8444-555555555555 "
        "req-00c16c1e-2cd2-4660-8a1f-9717c78adaa4 8d3c1e0f5b6a4c7d9e0f1a2b3c4d5e6f 5f2a0b1c2d3e4f5a6b7c8d9e0f1a2b3c "
        "- - default default] With context and global id",
        {S.GLOBAL_REQUEST_ID: "req-11111111-2222-4333-8444-555555555555",
         S.REQUEST_ID: "req-00c16c1e-2cd2-4660-8a1f-9717c78adaa4",
         S.USER_ID: "8d3c1e0f5b6a4c7d9e0f1a2b3c4d5e6f", S.PROJECT_ID: "5f2a0b1c2d3e4f5a6b7c8d9e0f1a2b3c",
         "openstack.user_domain": "default", "openstack.project_domain": "default",
         S.MESSAGE: "With context and global id"},
        ["openstack.domain_id", "openstack.system_scope"]),
    "zed+ None global id, all dashes": (
        "2026-11-22 02:38:31.121 29166 WARNING nova.compute.manager [None req-ff89b8c5-b80a-4ac6-b48f-b71db22cbd40 "
        "- - - - - -] Context without user",
        {S.REQUEST_ID: "req-ff89b8c5-b80a-4ac6-b48f-b71db22cbd40", S.LOG_LEVEL: "WARNING"},
        [S.GLOBAL_REQUEST_ID, S.USER_ID, S.PROJECT_ID]),
    "debug suffix": (
        "2026-11-22 02:39:59.428 29610 DEBUG nova.compute.manager [None req-a4107d2d-a445-48e6-a811-ec6355c1cac6 "
        "- - - - - -] debug line <module> /opt/demo/demo.py:21",
        {S.MESSAGE: "debug line", "log.origin.function": "<module>",
         "log.origin.file.name": "/opt/demo/demo.py", "log.origin.file.line": 21},
        []),
    "kilo-yoga 5-field identity": (
        "2021-09-25 14:19:47.564 2249 ERROR nova.api.openstack.wsgi [req-adb018d8-afb7-4668-869c-179b90ea5dbf "
        "9942eb4321644336a0c7383d9f1c2bed a7d812868cb74f1a978035530f55f1d0 - default default] Unexpected exception in "
        "API method: MessagingTimeout: Timed out waiting for a reply to message ID ddf0ff7c5a874baa963a728feaaf4c2a",
        {S.REQUEST_ID: "req-adb018d8-afb7-4668-869c-179b90ea5dbf", S.USER_ID: "9942eb4321644336a0c7383d9f1c2bed",
         S.PROJECT_ID: "a7d812868cb74f1a978035530f55f1d0", "openstack.user_domain": "default",
         S.ERROR_TYPE: "MessagingTimeout",
         S.ERROR_MESSAGE: "Timed out waiting for a reply to message ID ddf0ff7c5a874baa963a728feaaf4c2a"},
        ["openstack.domain_id", "openstack.system_scope"]),
    "havana 3-field context, AUDIT, instance": (
        "2014-04-17 14:50:11.173 1455 AUDIT nova.compute.manager [req-8ab6878b-e9a4-4ff9-b7b1-1b113d3139dd "
        "e75374ede9834b41919d07e6a311401c e7dcfe9fe2f143d29e518e41a20553cf] [instance: "
        "89990e3a-11fa-4c73-bb35-ce9345fbcbf2] Starting instance...",
        {S.LOG_LEVEL: "AUDIT", S.USER_ID: "e75374ede9834b41919d07e6a311401c",
         S.PROJECT_ID: "e7dcfe9fe2f143d29e518e41a20553cf",
         S.INSTANCE_UUID: "89990e3a-11fa-4c73-bb35-ce9345fbcbf2", S.MESSAGE: "Starting instance..."},
        []),
    "juno 2-field context [req-X None]": (
        "2015-10-20 13:02:07.840 2326 WARNING nova.scheduler.utils [req-3d2e34e0-ff36-45c4-94c9-218f9c5e5bf6 None] "
        "Failed to compute_task_migrate_server",
        {S.REQUEST_ID: "req-3d2e34e0-ff36-45c4-94c9-218f9c5e5bf6"},
        [S.USER_ID]),
    "neutron [req-X ] trailing space": (
        "2015-10-20 13:02:07.023 2315 INFO oslo.messaging._drivers.impl_rabbit [req-3d2e34e0-ff36-45c4-94c9-218f9c5e5bf6 ] "
        "Connected to AMQP server on 10.12.27.29:5672",
        {S.REQUEST_ID: "req-3d2e34e0-ff36-45c4-94c9-218f9c5e5bf6", S.LOG_LOGGER: "oslo.messaging._drivers.impl_rabbit"},
        []),
    "glance context without req- prefix": (
        "2014-04-17 12:00:00.000 1234 INFO glance.registry.api.v1.images [4bc39d89-5e1c-4d0b-9f51-70d1b1f6c9a2 "
        "e75374ede9834b41919d07e6a311401c e7dcfe9fe2f143d29e518e41a20553cf] Image 1 not found",
        {S.REQUEST_ID: "4bc39d89-5e1c-4d0b-9f51-70d1b1f6c9a2", S.USER_ID: "e75374ede9834b41919d07e6a311401c"},
        []),
    "no pid": (
        "2013-09-27 18:24:37.719 ERROR nova.compute.api [req-8b5a4d30-4c8e-4bd2-9ae5-6b3e0a1d2c3f demo demo] boom",
        {S.LOG_LEVEL: "ERROR", S.LOG_LOGGER: "nova.compute.api", S.MESSAGE: "boom"},
        [S.PROCESS_PID]),
    "CRITICAL keystonemiddleware": (
        "2017-11-16 11:54:46.260 16440 CRITICAL keystonemiddleware.auth_token [-] Unable to validate token: "
        "Failed to fetch token data from identity server",
        {S.LOG_LEVEL: "CRITICAL", S.LOG_LOGGER: "keystonemiddleware.auth_token"},
        []),
    "devstack [None req-X admin admin] + journald": (
        "Jul 02 21:41:47 central neutron-server[92593]: DEBUG neutron.api.v2.base [None "
        "req-f7c03e90-4a7c-4b9a-8a3b-1f2e3d4c5b6a admin admin] Request body: {} "
        "{{(pid=92593) prepare_request_body /opt/stack/neutron/neutron/api/v2/base.py:731}}",
        {S.HOST_NAME: "central", S.SERVICE_NAME: "neutron-server", S.PROCESS_PID: 92593,
         S.REQUEST_ID: "req-f7c03e90-4a7c-4b9a-8a3b-1f2e3d4c5b6a", "openstack.project_name": "admin",
         "openstack.user_name": "admin", S.MESSAGE: "Request body: {}",
         "log.origin.function": "prepare_request_body", S.TIMESTAMP: "2024-07-02T21:41:47.000Z"},
        [S.USER_ID, S.GLOBAL_REQUEST_ID]),
    "nova eventlet access line (one space)": (
        "2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae "
        "113d3a99c3da401fbd62cc2caa5b96d2 54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 \"GET "
        "/v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1\" status: 200 len: 1893 time: 0.2477829",
        {S.HTTP_METHOD: "GET", S.URL_ORIGINAL: "/v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail",
         S.HTTP_STATUS: 200, S.HTTP_BYTES: 1893, S.EVENT_DURATION: 247782900, S.SOURCE_IP: "10.11.10.1",
         S.HTTP_VERSION: "1.1"},
        []),
    "neutron access line (two spaces, XFF chain)": (
        "2019-01-01 00:00:00.000 1 INFO neutron.wsgi [req-0b3c7c1e-1111-4222-8333-944455556666 "
        "0122aaaabbbbccccddddeeeeffff0000 4277aaaabbbbccccddddeeeeffff0000 - c13faaaabbbbccccddddeeeeffff0000 "
        "c13faaaabbbbccccddddeeeeffff0000] 10.55.12.152,127.0.0.1 \"DELETE /v2.0/networks/595f HTTP/1.1\" "
        "status: 204  len: 173 time: 1.9860468",
        {S.HTTP_METHOD: "DELETE", S.HTTP_STATUS: 204, S.HTTP_BYTES: 173, S.SOURCE_IP: "10.55.12.152",
         S.SOURCE_ADDRESS: "10.55.12.152,127.0.0.1", S.EVENT_DURATION: 1986046800},
        []),
    "nova requestlog with microversion": (
        "2019-01-01 00:00:00.000 7 INFO nova.api.openstack.requestlog [req-9d369ea4-1111-4222-8333-944455556666 "
        "7a59aaaabbbbccccddddeeeeffff0000 902eaaaabbbbccccddddeeeeffff0000 - default default] 192.168.24.1 "
        "\"OPTIONS /\" status: 200 len: 405 microversion: - time: 0.001091",
        {S.HTTP_METHOD: "OPTIONS", S.URL_ORIGINAL: "/", S.HTTP_STATUS: 200, S.EVENT_DURATION: 1091000,
         S.MICROVERSION: "-"},
        [S.HTTP_VERSION]),
    "placement requestlog (no time)": (
        "2019-01-01 00:00:00.000 7 INFO placement.requestlog [req-5081ba30-1111-4222-8333-944455556666 "
        "563eaaaabbbbccccddddeeeeffff0000 b3d6aaaabbbbccccddddeeeeffff0000 - default default] 172.16.88.187 "
        "\"GET /resource_providers/4990/allocations\" status: 200 len: 259 microversion: 1.0",
        {S.HTTP_STATUS: 200, S.MICROVERSION: "1.0", S.URL_ORIGINAL: "/resource_providers/4990/allocations"},
        [S.EVENT_DURATION]),
    "glance eventlet default access line": (
        "2021-09-19 11:50:55.900 1 INFO eventlet.wsgi.server [req-105a4600-1111-4222-8333-944455556666 "
        "9942aaaabbbbccccddddeeeeffff0000 a7d8aaaabbbbccccddddeeeeffff0000 - default default] 192.168.112.146 - - "
        "[19/Sep/2021 11:50:55] \"GET /v2/images/secondVM HTTP/1.1\" 404 442 0.909730",
        {S.HTTP_STATUS: 404, S.HTTP_BYTES: 442, S.EVENT_DURATION: 909730000, S.TIMESTAMP: "2021-09-19T11:50:55.900Z"},
        []),
    "uwsgi request line": (
        "[pid: 380278|app: 0|req: 26/51] 192.168.122.38 () {62 vars in 1234 bytes} [Mon Mar 25 15:07:52 2019] "
        "GET /networking/v2.0/ports?device_id=1 => generated 12 bytes in 57 msecs (HTTP/1.1 200) 7 headers in 250 "
        "bytes (1 switches on core 0)",
        {S.PROCESS_PID: 380278, S.HTTP_METHOD: "GET", S.HTTP_STATUS: 200, S.HTTP_BYTES: 12,
         S.EVENT_DURATION: 57_000_000, S.TIMESTAMP: "2019-03-25T15:07:52.000Z"},
        []),
    "kolla apache access line": (
        "10.0.0.5 - - [10/Jul/2024:12:00:00 +0200] \"POST /v3/auth/tokens HTTP/1.1\" 201 6512 245013 \"-\" "
        "\"openstacksdk/3.0.0 keystoneauth1/5.6.0 python-requests/2.31.0 CPython/3.10.12\"",
        {S.HTTP_METHOD: "POST", S.HTTP_STATUS: 201, S.HTTP_BYTES: 6512, S.EVENT_DURATION: 245_013_000,
         S.TIMESTAMP: "2024-07-10T10:00:00.000Z", "user_agent.original":
             "openstacksdk/3.0.0 keystoneauth1/5.6.0 python-requests/2.31.0 CPython/3.10.12"},
        []),
    "apache common (no duration)": (
        "- - - [10/Jul/2024:12:00:00 +0000] \"GET /v3 HTTP/1.1\" 500 -",
        {S.HTTP_STATUS: 500, S.URL_ORIGINAL: "/v3"},
        [S.HTTP_BYTES, S.SOURCE_IP]),
    "apache error log (mod_wsgi)": (
        "[Mon Mar 25 15:07:52.252705 2019] [wsgi:error] [pid 31897:tid 140635] [remote 176.144.220.100:57360] "
        "mod_wsgi (pid=14961): Target WSGI script '/var/www/cgi-bin/nova/nova-placement-api' cannot be loaded as "
        "Python module.",
        {S.LOG_LEVEL: "ERROR", S.PROCESS_PID: 31897, S.SOURCE_IP: "176.144.220.100",
         S.TIMESTAMP: "2019-03-25T15:07:52.252Z"},
        []),
    "pebble + mod_wsgi stamps before oslo line": (
        "2025-06-06T09:17:12.817Z [wsgi-nova-api] 2025-06-06 09:17:12.817458 2025-06-06 09:17:12.816 52 INFO "
        "oslo.messaging.notification.audit.http.request [None req-aa97f465-2ff8-4cbd-b514-dd754ac57d49 "
        "eb92e7ec3ae6444091b36747d772c121 48bf6ac494944933932ecbd0719b4a57 - - 447a34e794e44eeb9dd4a0087e21f016 "
        "447a34e794e44eeb9dd4a0087e21f016] {}",
        {S.SERVICE_NAME: "nova-api", S.TIMESTAMP: "2025-06-06T09:17:12.816Z",
         S.REQUEST_ID: "req-aa97f465-2ff8-4cbd-b514-dd754ac57d49"},
        []),
    "kubernetes CRI prefix": (
        "2024-01-01T10:00:00.123456789Z stdout F 2024-01-01 10:00:00.120 7 INFO nova.compute.manager [-] hello",
        {S.MESSAGE: "hello", S.TIMESTAMP: "2024-01-01T10:00:00.120Z", S.PROCESS_PID: 7},
        []),
    "docker json-file line": (
        '{"log":"2024-01-01 10:00:00.120 7 INFO nova.compute.manager [-] hello\\n","stream":"stderr",'
        '"time":"2024-01-01T10:00:00.1234Z"}',
        {S.MESSAGE: "hello", S.LOG_LOGGER: "nova.compute.manager"},
        []),
    "oslo.log JSONFormatter": (
        '{"message": "Instance spawned", "asctime": "2024-05-01 12:34:56", "name": "nova.compute.manager", '
        '"levelname": "INFO", "created": 1714566896.789, "process": 4242, "hostname": "cmp-3", "traceback": null, '
        '"context": {"request_id": "req-0b3c7c1e-1111-4222-8333-944455556666", "global_request_id": null, '
        '"user": "u1", "project_id": "p1"}, "extra": {"instance_uuid": "89990e3a-11fa-4c73-bb35-ce9345fbcbf2"}}',
        {S.TIMESTAMP: "2024-05-01T12:34:56.789Z", S.LOG_LEVEL: "INFO", S.PROCESS_PID: 4242, S.HOST_NAME: "cmp-3",
         S.REQUEST_ID: "req-0b3c7c1e-1111-4222-8333-944455556666", S.USER_ID: "u1", S.PROJECT_ID: "p1",
         S.INSTANCE_UUID: "89990e3a-11fa-4c73-bb35-ce9345fbcbf2", S.MESSAGE: "Instance spawned"},
        [S.GLOBAL_REQUEST_ID]),
    "openstack-helm script format": (
        "2019-01-31 20:08:16.192 - INFO - Executing 'keystone-manage fernet_setup' command.",
        {S.LOG_LEVEL: "INFO", S.MESSAGE: "Executing 'keystone-manage fernet_setup' command."},
        [S.LOG_LOGGER]),
    "collector's ',mmm.mmm' timestamp": (
        "2019-01-31 20:08:20,315.315 9 WARNING keystone.common.fernet_utils [-] key_repository is world readable: "
        "/etc/keystone/fernet-keys/",
        {S.TIMESTAMP: "2019-01-31T20:08:20.315Z", S.PROCESS_PID: 9, S.LOG_LEVEL: "WARNING"},
        []),
    "WARN and FATAL are normalized": (
        "2019-01-01 00:00:00.000 1 WARN nova.x [-] a",
        {S.LOG_LEVEL: "WARNING"}, []),
    "ANSI colour codes (journalctl -a) are stripped": (
        "\x1b[01;31mERROR nova.compute.manager [\x1b[01;36mNone req-0b3c7c1e-1111-4222-8333-944455556666 "
        "\x1b[00;36madmin admin\x1b[01;31m] \x1b[01;35m\x1b[01;31mboom\x1b[00m",
        {S.LOG_LEVEL: "ERROR", S.REQUEST_ID: "req-0b3c7c1e-1111-4222-8333-944455556666", S.MESSAGE: "boom"},
        []),
    "ISO 8601 stamp with an offset (log_date_format with %z)": (
        "2024-05-02T10:01:10.114+0200 21 INFO nova.api.openstack.wsgi [req-0b6e4c6e-64c1-47cf-9a41-9ae4ad0a0a7b "
        "- - - - -] GET /v2.1/servers",
        {S.TIMESTAMP: "2024-05-02T08:01:10.114Z", S.PROCESS_PID: 21, S.LOG_LEVEL: "INFO",
         S.LOG_LOGGER: "nova.api.openstack.wsgi", S.REQUEST_ID: "req-0b6e4c6e-64c1-47cf-9a41-9ae4ad0a0a7b",
         S.MESSAGE: "GET /v2.1/servers"},
        []),
    "ISO 8601 stamp in UTC ('Z'), no pid": (
        "2024-05-02T08:01:10.114Z WARNING nova.compute.manager [-] disk almost full",
        {S.TIMESTAMP: "2024-05-02T08:01:10.114Z", S.LOG_LEVEL: "WARNING", S.MESSAGE: "disk almost full"},
        [S.PROCESS_PID]),
    "RFC 5424 syslog around an oslo.log record (rsyslog forwarding)": (
        '<11>1 2024-05-02T10:01:10.114+02:00 ctl-1 nova-api 4470 - [origin software="rsyslogd" x="a\\"]"] '
        "\ufeff2024-05-02 08:01:10.114 4470 ERROR nova.api.openstack [req-11111111-2222-3333-4444-555555555555 "
        "- - - - -] boom",
        {S.TIMESTAMP: "2024-05-02T08:01:10.114Z", S.HOST_NAME: "ctl-1", S.SERVICE_NAME: "nova-api",
         S.PROCESS_PID: 4470, S.LOG_LEVEL: "ERROR", S.LOG_LOGGER: "nova.api.openstack", S.MESSAGE: "boom",
         S.REQUEST_ID: "req-11111111-2222-3333-4444-555555555555"},
        []),
    "RFC 5424 syslog, plain text: the level from PRI": (
        "<12>1 2024-05-02T08:01:10Z cmp-3 haproxy 99 - - Server nova_api/ctl-2 is DOWN",
        {S.TIMESTAMP: "2024-05-02T08:01:10.000Z", S.HOST_NAME: "cmp-3", S.SERVICE_NAME: "haproxy",
         S.PROCESS_PID: 99, S.LOG_LEVEL: "WARNING", S.MESSAGE: "Server nova_api/ctl-2 is DOWN"},
        [S.LOG_LOGGER]),
    "RFC 5424 syslog with every header field left out": (
        "<15>1 - - - - - - started",
        {S.LOG_LEVEL: "DEBUG", S.MESSAGE: "started"},
        [S.TIMESTAMP, S.HOST_NAME, S.PROCESS_PID]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_shape(name):
    line, expected, absent = CASES[name]
    event = one(line, year=2024)
    for field, value in expected.items():
        assert event.get(field) == value, (field, event)
    for field in absent:
        assert field not in event, (field, event)
    assert event[S.EVENT_ORIGINAL] == line
    assert all(key in S.FIELDS for key in event), set(event) - set(S.FIELDS)


def test_time_zone_is_applied_to_naive_timestamps():
    line = "2024-07-01 12:00:00.250 1 INFO nova.x [-] summer"
    assert one(line, tz="Europe/Paris")[S.TIMESTAMP] == "2024-07-01T10:00:00.250Z"
    assert one(line.replace("07-01", "01-15"), tz="Europe/Paris")[S.TIMESTAMP] == "2024-01-15T11:00:00.250Z"
    assert one(line, tz="UTC")[S.TIMESTAMP] == "2024-07-01T12:00:00.250Z"


def test_impossible_date_leaves_no_timestamp():
    event = one("2013-02-30 10:00:00.000 1 INFO nova.x [-] no such day")
    assert S.TIMESTAMP not in event
    assert event[S.MESSAGE] == "no such day"


def test_rfc5424_lines_are_records_of_their_own_not_glued_into_the_one_before():
    text = ("2024-05-02 08:01:09.000 21 INFO nova.api [-] before\n"
            "<14>1 2024-05-02T08:01:10.114Z ctl-1 keepalived 7 - - VRRP_Instance(VI_1) Entering MASTER STATE\n"
            "<14>1 2024-05-02T08:01:10.200Z ctl-1 keepalived 7 - - VRRP_Instance(VI_1) setting VIPs\n"
            "2024-05-02 08:01:11.000 21 ERROR nova.api [-] after\n")
    events = parse_text(text)
    assert [e[S.MESSAGE] for e in events] == ["before", "VRRP_Instance(VI_1) Entering MASTER STATE",
                                             "VRRP_Instance(VI_1) setting VIPs", "after"]
    assert [e.get(S.SERVICE_NAME) for e in events][1:3] == ["keepalived", "keepalived"]


LAB_SHAPES = Path(__file__).resolve().parents[1] / "samples" / "lab" / "oslo-log-shapes.log"


def test_a_json_body_after_a_blank_line_stays_in_its_debug_record():
    """glanceclient's log_http_response (real, samples/lab): headers, a blank line, the image's JSON
    (with a "name" key); only objects with oslo.log's own keys are JSON-formatter records."""
    events = parse_text(LAB_SHAPES.read_text(), service="nova-compute")
    response = next(e for e in events if e[S.MESSAGE].lstrip().startswith("HTTP/1.0 200 OK"))
    assert response[S.LOG_LEVEL] == "DEBUG" and response[S.LOG_LOGGER] == "glanceclient.common.http"
    assert '"name": "cirros-0.6.2-x86_64-disk"' in response[S.MESSAGE]
    assert response[S.MESSAGE].rstrip().endswith("glanceclient/common/http.py:228")
    assert all(e.get(S.LOG_LOGGER) != "cirros-0.6.2-x86_64-disk" and e.get(S.LOG_LEVEL) for e in events)


def test_a_logger_named_with_a_leading_digit_keeps_its_level_and_pid():
    # sqlalchemy-migrate loads each script as a module named after its file: '100_add_foreign_key_indexes'
    (event,) = [e for e in parse_text(LAB_SHAPES.read_text()) if e.get(S.LOG_LOGGER, "").startswith("100_")]
    assert event[S.LOG_LEVEL] == "INFO" and event[S.LOG_LOGGER] == "100_add_foreign_key_indexes"
    assert event[S.PROCESS_PID] == 31715 and event[S.MESSAGE] == "Adding foreign key indexes to the instances table"
