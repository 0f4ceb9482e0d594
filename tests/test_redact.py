"""Secrets out of what osla shows. The redactor skips a pattern when the text lacks its trigger
words (for speed); these tests check each secret shape, and that skipping never changes a result."""
from hypothesis import given, settings
from hypothesis import strategies as st

from osloganalyze.redact import redact, rules

# real shapes from the corpus and the reference notes (values made up)
CASES = [
    ("REQ: curl -i -X GET http://ctl:9696/v2.0/ports.json -H \"X-Auth-Token: 5c1e0a9b7f2d4e1aa0b1\"",
     "5c1e0a9b7f2d4e1aa0b1"),
    ("{'X-Subject-Token': 'gAAAAABmOo1xexamplefernettokenvalue0123456789'}", "examplefernettoken"),
    ("transport_url = rabbit://openstack:S3cr3tRabbit@ctl-1:5672/", "S3cr3tRabbit"),
    ("connection = mysql+pymysql://nova:dbPa55@ctl-1/nova", "dbPa55"),
    ("admin_password = hunter2hunter2", "hunter2hunter2"),
    ('{"auth": {"password": "Sup3rS3cret", "user": "admin"}}', "Sup3rS3cret"),
    ("metadata_proxy_shared_secret=abcdef012345", "abcdef012345"),
    ("Token validated: gAAAAABmOo1x4PL8-yX7Q3ZK9V0sLr2r0wJ5Xn1 for user", "gAAAAABmOo1x4PL8"),
    ("Storing token {SHA256}0123456789abcdef0123456789abcdef in cache", "0123456789abcdef0123"),
    ("API_KEY=plainkey42", "plainkey42"),
    ("ap\u0131_key=dotlessikey", "dotlessikey"),  # re.I matches 'ı' for 'i': the trigger must not need it
    ("pa\u017f\u017fword=longskey", "longskey"),  # and 'ſ' for 's'
]


def test_each_secret_shape_is_masked():
    for text, secret in CASES:
        out = redact(text)
        assert secret not in out, (text, out)
        assert "***" in out


def test_ordinary_lines_are_left_alone():
    line = "Instance 3f1e0a9b-7f2d-4e1a-a0b1-222222222222 spawned successfully on host cmp-1 in 12.3 s"
    assert redact(line) is line or redact(line) == line
    assert redact("") == "" and redact(None) is None


def _every_pattern(text: str) -> str:
    from osloganalyze.redact import _masked

    for pattern, _triggers in rules():
        text = pattern.sub(_masked, text)
    return text


_PIECES = st.sampled_from(["password", "PASSWD", "Secret", "auth_token", "api_key", "TOKEN_KEY", "x-auth-token",
                           "X-Subject-Token", "x-service-token", "://", "rabbit://u:p@h", "gAAAAA", "{SHA1}",
                           "0123456789abcdef", "=", ": ", "'", '"', " ", "@", "/", "\u0131", "\u0130", "\u017f",
                           "\u212a", "ß", "*", "}", "&", "abc", "-", "_"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
def test_skipping_patterns_never_changes_the_result(text):
    assert redact(text) == _every_pattern(text)


def _every_field(event: dict) -> dict:
    """The reference scrub: every pattern on every text field, nothing skipped."""
    from osloganalyze import schema

    return {name: _every_pattern(value) if name in schema.TEXT_FIELDS and isinstance(value, str) else value
            for name, value in event.items()}


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=10).map("".join), st.lists(_PIECES, max_size=10).map("".join),
       st.booleans())
def test_scrub_skips_nothing_it_should_mask(header, message, one_line):
    """scrub looks for trigger words once per event, in the whole record (which holds every other
    text field, as the parser makes it) or at a one-line record's message only."""
    from osloganalyze import schema
    from osloganalyze.redact import scrub

    if one_line:
        event = {schema.MESSAGE: message, schema.EVENT_ORIGINAL: f"2024-05-01 12:00:00.000 7 INFO x [-] {message}"}
    else:
        event = {schema.MESSAGE: message, schema.EVENT_ORIGINAL: f"{header}\n{message}",
                 schema.ERROR_STACK_TRACE: header}
    event[schema.SERVICE_NAME] = "nova"
    assert scrub(event) == _every_field(event)


def test_every_trigger_holds_a_quick_look_part_and_no_i():
    """The quick look finds every text that holds a trigger word; an 'i' in a trigger would miss
    the dotless 'ı' that re.I matches for it."""
    import yaml

    from osloganalyze.resources import data_dir

    data = yaml.safe_load((data_dir("parsers") / "secrets.yaml").read_text())
    triggers = [t for entry in data["secrets"] for t in entry["triggers"]]
    assert [t for t in triggers if not any(part in t for part in data["quick_look"])] == []
    assert [t for t in triggers if "i" in t and not t.startswith("private")] == []


def test_scrub_equals_every_pattern_on_real_records():
    """Real records of the corpus (keystone and nova with tokens in bodies and headers, access
    logs, tracebacks): the quick look never skips a form that would mask something."""
    from corpus import CORPUS

    from osloganalyze.parse import parse_paths
    from osloganalyze.redact import scrub

    events = list(parse_paths([str(CORPUS / "os-log-merger-live-migration"), str(CORPUS / "uforia-OpenStackForensics")]))
    assert len(events) > 40_000
    changed = [e for e in events if _every_field(e) != e]
    assert len(changed) > 100  # the logs hold secrets to mask
    assert [e for e in events if scrub(e) != _every_field(e)] == []
