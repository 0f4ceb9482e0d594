"""Real corpus lines, mutated the ways torn writes, disk faults and bad encoders mutate them
(cut, spliced, repeated, bytes flipped, numbers garbled, fields swapped): 100,000 mutations a
run, seeded, through parse, scan and triage. Zero exceptions, and every non-blank input line
inside exactly one event or counted unparsed."""
import random
from collections import Counter

import orjson
import pytest
from corpus import log_files, read_text

from osloganalyze import schema as S
from osloganalyze.parse import Stats, parse_file
from osloganalyze.query import EventQuery
from osloganalyze.sources.local import LogFile

SEED = 20261201
MUTATIONS = 100_000
FILES = 5


def _real_lines(limit: int = 40_000) -> list[bytes]:
    lines: list[bytes] = []
    for path in log_files():
        lines.extend(line.encode() for line in read_text(path).split("\n") if line.strip())
    rng = random.Random(SEED)
    rng.shuffle(lines)
    return lines[:limit]


def _garble(line: bytes, rng: random.Random) -> bytes:
    digits = [i for i, c in enumerate(line) if 48 <= c <= 57]
    if not digits:
        return line
    at = rng.choice(digits)
    replacement = rng.choice([b"1.2.3", b"99999999999999999999999", b"-", b"0", b"9" * 40, b"1e308", b"\xff"])
    return line[:at] + replacement + line[at + 1:]


def _mutated(lines: list[bytes], rng: random.Random) -> bytes:
    line = rng.choice(lines)
    kind = rng.randrange(6)
    if kind == 0:  # cut: a write torn mid-line
        return line[:rng.randrange(len(line) + 1)]
    if kind == 1:  # splice: two processes' writes interleaved
        other = rng.choice(lines)
        return line[:rng.randrange(len(line) + 1)] + other[rng.randrange(len(other) + 1):]
    if kind == 2:  # repeat: a buffer written twice
        return line + line[:rng.randrange(len(line) + 1)]
    if kind == 3:  # bytes flipped
        data = bytearray(line)
        for _ in range(rng.randint(1, 4)):
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if kind == 4:
        return _garble(line, rng)
    words = line.split(b" ")  # fields swapped
    if len(words) > 2:
        i, j = rng.sample(range(len(words)), 2)
        words[i], words[j] = words[j], words[i]
    return b" ".join(words)


@pytest.fixture(scope="module")
def mutated_tree(tmp_path_factory):
    rng = random.Random(SEED)
    lines = _real_lines()
    root = tmp_path_factory.mktemp("mutated")
    written = []
    per_file = MUTATIONS // FILES
    for n in range(FILES):
        folder = root / f"node-{n}" / "var" / "log" / "nova"
        folder.mkdir(parents=True)
        data = b"\n".join(_mutated(lines, rng) for _ in range(per_file)) + b"\n"
        path = folder / "nova-api.log"
        path.write_bytes(data)
        written.append((path, data))
    return root, written


def _nonblank(text: str) -> list[str]:
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n") if line.strip()]


def test_parse_accounts_for_every_line(mutated_tree):
    _, written = mutated_tree
    total = 0
    for path, data in written:
        stats = Stats()
        events = list(parse_file(LogFile(str(path), "node", "nova-api"), year=2024, stats=stats))
        assert stats.lines == data.count(b"\n")
        assert stats.lines == stats.blank + stats.record_lines + stats.continuation_lines + stats.unparsed
        assert stats.events == len(events) and not stats.errors
        for event in events:
            orjson.dumps(event)  # what parse and ingest write
        given = Counter(_nonblank(data.decode("utf-8", "replace")))
        kept = Counter(line for event in events for line in _nonblank(event[S.EVENT_ORIGINAL]))
        assert not kept - given, list((kept - given).items())[:3]  # no line invented or doubled
        assert sum((given - kept).values()) == stats.unparsed  # the rest is said unparsed
        total += stats.lines
    assert total >= MUTATIONS


def test_scan_and_triage_never_raise(mutated_tree):
    from osloganalyze.backends.tree import LogTree
    from osloganalyze.rules.model import load_rules

    root, written = mutated_tree
    tree = LogTree([str(root)], year=2024)
    rules = load_rules()
    result = tree.scan(rules, EventQuery())
    findings = result.collector.findings()
    assert result.read_errors == [] and findings
    ids = sorted({rid for f in findings for rid in f.request_ids})[:5]
    assert ids
    for rid in ids:
        view = tree.triage(rid, lambda: rules, around=600, hops=3, max_ids=50)
        orjson.dumps(view)
        assert view["found"]
