"""Benchmark the rule engine: events/s of the built-in rules alone (events parsed beforehand),
and of a whole `osla scan` (parse + rules) on the corpus, with peak RSS.

    .venv/bin/python benchmarks/scan.py [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from parse import CORPUS, SOURCES  # noqa: E402

from osloganalyze.parse import parse_paths  # noqa: E402
from osloganalyze.rules import load_rules  # noqa: E402
from osloganalyze.rules.engine import LocalEngine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    paths = [str(p) for pattern in SOURCES for p in sorted(CORPUS.glob(pattern))]
    osla = [sys.executable, "-m", "osloganalyze"]
    walls = []
    for _ in range(args.runs):
        start = time.perf_counter()
        proc = subprocess.run(osla + ["scan", *paths, "--json"], capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - start)
        assert proc.returncode == 1, proc.stderr.decode()[-500:]
        events_count = json.loads(proc.stdout)["summary"]["events"]
    # measured before this process holds the parsed events (a forked child counts its parent's pages)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"osla scan (parse + rules): {events_count:,} events in best {min(walls):.2f} s "
          f"({events_count / min(walls):,.0f} events/s), median {statistics.median(walls):.2f} s; peak RSS {rss:.0f} MiB")

    events = list(parse_paths(paths))
    rules = load_rules()
    engine = LocalEngine(rules)
    times, hits = [], 0
    for _ in range(args.runs):
        start = time.perf_counter()
        collector = engine.scan(events)
        findings = collector.findings()
        times.append(time.perf_counter() - start)
        hits = collector.hits
    best = min(times)
    print(f"rules only: {len(rules)} rules over {len(events):,} events: best {best:.2f} s "
          f"({len(events) / best:,.0f} events/s), median {statistics.median(times):.2f} s; "
          f"{hits:,} matches, {len(findings)} findings")


if __name__ == "__main__":
    main()
