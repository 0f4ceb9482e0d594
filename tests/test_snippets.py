"""Named cases from ../shared/corpus/snippets: request ids, global ids, error types and messages."""
import pytest
from corpus import snippet_blocks

from osloganalyze import schema as S
from osloganalyze.parse import parse_text


@pytest.fixture(scope="module")
def http500():
    return snippet_blocks("http500_snippets.txt")


@pytest.fixture(scope="module")
def fernet():
    return snippet_blocks("fernet_snippets.txt")


@pytest.fixture(scope="module")
def global_ids():
    return snippet_blocks("global_request_id_snippets.txt")


def by_logger(events, logger):
    return [e for e in events if e.get(S.LOG_LOGGER) == logger]


def test_a_nova_api_and_conductor_share_the_request(http500):
    events = parse_text(http500["A"])
    rid = "req-adb018d8-afb7-4668-869c-179b90ea5dbf"
    api_error = by_logger(events, "nova.api.openstack.wsgi")[0]
    assert api_error[S.REQUEST_ID] == rid and api_error[S.LOG_LEVEL] == "ERROR"
    assert api_error[S.MESSAGE].startswith("Unexpected exception in API method")
    assert api_error[S.ERROR_TYPE] == "MessagingTimeout"
    assert api_error[S.ERROR_MESSAGE] == "Timed out waiting for a reply to message ID ddf0ff7c5a874baa963a728feaaf4c2a"
    # the 4xx translation that follows carries an unprefixed continuation line
    thrown = [e for e in events if e[S.MESSAGE].startswith("HTTP exception thrown")][0]
    assert thrown[S.MESSAGE].endswith("<class 'oslo_messaging.exceptions.MessagingTimeout'>")
    access = [e for e in events if S.HTTP_STATUS in e][0]
    assert access[S.HTTP_STATUS] == 500 and access[S.HTTP_METHOD] == "POST" and access[S.REQUEST_ID] == rid
    conductor = by_logger(events, "oslo_messaging.rpc.server")[0]
    assert conductor[S.PROCESS_PID] == 2407 and conductor[S.REQUEST_ID] == rid
    assert conductor[S.ERROR_TYPE] == "MessagingTimeout"
    assert conductor[S.ERROR_MESSAGE].endswith("187df0b0f95a4e27919321830142d187")
    assert {e[S.REQUEST_ID] for e in events if S.REQUEST_ID in e} == {rid}


def test_b_neutron_get_failed(http500):
    (event,) = parse_text(http500["B"])
    assert event[S.REQUEST_ID] == "req-104a5756-d0b3-4d08-aadf-7e82ad766531"
    assert S.GLOBAL_REQUEST_ID not in event
    assert event[S.USER_ID] == "0beb0849c44d4fd6866f2f2d546bcd33"
    assert event["openstack.user_domain"] == "default" and event["openstack.project_domain"] == "default"
    assert event[S.MESSAGE].startswith("GET failed.")
    assert event[S.ERROR_TYPE] == "AttributeError"
    assert event[S.ERROR_MESSAGE] == "type object 'Port' has no attribute 'port_forwardings'"
    assert event[S.ERROR_STACK_TRACE].count('  File "') == 19


def test_c_keystone_grep_prefixed_line(http500):
    (event,) = parse_text(http500["C"])
    assert event[S.SERVICE_NAME] == "keystone"  # from the './keystone.log:' grep prefix
    assert event[S.REQUEST_ID] == "req-19551bfb-c4d5-4582-adc0-6edcbe7585a5"
    assert event[S.LOG_LOGGER] == "keystone.common.wsgi" and event[S.LOG_LEVEL] == "ERROR"
    assert "Credential migration in progress" in event[S.MESSAGE]


def test_d_cinder_caught_error(http500):
    events = parse_text(http500["D"])
    fault = [e for e in events if e[S.MESSAGE].startswith("Caught error")][0]
    assert fault[S.ERROR_TYPE] == "ValueError"
    assert fault[S.ERROR_MESSAGE] == "need more than 1 value to unpack"
    assert [e[S.LOG_LEVEL] for e in events] == ["INFO", "ERROR", "INFO"]
    assert "returned with HTTP 500" in events[-1][S.MESSAGE]


def test_e_nova_unauthorized_and_grep_prefixed_compute(http500):
    events = parse_text(http500["E"])
    api = [e for e in events if e[S.MESSAGE].startswith("Unexpected exception in API method")][0]
    assert api[S.REQUEST_ID] == "req-d8bb1060-35f7-40fe-8946-ecd51156585e"
    assert (api[S.ERROR_TYPE], api[S.ERROR_MESSAGE]) == ("Unauthorized", "Unknown auth type: None")
    compute = [e for e in events if e.get(S.SERVICE_NAME) == "nova-compute"]
    assert len(compute) == 3 and all(e[S.REQUEST_ID] == "req-8f7d61d1-be71-418a-be39-baa5dc7dcf5f" for e in compute)
    assert compute[1][S.INSTANCE_UUID] == "77ef07bc-62e9-4d49-884e-98fbf2b5cf71"


def test_f1_malformed_fernet_key(fernet):
    events = parse_text(fernet["F1"])
    error = [e for e in events if e[S.LOG_LEVEL] == "ERROR"][0]
    assert error[S.MESSAGE] == "Fernet key must be 32 url-safe base64-encoded bytes."
    assert error[S.REQUEST_ID] == "req-036ae534-e2f6-4997-9bcc-5c441b9598e5"
    assert error[S.ERROR_STACK_TRACE].startswith("Traceback (most recent call last):")


def test_f2_missing_key_repository(fernet):
    warning, error = parse_text(fernet["F2"])
    assert warning[S.ERROR_TYPE] == "keystone.exception.Unauthorized"  # oslo's error_summary
    assert warning[S.ERROR_MESSAGE] == "The request you have made requires authentication"
    assert error[S.LOG_LOGGER] == "keystone.common.fernet_utils" and S.REQUEST_ID not in error
    assert error[S.MESSAGE].endswith("does not have sufficient permission to access it: /etc/keystone/fernet-keys/")


def test_f4_argo_prefixed_lines(fernet):
    events = parse_text(fernet["F4"])
    world = [e for e in events if "world readable" in e[S.MESSAGE]]
    assert [e[S.MESSAGE].rsplit(" ", 1)[1] for e in world] == ["/etc/keystone/fernet-keys/",
                                                               "/etc/keystone/credential-keys/"]
    assert world[0][S.TIMESTAMP] == "2019-01-31T20:08:20.315Z" and world[0][S.PROCESS_PID] == 9
    assert len(events) == 27


def test_f6_level_first_lines_keep_their_traceback(fernet):
    warning, info = parse_text(fernet["F6"])
    assert warning[S.MESSAGE] == "Invalid token contents." and warning[S.LOG_LEVEL] == "WARNING"
    assert (warning[S.ERROR_TYPE], warning[S.ERROR_MESSAGE]) == ("ValueError", "Unrecognized auth response")
    assert info[S.MESSAGE] == "Invalid user token"


def test_g1_global_id_multiline_message_and_chained_traceback(global_ids):
    info, target, rpc = parse_text(global_ids["G1"])
    for event in (info, target, rpc):
        assert event[S.GLOBAL_REQUEST_ID] == "req-96f4f9d0-f4be-463d-a845-aa0ad26f43f2"
        assert event[S.REQUEST_ID] == "req-16294fd0-fc12-4080-bd6a-a8e3b2990e54"
        assert event[S.PROJECT_ID] == "c5017cb7b19041918102de1d97d1b52d"
    # ProcessExecutionError's text continues on unprefixed lines; error_summary ends the last one
    assert target[S.MESSAGE].count("\n") == 4 and "Exit code: 22" in target[S.MESSAGE]
    assert target[S.ERROR_TYPE] == "oslo_concurrency.processutils.ProcessExecutionError"
    assert S.ERROR_STACK_TRACE not in target
    # chained: the last exception of the chain names the event
    assert rpc[S.ERROR_TYPE] == "cinder.exception.ISCSITargetRemoveFailed"
    assert rpc[S.ERROR_MESSAGE] == "Failed to remove iscsi target for volume 84ea0dba-3ecf-4611-b6dc-05b73548e94e."
    assert "During handling of the above exception, another exception occurred:" in rpc[S.ERROR_STACK_TRACE]
    assert 'File "<decorator-gen-722>", line 2, in delete_volume' in rpc[S.ERROR_STACK_TRACE]


def test_g2_one_global_id_several_local_ids(global_ids):
    events = parse_text(global_ids["G2"])
    assert {e[S.GLOBAL_REQUEST_ID] for e in events} == {"req-e4e454d2-8922-4a2a-abd9-9b67af159199"}
    assert {e[S.REQUEST_ID] for e in events} == {"req-757c8e35-c498-438f-be57-dc8a302ad923",
                                                 "req-7488b9f7-8dd4-4df5-bdbc-441ce123ef96"}
    failed = events[-1]
    assert failed[S.ERROR_TYPE] == "FileNotFoundError"
    assert failed[S.ERROR_MESSAGE] == "[Errno 2] No such file or directory"


def test_g3_pebble_prefixed_audit_line(global_ids):
    (event,) = parse_text(global_ids["G3"])
    assert event[S.SERVICE_NAME] == "nova-api"
    assert event[S.REQUEST_ID] == "req-aa97f465-2ff8-4cbd-b514-dd754ac57d49"
    assert event["openstack.user_domain"] == "447a34e794e44eeb9dd4a0087e21f016"
    assert event[S.LOG_LOGGER] == "oslo.messaging.notification.audit.http.request"
