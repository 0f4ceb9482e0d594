"""The schema module is the one place field names are spelled; patterns and code must agree with it."""
import ast
import re
from pathlib import Path

from osloganalyze import schema
from osloganalyze.patterns import PatternLibrary, check_captures, default_library, uncapture

PACKAGE = Path(schema.__file__).parent


def test_every_pattern_capture_is_a_schema_field_or_declared_internal():
    assert check_captures(default_library()) == []


def test_check_captures_catches_a_stray_capture(tmp_path):
    (tmp_path / "bad.grok").write_text("BAD ^(?P<log_levle>\\w+) (?P<_secret>\\w+)$\n")
    problems = check_captures(PatternLibrary(tmp_path))
    assert any("log_levle" in p for p in problems) and any("_secret" in p for p in problems)


def test_capture_names_map_one_to_one():
    seen = {}
    for name in schema.FIELDS:
        capture = name.replace(".", "_").lstrip("@")
        assert capture not in seen, (name, seen.get(capture))
        seen[capture] = name
        assert schema.field_for_capture(capture) == name
    assert schema.field_for_capture("openstack_request_id__devstack") == "openstack.request_id"


def test_no_module_spells_a_dotted_field_name_itself():
    """Outside schema.py, dotted field names come from the schema constants."""
    names = {name for name in schema.FIELDS if "." in name or name.startswith("@")}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "schema.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in names, (path.name, node.value)


def test_levels_normalize():
    assert [schema.normalize_level(x) for x in ("warn", "WARNING", "Fatal", "err", "bogus")] == \
        ["WARNING", "WARNING", "CRITICAL", "ERROR", None]


def test_uncapture_keeps_matches_and_named_groups():
    regex = r"^(a|b)(?P<x>[(]c\)(d))[^)(](?:e)$"
    out = uncapture(regex)
    assert out == r"^(?:a|b)(?P<x>[(]c\)(?:d))[^)(](?:e)$"
    assert re.match(out, "a(c)dze").group("x") == re.match(regex, "a(c)dze").group("x") == "(c)d"


def test_expansions_are_cached_and_follow_the_grok_files(tmp_path, monkeypatch):
    """pygrok's expansion (~50 ms a process) is kept in the user's cache folder, named by a digest
    of the grok files: a second library reads it without pygrok, an edited file is expanded anew."""
    import pygrok

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    grok = tmp_path / "grok"
    grok.mkdir()
    (grok / "mine.grok").write_text("MY_LEVEL (?:INFO|ERROR)\nMY_LINE ^%{MY_LEVEL:log_level} %{GREEDYDATA:message}$\n")
    fresh = PatternLibrary(grok).expand("MY_LINE")
    assert "(?P<log_level>" in fresh and "INFO|ERROR" in fresh
    assert len(list((tmp_path / "cache" / "osla" / "patterns").glob("*.json"))) == 1
    with monkeypatch.context() as patched:
        patched.setattr(pygrok, "Grok", None)  # pygrok cannot expand now: the cache must answer
        assert PatternLibrary(grok).expand("MY_LINE") == fresh
    (grok / "mine.grok").write_text("MY_LEVEL (?:WARNING)\nMY_LINE ^%{MY_LEVEL:log_level} %{GREEDYDATA:message}$\n")
    edited = PatternLibrary(grok).expand("MY_LINE")
    assert "WARNING" in edited and "INFO" not in edited


def test_a_cache_folder_that_cannot_be_written_costs_only_time(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("a file where the folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert PatternLibrary().expand("OSLO_LINE") == default_library().expand("OSLO_LINE")
