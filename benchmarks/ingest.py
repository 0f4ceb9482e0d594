"""Benchmark `osla ingest`: events/s into a local Elasticsearch node, with osla's peak RSS.

Builds a file of at least --events events by repeating whole corpus files (benchmarks/parse.py's
input), starts a node with scripts/elasticsearch, runs `osla ingest FILE` --passes times (the
indices deleted between passes), checks the document count after each, and stops the node.

osla is the wheel as `pip install` makes it (built here; benchmarks/parse.py says how), or with
--build sources the checkout's .venv (pure Python). The first pass meets a node just started,
whose JVM has not compiled its indexing code yet; the later ones a warm node, as a node that has
been receiving logs is. Both are printed.

    .venv/bin/python benchmarks/ingest.py [--events 1000000] [--passes 3] [--build wheel|sources]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))
import es_node  # noqa: E402 - scripts/es_node.py
from parse import build, sources_osla, wheel_osla  # noqa: E402
from report import measured  # noqa: E402 - the command under the same RSS probe as the report's


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--passes", type=int, default=3, help="the first on a cold node, the rest warm")
    ap.add_argument("--build", choices=("wheel", "sources"), default="wheel")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="osla-ingest-bench-"))
    node = es_node.Node(es_node.CACHE / "nodes" / "bench")
    shutil.rmtree(node.root, ignore_errors=True)
    try:
        if args.build == "wheel":
            osla, how = wheel_osla(tmp)
            label = f"the wheel ({how})"
        else:
            osla, label = sources_osla(), "the sources"
        path = tmp / "bench.log"
        lines = build(path, int(args.events * 1.5))  # the corpus averages ~0.7 events per line
        url = node.start()
        from elasticsearch import Elasticsearch
        client = Elasticsearch(url)
        print(f"osla ingest benchmark: osla from {label}, Elasticsearch {node.version}, heap {es_node.HEAP}, "
              "2 cores shared with osla")
        warm = []
        for number in range(1, args.passes + 1):
            client.indices.delete(index="bench-*", allow_no_indices=True)
            elapsed, summary, rss = measured([osla, "ingest", str(path), "--es", url, "--prefix", "bench",
                                              "--json"])
            client.indices.refresh(index="bench-*")
            docs = client.count(index="bench-*")["count"]
            rate = summary["indexed"] / elapsed
            if number > 1:
                warm.append(rate)
            print(f"  pass {number} ({'cold node' if number == 1 else 'warm node'}): {lines:,} lines -> "
                  f"{summary['events']:,} events, {summary['indexed']:,} indexed, {docs:,} documents counted; "
                  f"{elapsed:.1f}s = {rate:,.0f} events/s, osla peak RSS {rss:.1f} MiB", flush=True)
        if warm:
            print(f"  warm passes: median {statistics.median(warm):,.0f} events/s "
                  f"({', '.join(f'{rate:,.0f}' for rate in warm)})")
    finally:
        node.stop()
        shutil.rmtree(node.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
