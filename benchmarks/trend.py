#!/usr/bin/env python3
"""Benchmark: `memscope trend` over a month of five-minute reports (8,640 files).

Builds the directories from one real `memscope report` of this machine (taken now, or
--from FILE), varied per report: taken_at and uptime five minutes apart with a reboot half
way (a new boot id), one program that leaks 2 MiB an hour, every other program, category
and cgroup figure jittered by up to ±2 %. Then runs, each in a fresh process:

  json     memscope trend DIR --format json    (one JSON report a file, as memscope writes)
  json.gz  the same files gzip-compressed
  yaml     memscope's YAML output
  (and with --half, the same on the first 4,320 json files: memory must not double)

and prints each run's wall time and peak RSS (ru_maxrss of the child), the time per file,
and the YAML/JSON ratio. A benchmark, not a test: nothing gates on these numbers.

    .venv/bin/python benchmarks/trend.py [--files 8640] [--dir /tmp/memscope-trend-bench]
                                         [--from REPORT.json] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid

START = 1_800_000_000.0


def base_report(path):
    if path:
        with open(path) as f:
            return json.load(f)
    out = subprocess.run([sys.executable, "-m", "memscope", "report", "--format", "json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def variant(base, i, n, rng, boots):
    doc = copy.deepcopy(base)
    t = START + i * 300
    boot = boots[0] if i < n // 2 else boots[1]
    up = 1000.0 + (i if i < n // 2 else i - n // 2) * 300 + rng.random()
    src = dict(doc["source"], taken_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
               boot_id=boot, uptime=round(up, 2))
    doc["source"] = doc["summary"]["source"] = src

    def jitter(v):
        return int(v * (1 + rng.uniform(-0.02, 0.02))) if isinstance(v, int) else v

    for cat in doc["summary"]["breakdown"]:
        cat["bytes"] = jitter(cat["bytes"])
    doc["summary"]["memory"]["available"] = jitter(doc["summary"]["memory"]["available"])
    groups = doc["top"]["groups"]
    for g in groups:
        g["pss"] = jitter(g["pss"])
        g["pss_missing"] = 0
    hours = (up - 1000.0) / 3600
    groups.append({"key": "leaky", "count": 1, "rss": 0, "pss": int(100e6 + 2 * 2**20 * hours),
                   "uss": 0, "swap": 0, "pss_missing": 0})
    for c in doc["cgroups"]:
        c["usage"] = jitter(c["usage"])
    return doc


def build(base, directory, n):
    from memscope.render import to_json, to_yaml

    rng = random.Random(1)
    boots = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(2)]
    for sub in ("json", "json.gz", "yaml"):
        os.makedirs(os.path.join(directory, sub), exist_ok=True)
    for i in range(n):
        doc = variant(base, i, n, rng, boots)
        text = "".join(to_json(doc))
        name = f"report-{i:05d}"
        with open(os.path.join(directory, "json", name + ".json"), "w") as f:
            f.write(text)
        with open(os.path.join(directory, "json.gz", name + ".json.gz"), "wb") as f:
            f.write(gzip.compress(text.encode(), 6))
        with open(os.path.join(directory, "yaml", name + ".yaml"), "w") as f:
            f.write(to_yaml(doc))


def run_measured(args):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(sys.executable, [sys.executable, "-m", "memscope", "trend", *args,
                                  "--format", "json"])
    _pid, status, usage = os.wait4(pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def mean_size(directory):
    names = os.listdir(directory)
    return sum(os.path.getsize(os.path.join(directory, f)) for f in names) / len(names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=8640)
    ap.add_argument("--dir", default="/tmp/memscope-trend-bench")
    ap.add_argument("--from", dest="source", help="a report (json) to vary instead of "
                                                  "taking one now")
    ap.add_argument("--keep", action="store_true", help="keep the directory")
    ap.add_argument("--reuse", action="store_true",
                    help="use the directory a --keep run left (skip building it)")
    a = ap.parse_args()
    t = time.perf_counter()
    if not (a.reuse and os.path.isdir(os.path.join(a.dir, "yaml"))):
        base = base_report(a.source)
        print(f"base report: {len(json.dumps(base))} bytes, {len(base['top']['groups'])} "
              f"programs, {len(base['cgroups'])} cgroups")
        shutil.rmtree(a.dir, ignore_errors=True)
        build(base, a.dir, a.files)
        print(f"built {a.files} reports x 3 formats in {time.perf_counter() - t:.1f} s "
              f"under {a.dir}")
    half = os.path.join(a.dir, "half")
    shutil.rmtree(half, ignore_errors=True)
    os.makedirs(half)
    for name in sorted(os.listdir(os.path.join(a.dir, "json")))[: a.files // 2]:
        os.link(os.path.join(a.dir, "json", name), os.path.join(half, name))
    results = {}
    for label in ("json", "json.gz", "yaml", "half"):
        wall, rss_kib, code = run_measured([os.path.join(a.dir, label)])
        results[label] = wall
        n = a.files // 2 if label == "half" else a.files
        print(f"{label:8s} {n:6d} files  {wall:6.2f} s  {wall / n * 1000:6.3f} ms/file  "
              f"peak RSS {rss_kib / 1024:6.1f} MiB  exit {code}  "
              f"({mean_size(os.path.join(a.dir, label)) / 1024:.0f} KiB a file)")
    print(f"yaml/json {results['yaml'] / results['json']:.2f}x   "
          f"json.gz/json {results['json.gz'] / results['json']:.2f}x")
    out = subprocess.run([sys.executable, "-m", "memscope", "trend",
                          os.path.join(a.dir, "json"), "--format", "json"],
                         capture_output=True, text=True)
    doc = json.loads(out.stdout)
    print("first suspect:", doc["leak_suspects"][0]["text"] if doc["leak_suspects"] else None)
    print("breaks:", [(b["kind"], b["at"]) for b in doc["breaks"]])
    if not a.keep:
        shutil.rmtree(a.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
