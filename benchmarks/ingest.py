"""Benchmark `osla ingest`: events/s into a local Elasticsearch node, with osla's peak RSS.

Builds a file of at least --events events by repeating whole corpus files (benchmarks/parse.py's
input), starts a node with scripts/elasticsearch, runs `osla ingest FILE`, checks the document
count, and stops the node.

    .venv/bin/python benchmarks/ingest.py [--events 1000000]
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))
import es_node  # noqa: E402 - scripts/es_node.py
from parse import build  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    osla = shutil.which("osla", path=str(Path(sys.executable).parent)) or "osla"
    tmp = Path(tempfile.mkdtemp(prefix="osla-ingest-bench-"))
    node = es_node.Node(es_node.CACHE / "nodes" / "bench")
    shutil.rmtree(node.root, ignore_errors=True)
    try:
        path = tmp / "bench.log"
        lines = build(path, int(args.events * 1.5))  # the corpus averages ~0.7 events per line
        url = node.start()
        probe = [sys.executable, "-c",
                 "import resource,subprocess,sys;"
                 "p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
                 "print(p.stdout.strip());print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
                 "sys.exit(p.returncode)"]
        start = time.perf_counter()
        out = subprocess.run(probe + [osla, "ingest", str(path), "--es", url, "--prefix", "bench", "--json"],
                             capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - start
        summary_line, rss = out.stdout.strip().splitlines()[-2:]
        summary = json.loads(summary_line)
        from elasticsearch import Elasticsearch
        client = Elasticsearch(url)
        client.indices.refresh(index="bench-*")
        docs = client.count(index="bench-*")["count"]
        print(f"osla ingest benchmark (Elasticsearch {node.version}, heap {es_node.HEAP}, 2 cores shared with osla)")
        print(f"  {lines:,} lines -> {summary['events']:,} events, {summary['indexed']:,} indexed, "
              f"{docs:,} documents counted")
        print(f"  {elapsed:.1f}s = {summary['indexed'] / elapsed:,.0f} events/s, osla peak RSS "
              f"{int(rss) / 1024:.1f} MiB")
    finally:
        node.stop()
        shutil.rmtree(node.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
