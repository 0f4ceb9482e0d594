"""Score `osla triage` verdicts on the fault-injection lab (tests/openstack_lab.py): real Keystone
and Placement from PyPI, faults injected inside their code and around it, each case one real API
call. Prints one row per case (case, expected, verdict, right?) and the score.

The lab's venvs and logs live outside the repository (~/.cache/osla, or /var/tmp/osla as root;
the logs in a temporary folder, kept with --keep).

    .venv/bin/python benchmarks/verdicts.py [--keep DIR] [--markdown]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import openstack_lab  # noqa: E402 - tests/openstack_lab.py

from osloganalyze.rules.model import load_rules  # noqa: E402
from osloganalyze.triage import triage_local  # noqa: E402


def expected(case: openstack_lab.Case) -> str:
    if case.category is None:
        return "control: not a bug"
    named = " / ".join(filter(None, (case.exception, case.function or case.caller)))
    return f"{case.category} in {case.service}" + (f": {named}" if named else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="run the lab in this folder and keep its logs")
    parser.add_argument("--markdown", action="store_true", help="the table as Markdown (for the README)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="osla-lab-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    outcomes = openstack_lab.run(root)
    lab_seconds = time.perf_counter() - started
    rules = load_rules()
    rows, right = [], 0
    started = time.perf_counter()
    for outcome in outcomes:
        view = triage_local([str(root / "log")], outcome.answer.id, rules)
        verdict = view["verdict"]
        ok, why = openstack_lab.judge(outcome.case, verdict)
        right += ok
        rows.append((outcome.case.name, expected(outcome.case), (verdict or {}).get("text", "(no verdict)"),
                     "yes" if ok else f"NO: {why}"))
    triage_seconds = time.perf_counter() - started
    if args.markdown:
        print("| case | expected | verdict (first 110 characters) | right? |\n|---|---|---|---|")
        for name, want, said, ok in rows:
            print(f"| {name} | {want} | {said[:110].replace('|', '/')} | {ok} |")
    else:
        for name, want, said, ok in rows:
            print(f"{name:36} {ok:4} {want}\n{'':41}{said[:160]}")
    failing = sum(1 for o in outcomes if o.case.category)
    print(f"\n{right}/{len(rows)} right ({sum(1 for o, r in zip(outcomes, rows) if o.case.category and r[3] == 'yes')}"
          f"/{failing} failures, {sum(1 for o, r in zip(outcomes, rows) if not o.case.category and r[3] == 'yes')}"
          f"/{len(rows) - failing} controls); lab {lab_seconds:.0f} s, {len(rows)} triages {triage_seconds:.1f} s")


if __name__ == "__main__":
    main()
