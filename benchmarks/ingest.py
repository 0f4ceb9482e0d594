"""Benchmark `osla ingest`: events/s into a local Elasticsearch node, with osla's peak RSS.

Builds a file of at least --events events by repeating whole corpus files (benchmarks/parse.py's
input), starts a node with scripts/elasticsearch, runs `osla ingest FILE`, checks the document
count, and stops the node.

    .venv/bin/python benchmarks/ingest.py [--events 1000000]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))
import es_node  # noqa: E402 - scripts/es_node.py
from parse import build  # noqa: E402
from report import measured  # noqa: E402 - the command under the same RSS probe as the report's


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
        elapsed, summary, rss = measured([osla, "ingest", str(path), "--es", url, "--prefix", "bench", "--json"])
        from elasticsearch import Elasticsearch
        client = Elasticsearch(url)
        client.indices.refresh(index="bench-*")
        docs = client.count(index="bench-*")["count"]
        print(f"osla ingest benchmark (Elasticsearch {node.version}, heap {es_node.HEAP}, 2 cores shared with osla)")
        print(f"  {lines:,} lines -> {summary['events']:,} events, {summary['indexed']:,} indexed, "
              f"{docs:,} documents counted")
        print(f"  {elapsed:.1f}s = {summary['indexed'] / elapsed:,.0f} events/s, osla peak RSS "
              f"{rss:.1f} MiB")
    finally:
        node.stop()
        shutil.rmtree(node.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
