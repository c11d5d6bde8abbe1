#!/usr/bin/env python3
"""Benchmark: `memscope top --format json` on ~900 processes, against the kernel's own cost
and against the peers, in one run.

Spawns 600 `sleep` and 200 idle Python interpreters (plus whatever the host runs), then
runs, alternating, N times each:

  cat3      cat of every process's smaps_rollup, status and cmdline (what memscope reads)
  cat1      cat of every process's smaps_rollup only (ps_mem's main read)
  memscope  memscope top --format json
  ps_mem    ps_mem (if installed: pip install ps_mem)
  smem      smem (if installed: apt-get install smem)
  psutil    memory_full_info() of every process (psutil's USS/PSS/swap; reads smaps)

and prints medians and ratios. SPEC.md's targets: memscope at most 1.5x cat3, and faster
than ps_mem. Then two more measures:

  * a process with 65,000 mappings: `memscope proc PID --maps --format json` wall time
    (target: under 1.5 s for read, parse and aggregate);
  * memscope's peak RSS (ru_maxrss) for `top` over 100 and over 1,000 processes
    (target: grows by less than 2 KiB per process).

A benchmark, not a test: nothing gates on these numbers. Run as root (other users' smaps
are unreadable otherwise), from the project's venv:

    .venv/bin/python benchmarks/bench_top.py [--runs 15]
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

from installed import bytecode_cached, memscope_cmd

PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))


def spawn(n_sleep, n_python):
    procs = [subprocess.Popen(["sleep", "100000"]) for _ in range(n_sleep)]
    procs += [subprocess.Popen([PY, "-c", "import sys; sys.stdin.read()"],
                               stdin=subprocess.PIPE) for _ in range(n_python)]
    time.sleep(2.0)  # let the interpreters finish starting
    return procs


def stop(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def cat_cmd(names):
    pattern = " ".join(f"/proc/[0-9]*/{n}" for n in names)
    return ["sh", "-c", f"cat {pattern} >/dev/null 2>&1; true"]


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def peers():
    cmds = {
        "cat3": cat_cmd(["smaps_rollup", "status", "cmdline"]),
        "cat1": cat_cmd(["smaps_rollup"]),
        "memscope": memscope_cmd() + ["top", "--format", "json"],
    }
    ps_mem = shutil.which("ps_mem") or (os.path.join(os.path.dirname(PY), "ps_mem"))
    if os.path.exists(ps_mem):
        cmds["ps_mem"] = [ps_mem]
    if shutil.which("smem"):
        cmds["smem"] = ["smem"]
    try:
        import psutil  # noqa: F401

        cmds["psutil"] = [PY, "-c", "import psutil\n"
                          "for p in psutil.process_iter():\n"
                          "    try: p.memory_full_info()\n"
                          "    except psutil.Error: pass"]
    except ImportError:
        pass
    return cmds


def compare(runs):
    cmds = peers()
    for name, cmd in cmds.items():
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.exit(f"{name} failed ({r.returncode}): {r.stderr[-300:]!r}")
    samples = {name: [] for name in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            samples[name].append(timed(cmd))
    med = {k: statistics.median(v) for k, v in samples.items()}
    nproc = len(glob.glob("/proc/[0-9]*"))
    print(f"{nproc} processes, {runs} alternating runs, medians:")
    print(f"{'command':10} {'ms':>8} {'x cat3':>8} {'x cat1':>8}")
    for name in cmds:
        print(f"{name:10} {med[name] * 1000:8.1f} {med[name] / med['cat3']:8.2f} "
              f"{med[name] / med['cat1']:8.2f}")
    print(f"\nmemscope top / cat3 = {med['memscope'] / med['cat3']:.2f} (target <= 1.5)")
    if "ps_mem" in med:
        print(f"memscope top / ps_mem = {med['memscope'] / med['ps_mem']:.2f} "
              "(target < 1)")


MANY_MAPS = r"""
import mmap, sys
page = mmap.PAGESIZE
maps = []
for i in range(65000):
    prot = mmap.PROT_READ if i % 2 else mmap.PROT_READ | mmap.PROT_WRITE
    m = mmap.mmap(-1, page, prot=prot)
    if i % 2 == 0:
        m[0] = 1
    maps.append(m)
print("ready", flush=True)
sys.stdin.read()
"""


def many_mappings():
    p = subprocess.Popen([PY, "-c", MANY_MAPS], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    try:
        with open(f"/proc/{p.pid}/maps") as f:
            n = sum(1 for _ in f)
        times = [timed(memscope_cmd() + ["proc", str(p.pid), "--maps", "--format", "json"])
                 for _ in range(5)]
        cat = [timed(["cat", f"/proc/{p.pid}/smaps"]) for _ in range(5)]
        print(f"\nprocess with {n} mappings: memscope proc --maps {statistics.median(times):.2f}"
              f" s (target < 1.5 s); cat smaps {statistics.median(cat):.2f} s")
    finally:
        p.kill()
        p.wait()


def peak_rss(pids):
    cmd = memscope_cmd() + ["top", "--format", "json"]
    for pid in pids:
        cmd += ["--pid", str(pid)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert r.returncode == 0
    return after if after > before else None


def memory_growth():
    procs = spawn(1000, 0)
    try:
        pids = [p.pid for p in procs]
        # ru_maxrss of children is a high-water mark over all of them: measure the small
        # run first, in a fresh child, then the large one
        small = subprocess.run(
            [PY, "-c", "import resource, subprocess, sys\n"
             f"subprocess.run({memscope_cmd()!r} + ['top', '--format', 'json'] + "
             f"[a for p in {pids[:100]!r} for a in ('--pid', str(p))], "
             "stdout=subprocess.DEVNULL)\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"],
            capture_output=True, text=True)
        large = subprocess.run(
            [PY, "-c", "import resource, subprocess, sys\n"
             f"subprocess.run({memscope_cmd()!r} + ['top', '--format', 'json'] + "
             f"[a for p in {pids!r} for a in ('--pid', str(p))], "
             "stdout=subprocess.DEVNULL)\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"],
            capture_output=True, text=True)
        a, b = int(small.stdout), int(large.stdout)
        print(f"\npeak RSS of memscope top: {a} KiB at 100 processes, {b} KiB at 1000: "
              f"{(b - a) / 900:.2f} KiB per process (target < 2)")
    finally:
        stop(procs)


def main():
    bytecode_cached()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--skip", nargs="*", default=[], choices=["compare", "maps", "memory"])
    args = ap.parse_args()
    if "compare" not in args.skip:
        procs = spawn(600, 200)
        try:
            compare(args.runs)
        finally:
            stop(procs)
    if "maps" not in args.skip:
        many_mappings()
    if "memory" not in args.skip:
        memory_growth()


if __name__ == "__main__":
    main()
