"""Live per-process tests: processes whose memory is known by construction.

A static C worker (tests/workers/worker.c) maps exactly what it is told and nothing else:
an idle control process of the same binary is the baseline, so the deltas are exactly the
construction. memscope's figures must equal what smaps_rollup says when read right after,
to the byte; Pss and Pss_File move whenever another process maps the same files (the
worker binary), so they are compared within a few KiB.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid

import pytest

from conftest import DRIFT, MiB, REPO, Worker, run_memscope, run_unprivileged  # noqa: F401

pytestmark = pytest.mark.skipif(not os.path.isfile("/proc/self/smaps_rollup"),
                                reason="needs a live Linux /proc with smaps_rollup (4.14+)")


def proc_json(*pids):
    r = run_memscope("proc", *pids, "--format", "json")
    assert r.returncode == 0, r.stderr
    return {p["pid"]: p for p in json.loads(r.stdout)["processes"]}


def assert_equals_rollup(p, rollup):
    assert p["source"] == "smaps_rollup"
    assert p["rss"] == rollup["Rss"]
    assert p["uss"] == rollup["Private_Clean"] + rollup["Private_Dirty"]
    assert p["shared"] == rollup["Shared_Clean"] + rollup["Shared_Dirty"]
    assert p["pss_anon"] == rollup["Pss_Anon"]
    assert p["pss_shmem"] == rollup["Pss_Shmem"]
    assert p["swap"] == rollup["Swap"]
    assert p["locked"] == rollup["Locked"]
    assert abs(p["pss"] - rollup["Pss"]) <= DRIFT
    assert abs(p["pss_file"] - rollup["Pss_File"]) <= DRIFT


def test_private_anonymous_mapping(workers):
    size = 64 * MiB
    control = workers("none")
    anon = workers("anon", size)
    got = proc_json(control.pid, anon.pid)
    c, a = got[control.pid], got[anon.pid]
    assert_equals_rollup(c, control.rollup())
    assert_equals_rollup(a, anon.rollup())
    assert a["rss"] - c["rss"] == size
    assert a["uss"] - c["uss"] == size
    assert a["pss_anon"] - c["pss_anon"] == size
    assert a["rss_anon"] - c["rss_anon"] == size
    assert a["pss_shmem"] == c["pss_shmem"] == 0
    assert a["vsz"] - c["vsz"] == size
    assert a["sources"]["rss"] == "smaps_rollup" and a["sources"]["rss_anon"] == "status"


def test_shm_file_mapped_by_k_processes(workers):
    size, k = 8 * MiB, 4
    path = f"/dev/shm/memscope-test-{uuid.uuid4().hex}"
    with open(path, "wb") as f:
        f.write(b"\x5a" * size)
    try:
        control = workers("none")
        mappers = [workers("shm", path, size) for _ in range(k)]
        got = proc_json(control.pid, *(w.pid for w in mappers))
        c = got[control.pid]
        for w in mappers:
            p = got[w.pid]
            assert_equals_rollup(p, w.rollup())
            assert p["pss_shmem"] - c["pss_shmem"] == size // k
            assert p["rss_shmem"] - c["rss_shmem"] == size
            assert p["rss"] - c["rss"] == size
            assert p["uss"] == c["uss"]  # every shm page has k mappers: none is private
        r = run_memscope("proc", mappers[0].pid, "--maps", "--format", "json")
        rows = json.loads(r.stdout)["processes"][0]["mappings"]
        row = next(m for m in rows if m["path"] == path)
        assert row["category"] == "shmem"  # told by the mount table: /dev/shm is tmpfs
        assert row["size"] == row["rss"] == size and row["pss"] == size // k
    finally:
        os.unlink(path)


def test_regular_file_mapped_by_two(workers):
    size = 4 * MiB
    directory = REPO / ".pytest_cache"
    directory.mkdir(exist_ok=True)
    path = directory / f"memscope-mapped-{uuid.uuid4().hex}"
    path.write_bytes(os.urandom(size))  # on disk, not tmpfs: page cache, not shmem
    try:
        control = workers("none")
        a = workers("file", path, size)
        b = workers("file", path, size)
        got = proc_json(control.pid, a.pid, b.pid)
        c = got[control.pid]
        for w in (a, b):
            p = got[w.pid]
            assert_equals_rollup(p, w.rollup())
            assert p["pss_file"] - c["pss_file"] == size // 2
            assert p["rss_file"] - c["rss_file"] == size
            assert p["rss"] - c["rss"] == size
        r = run_memscope("proc", a.pid, "--maps", "--format", "json")
        rows = json.loads(r.stdout)["processes"][0]["mappings"]
        row = next(m for m in rows if m["path"] == str(path))
        assert row["category"] == "file" and row["pss"] == size // 2
    finally:
        path.unlink()


def test_top_lists_the_workers_exactly(workers):
    size = 16 * MiB
    control = workers("none")
    anon = workers("anon", size)
    r = run_memscope("top", "--format", "json", "--pid", control.pid, "--pid", anon.pid)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    by_pid = {p["pid"]: p for p in doc["processes"]}
    assert [p["pid"] for p in doc["processes"]] == [anon.pid, control.pid]  # ranked by pss
    assert by_pid[anon.pid]["rss"] - by_pid[control.pid]["rss"] == size
    assert doc["totals"]["processes"] == 2
    assert doc["totals"]["rss"] == by_pid[anon.pid]["rss"] + by_pid[control.pid]["rss"]
    assert doc["skipped"] == {"permission_denied": 0, "vanished": 0, "capped": 0,
                              "unreadable": 0}


def test_top_rss_only_and_walk_limit(workers):
    anon = workers("anon", 32 * MiB)
    small = workers("none")
    r = run_memscope("top", "--format", "json", "--pid", anon.pid, "--pid", small.pid,
                     "--walk-limit", "8M")
    doc = json.loads(r.stdout)
    by_pid = {p["pid"]: p for p in doc["processes"]}
    assert by_pid[anon.pid]["source"] == "status" and by_pid[anon.pid]["pss"] is None
    assert by_pid[small.pid]["source"] == "smaps_rollup"
    assert doc["skipped"]["capped"] == 1
    r = run_memscope("top", "--format", "json", "--pid", anon.pid, "--rss-only")
    doc = json.loads(r.stdout)
    assert doc["processes"][0]["source"] == "status"
    assert doc["processes"][0]["rss"] >= 32 * MiB
    assert doc["skipped"]["capped"] == 1


def test_top_filters_and_groups(workers, worker_bin):
    ws = [workers("none") for _ in range(3)]
    r = run_memscope("top", "--format", "json", "--group-by", "program", "--match",
                     "^worker$")
    doc = json.loads(r.stdout)
    assert {p["pid"] for p in doc["processes"]} >= {w.pid for w in ws}
    group = next(g for g in doc["groups"] if g["key"] == "worker")
    assert group["count"] == len(doc["processes"])
    assert group["pss"] == sum(p["pss"] for p in doc["processes"])
    r = run_memscope("top", "--format", "json", "--user", "root", "--limit", "2")
    doc = json.loads(r.stdout)
    assert len(doc["processes"]) == 2 and doc["totals"]["processes"] >= 2
    assert all(p["user"] == "root" for p in doc["processes"])
    r = run_memscope("top", "--group-by", "user")
    assert r.returncode == 0 and "root" in r.stdout


def test_hostile_command_line_is_intact_in_json_and_harmless_in_tables(workers):
    argv0 = b"evil)\x1b[31m\n name\xff\x00"[:-1]
    w = workers("none", argv0=argv0)
    p = proc_json(w.pid)[w.pid]
    assert p["cmdline"].startswith("evil)\x1b[31m\n name\udcff")  # the byte, losslessly
    table = run_memscope("top", "--pid", w.pid).stdout
    assert "\x1b" not in table and "evil)?[31m? name" in table


def test_missing_process_and_kernel_thread():
    r = run_memscope("proc", "999999999")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("memscope: error: no such process: 999999999")
    assert len(r.stderr.splitlines()) == 1
    r = run_memscope("proc", "2")  # kthreadd
    assert r.returncode == 1 and "kernel thread" in r.stderr
    r = run_memscope("proc", "abc")
    assert r.returncode == 2


def test_unprivileged_top_and_proc(workers, world_tmp, worker_bin):
    mine = Worker(shutil.copy(worker_bin, world_tmp / "worker"), "anon", 4 * MiB,
                  user="nobody")
    try:
        r = run_unprivileged("top", "--format", "json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["skipped"]["permission_denied"] > 0
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("memscope: warning: ")
        assert "listed from status only" in lines[0]
        denied = [p for p in doc["processes"] if p["source"] == "status"]
        assert len(denied) == doc["skipped"]["permission_denied"]
        assert all(p["pss"] is None and p["rss"] is not None for p in denied)
        assert doc["totals"]["pss_missing"] == len(denied)
        own = next(p for p in doc["processes"] if p["pid"] == mine.pid)
        assert own["source"] == "smaps_rollup" and own["pss"] is not None
        r = run_unprivileged("proc", "1", "--format", "json")
        assert r.returncode == 0
        assert "permission denied" in r.stderr
        assert json.loads(r.stdout)["processes"][0]["pss"] is None
    finally:
        mine.stop()


def test_prefetched_top_equals_direct_reading(workers):
    """`top` on the live host reads in forked children while it imports (memscope.prefetch);
    with --pid it reads directly. Both must give the same figures."""
    ws = [workers("anon", (i + 1) * MiB) for i in range(3)]
    r = run_memscope("top", "--format", "json")
    assert r.returncode == 0
    ahead = {p["pid"]: p for p in json.loads(r.stdout)["processes"]}
    args = [a for w in ws for a in ("--pid", w.pid)]
    direct = {p["pid"]: p for p in json.loads(run_memscope("top", "--format", "json",
                                                            *args).stdout)["processes"]}
    for w in ws:
        a, d = ahead[w.pid], direct[w.pid]
        for key in ("rss", "uss", "pss_anon", "pss_shmem", "rss_anon", "vsz", "swap", "name",
                    "cmdline", "user", "source"):
            assert a[key] == d[key], key
        assert abs(a["pss"] - d["pss"]) <= DRIFT
