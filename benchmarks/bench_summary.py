#!/usr/bin/env python3
"""Benchmark: `memscope summary` against what it cannot avoid and against its peers.

Runs, alternating, N times each:
  baseline  python -c "import click, tabulate"   (same interpreter: the two UI imports)
  memscope  memscope summary                      (table output, to /dev/null)
  json      memscope summary --format json
  free      free
  cat       cat /proc/meminfo /proc/zoneinfo /proc/vmstat

and prints the median wall time of each and the ratios. SPEC.md's target: memscope summary
at most 1.3x the baseline. A benchmark, not a test: nothing gates on these numbers.

    .venv/bin/python benchmarks/bench_summary.py [--runs 31]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from installed import bytecode_cached, memscope_cmd


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main():
    bytecode_cached()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=31, help="runs of each command (odd)")
    args = ap.parse_args()
    python = sys.executable
    memscope = memscope_cmd()
    commands = {
        "baseline": [python, "-c", "import click, tabulate"],
        "memscope": memscope + ["summary"],
        "json": memscope + ["summary", "--format", "json"],
        "cat": ["cat", "/proc/meminfo", "/proc/zoneinfo", "/proc/vmstat"],
    }
    if shutil.which("free"):
        commands["free"] = ["free"]
    for name, cmd in commands.items():  # each must work; this also warms the caches
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.exit(f"{name}: {' '.join(cmd)} failed ({r.returncode}): {r.stderr[-300:]!r}")
    samples = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            samples[name].append(timed(cmd))
    med = {name: statistics.median(v) for name, v in samples.items()}
    base = med["baseline"]
    print(f"{'command':10} {'median ms':>10} {'x baseline':>11}")
    for name in commands:
        print(f"{name:10} {med[name] * 1000:10.1f} {med[name] / base:11.2f}")
    print(f"\nmemscope summary / import click, tabulate = {med['memscope'] / base:.2f} "
          "(target <= 1.30)")
    if "free" in med:
        print(f"memscope summary / free = {med['memscope'] / med['free']:.1f}")


if __name__ == "__main__":
    main()
