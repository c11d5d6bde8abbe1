#!/usr/bin/env python3
"""Benchmark: `memscope cache -r` against util-linux fincore on the same tree of files.

Builds a tree in /tmp (default 100,000 files: 100 directories of 1,000 files, sizes 0 to
16 KiB, a fifth of them empty; written, so they are in the page cache), then times, medians of
N alternating runs:

  fincore   find TREE -type f -print0 | xargs -0 fincore --bytes --noheadings --raw >/dev/null
            (fincore has no recursion of its own: find walks the tree, xargs batches the
            names; every file gets open, fstat, mmap, mincore, munmap, close, one line out)
  memscope  memscope cache -r TREE --format json >/dev/null   (its own walk; top 20 listed,
            totals over all)

and memscope's peak RSS (ru_maxrss from wait4) at two tree sizes, to show that memory does
not grow with the number of files beyond --top. The tree is removed at the end.
Issue 16's target: memscope at most 1.5x fincore's time. A benchmark, not a test.

    .venv/bin/python benchmarks/cache.py [--files 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def build(tree: str, count: int, per_dir: int = 1000) -> int:
    data = os.urandom(16384)
    total = 0
    for i in range(count):
        d = os.path.join(tree, f"d{i // per_dir:04d}")
        if i % per_dir == 0:
            os.mkdir(d)
        size = 0 if i % 5 == 0 else (i * 7919) % 16385
        with open(os.path.join(d, f"f{i:06d}"), "wb") as f:
            f.write(data[:size])
        total += size
    return total


# Runs one command and reports its wall time and peak RSS. A small interpreter of its own
# forks it: exec records the forking process's high-water RSS as the child's starting
# ru_maxrss, and this benchmark, holding 100,000 fincore lines, is not small.
_HELPER = ("import os, subprocess, sys, time\n"
           "t = time.perf_counter()\n"
           "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
           "_pid, status, usage = os.wait4(p.pid, 0)\n"
           "print(time.perf_counter() - t, usage.ru_maxrss, os.waitstatus_to_exitcode(status))")


def timed(cmd, shell: bool = False):
    """(seconds, peak RSS in KiB) of one run, output discarded."""
    env = dict(os.environ, PYTHONPATH=REPO)
    argv = ["/bin/sh", "-c", cmd] if shell else cmd
    out = subprocess.run([sys.executable, "-S", "-c", _HELPER, *argv], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    if out[2] != "0":
        sys.exit(f"failed ({out[2]}): {cmd}")
    return float(out[0]), int(out[1])


def memscope_cmd(tree: str):
    return [sys.executable, "-m", "memscope", "cache", "-r", tree, "--format", "json"]


def fincore_cmd(tree: str) -> str:
    return (f"find {tree} -type f -print0 | xargs -0 fincore --bytes --noheadings --raw "
            ">/dev/null")


def compare(tree: str) -> None:
    """Per file, memscope's cached bytes against fincore's RES, in the same few seconds."""
    import json

    env = dict(os.environ, PYTHONPATH=REPO)
    ours = json.loads(subprocess.run(memscope_cmd(tree) + ["--top", "0"], env=env,
                                     capture_output=True, text=True, check=True).stdout)
    out = subprocess.run(f"find {tree} -type f -print0 | xargs -0 fincore --bytes --raw "
                         "--noheadings -o RES,FILE", shell=True, capture_output=True,
                         text=True, check=True).stdout
    theirs = {}
    for line in out.splitlines():
        res, name = line.split(" ", 1)
        theirs[name] = int(res)
    same = sum(1 for f in ours["files"] if theirs.get(f["path"]) == f["cached"])
    print(f"figures: {same} of {len(theirs)} files equal to fincore's to the byte; totals "
          f"memscope {ours['totals']['cached']} B, fincore {sum(theirs.values())} B")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if shutil.which("fincore") is None:
        sys.exit("fincore (util-linux) is not installed")
    tree = tempfile.mkdtemp(prefix="memscope-bench-cache-", dir="/tmp")
    small = tempfile.mkdtemp(prefix="memscope-bench-cache-small-", dir="/tmp")
    try:
        t0 = time.perf_counter()
        size = build(tree, args.files)
        build(small, args.files // 10)
        print(f"tree: {args.files} files, {size} bytes, built in "
              f"{time.perf_counter() - t0:.1f} s ({tree})")
        compare(tree)
        timed(memscope_cmd(tree))  # warm the dentry and inode caches for both
        timed(fincore_cmd(tree), shell=True)
        ours, theirs, rss = [], [], []
        for _ in range(args.runs):
            t, r = timed(memscope_cmd(tree))
            ours.append(t)
            rss.append(r)
            theirs.append(timed(fincore_cmd(tree), shell=True)[0])
        m, f = statistics.median(ours), statistics.median(theirs)
        print(f"fincore (find | xargs fincore): median {f:.3f} s  runs "
              + " ".join(f"{x:.3f}" for x in theirs))
        print(f"memscope cache -r --format json: median {m:.3f} s  runs "
              + " ".join(f"{x:.3f}" for x in ours))
        print(f"ratio memscope / fincore: {m / f:.2f} (target <= 1.5)")
        small_rss = max(timed(memscope_cmd(small))[1] for _ in range(2))
        print(f"memscope peak RSS: {small_rss} KiB at {args.files // 10} files, "
              f"{max(rss)} KiB at {args.files} files "
              f"(growth {max(rss) - small_rss} KiB for {args.files - args.files // 10} "
              "more files)")
    finally:
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(small, ignore_errors=True)


if __name__ == "__main__":
    main()
