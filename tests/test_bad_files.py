"""The bad-file policy (memscope/collect/policy.py; docs/contract.md "Bad files"), command by
command: a malformed OPTIONAL file gives exit 0, the section or figure null, and a note naming
the file, the line and what is unknown; a malformed REQUIRED file gives exit 1 and one stderr
line naming the file and line. Each tree is a fixture host copied into tmp_path with one file
damaged."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import HOST_CGROUP, HOST_PID, full_host, run_memscope

PID = HOST_PID
CGROUP = HOST_CGROUP


@pytest.fixture
def host(tmp_path):
    return full_host(tmp_path / "host")


def damage(host, rel, line=2):
    """Make line ``line`` of the file malformed (a known field with a value that is not a
    number, or a line out of the kernel's shape); return the path as memscope names it."""
    path = host / rel
    lines = path.read_text().splitlines(keepends=True)
    lines[line - 1] = "x" * 3 + " 12z4 kB\n" if ":" not in lines[line - 1] else \
        lines[line - 1].split(":")[0] + ": 12z4 kB\n"
    path.write_text("".join(lines))
    return str(path)


def ok_with_note(r, code, *fragments):
    assert r.returncode == 0, r.stderr
    assert all(line.startswith("memscope: warning: ") for line in r.stderr.splitlines())
    doc = json.loads(r.stdout)
    notes = [n for n in all_notes(doc) if n["code"] == code]
    assert notes, all_notes(doc)
    assert any(all(f in n["text"] for f in fragments) for n in notes), notes
    return doc


def all_notes(doc):
    out = list(doc.get("notes") or [])
    for key in ("summary", "zones", "vmalloc"):
        if isinstance(doc.get(key), dict):
            out += doc[key].get("notes") or []
    return out


def one_error_line(r, *fragments):
    assert r.returncode == 1, (r.returncode, r.stdout[:300])
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("memscope: error: "), r.stderr
    assert all(f in lines[0] for f in fragments), lines[0]


def run(host, *args):
    return run_memscope(*args, "--root", host, "--format", "json")


# --- summary: meminfo required; zoneinfo, vmstat, pressure, sysctls... optional ---------

def test_summary(host):
    path = damage(host, "proc/vmstat", 3)
    doc = ok_with_note(run(host, "summary"), "file_malformed", f"{path}: line 3",
                       "reclaim and OOM activity unknown")
    assert doc["memory"]["total"] > 0
    path = damage(host, "proc/meminfo", 2)
    one_error_line(run(host, "summary"), f"{path}: line 2")


# --- zones: zoneinfo required; buddyinfo, meminfo, sysctls optional ----------------------

def test_zones(host):
    path = damage(host, "proc/buddyinfo", 1)
    doc = ok_with_note(run(host, "zones"), "file_malformed", f"{path}: line 1",
                       "free blocks per order unknown")
    assert doc["zones"] and all(z["free_blocks"] is None for z in doc["zones"])
    (host / "proc/sys/vm/min_free_kbytes").write_text("lots\n")
    doc = ok_with_note(run(host, "zones"), "file_malformed", "min_free_kbytes: line 1")
    assert doc["tunables"]["min_free_bytes"] is None
    path = host / "proc/zoneinfo"
    path.write_text(path.read_text().replace("        min ", "        min 1x", 1))
    one_error_line(run(host, "zones"), f"{path}: line ", "min")


def test_zones_buddyinfo_missing_keeps_its_code(host):
    (host / "proc/buddyinfo").unlink()
    ok_with_note(run(host, "zones"), "buddyinfo_missing", "free blocks per order unknown")


# --- vmalloc: vmallocinfo required; meminfo, zoneinfo optional --------------------------

def test_vmalloc(host):
    path = damage(host, "proc/meminfo", 2)
    doc = ok_with_note(run(host, "vmalloc"), "file_malformed", f"{path}: line 2",
                       "VmallocUsed unknown")
    assert doc["vmalloc_used"] is None
    path = host / "proc/vmallocinfo"
    path.write_text(path.read_text().replace(" pages=", " pages=x", 1))
    one_error_line(run(host, "vmalloc"), f"{path}: line ")


# --- slab: slabinfo required; meminfo, reclaim_account, zoneinfo optional ---------------

def test_slab(host):
    path = damage(host, "proc/meminfo", 2)
    ok_with_note(run(host, "slab"), "file_malformed", f"{path}: line 2",
                 "SReclaimable, SUnreclaim and Slab unknown")
    listed = {line.split()[0] for line in (host / "proc/slabinfo").read_text().splitlines()[2:]}
    name = sorted(listed & {p.name for p in (host / "sys/kernel/slab").iterdir()})[0]
    flag = host / f"sys/kernel/slab/{name}/reclaim_account"
    flag.write_text("yes\n")
    doc = ok_with_note(run(host, "slab"), "file_malformed", f"{flag}: line 1",
                       "whether the cache is reclaimable is unknown")
    assert [c["reclaimable"] for c in doc["caches"] if c["name"] == name] == [None]
    path = host / "proc/slabinfo"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].split()[0] + " 1x 2 3 4 5 : tunables 0 0 0 : slabdata 1 1 0\n"
    path.write_text("".join(lines))
    one_error_line(run(host, "slab"), f"{path}: line 4")


# --- shmem: meminfo required; mounts, sysvipc/shm, each process's maps optional ---------

def test_shmem(host):
    path = host / "proc/sysvipc/shm"
    lines = path.read_text().splitlines(keepends=True)
    lines.append("  1234 x\n")
    path.write_text("".join(lines))
    doc = ok_with_note(run(host, "shmem"), "file_malformed", f"{path}: line {len(lines)}",
                       "SysV segments are not listed")
    assert doc["sysv"] == [] and doc["total"] is not None
    path = damage(host, "proc/meminfo", 2)
    one_error_line(run(host, "shmem"), f"{path}: line 2")


# --- report: meminfo required; every view a section, null with a note -------------------

def test_report(host):
    path = host / "proc/vmallocinfo"
    path.write_text(path.read_text().replace(" pages=", " pages=x", 1))
    buddy = damage(host, "proc/buddyinfo", 1)
    doc = ok_with_note(run(host, "report"), "file_malformed", f"{path}: line ",
                       "no vmalloc section")
    assert doc["vmalloc"] is None and doc["summary"]["memory"]["total"] > 0
    assert doc["zones"]["zones"]  # the zones section stays, its buddyinfo noted
    ok_with_note(run(host, "report"), "file_malformed", f"{buddy}: line 1",
                 "free blocks per order unknown")
    path = damage(host, "proc/meminfo", 2)
    one_error_line(run(host, "report"), f"{path}: line 2")


def test_report_without_zoneinfo_notes_the_missing_section(host):
    (host / "proc/zoneinfo").unlink()
    doc = ok_with_note(run(host, "report"), "file_missing", "proc/zoneinfo",
                       "no zones section")
    assert doc["zones"] is None


def test_report_without_vmallocinfo_keeps_its_code(host):
    (host / "proc/vmallocinfo").unlink()
    doc = ok_with_note(run(host, "report"), "vmalloc_unreadable", "proc/vmallocinfo",
                       "no vmalloc section")
    assert doc["vmalloc"] is None


# --- top: the /proc listing required; each process's files per process ------------------

def test_top(host):
    path = host / f"proc/{PID}/status"
    path.write_text(path.read_text().replace("VmRSS:", "VmRSS:\tlots kB\nVmX:", 1))
    r = run(host, "top")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert doc["skipped"]["unreadable"] == 1 and doc["processes"] == []
    assert r.stderr.startswith("memscope: warning: 1 process(es) skipped")
    assert f"{path}: line " in r.stderr
    shutil.rmtree(host / "proc")
    (host / "proc").write_text("not a directory\n")
    one_error_line(run(host, "top"), f"{host}/proc")


# --- proc: status and smaps_rollup required; mounts (for --maps) optional ---------------

def test_proc(host):
    path = host / "proc/self/mounts"  # mounts skip lines out of shape: binary data is bad
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n\x00", 1))
    r = run(host, "proc", str(PID), "--maps")
    doc = ok_with_note(r, "file_malformed", f"{path}: line 2", "the next mount table")
    assert doc["processes"][0]["mappings"]
    path = host / f"proc/{PID}/smaps_rollup"
    path.write_text(path.read_text().replace("Rss:", "Rss: 1x kB\nX:", 1))
    one_error_line(run(host, "proc", str(PID)), f"{path}: line ")


# --- cgroup: the hierarchy, the cgroup and (--pid) /proc/PID/cgroup required; each memory
# file optional ---------------------------------------------------------------------------

def test_cgroup(host):
    rel = f"sys/fs/cgroup/memory{CGROUP}/memory.stat"
    path = damage(host, rel, 1)
    doc = ok_with_note(run(host, "cgroup", CGROUP), "file_malformed", f"{path}: line 1",
                       "its figures are null")
    assert doc["cgroups"][0]["path"] == CGROUP
    assert doc["cgroups"][0]["usage"] is not None  # memory.usage_in_bytes still read
    (host / f"proc/{PID}/cgroup").write_text("garbage\n")
    one_error_line(run(host, "cgroup", "--pid", str(PID)), f"proc/{PID}/cgroup")


@pytest.mark.parametrize("how, code", [("missing", "file_missing"),
                                       ("directory", "file_unreadable"),
                                       ("binary", "file_malformed")])
def test_each_way_an_optional_file_goes_bad_has_its_code(host, how, code):
    """A cgroup's optional memory file unreadable (a directory in its place) or malformed:
    file_unreadable / file_malformed; missing: silent there (files differ by release), and
    a noted file_missing where absence is not normal (report's zoneinfo)."""
    rel = f"sys/fs/cgroup/memory{CGROUP}/memory.oom_control"
    path = host / rel
    if how == "missing":
        path.unlink()
        r = run(host, "cgroup", CGROUP)  # absent cgroup files are normal: silent
        assert r.returncode == 0 and all(
            n["code"] != "file_missing" for n in json.loads(r.stdout)["notes"])
        (host / "proc/vmallocinfo").unlink()
        ok_with_note(run(host, "report"), "vmalloc_unreadable", "no such file")
        (host / "proc/zoneinfo").unlink()
        ok_with_note(run(host, "report"), code, "proc/zoneinfo: no such file")
        return
    if how == "directory":
        path.unlink()
        path.mkdir()
    else:
        path.write_bytes(b"oom_kill_disable 0\x00\n")
    ok_with_note(run(host, "cgroup", CGROUP), code, str(path), "its figures are null")


# --- explain: as summary (meminfo required; the rest optional), each view a section -----

def test_explain(host):
    path = damage(host, "proc/vmstat", 3)
    doc = ok_with_note(run(host, "explain"), "file_malformed", f"{path}: line 3",
                       "reclaim and OOM activity unknown")
    assert doc["verdict"] in ("ok", "attention", "pressure", "critical")
    slab = host / "proc/slabinfo"
    slab.write_text(slab.read_text() + "broken 1x\n")
    ok_with_note(run(host, "explain"), "file_malformed", f"{slab}: line ")
    overcommit = host / "proc/sys/vm/overcommit_memory"
    for bad in ("\u00b2\n", "\u0662\n", "2 2\n", "-1\n"):  # ², Arabic-Indic 2: no digits
        overcommit.write_text(bad)
        doc = ok_with_note(run(host, "explain"), "file_malformed", f"{overcommit}: line 1",
                           "the overcommit policy is unknown")
        assert all(e["key"] != "overcommit_memory" for f in doc["findings"]
                   for e in f["evidence"])
    path = damage(host, "proc/meminfo", 2)
    one_error_line(run(host, "explain"), f"{path}: line 2")


# --- check: explain's files; a required one bad is the plugins' UNKNOWN, exit 3 ---------

def test_check(host):
    damage(host, "proc/vmstat", 3)
    r = run_memscope("check", "--root", host)
    assert r.returncode == 0 and r.stdout.startswith("MEMORY OK - "), (r.stdout, r.stderr)
    path = damage(host, "proc/meminfo", 2)
    r = run_memscope("check", "--root", host)
    assert r.returncode == 3 and r.stderr == ""
    assert r.stdout.startswith(f"MEMORY UNKNOWN - {path}: line 2") and \
        r.stdout.count("\n") == 1, r.stdout


# --- diff: both reports required; a section a report lacks is compared as unknown -------

def test_diff(host, tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    r = run_memscope("report", "--root", host, "--format", "json", "-o", old)
    assert r.returncode == 0, r.stderr
    (host / "proc/vmallocinfo").unlink()
    r = run_memscope("report", "--root", host, "--format", "json", "-o", new)
    assert r.returncode == 0 and json.loads(new.read_text())["vmalloc"] is None
    r = run_memscope("diff", old, new, "--format", "json")
    assert r.returncode == 0, r.stderr
    new.write_text(new.read_text()[:200])
    r = run_memscope("diff", old, new, "--format", "json")
    one_error_line(r, str(new), "not valid JSON")


# --- trend: each report optional (skipped and named); none readable is an error ---------

def test_trend(tmp_path):
    hist = tmp_path / "hist"
    hist.mkdir()
    for name in ("a", "b", "c"):
        r = run_memscope("report", "--format", "json", "-o", hist / f"{name}.json")
        assert r.returncode == 0, r.stderr
    (hist / "b.json").write_text((hist / "b.json").read_text()[:300])
    r = run_memscope("trend", hist, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [s["file"] for s in json.loads(r.stdout)["skipped"]] == [str(hist / "b.json")]
    assert r.stderr.startswith("memscope: warning: 1 file(s) skipped: ") and \
        str(hist / "b.json") in r.stderr and r.stderr.count("\n") == 1
    (hist / "a.json").unlink()
    (hist / "c.json").write_text("{}")
    one_error_line(run_memscope("trend", hist, "--format", "json"), str(hist),
                   "no readable report")


# --- cache: every PATH required; a file inside that can't be measured is named ----------

def test_cache(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "data").write_bytes(b"x" * 8192)
    os.mkfifo(tree / "fifo")
    (tree / "gone").symlink_to(tree / "nothing")
    r = run_memscope("cache", tree, "--format", "json")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    doc = json.loads(r.stdout)
    assert doc["totals"]["files"] == 1
    assert str(tree / "fifo") in {s["path"] for s in doc["skipped"]}
    one_error_line(run_memscope("cache", tree / "missing", "--format", "json"),
                   str(tree / "missing"), "no such file")
