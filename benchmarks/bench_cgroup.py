#!/usr/bin/env python3
"""Benchmark: `memscope cgroup / --children` over a generated 1,000-cgroup v2 tree.

Writes a tree laid out as a host (sys/fs/cgroup/<1000 children>, each with memory.current,
memory.max, memory.peak, memory.stat copied from a real 6.14 capture, memory.events,
memory.pressure, an empty cgroup.procs) in a temporary directory, then times, median of N
runs, `memscope cgroup / --children --format json --root TREE`. SPEC.md's target: under 1 s.
A benchmark, not a test: nothing gates on it.

    .venv/bin/python benchmarks/bench_cgroup.py [--runs 7] [--count 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STAT = os.path.join(HERE, "..", "fixtures", "ubuntu-vm-cgroup2-6.14", "sys", "fs", "cgroup",
                    "user.slice", "user-1000.slice", "user@1000.service", "session.slice",
                    "org.gnome.Shell@wayland.service", "memory.stat")


def build(tree: str, count: int) -> None:
    base = os.path.join(tree, "sys", "fs", "cgroup")
    os.makedirs(base)
    with open(STAT) as f:
        stat = f.read()
    with open(os.path.join(base, "memory.stat"), "w") as f:
        f.write(stat)
    open(os.path.join(base, "cgroup.procs"), "w").close()
    for i in range(count):
        d = os.path.join(base, f"unit-{i:04d}.service")
        os.mkdir(d)
        files = {"memory.current": f"{(i + 1) * 4096 * 100}\n", "memory.max": "max\n",
                 "memory.peak": f"{(i + 1) * 4096 * 200}\n", "memory.stat": stat,
                 "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
                 "memory.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                                    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                 "cgroup.procs": ""}
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--count", type=int, default=1000)
    args = ap.parse_args()
    script = os.path.join(os.path.dirname(sys.executable), "memscope")
    cmd = [script] if os.path.exists(script) else [sys.executable, "-m", "memscope"]
    with tempfile.TemporaryDirectory(prefix="memscope-bench-") as tree:
        build(tree, args.count)
        full = cmd + ["cgroup", "/", "--children", "--format", "json", "--root", tree]
        r = subprocess.run(full, capture_output=True)
        if r.returncode:
            sys.exit(f"memscope failed: {r.stderr.decode()[-300:]}")
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(full, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
    print(f"memscope cgroup / --children over {args.count} cgroups: "
          f"median {statistics.median(times):.3f} s (target < 1 s)")


if __name__ == "__main__":
    main()
