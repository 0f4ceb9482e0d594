"""Benchmark `osla triage`: a ≥1 GB log tree built from the corpus, triage of one request id against
`grep -rF ID` on the same tree (the floor), and the Elasticsearch round trips of one triage.

The tree holds N copies of every uncompressed corpus log file, each copy moved to its own hosts,
its dates shifted by 40 days per copy and the first two hex digits of every uuid replaced by the
copy number, so ids and time windows do not repeat across copies (copy 0 is the original). It is
cached in ~/.cache/osla/bench-triage (or /var/tmp/osla as root), outside the repository.

    .venv/bin/python benchmarks/triage.py [--gb 1.0] [--runs 3] [--no-es]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import es_node  # noqa: E402 - scripts/es_node.py

CORPUS = Path(os.environ.get("OSLA_CORPUS", ROOT.parent / "shared" / "corpus"))
SOURCES = ("os-log-merger-live-migration/*/var/log/*/*.log", "uforia-OpenStackForensics/var/log/*/*.log",
           "loghub/*.log", "os-loganalyze/*.txt")
SEED = "req-e4f91dbb-6b8f-4240-8a23-f424f1900e54"  # the nova-api 500 of the os-log-merger bundle
_DATE = re.compile(rb"\b(\d{4})-(\d{2})-(\d{2})\b")
_UUID = re.compile(rb"\b[0-9a-f]{2}([0-9a-f]{6}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")


def _copy(data: bytes, index: int) -> bytes:
    if index == 0:
        return data
    cache: dict[bytes, bytes] = {}

    def shifted(m):
        key = m.group(0)
        if key not in cache:
            try:
                day = date(int(m.group(1)), int(m.group(2)), int(m.group(3))) + timedelta(days=40 * index)
                cache[key] = day.isoformat().encode()
            except ValueError:
                cache[key] = key
        return cache[key]
    prefix = b"%02x" % (index % 256)
    return _UUID.sub(lambda m: prefix + m.group(1), _DATE.sub(shifted, data))


def build_tree(target_bytes: int) -> tuple[Path, int, int]:
    cache = es_node.CACHE / "bench-triage"
    files = [p for pattern in SOURCES for p in sorted(CORPUS.glob(pattern))]
    per_copy = sum(p.stat().st_size for p in files)
    copies = -(-target_bytes // per_copy)
    stamp = cache / f".complete-{copies}-{per_copy}"
    if not stamp.exists():
        shutil.rmtree(cache, ignore_errors=True)
        for index in range(copies):
            print(f"\rbuilding the tree: copy {index + 1}/{copies}", end="", file=sys.stderr, flush=True)
            for path in files:
                relative = path.relative_to(CORPUS)
                parts = relative.parts
                if "var" in parts:  # <dataset>/[<host>/]var/log/... -> copy-NNN-<dataset>[-<host>]/var/log/...
                    cut = parts.index("var")
                    host = "-".join((f"copy{index:03d}",) + parts[:cut])
                    out = cache / host / Path(*parts[cut:])
                else:
                    out = cache / f"copy{index:03d}-{parts[0]}" / "var" / "log" / Path(*parts[1:])
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(_copy(path.read_bytes(), index))
        print(file=sys.stderr)
        stamp.touch()
    size = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    return cache, size, copies


def timed(cmd: list[str], ok=(0, 1)) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode()[-400:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-es", action="store_true", help="Skip the Elasticsearch round-trip count.")
    args = parser.parse_args()
    tree, size, copies = build_tree(int(args.gb * 1e9))
    osla = [sys.executable, "-m", "osloganalyze"]
    grep = ["grep", "-rF", SEED, str(tree)]
    triage = osla + ["triage", SEED, str(tree), "--json"]
    timed(grep)  # warm the page cache
    greps, triages = [], []
    for _ in range(args.runs):
        greps.append(timed(grep))
        triages.append(timed(triage))
    g, t = statistics.median(greps), statistics.median(triages)
    print(f"tree: {size / 1e9:.2f} GB, {copies} copies of the corpus logs, "
          f"{sum(1 for p in tree.rglob('*.log') if p.is_file())} files")
    print(f"grep -rF {SEED}: median {g:.2f} s of {args.runs} (min {min(greps):.2f})")
    print(f"osla triage (same id, same tree): median {t:.2f} s (min {min(triages):.2f}); "
          f"ratio {t / g:.2f}x grep (target <= 2x)")
    if args.no_es:
        return
    sys.path.insert(0, str(ROOT))
    from osloganalyze.es.connection import connect, resolve
    from osloganalyze.rules import load_rules
    from osloganalyze.triage import triage_elasticsearch

    node = es_node.Node(es_node.CACHE / "nodes" / "bench-triage")
    shutil.rmtree(node.root, ignore_errors=True)
    try:
        url = node.start()
        bundle = str(CORPUS / "os-log-merger-live-migration")
        subprocess.run(osla + ["ingest", bundle, "--es", url, "--prefix", "triage"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = connect(resolve([url]))
        client.refresh("triage-*")
        for seed in (SEED, "a18a5824-4215-4e24-bcfc-cb9f89f6bcbd"):
            start = time.perf_counter()
            view = triage_elasticsearch(client, "triage", seed, load_rules())
            print(f"Elasticsearch triage of {seed}: {view['round_trips']} round trips (target <= 5), "
                  f"{view['summary']['events']} events, {time.perf_counter() - start:.2f} s")
    finally:
        node.stop()
        shutil.rmtree(node.root, ignore_errors=True)


if __name__ == "__main__":
    main()
