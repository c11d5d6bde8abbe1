#!/usr/bin/env python3
"""Benchmark: the same 8,000-cgroup v2 tree read from a directory and from a snapshot archive.

Builds the tree of bench_cgroup.py (sys/fs/cgroup/<N children>, each with its memory files)
in a temporary directory, packs the same files into a .tar.gz as `memscope snapshot` writes
them (with a manifest), then times, median of N runs, `memscope cgroup / --children --format
json --root X` for both, and prints the ratio. Listing members of an archive is linear: the
archive should cost about what the directory does (issue 10: it was 45 s against 1.9 s).
A benchmark, not a test: nothing gates on it.

    .venv/bin/python benchmarks/bench_archive.py [--runs 3] [--count 8000]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cgroup import build  # noqa: E402


def pack(tree: str, out: str) -> None:
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        data = b'{"format": "memscope-snapshot"}'
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for dirpath, _dirs, files in os.walk(tree):
            for name in files:
                full = os.path.join(dirpath, name)
                with open(full, "rb") as f:
                    data = f.read()
                info = tarfile.TarInfo(os.path.relpath(full, tree))
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def timed(root: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "memscope", "cgroup", "/", "--children",
                        "--format", "json", "--root", root], check=True,
                       stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--count", type=int, default=8000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "tree")
        build(tree, args.count)
        archive = os.path.join(tmp, "tree.tar.gz")
        pack(tree, archive)
        d = timed(tree, args.runs)
        a = timed(archive, args.runs)
    print(f"{args.count} cgroups: directory {d:.2f} s, archive {a:.2f} s, "
          f"archive/directory {a / d:.2f}x")


if __name__ == "__main__":
    main()
