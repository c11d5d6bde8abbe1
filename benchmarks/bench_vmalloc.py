#!/usr/bin/env python3
"""Benchmark: parse and aggregate a generated 100,000-line /proc/vmallocinfo.

The lines are drawn, in turn, from the real captures in fixtures/ (every line form: vmalloc
with pages= and N0=, ioremap with phys=, vmap, unpurged, vm_map_ram, module callers), so the
mix is realistic. Prints the median of N runs of parse_vmallocinfo + build_vmalloc, in process.
SPEC.md's target: under 0.5 s. A benchmark, not a test.

    .venv/bin/python benchmarks/bench_vmalloc.py [--lines 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from memscope.model.views import build_vmalloc  # noqa: E402
from memscope.parsers.vmallocinfo import parse_vmallocinfo  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    pool = []
    for path in sorted(glob.glob(os.path.join(HERE, "..", "fixtures", "*", "proc",
                                              "vmallocinfo"))):
        with open(path) as f:
            pool.extend(line for line in f.read().splitlines() if line)
    text = "\n".join(pool[i % len(pool)] for i in range(args.lines)) + "\n"
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        areas = parse_vmallocinfo(text)
        build_vmalloc(areas, None, 4096)
        times.append(time.perf_counter() - start)
    print(f"{args.lines} vmallocinfo lines ({len(text) / 1e6:.1f} MB): parse + aggregate "
          f"median {statistics.median(times):.3f} s (target < 0.5 s)")


if __name__ == "__main__":
    main()
