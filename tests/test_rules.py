"""Rules as data: the built-in rules' examples, their provenance, and what a bad rule file is told."""
import re
from pathlib import Path

import pytest
from corpus import CORPUS, log_files, read_text
from hypothesis import given, settings
from hypothesis import strategies as st

from osloganalyze.parse import parse_text
from osloganalyze.rules.conditions import ConditionError, parse_match
from osloganalyze.rules.engine import LocalEngine, effective_condition
from osloganalyze.rules.examples import run_examples
from osloganalyze.rules.lucene import RegexNotPortable, required_literals, to_lucene
from osloganalyze.rules.model import CATEGORIES, RuleError, load_file, load_rules
from osloganalyze.rules.to_python import compile_predicate

RULES = load_rules()
OUTCOMES = {(o.rule, o.kind, o.index): o for o in run_examples(RULES)}


def test_there_are_enough_rules_of_every_category():
    assert len(RULES) >= 30
    assert {r.category for r in RULES} == set(CATEGORIES)
    required = {"python-traceback", "http-500-response", "nova-api-unexpected-exception", "keystone-unexpected-error",
                "neutron-api-failed", "api-caught-error", "placement-unexpected-error", "middleware-catch-errors",
                "fernet-key-repository-unusable", "fernet-repository-without-keys", "fernet-key-malformed",
                "fernet-repository-world-readable", "credential-keys-problem", "token-validation-failures",
                "rabbitmq-unreachable", "messaging-timeout", "database-connection-lost", "no-valid-host",
                "instance-spawn-failed", "vif-plugging-failed", "libvirt-unavailable", "neutron-dead-agents",
                "identity-unreachable", "placement-allocation-failed"}
    assert required <= {r.id for r in RULES}


def test_no_event_of_any_example_gets_two_categories():
    """An event a rule explains as configuration or infrastructure is not also a 'bug' through a
    generic rule (a traceback, CRITICAL, a fault wrapper's 500 line): the more telling rule
    supersedes them."""
    from osloganalyze.rules.examples import example_events

    engine = LocalEngine(RULES)
    torn = []
    for rule in RULES:
        for kind, examples in (("raise", rule.raise_examples), ("not_raise", rule.not_raise_examples)):
            for index, example in enumerate(examples):
                for event in example_events(rule, kind, index, example):
                    categories = {r.category for r in engine.matching(event)}
                    if len(categories) > 1:
                        torn.append(f"{rule.id} {kind}[{index}]: {sorted(r.id for r in engine.matching(event))}")
    assert torn == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_leaves_a_neighbouring_failure_alone(rule):
    """Each rule has a not_raise example that another rule claims: a real neighbouring failure
    (another fault of the same service or dependency), not only a healthy line, that it must not
    explain."""
    from osloganalyze.rules.examples import example_events

    claimed = set()
    for index, example in enumerate(rule.not_raise_examples):
        events = example_events(rule, "not_raise", index, example)
        claimed |= {f.rule for f in LocalEngine(RULES).scan(events).findings()} - {rule.id}
    assert claimed, f"{rule.id}: no not_raise example is a failure another rule explains"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_example_of_every_rule(rule):
    assert rule.raise_examples and rule.not_raise_examples
    mine = [o for key, o in OUTCOMES.items() if key[0] == rule.id]
    assert len(mine) == len(rule.raise_examples) + len(rule.not_raise_examples)
    assert [f"{o.kind}[{o.index}]: {o.problem}" for o in mine if not o.ok] == []
    assert rule.remediation and rule.explain


def _corpus_lines() -> set[str]:
    """The corpus's lines, and those of the excerpts in samples/ (the lab's among them)."""
    lines = set()
    samples = Path(__file__).resolve().parents[1] / "samples"
    for path in [*log_files(), *samples.rglob("*.log")]:
        lines.update(line.rstrip() for line in read_text(path).split("\n"))
    return lines


def test_examples_not_marked_constructed_are_verbatim_corpus_lines():
    """Every line of an example that claims to be real is found, as is, in ../shared/corpus or in
    the excerpts under samples/."""
    corpus = _corpus_lines()
    real = constructed = 0
    missing = []
    for rule in RULES:
        for example in rule.raise_examples + rule.not_raise_examples:
            assert example.source, f"{rule.id}: every built-in example names its source"
            if example.source.startswith("constructed"):
                constructed += 1
                continue
            real += 1
            missing += [f"{rule.id}: {line[:80]}" for line in example.log.splitlines() if line.rstrip() not in corpus]
    assert missing == []
    assert real > constructed  # most examples are real lines


def test_traceback_rule_names_exception_and_deepest_openstack_frame():
    text = read_text(CORPUS / "uforia-OpenStackForensics/var/log/nova/nova-compute.log")
    start = text.index("2014-04-17 14:41:31.023 1455 ERROR nova.openstack.common.rpc.amqp")
    end = text.index("\n", text.index("TRACE nova.openstack.common.rpc.amqp InstanceNotFound", start))
    events = parse_text(text[start:end + 1], service="nova-compute")
    (finding,) = LocalEngine(RULES).scan(events).findings()
    assert finding.rule == "python-traceback" and finding.category == "bug"
    assert finding.signature.startswith("InstanceNotFound: Instance instance-<n> could not be found. @ nova/")
    assert finding.frame.startswith("nova/") and " in " in finding.frame


def test_supersession_is_one_rule_per_explained_event():
    """A MessagingTimeout traceback is reported as messaging-timeout, not also as an unexplained bug."""
    rule = {r.id: r for r in RULES}["python-traceback"]
    assert "messaging-timeout" in {r.id for r in rule.superseded_by}
    events = parse_text(rule.not_raise_examples[1].log)
    assert {r.id for r in LocalEngine(RULES).matching(events[0])} >= {"messaging-timeout"}
    assert "python-traceback" not in {r.id for r in LocalEngine(RULES).matching(events[0])}


# --- what rule authors are told -------------------------------------------------------------------

GOOD = """\
rules:
  - id: my-rule
    title: Mine
    category: bug
    severity: low
    match: {message: {contains: boom}}
    explain: x
    remediation: y
    examples:
      raise: ["2024-05-01 12:00:00.000 7 ERROR nova.compute.manager [-] boom"]
      not_raise: ["2024-05-01 12:00:00.000 7 INFO nova.compute.manager [-] fine"]
"""


@pytest.mark.parametrize("change, message", [
    (("category: bug", "category: bugs"), "rule my-rule: category must be one of bug, config, infrastructure"),
    (("severity: low", "severity: urgent"), "rule my-rule: severity must be one of"),
    (("{message: {contains: boom}}", "{mesage: {contains: boom}}"), "rule my-rule: match.mesage: unknown field 'mesage'"),
    (("{contains: boom}", "{contain: boom}"), "rule my-rule: match.message: unknown operator 'contain'"),
    (("{contains: boom}", "{regex: '(?<=x)boom'}"), "cannot run in Elasticsearch: look-arounds"),
    (("{contains: boom}", "{regex: '\\bboom'}"), "cannot run in Elasticsearch: anchors"),
    (("{contains: boom}", "{regex: '(boom'}"), "bad regex"),
    (("{message: {contains: boom}}", "{http.response.status_code: {gte: high}}"), "gte needs a numeric field and a number"),
    (("{message: {contains: boom}}", "{error.stack_trace: {contains: boom}}"), "searchable only by words"),
    (("{message: {contains: boom}}", "{event.original: {contains: boom}}"), "stored, not searchable"),
    (("{message: {contains: boom}}", "{log.level: {at_least: LOUD}}"), "at_least takes a level"),
    (("    explain: x\n", ""), "rule my-rule: missing explain"),
    (("      not_raise: [\"2024-05-01 12:00:00.000 7 INFO nova.compute.manager [-] fine\"]\n", ""),
     "examples.not_raise must list at least one example"),
    (("id: my-rule", "id: My_Rule"), "id must be lowercase words joined by dashes"),
    (("    severity: low\n", "    severity: low\n    colour: red\n"), "unknown key 'colour'"),
    (("    severity: low\n", "    severity: low\n    supersedes: [nope]\n"), "supersedes unknown rule 'nope'"),
    (("    severity: low\n", "    severity: low\n    tags: [nova]\n"), "unknown tag 'nova' (tags: keystone, crash, symptom)"),
    (("    severity: low\n", "    severity: low\n    threshold: {count: 1, within: 5m}\n"), "threshold needs count"),
    (("rules:\n", "rulez:\n"), "expected a mapping with a non-empty 'rules:' list"),
    (("match: {", "match: {{"), "not valid YAML"),
])
def test_bad_rule_files_say_file_rule_and_problem(tmp_path, change, message):
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(RuleError) as error:
        load_rules((str(tmp_path),), builtin=False)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_good_rule_file_loads_and_duplicate_ids_are_refused(tmp_path):
    (tmp_path / "mine.yaml").write_text(GOOD)
    (rule,) = load_file(tmp_path / "mine.yaml")
    assert rule.id == "my-rule"
    (tmp_path / "again.yaml").write_text(GOOD)
    with pytest.raises(RuleError, match="id already defined in"):
        load_rules((str(tmp_path),), builtin=False)


def test_services_limit_a_rule_and_a_trailing_star_is_a_prefix(tmp_path):
    (tmp_path / "mine.yaml").write_text(GOOD.replace("    match:", "    services: [nova-*, keystone]\n    match:"))
    (rule,) = load_rules((str(tmp_path),), builtin=False)
    test = compile_predicate(effective_condition(rule))
    event = {"message": "boom"}
    assert [test(dict(event, **{"service.name": s})) for s in ("nova-compute", "keystone", "neutron-server")] \
        == [True, True, False]
    assert not test(event)


# --- conditions and their two compilations --------------------------------------------------------

@pytest.mark.parametrize("block, event, expected", [
    ({"message": "boom"}, {"message": "boom"}, True),
    ({"message": "boom"}, {"message": "boom!"}, False),
    ({"message": {"regex": "^bo+m$"}}, {"message": "booom"}, True),
    ({"message": {"regex": "b.m", "ignore_case": True}}, {"message": "x B\nM"}, True),  # '.' matches newlines
    ({"message": {"contains": ["a", "zz"]}}, {"message": "xzzy"}, True),
    ({"message": {"contains": "boom"}}, {"message": "boom" + "x" * 9000}, False),  # beyond the indexed length
    ({"http.response.status_code": {"gte": 500, "lt": 600}}, {"http.response.status_code": 503}, True),
    ({"http.response.status_code": {"gte": 500}}, {"http.response.status_code": "503"}, False),
    ({"error.type": {"exists": True}}, {"error.type": ""}, True),
    ({"error.type": {"exists": False}}, {}, True),
    ({"tags": "truncated"}, {"tags": ["x", "truncated"]}, True),
    ({"log.level": {"at_least": "warn"}}, {"log.level": "ERROR"}, True),
    ({"log.level": {"at_least": "ERROR"}}, {"log.level": "INFO"}, False),
    ({"any": [{"message": "a"}, {"message": "b"}], "not": {"log.level": "DEBUG"}}, {"message": "b", "log.level": "INFO"}, True),
])
def test_python_predicates(block, event, expected):
    assert compile_predicate(parse_match(block))(event) is expected


_PIECES = sorted({text for rule in RULES for text in re.findall(r"[A-Za-z][\w .:'\"()\[\]-]{3,40}", str(rule.match))})


@given(texts=st.sets(st.text(alphabet="abF( .[]'\\x*", min_size=1, max_size=6), min_size=1, max_size=12),
       subject=st.text(alphabet="abF( .[]'\\x*yz", max_size=40))
def test_the_search_for_any_of_many_texts_finds_exactly_them(texts, subject):
    """The texts a field's conditions look for are searched for at once, each from its rarest
    character (a look-behind for the characters before it): found exactly when one is in it."""
    from osloganalyze.rules.to_python import _any_of

    assert (_any_of(texts).search(subject) is not None) == any(text in subject for text in texts)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PIECES), st.integers(0, 3)), max_size=4),
       st.sampled_from([None, "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
       st.sampled_from([None, 200, 401, 500, 503]), st.sampled_from([None, "oslo_messaging.MessagingTimeout",
                                                                    "KeyError", "libvirt.libvirtError"]),
       st.booleans(), st.sampled_from(["nova-compute", "keystone", "neutron-server", "cinder-volume"]))
def test_the_one_generated_matcher_agrees_with_each_rule_alone(pieces, level, status, error_type, stack, service):
    """All rules are tested by one generated function, under shared gates; on events made of
    the rules' own texts (whole or cut), it finds what each rule's own predicate finds."""
    message = " ".join(text[cut:] if cut < 2 else text[:-cut] for text, cut in pieces)
    event = {"message": message, "service.name": service, "log.logger": "nova.compute.manager"}
    for name, value in (("log.level", level), ("http.response.status_code", status), ("error.type", error_type)):
        if value is not None:
            event[name] = value
    if stack:
        event["error.stack_trace"] = "Traceback (most recent call last):\n" + message
        event["error.message"] = message[::-1] if len(pieces) > 2 else message
    alone = [rule.id for rule, alone in zip(RULES, PREDICATES) if alone(event)]
    assert [rule.id for rule in ENGINE.matching(event)] == alone


ENGINE = LocalEngine(RULES)
PREDICATES = [compile_predicate(effective_condition(rule)) for rule in RULES]


def test_the_one_generated_matcher_agrees_with_each_rule_alone_on_the_examples():
    from osloganalyze.rules.examples import example_events

    seen = set()
    for rule in RULES:
        for kind, examples in (("raise", rule.raise_examples), ("not_raise", rule.not_raise_examples)):
            for index, example in enumerate(examples):
                for event in example_events(rule, kind, index, example):
                    alone = [r.id for r, test in zip(RULES, PREDICATES) if test(event)]
                    assert [r.id for r in ENGINE.matching(event)] == alone, (rule.id, kind, index)
                    seen.update(alone)
    assert seen == {rule.id for rule in RULES}


def test_regex_translation_to_lucene():
    assert to_lucene("boom") == ".*(boom).*"
    assert to_lucene("^Caught error: ") == "(Caught error: ).*"
    assert to_lucene(r"status: 5\d\d$") == r".*(status: 5[0-9][0-9])"
    assert to_lucene(r"a|^b$") == "(.*(a).*)|((b))"
    assert to_lucene(r'x"y#z<1>@&~') == r'.*(x\"y\#z\<1\>\@\&\~).*'
    assert to_lucene(r"[^\s]+ (on )?[A-Z_]{2,}?") == r".*([^ " + "\t\n\r\f\v" + r"]+ (on )?[A-Z_]{2,}).*"
    for pattern in (r"(?=x)", r"(a)\1", r"\bword", r"a++", r"[\D\s]"):
        with pytest.raises(RegexNotPortable):
            to_lucene(pattern)
    assert required_literals(r"AMQP server (on )?\S+ is unreachable") == (" is unreachable",)
    assert required_literals(r"\d+|x") is None


def test_text_conditions_on_one_field_become_one_regexp():
    """Each wildcard or regexp query walks the field's whole term dictionary: an 'any' of text
    conditions on one field is one regexp, within Elasticsearch's 1,000-character limit."""
    import json

    from osloganalyze.rules.to_elasticsearch import MAX_REGEX_LENGTH, compile_query
    texts = [f"text number {n}" for n in range(8)]
    query = compile_query(parse_match({"message": {"contains": texts}}))
    assert query["regexp"]["message.keyword"]["value"] == ".*(" + "|".join(texts) + ").*"
    mixed = compile_query(parse_match({"any": [
        {"message": {"contains": "a.b"}}, {"message": {"starts_with": "Head"}}, {"message": {"regex": "^x|y$"}},
        {"message": {"regex": "Case", "ignore_case": True}}, {"log.level": "CRITICAL"}]}))
    should = mixed["bool"]["should"]
    assert [next(iter(q)) for q in should] == ["regexp", "regexp", "term"]
    assert should[0]["regexp"]["message.keyword"]["value"] == r"(.*(a\.b).*)|((Head).*)|((x).*)|(.*(y))"
    assert should[1]["regexp"]["message.keyword"] == {"value": ".*(Case).*", "flags": "ALL",
                                                      "max_determinized_states": 100000, "case_insensitive": True}
    many = compile_query(parse_match({"message": {"contains": [f"{n:04d} " + "w" * 40 for n in range(100)]}}))
    values = [q["regexp"]["message.keyword"]["value"] for q in many["bool"]["should"]]
    assert len(values) > 1 and all(len(v) <= MAX_REGEX_LENGTH for v in values)
    assert all(f"{n:04d} " in "".join(values) for n in range(100))
    assert "wildcard" in json.dumps(compile_query(parse_match({"message": {"contains": "alone"}})))


def test_condition_errors_are_specific():
    with pytest.raises(ConditionError, match="ignore_case only goes with regex"):
        parse_match({"message": {"contains": "x", "ignore_case": True}})
    with pytest.raises(ConditionError, match="non-empty mapping"):
        parse_match([])


def test_example_lines_parse_into_events_with_a_service():
    for rule in RULES:
        for example in rule.raise_examples:
            events = parse_text(example.log)
            assert events, rule.id
            assert not re.search(r"\s$", example.log.split("\n")[0] or "x"), rule.id


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"),
                          st.none() | st.sampled_from([f"2024-05-01T00:00:0{i}.000Z" for i in range(5)])), max_size=30),
       st.randoms(use_true_random=False))
def test_kept_ids_are_the_earliest_whatever_the_order_or_split(hits, rnd):
    """Findings list the earliest distinct request ids, so two worker processes (or Elasticsearch
    buckets) merged in any order give the same list as one pass."""
    from osloganalyze.rules.findings import IDS_KEPT, keep_earliest

    def kept(pairs):
        out: dict = {}
        for value, stamp in pairs:
            keep_earliest(out, value, stamp)
        return out
    whole = kept(hits)
    shuffled = list(hits)
    rnd.shuffle(shuffled)
    cut = rnd.randint(0, len(shuffled))
    left, right = kept(shuffled[:cut]), kept(shuffled[cut:])
    for value, stamp in right.items():
        keep_earliest(left, value, stamp)
    assert left == whole
    first = {}
    for value, stamp in hits:
        first[value] = min(first.get(value, "\uffff"), stamp or "\uffff")
    assert whole == dict(sorted(first.items(), key=lambda kv: (kv[1], kv[0]))[:IDS_KEPT])
