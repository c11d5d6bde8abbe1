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
                              "unreadable": 0, "zombie": 0, "kernel_threads": 0,
                              "memscope": 0}


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


def task_rollup(pid):
    """smaps_rollup of a live thread of ``pid`` (its leader may have exited)."""
    for tid in sorted(os.listdir(f"/proc/{pid}/task")):
        try:
            with open(f"/proc/{pid}/task/{tid}/smaps_rollup") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        return int(tid), {k: int(v.split()[0]) * 1024 for k, _, v in
                          (line.partition(":") for line in lines)}
    return None, None


def test_process_whose_main_thread_exited(workers):
    """pthread_exit() in main: status says Z, smaps_rollup gives ESRCH, yet a thread holds
    16 MiB. proc reports it from the live thread's files, top lists it, totals count it."""
    size = 16 * MiB
    control = workers("none")
    w = workers("threads", size)
    with open(f"/proc/{w.pid}/status") as f:
        assert "\nState:\tZ" in f.read()  # the construction holds
    with pytest.raises(ProcessLookupError):
        open(f"/proc/{w.pid}/smaps_rollup").read()
    r = run_memscope("proc", w.pid, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    p = doc["processes"][0]
    tid, rollup = task_rollup(w.pid)
    assert tid != w.pid
    assert_equals_rollup(p, rollup)  # the kernel's own figures, through the live thread
    assert p["name"] == "worker" and p["cmdline"].startswith(w.proc.args[0])
    assert p["rss"] - control.rollup()["Rss"] >= size
    assert any(n["code"] == "main_thread_exited" and str(tid) in n["text"]
               for n in doc["notes"])
    for args in ((), ("--pid", w.pid, "--pid", control.pid)):  # prefetched, and direct
        top = json.loads(run_memscope("top", "--format", "json", *args).stdout)
        listed = {q["pid"]: q for q in top["processes"]}
        assert w.pid in listed and listed[w.pid]["rss"] == rollup["Rss"]
        if args:
            assert top["totals"]["rss"] == listed[w.pid]["rss"] + listed[control.pid]["rss"]
            assert top["totals"]["processes"] == 2


def test_a_snapshot_keeps_a_process_whose_main_thread_exited(workers, tmp_path):
    """The snapshot captures the live thread's files, so offline the process is read as live
    (not skipped as a zombie)."""
    w = workers("threads", 16 * MiB)
    snap = tmp_path / "s.tar.gz"
    assert run_memscope("snapshot", "-q", "-o", snap).returncode == 0
    tid, rollup = task_rollup(w.pid)
    r = run_memscope("proc", w.pid, "--root", snap, "--format", "json")
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)["processes"][0]
    assert p["rss"] == rollup["Rss"] and p["pss"] is not None


def test_zombies_are_skipped_with_their_reason(workers):
    import subprocess

    w = workers("none")
    zombie = subprocess.Popen(["/bin/true"])  # not waited for: a zombie until the end
    try:
        for _ in range(100):
            with open(f"/proc/{zombie.pid}/status") as f:
                if "\nState:\tZ" in f.read():
                    break
            import time

            time.sleep(0.05)
        top = json.loads(run_memscope("top", "--format", "json", "--pid", zombie.pid,
                                      "--pid", w.pid).stdout)
        assert [p["pid"] for p in top["processes"]] == [w.pid]
        assert top["skipped"]["zombie"] == 1
        r = run_memscope("top", "--pid", zombie.pid, "--pid", w.pid)
        assert "1 zombie" in r.stdout
        r = run_memscope("proc", zombie.pid)
        assert r.returncode == 1 and "zombie" in r.stderr and len(r.stderr.splitlines()) == 1
        r = run_memscope("proc", w.pid, zombie.pid, "--format", "json")
        assert r.returncode == 0
        assert [p["pid"] for p in json.loads(r.stdout)["processes"]] == [w.pid]
        assert r.stderr == (f"memscope: warning: process {zombie.pid} is a zombie (it has "
                            "exited; its parent has not reaped it): no memory to show\n")
    finally:
        zombie.wait()


def test_proc_with_one_pid_gone_prints_the_other(workers):
    w = workers("none")
    r = run_memscope("proc", w.pid, "999999999")
    assert r.returncode == 0
    assert f"pid {w.pid}" in r.stdout
    assert r.stderr.startswith("memscope: warning: process 999999999 has exited")
    r = run_memscope("proc", "999999998", "999999999")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("memscope: error: no such process: 999999998, 999999999")


def test_top_unknown_user_is_a_usage_error():
    r = run_memscope("top", "--user", "nosuchuser-memscope")
    assert r.returncode == 2 and r.stdout == ""
    assert "no such user 'nosuchuser-memscope'" in r.stderr
    r = run_memscope("top", "--user", "0", "--format", "json", "--limit", "1")
    assert r.returncode == 0
    assert json.loads(r.stdout)["processes"][0]["user"] == "root"  # a uid is a user too


def test_top_does_not_list_itself():
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(REPO))
    for args in (("--match", "memscope"), ("--match", "top --match"), ()):
        p = subprocess.Popen([sys.executable, "-m", "memscope", "top", "--format", "json",
                              *args], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
        out, _ = p.communicate(timeout=120)
        doc = json.loads(out)
        assert p.pid not in {q["pid"] for q in doc["processes"]}
        assert doc["skipped"]["memscope"] == 1
        if args:
            assert not any("top --format json --match" in (q["cmdline"] or "")
                           and q["pid"] == p.pid for q in doc["processes"])


def test_group_by_honours_sort_and_limit(workers):
    ws = [workers("anon", 24 * MiB), workers("none")]
    full = json.loads(run_memscope("top", "--format", "json", "--group-by", "user",
                                   "--sort", "rss").stdout)["groups"]
    assert [g["rss"] for g in full] == sorted((g["rss"] for g in full), reverse=True)
    doc = json.loads(run_memscope("top", "--format", "json", "--group-by", "program",
                                  "--sort", "rss", "--limit", "1").stdout)
    assert len(doc["groups"]) == 1
    r = run_memscope("top", "--group-by", "program", "--limit", "2", "--sort", "rss")
    table = r.stdout.split("\n\n")[0].splitlines()
    assert len(table) == 3  # header and two groups
    del ws


def test_unknown_pss_is_never_zero_unprivileged(workers):
    """As an unprivileged user, root's processes have pss unknown: null in JSON, '-' in
    tables, ranked by rss, left out of Prometheus; their group says it is incomplete."""
    big, small = workers("anon", 32 * MiB), workers("none")
    r = run_unprivileged("top", "--format", "json", "--pid", small.pid, "--pid", big.pid)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [p["pid"] for p in doc["processes"]] == [big.pid, small.pid]  # by rss
    assert all(p["pss"] is None and p["uss"] is None for p in doc["processes"])
    assert doc["totals"]["pss"] is None and doc["totals"]["pss_missing"] == 2
    assert doc["totals"]["rss"] == big.rollup()["Rss"] + small.rollup()["Rss"]
    table = run_unprivileged("top", "--pid", small.pid, "--pid", big.pid).stdout
    rows = [line.split() for line in table.splitlines()[1:3]]
    assert [int(row[0]) for row in rows] == [big.pid, small.pid]
    assert all(row[2] == "-" and row[3] == "-" for row in rows)
    assert "0B" not in table.split("\n\n")[1].split("rss")[0]  # no 'pss 0B' in the totals
    doc = json.loads(run_unprivileged("top", "--format", "json", "--group-by", "program",
                                      "--pid", small.pid, "--pid", big.pid).stdout)
    (group,) = doc["groups"]
    assert group["pss"] is None and group["pss_incomplete"] and group["pss_missing"] == 2


def test_rss_only_totals_say_no_pss(workers):
    w = workers("anon", 8 * MiB)
    doc = json.loads(run_memscope("top", "--rss-only", "--format", "json", "--pid",
                                  w.pid).stdout)
    assert doc["totals"]["pss"] is None and doc["totals"]["uss"] is None
    r = run_memscope("top", "--rss-only", "--pid", w.pid)
    totals = r.stdout.split("\n\n")[1]
    assert "pss 0B" not in totals and "uss 0B" not in totals and "rss 8." in totals


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def test_locked_is_proportional_and_vmlck_beside_it(workers):
    w = workers("mlock", 8 * MiB)
    p = proc_json(w.pid)[w.pid]
    rollup = w.rollup()
    assert p["locked"] == rollup["Locked"] and p["locked"] >= 8 * MiB
    assert p["vm_locked"] == status_kb(w.pid, "VmLck") == 8 * MiB  # what mlock() locked
    assert p["sources"]["vm_locked"] == "status"
    table = run_memscope("proc", w.pid).stdout
    assert "locked (proportional, smaps)" in table and "VmLck (mlock: RLIMIT_MEMLOCK)" in table


def test_thp_in_proc_and_summary(workers):
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        if "[never]" in f.read():
            pytest.skip("THP is disabled on this kernel")
    w = workers("thp", 4 * MiB)
    rollup = w.rollup()
    if rollup.get("AnonHugePages", 0) == 0:
        pytest.skip("the kernel gave no huge page (fragmented memory)")
    p = proc_json(w.pid)[w.pid]
    assert p["anon_huge"] == rollup["AnonHugePages"] == 4 * MiB
    assert p["shmem_pmd_mapped"] == rollup["ShmemPmdMapped"]
    assert p["file_pmd_mapped"] == rollup["FilePmdMapped"]
    doc = json.loads(run_memscope("summary", "--format", "json").stdout)
    mi = doc["meminfo"]
    assert doc["thp"] == {"anon": mi["AnonHugePages"], "shmem": mi["ShmemHugePages"],
                          "shmem_pmd_mapped": mi["ShmemPmdMapped"],
                          "file": mi["FileHugePages"], "file_pmd_mapped": mi["FilePmdMapped"]}
    assert doc["thp"]["anon"] >= 4 * MiB
    assert "Transparent huge pages in use" in run_memscope("summary").stdout


def test_hugetlb_pool_split_and_top_total(workers, hugepages):
    hugepages(3)
    w = workers("memfdhuge", 4 * MiB)
    doc = json.loads(run_memscope("summary", "--format", "json").stdout)
    base = "/sys/kernel/mm/hugepages/hugepages-2048kB/"

    def pages(name):
        with open(base + name) as f:
            return int(f.read()) * 2 * MiB
    pool = next(p for p in doc["hugetlb_pools"] if p["page_size"] == 2 * MiB)
    assert pool["total"] == pages("nr_hugepages")
    assert pool["free"] == pages("free_hugepages")
    assert pool["used"] == pool["total"] - pool["free"] >= 4 * MiB
    assert pool["reserved"] == pages("resv_hugepages")
    assert pool["surplus"] == pages("surplus_hugepages")
    assert doc["meminfo"]["HugePages_Total"] * 2 * MiB == pool["total"]  # default size
    top = json.loads(run_memscope("top", "--format", "json", "--pid", w.pid).stdout)
    assert top["totals"]["hugetlb"] == 4 * MiB == status_kb(w.pid, "HugetlbPages")
    assert "hugetlb 4.0Mi" in run_memscope("top", "--pid", w.pid).stdout
    table = run_memscope("summary").stdout
    assert "hugetlb pools (reserved" in table


def test_root_is_never_told_to_run_as_root(workers, world_tmp, worker_bin):
    """Root denied (here: a root with no capabilities, as in a container) is told why,
    never "run as root"."""
    import subprocess
    import sys

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    theirs = Worker(shutil.copy(worker_bin, world_tmp / "worker"), "none", user="nobody")
    try:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        for args in (("proc", theirs.pid), ("top", "--pid", theirs.pid)):
            r = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-all",
                                sys.executable, "-m", "memscope", *map(str, args)],
                               capture_output=True, text=True, env=env, cwd=REPO)
            assert r.returncode == 0, r.stderr
            assert "permission denied" in r.stderr  # the construction holds
            assert "run as root" not in r.stderr
            assert "denied to root too" in r.stderr and "CAP_SYS_PTRACE" in r.stderr
        from memscope.errors import PermissionDenied

        assert "run as root" not in str(PermissionDenied("/proc/1/smaps", "permission denied"))
    finally:
        theirs.stop()


def test_shared_shmem_swap_is_counted_once():
    """Two processes map one SysV segment with 512 KiB of it swapped out (a constructed
    fixture: fixtures/SOURCES.md says why). Each one's smaps Swap has those 512 KiB, no
    SwapPss has them: top's totals count them once, in swap and in swap_pss."""
    from conftest import FIXTURES

    r = run_memscope("top", "--root", FIXTURES / "constructed-shmem-swap", "--format",
                     "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    by_pid = {p["pid"]: p for p in doc["processes"]}
    KiB = 1024
    assert (by_pid[101]["swap"], by_pid[101]["swap_pss"], by_pid[101]["swap_shmem"]) == (
        768 * KiB, 256 * KiB, 512 * KiB)
    assert (by_pid[102]["swap"], by_pid[102]["swap_pss"], by_pid[102]["swap_shmem"]) == (
        512 * KiB, 0, 512 * KiB)
    t = doc["totals"]
    assert t["swap_shmem"] == 512 * KiB
    assert t["swap"] == 256 * KiB + 512 * KiB  # not 768 + 512
    assert t["swap_pss"] == 256 * KiB + 512 * KiB  # not 256
    doc = json.loads(run_memscope("top", "--root", FIXTURES / "constructed-shmem-swap",
                                  "--format", "json", "--group-by", "program").stdout)
    (group,) = doc["groups"]
    assert group["count"] == 2 and group["swap"] == 768 * KiB


def test_main_thread_exited_without_thread_files_is_unreadable_not_zombie(tmp_path):
    """Under a root that holds the leader's status (State Z, Threads 2) but no task/ files,
    the process is not called a zombie: it is skipped as unreadable, and said so."""
    from conftest import FIXTURES

    (tmp_path / "proc/555/task").mkdir(parents=True)
    shutil.copy(FIXTURES / "this-vm-6.18.44-live/proc/meminfo", tmp_path / "proc/meminfo")
    (tmp_path / "proc/555/status").write_text(
        "Name:\tworker\nState:\tZ (zombie)\nTgid:\t555\nPid:\t555\nUid:\t0\t0\t0\t0\n"
        "Threads:\t2\n")
    doc = json.loads(run_memscope("top", "--root", tmp_path, "--format", "json").stdout)
    assert doc["skipped"]["unreadable"] == 1 and doc["skipped"]["zombie"] == 0
    r = run_memscope("proc", "555", "--root", tmp_path)
    assert r.returncode == 1 and "main thread of process 555 has exited" in r.stderr
