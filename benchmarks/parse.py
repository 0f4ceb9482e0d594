"""Benchmark `osla parse`: lines/s and peak RSS on a corpus-derived file, against `grep -c ''`.

Builds a file of at least --lines lines by repeating whole real corpus files (so
tracebacks stay intact), then runs `osla parse FILE -o /dev/null` on one core
(taskset) twice, at N and 2N lines, to show that memory does not grow with the input.

Each is timed as it runs by default (secrets masked) and with --keep-secrets. Two builds of
osla are timed: the wheel as `pip install` makes it (built here, its parser
compiled by hatch_build.py when a C compiler is at hand) and the sources as they are
(.venv's editable install: pure Python).

    .venv/bin/python benchmarks/parse.py [--lines 1000000] [--keep] [--build wheel|sources|both]
"""
from __future__ import annotations

import argparse
import gzip
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("OSLA_CORPUS", ROOT.parent / "shared" / "corpus"))
# Every real log file of the corpus, in its natural proportions (snippets/ are left out: they
# carry annotation lines). Whole files are repeated, so tracebacks stay intact.
SOURCES = ("loghub/*.log", "ParisaKalaki-openstack-logs/*.log.gz", "os-loganalyze/*.txt", "os-loganalyze/*.gz",
           "os-log-merger-live-migration/*/var/log/*/*.log", "uforia-OpenStackForensics/var/log/*/*.log")
# osla parse as it runs by default (secrets masked) and with --keep-secrets (text as logged)
VARIANTS = (("secrets masked", []), ("--keep-secrets", ["--keep-secrets"]))


def corpus_bytes(patterns=SOURCES) -> bytes:
    chunks = []
    for path in (p for pattern in patterns for p in sorted(CORPUS.glob(pattern))):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        chunks.append(data if data.endswith(b"\n") else data + b"\n")
    return b"".join(chunks)


def build(path: Path, lines: int, patterns=SOURCES) -> int:
    block = corpus_bytes(patterns)
    per_block = block.count(b"\n")
    repeats = -(-lines // per_block)
    with open(path, "wb") as fh:
        for _ in range(repeats):
            fh.write(block)
    return repeats * per_block


def timed(cmd: list[str]) -> float:
    """Wall time of cmd; its output goes to a pipe (GNU grep stops at the first match when
    stdout is /dev/null)."""
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def sources_osla() -> str:
    """The osla of the venv running this benchmark (scripts/setup's editable install: the sources)."""
    return shutil.which("osla", path=str(Path(sys.executable).parent)) or "osla"


def wheel_osla(tmp: Path) -> tuple[str, str]:
    """(the osla of a venv holding the wheel built from this checkout, how its parser was built)."""
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)], check=True)
    (wheel,) = dist.glob("osloganalyze-*.whl")
    venv.EnvBuilder(with_pip=True).create(tmp / "venv")
    subprocess.run([str(tmp / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True)
    return str(tmp / "venv" / "bin" / "osla"), "pure Python" if wheel.name.endswith("-none-any.whl") else "compiled"


def discard(work: Path, keep: bool) -> None:
    """Remove a benchmark's work folder, or say where it is (--keep)."""
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--runs", type=int, default=3, help="runs per size; the median is printed")
    ap.add_argument("--by-source", action="store_true", help="also time each corpus source on its own")
    ap.add_argument("--build", choices=("wheel", "sources", "both"), default="both")
    args = ap.parse_args()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    tmp = Path(tempfile.mkdtemp(prefix="osla-bench-"))
    try:
        builds = []
        if args.build in ("wheel", "both"):
            osla, how = wheel_osla(tmp)
            builds.append((f"wheel ({how})", osla))
        if args.build in ("sources", "both"):
            builds.append(("sources (pure Python)", sources_osla()))
        osla = builds[0][1]
        print(f"osla parse benchmark (python {sys.version.split()[0]}, one core{'' if pin else ' not pinned'})")
        for factor in (1, 2):
            path = tmp / f"bench-{factor}.log"
            n = build(path, args.lines * factor)
            size = path.stat().st_size
            grep_s = statistics.median(timed(pin + ["grep", "-c", "", str(path)]) for _ in range(args.runs))
            # a fresh process per run so ru_maxrss is this run's peak
            probe = [sys.executable, "-c",
                     "import resource,subprocess,sys;"
                     "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL,check=True);"
                     "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"]
            print(f"  {n:>10,} lines ({size / 2**20:,.0f} MiB), grep -c '' {grep_s:5.2f}s = {n / grep_s:>12,.0f} lines/s")
            for (label, command), (variant, extra) in itertools.product(builds, VARIANTS):
                label = f"{label}, {variant}"
                runs = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    out = subprocess.run(probe + pin + [command, "parse", str(path), "-o", os.devnull, *extra],
                                         capture_output=True, text=True, check=True)
                    runs.append((time.perf_counter() - start, int(out.stdout.strip()) / 1024))
                parse_s = statistics.median(r[0] for r in runs)
                rss_mib = max(r[1] for r in runs)
                print(f"    {label:<36} {parse_s:6.2f}s = {n / parse_s:>9,.0f} lines/s (runs {min(r[0] for r in runs):.2f}-"
                      f"{max(r[0] for r in runs):.2f}s), peak RSS {rss_mib:6.1f} MiB, osla/grep time "
                      f"{parse_s / grep_s:5.0f}x", flush=True)
        if args.by_source:
            print(f"  by source ({builds[0][0]}, one run each, 300,000+ lines):")
            for pattern in SOURCES:
                path = tmp / "source.log"
                n = build(path, 300_000, (pattern,))
                elapsed = timed(pin + [osla, "parse", str(path), "-o", os.devnull])
                print(f"    {n / elapsed:>9,.0f} lines/s  {pattern}")
    finally:
        discard(tmp, args.keep)


if __name__ == "__main__":
    main()
