"""Benchmark `osla report` over ≥5M events in the 24 h report period, and baseline days before
it, built from real corpus logs: on the local Elasticsearch node (`--source es`: the tree is
ingested once with `osla ingest`, the index kept for later runs) and on the log tree itself
(`--source local`); wall time and peak RSS of the whole command.

The tree: H hosts, each with every uncompressed log file of the uforia (Havana cloud) and
os-log-merger (Juno, two nodes) corpus folders. Each file's own time span is stretched onto the
day it stands for, keeping the order and the relative spacing of its records (lines of one
record keep one stamp). The period's files are the live logs (`nova-api.log`); each baseline day
is a daily rotation (`nova-api.log.1` ... `.N`), as logrotate leaves them. Cached in
~/.cache/osla/bench-report (or /var/tmp/osla as root), outside the repository.

    .venv/bin/python benchmarks/report.py [--source es|local|both] [--events 5000000] [--baseline-days 7]
        [--baseline-share 1.0] [--heap 4g] [--keep-node] [--cold] [--build wheel|sources|both]

On the log tree it runs three ways side by side: the full re-read (--no-state), the first night
(an empty state store) and the second night (the baseline from the store), with osla as `pip
install` makes it (the wheel, its hot modules compiled: hatch_build.py) and, for the second night
again, with the sources (the editable install); then `--since 3650d` (ten years) on
samples/live-migration with the HTML report's charts.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import es_node  # noqa: E402 - scripts/es_node.py

CORPUS = Path(os.environ.get("OSLA_CORPUS", ROOT.parent / "shared" / "corpus"))
SOURCES = ("os-log-merger-live-migration/*/var/log/*/*.log", "uforia-OpenStackForensics/var/log/*/*.log")
DAY = datetime(2024, 5, 8, tzinfo=UTC)  # the report period: 2024-05-08 00:00 to 2024-05-09 00:00
_STAMP = re.compile(rb"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(\.\d+)?", re.M)


def _retimed(data: bytes, day: datetime) -> bytes:
    """The file's records spread over ``day`` in their original order and spacing."""
    stamps = [datetime.strptime(m.group(1).decode(), "%Y-%m-%d %H:%M:%S") for m in _STAMP.finditer(data)]
    if not stamps:
        return data
    first, last = min(stamps), max(stamps)
    span = max((last - first).total_seconds(), 1.0)
    scale = 86399.0 / span
    cache: dict[bytes, bytes] = {}

    def shifted(m):
        key = m.group(0)
        if key not in cache:
            seconds = (datetime.strptime(m.group(1).decode(), "%Y-%m-%d %H:%M:%S") - first).total_seconds()
            moment = day.replace(tzinfo=None) + timedelta(seconds=max(0.0, seconds) * scale)
            millis = (m.group(2) or b".000")[:4].ljust(4, b"0")
            cache[key] = moment.strftime("%Y-%m-%d %H:%M:%S").encode() + millis
        return cache[key]
    return _STAMP.sub(shifted, data)


def _events_per_host(files: list[Path]) -> int:
    """Events osla reads from one host's copy of the files (tracebacks are one event each)."""
    sys.path.insert(0, str(ROOT))
    from osloganalyze.parse import parse_paths
    return sum(1 for _ in parse_paths([str(p) for p in files]))


def build_tree(events: int, baseline_days: int, baseline_share: float) -> tuple[Path, int, int, int, str]:
    files = [p for pattern in SOURCES for p in sorted(CORPUS.glob(pattern))]
    per_host = _events_per_host(files)
    hosts = -(-events // per_host)
    baseline_hosts = max(1, round(hosts * baseline_share)) if baseline_days else 0
    cache = es_node.CACHE / "bench-report"
    stamp = cache / f".complete-{hosts}-{baseline_days}-{baseline_hosts}-{per_host}"
    if not stamp.exists():
        shutil.rmtree(cache, ignore_errors=True)
        days = [(0, DAY)] + [(k, DAY - timedelta(days=k)) for k in range(1, baseline_days + 1)]
        for path in files:
            relative = path.relative_to(CORPUS).parts
            cut = relative.index("var")
            source = "-".join(relative[:cut])
            for rotation, day in days:
                data = _retimed(path.read_bytes(), day)
                name = relative[-1] + (f".{rotation}" if rotation else "")
                for host in range(hosts if rotation == 0 else baseline_hosts):
                    out = cache / f"node{host:03d}-{source}" / Path(*relative[cut:-1]) / name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(data)
                    end = (day + timedelta(days=1)).timestamp()
                    os.utime(out, (end, end))
            print(f"\rbuilding the tree: {path.name:<40}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        stamp.touch()
    size = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    return cache, size, hosts, baseline_hosts, stamp.name[len(".complete-"):]


_PROBE = [sys.executable, "-c",  # runs a command; prints the peak RSS (KiB) of its largest process last
          "import resource,subprocess,sys;p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
          "sys.stdout.write(p.stdout);sys.stderr.write(p.stderr);"
          "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);sys.exit(p.returncode)"]


def measured(command: list[str]) -> tuple[float, dict, float]:
    """(wall seconds, the --json output, peak RSS MiB of the command's largest process)."""
    start = time.monotonic()
    result = subprocess.run(_PROBE + command, capture_output=True, text=True)
    wall = time.monotonic() - start
    *out, rss = result.stdout.rstrip("\n").split("\n")
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{result.stderr}")
    return wall, json.loads("\n".join(out)), int(rss) / 1024


def _peak_rss(pid: int) -> float:
    """Peak RSS (MiB) of a running process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _elasticsearch(tree: Path, stamp: str, heap: str) -> tuple[es_node.Node, str]:
    """The benchmark's node, holding the tree in '<PREFIX>-*' (ingested on the first run only)."""
    es_node.HEAP = heap
    node = es_node.Node(NODE_DIR)
    url = node.start()
    ingested = node.root / f".ingested-{stamp}"
    if not ingested.exists():
        from elasticsearch import Elasticsearch
        Elasticsearch(url).options(ignore_status=404).indices.delete(index=f"{PREFIX}-*")
        print("ingesting the tree into the benchmark's node (once) ...", file=sys.stderr, flush=True)
        wall, summary, _ = measured([OSLA, "ingest", str(tree), "--es", url, "--prefix", PREFIX, "--json"])
        if summary["rejected"] or summary["errors"]:
            raise SystemExit(f"ingest incomplete: {summary['rejected']} rejected, {summary['errors'][:3]}")
        print(f"ingest: {summary['indexed']:,} events in {wall:.0f} s ({summary['indexed'] / wall:,.0f} events/s)")
        ingested.touch()
    return node, url


def _stop_and_drop_caches() -> None:
    """Stop the benchmark's node and empty the OS page cache, so the run reads its indices from disk."""
    es_node.Node(NODE_DIR).stop()
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
        print("node restarted, OS page cache dropped")
    except OSError as exc:
        print(f"node restarted; the OS page cache could not be dropped ({exc.strerror}): not a cold run")


def _summary(name: str, wall: float, report: dict, peak: float, extra: str = "") -> None:
    period = report["totals"]["events"]
    print(f"{name}: {period:,} events in the 24 h period, {report['totals']['errors']:,} errors, "
          f"{report['totals']['requests']:,} requests; {len(report['new_signatures'])} new signatures, "
          f"{len(report['spikes'])} spikes, {len(report['findings'])} findings")
    print(f"  wall time: {wall:.1f} s ({period / wall:,.0f} period events/s); "
          f"peak RSS of osla's largest process: {peak:.0f} MiB{extra}")


PREFIX = "benchreport"
NODE_DIR = es_node.CACHE / "nodes" / "bench-report"  # kept between runs, with the tree ingested
OSLA = str(ROOT / ".venv" / "bin" / "osla")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=("es", "local", "both"), default="both")
    parser.add_argument("--events", type=int, default=5_000_000, help="events in the report period")
    parser.add_argument("--baseline-days", type=int, default=7)
    parser.add_argument("--baseline-share", type=float, default=1.0,
                        help="baseline hosts as a share of the period's (1.0: every day as busy)")
    parser.add_argument("--heap", default="4g", help="the Elasticsearch node's heap (default 4g)")
    parser.add_argument("--keep-node", action="store_true", help="leave the node running afterwards")
    parser.add_argument("--build", choices=("wheel", "sources", "both"), default="both",
                        help="the log tree's nights with the wheel, the sources, or the wheel then the sources' second night")
    parser.add_argument("--cold", action="store_true",
                        help="the worst case: restart the node and drop the OS page cache (as root) before the run")
    args = parser.parse_args()
    tree, size, hosts, baseline_hosts, stamp = build_tree(args.events, args.baseline_days, args.baseline_share)
    print(f"tree: {size / 2**30:.2f} GiB, {hosts} hosts in the period, {baseline_hosts} on each of "
          f"{args.baseline_days} baseline days ({tree})")
    window = ["--since", DAY.strftime("%Y-%m-%d"), "--until", (DAY + timedelta(days=1)).strftime("%Y-%m-%d"),
              "--baseline", f"{args.baseline_days}d", "--json"]
    if args.source in ("es", "both"):
        if args.cold:
            _stop_and_drop_caches()
        node, url = _elasticsearch(tree, stamp, args.heap)
        try:
            # a nightly report asks about a new day: nothing of it is in the node's caches (the
            # shard request cache would answer a repeated run's aggregations at once)
            from elasticsearch import Elasticsearch
            Elasticsearch(url).indices.clear_cache(index=f"{PREFIX}-*")
            wall, report, peak = measured([OSLA, "report", "--es", url, "--prefix", PREFIX] + window)
            _summary(f"report from Elasticsearch {node.version} (heap {args.heap}, same 2 cores)", wall, report,
                     peak, f"; the node's peak RSS {_peak_rss(node.state()['pid']):,.0f} MiB")
        finally:
            if not args.keep_node:
                node.stop()
    if args.source in ("local", "both"):
        with tempfile.TemporaryDirectory() as scratch:
            builds = []
            if args.build in ("wheel", "both"):
                from parse import wheel_osla  # benchmarks/parse.py
                osla, how = wheel_osla(Path(scratch))
                builds.append((f"the wheel ({how})", osla))
            if args.build in ("sources", "both"):
                builds.append(("the sources", OSLA))
            _local_nights(tree, window, builds)
    ten_years = ["--since", "2005-11-01", "--until", "2015-10-30", "--no-state", "--json"]
    with tempfile.TemporaryDirectory() as scratch:
        wall, report, peak = measured([OSLA, "report", str(ROOT / "samples" / "live-migration"), *ten_years,
                                       "--html", str(Path(scratch) / "ten-years.html")])
    print(f"--since 3650d on samples/live-migration (HTML with its charts): {wall:.1f} s, "
          f"{sum(len(c['starts']) for c in report['charts'].values())} bars in {len(report['charts'])} charts "
          f"(target < 10 s)")
    return 0


def _local_nights(tree: Path, window: list[str], builds: list[tuple[str, str]]) -> None:
    """The log tree three ways, side by side in one run: every baseline day re-read from the
    files (no state store), the first night (an empty store, filled by the run), and the second
    night (the store holds the baseline: only the period is parsed), with the first build; the
    second night again with each other build (the same store: one osla version)."""
    with tempfile.TemporaryDirectory() as scratch:
        state = str(Path(scratch) / "state")
        (first_build, osla), others = builds[0], builds[1:]
        runs = [(f"full re-read (--no-state), {first_build}", osla, ["--no-state"]),
                (f"first night (empty state store), {first_build}", osla, ["--state", state]),
                (f"second night (baseline from the store), {first_build}", osla, ["--state", state])]
        runs += [(f"second night (baseline from the store), {name}", other, ["--state", state])
                 for name, other in others]
        walls = []
        for name, command, extra in runs:
            wall, report, peak = measured([command, "report", str(tree)] + window + extra)
            walls.append(wall)
            _summary(f"report from the log tree, {name}", wall, report, peak)
        store = Path(state) / "report-state.sqlite3"
        full, first, second = walls[:3]
        print(f"  first night / full re-read: {first / full:.2f}; second night / full re-read: {second / full:.2f} "
              f"(target: second night < 60 s); state store {store.stat().st_size / 2**20:.1f} MiB")
        for (name, _), wall in zip(others, walls[3:]):
            print(f"  second night, {name} / {first_build}: {wall / second:.2f}")


if __name__ == "__main__":
    sys.exit(main())
