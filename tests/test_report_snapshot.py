"""report, Prometheus output, snapshots (and their safety), diff."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile

import pytest
import yaml

from conftest import FIXTURES, MiB, run_memscope, yaml_names
from memscope import archive

prometheus = pytest.importorskip("prometheus_client.parser")


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    path = tmp_path_factory.mktemp("snap") / "host.tar.gz"
    r = run_memscope("snapshot", "-o", path)
    assert r.returncode == 0, r.stderr
    return path


def parse_prom(text):
    """Parse with prometheus_client and check the textfile-collector rules."""
    families = list(prometheus.text_string_to_metric_families(text))
    assert families
    series = set()
    for fam in families:
        assert fam.name.startswith("memscope_")
        for sample in fam.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in series, key
            series.add(key)
            assert sample.timestamp is None
    for line in text.splitlines():
        if line.startswith("# TYPE ") and line.endswith(" counter"):
            assert line.split()[2].endswith("_total")
    helps = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
    types = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    assert helps == types
    return families


# --- report ---------------------------------------------------------------------------


def test_report_schema_round_trips(snap, tmp_path):
    out_json, out_yaml = tmp_path / "r.json", tmp_path / "r.yaml"
    for fmt, out in (("json", out_json), ("yaml", out_yaml)):
        r = run_memscope("report", "--root", snap, "--format", fmt, "-o", out)
        assert r.returncode == 0, r.stderr
        assert r.stdout == ""
    doc = json.loads(out_json.read_text())
    assert yaml_names(yaml.safe_load(out_yaml.read_text())) == doc
    assert doc["schema_version"] == 1
    assert set(doc) >= {"source", "summary", "zones", "vmalloc", "top", "cgroups", "notes"}
    assert doc["source"]["root"] == str(snap) and doc["source"]["taken_at"]
    top = doc["top"]
    assert len(top["processes"]) <= 20
    assert sum(g["count"] for g in top["groups"]) == top["totals"]["processes"]
    assert sum(g["pss"] or 0 for g in top["groups"]) == top["totals"]["pss"]  # null: unknown
    assert doc["cgroups"][0]["path"] == "/"
    assert json.loads(json.dumps(doc)) == doc


def test_report_table_and_live():
    r = run_memscope("report")
    assert r.returncode == 0, r.stderr
    assert "Where MemTotal goes" in r.stdout and "Programs" in r.stdout


# --- Prometheus -----------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["summary"], ["zones"], ["cgroup", "--children"], ["report"],
    ["summary", "--root", FIXTURES / "pcp-qa-meminfo-root-007-numa2"],
    ["summary", "--root", FIXTURES / "constructed-zram-zfs"],
    ["zones", "--root", FIXTURES / "goclever-i5-android-arm32-3.4"],
    ["cgroup", "/", "/system.slice", "--root", FIXTURES / "pcp-qa-cgroups-root-003-docker"],
])
def test_prometheus_output_parses(args):
    r = run_memscope(*args, "--format", "prom")
    assert r.returncode == 0, r.stderr
    families = {f.name: f for f in parse_prom(r.stdout)}
    if args[0] == "summary":
        total = families["memscope_memory_total_bytes"].samples[0].value
        cats = families["memscope_breakdown_bytes"].samples
        assert sum(s.value for s in cats) == total


def test_prometheus_counters_and_labels():
    text = run_memscope("report", "--format", "prom").stdout
    fams = {f.name: f for f in parse_prom(text)}
    assert fams["memscope_reclaim_events"].type == "counter"
    assert fams["memscope_pressure_stall_seconds"].type == "counter"
    cg = fams["memscope_cgroup_usage_bytes"].samples
    assert all(s.labels["cgroup"].startswith("/sys/fs/cgroup") for s in cg)


def test_prometheus_escapes_hostile_program_names(workers, world_tmp, worker_bin):
    name = 'w"x\\y\nz'
    path = world_tmp / name
    shutil.copy(worker_bin, path)
    from conftest import Worker

    w = Worker(str(path), "none")
    try:
        text = run_memscope("report", "--format", "prom").stdout
        fams = {f.name: f for f in parse_prom(text)}
        programs = {s.labels["program"] for s in fams["memscope_program_pss_bytes"].samples}
        assert name in programs
        assert 'program="w\\"x\\\\y\\nz"' in text
    finally:
        w.stop()


def test_summary_prom_under_watch(tmp_path):
    out = tmp_path / "m.prom"
    r = run_memscope("summary", "--format", "prom", "-o", out, "--watch", "0.1", "--count", "2")
    assert r.returncode == 0
    parse_prom(out.read_text())
    assert sorted(os.listdir(tmp_path)) == ["m.prom"]


# --- snapshots ------------------------------------------------------------------------


def test_snapshot_contents_and_manifest(snap):
    with tarfile.open(snap) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert "proc/meminfo" in names and "proc/zoneinfo" in names
    assert any(n.endswith("/smaps_rollup") for n in names)
    assert any(n.startswith("sys/fs/cgroup/") and n.endswith("memory.stat") for n in names)
    assert all(n == "manifest.json" or n.startswith(("proc/", "sys/")) for n in names)
    assert manifest["hostname"] == open("/proc/sys/kernel/hostname").read().strip()
    assert manifest["page_size"] == os.sysconf("SC_PAGE_SIZE")
    assert manifest["users"]["0"] == "root"
    assert oct(os.stat(snap).st_mode & 0o777) == "0o644"


def test_every_command_runs_on_a_snapshot_like_live(workers, tmp_path):
    anon = workers("anon", 16 * MiB)
    path = tmp_path / "s.tar.gz"
    assert run_memscope("snapshot", "-o", path).returncode == 0

    def both(*args):
        live = run_memscope(*args, "--format", "json")
        off = run_memscope(*args, "--root", path, "--format", "json")
        assert live.returncode == 0 and off.returncode == 0, (live.stderr, off.stderr)
        return json.loads(live.stdout), json.loads(off.stdout)

    live, off = both("summary")
    assert off["memory"]["total"] == live["memory"]["total"]
    assert off["source"]["hostname"] == live["source"]["hostname"]
    assert off["source"]["kernel"] == live["source"]["kernel"]
    assert off["physical"] == live["physical"]
    for key in ("node", "zone", "min", "low", "high", "managed", "present"):
        assert [z[key] for z in off["zones"]] == [z[key] for z in live["zones"]]
    assert sum(c["bytes"] for c in off["breakdown"]) == off["memory"]["total"]
    live, off = both("proc", str(anon.pid))
    for key in ("rss", "uss", "pss_anon", "rss_anon", "vsz", "name", "cmdline", "user",
                "source", "oom_score"):
        assert off["processes"][0][key] == live["processes"][0][key], key
    live, off = both("top", "--pid", str(anon.pid), "--group-by", "program")
    assert off["groups"][0]["key"] == live["groups"][0]["key"] == "worker"
    assert off["processes"][0]["rss"] == live["processes"][0]["rss"]
    live, off = both("cgroup", "--pid", str(anon.pid))
    for key in ("path", "version", "limit", "unlimited", "full_path"):
        assert off["cgroups"][0][key] == live["cgroups"][0][key]
    assert anon.pid in off["cgroups"][0]["pids"]
    live, off = both("zones")
    assert [z["managed"] for z in off["zones"]] == [z["managed"] for z in live["zones"]]
    assert off["tunables"] == live["tunables"]
    if os.geteuid() == 0:
        live, off = both("vmalloc")
        assert {t["type"] for t in off["by_type"]} <= {t["type"] for t in live["by_type"]} | {
            "unpurged"}
        live, off = both("slab")
        assert len(off["caches"]) == len(live["caches"])
    live, off = both("shmem")
    assert [m["mountpoint"] for m in off["mounts"]] == [m["mountpoint"] for m in live["mounts"]]
    assert off["unattributed"] is not None


def test_snapshot_of_a_root_is_refused(tmp_path):
    r = run_memscope("snapshot", "-o", tmp_path / "x.tar.gz", "--root",
                     FIXTURES / "this-vm-6.18.44-live")
    assert r.returncode == 1 and "live host" in r.stderr
    assert list(tmp_path.iterdir()) == []


def _tar(path, members, manifest=True):
    """members: (name, kind, data) with kind file|symlink|hardlink|fifo|chr|dir."""
    with tarfile.open(path, "w:gz") as tar:
        if manifest:
            data = b'{"hostname": "x"}'
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE,
                         "dir": tarfile.DIRTYPE}[kind]
            info.linkname = data.decode() if data else ""
            tar.addfile(info)


MEMINFO = (FIXTURES / "this-vm-6.18.44-live/proc/meminfo").read_bytes()


@pytest.mark.parametrize("members, message", [
    ([("../../etc/passwd", "file", b"x")], "outside the archive"),
    ([("proc/../../x", "file", b"x")], "outside the archive"),
    ([("/etc/passwd", "file", b"x")], "absolute name"),
    ([("proc/meminfo", "symlink", b"/etc/passwd")], "is a link"),
    ([("proc/meminfo", "hardlink", b"/etc/shadow")], "is a link"),
    ([("proc/fifo", "fifo", b"")], "special file"),
    ([("proc/null", "chr", b"")], "special file"),
    ([("proc/meminfo", "file", MEMINFO), ("proc/meminfo", "file", MEMINFO)], "appears twice"),
    ([("etc/passwd", "file", b"x")], "not under proc/ or sys/"),
])
def test_hostile_archives_are_refused(tmp_path, members, message):
    path = tmp_path / "evil.tar.gz"
    _tar(path, members)
    before = sorted(os.listdir(tmp_path))
    r = run_memscope("summary", "--root", path, cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and message in lines[0] and "refused" in lines[0]
    assert sorted(os.listdir(tmp_path)) == before  # nothing extracted, nothing written


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.tar.gz"
    _tar(path, [("proc/meminfo", "file", MEMINFO), ("proc/zeros", "file", b"\0" * (4 * MiB))])
    assert path.stat().st_size < 64 * 1024  # small on disk
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 2 * MiB)
    with pytest.raises(archive.ArchiveError) as info:
        archive.load_members(str(path))
    assert "decompresses to more than" in str(info.value)
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 64 * MiB)
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", MiB)
    with pytest.raises(archive.ArchiveError) as info:
        archive.load_members(str(path))
    assert "proc/zeros" in str(info.value)


def test_member_claiming_gigabytes_is_refused_before_reading(tmp_path):
    path = tmp_path / "claims.tar"
    info = tarfile.TarInfo("proc/meminfo")
    info.size = 300 * MiB  # the header claims it; the data is not there
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    with open(path, "wb") as f:
        f.write(header + b"\0" * 1024)
    r = run_memscope("summary", "--root", path)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert "refused" in r.stderr or "not a readable memscope snapshot" in r.stderr


@pytest.mark.parametrize("content, message", [
    (b"this is not an archive at all\n", "not a readable memscope snapshot"),
    (b"\x1f\x8b\x08\x00garbage-after-the-gzip-magic", "not a readable memscope snapshot"),
    (b"", "not a readable memscope snapshot"),
])
def test_garbage_is_refused(tmp_path, content, message):
    path = tmp_path / "garbage.tar.gz"
    path.write_bytes(content)
    r = run_memscope("top", "--root", path)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and message in r.stderr


def test_archive_without_manifest(tmp_path):
    path = tmp_path / "nomanifest.tar.gz"
    _tar(path, [("proc/meminfo", "file", MEMINFO)], manifest=False)
    r = run_memscope("summary", "--root", path)
    assert r.returncode == 1 and "no manifest.json" in r.stderr


def test_minimal_archive_works(tmp_path):
    path = tmp_path / "min.tar.gz"
    _tar(path, [("proc/meminfo", "file", MEMINFO)])
    r = run_memscope("summary", "--root", path, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["memory"]["total"] == 24684084 * 1024


# --- diff -----------------------------------------------------------------------------


def test_diff_shows_a_known_allocation_under_its_program(worker_bin, tmp_path):
    """The test owns its program: a worker binary under a name no one else runs, so other
    processes on the host (other tests' workers) never move its figures."""
    import uuid

    from conftest import Worker

    size = 64 * MiB
    name = f"memscope-diff-{uuid.uuid4().hex[:8]}"
    binary = shutil.copy(worker_bin, tmp_path / name)
    started = [Worker(binary, "none")]
    try:
        old, new = tmp_path / "old.yaml", tmp_path / "new.json"
        assert run_memscope("report", "--format", "yaml", "-o", old).returncode == 0
        started.append(Worker(binary, "anon", size))
        assert run_memscope("report", "--format", "json", "-o", new).returncode == 0
        before = next(g for g in yaml.safe_load(old.read_text())["top"]["groups"]
                      if g["key"] == name)
        after = next(g for g in json.loads(new.read_text())["top"]["groups"]
                     if g["key"] == name)
        assert (before["count"], after["count"]) == (1, 2)
        r = run_memscope("diff", old, new, "--format", "json", "--min-change", "1M")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        mine = next(p for p in doc["programs"] if p["key"] == name)
        assert mine["status"] == "grown"
        assert mine["delta"] == after["pss"] - before["pss"]
        # a second worker: its 64 MiB, its own stack and data, and the shared binary's
        # pages now split between two
        assert size <= mine["delta"] < size + MiB
        assert all(p["delta"] is None or abs(p["delta"]) >= MiB for p in doc["programs"])
        assert doc["old"]["source"]["taken_at"] and doc["new"]["source"]["taken_at"]
        r = run_memscope("diff", old, new)
        assert r.returncode == 0 and name in r.stdout and "grown" in r.stdout
    finally:
        for w in started:
            w.stop()


def test_diff_statuses_and_errors(tmp_path):
    a = {"schema_version": 1, "source": {}, "summary": {"memory": {"used": 100}},
         "top": {"groups": [{"key": "gone", "pss": 5}, {"key": "same", "pss": 7},
                            {"key": "shrinks", "pss": 9}]},
         "cgroups": [{"path": "/a", "usage": 10}]}
    b = {"schema_version": 1, "source": {}, "summary": {"memory": {"used": 150}},
         "top": {"groups": [{"key": "new", "pss": 3}, {"key": "same", "pss": 7},
                            {"key": "shrinks", "pss": 4}]},
         "cgroups": [{"path": "/a", "usage": 30}]}
    pa, pb = tmp_path / "a.json", tmp_path / "b.yaml"
    pa.write_text(json.dumps(a))
    pb.write_text(yaml.safe_dump(b))
    doc = json.loads(run_memscope("diff", pa, pb, "--format", "json").stdout)
    assert {p["key"]: (p["status"], p["delta"]) for p in doc["programs"]} == {
        "gone": ("gone", -5), "new": ("new", 3), "shrinks": ("shrunk", -5)}
    assert doc["cgroups"] == [{"path": "/a", "old_usage": 10, "new_usage": 30, "delta": 20}]
    assert doc["system"][0] == {"field": "memory.used", "old": 100, "new": 150, "delta": 50}
    for bad, message in ((tmp_path / "missing.yaml", "No such file"),
                         (FIXTURES / "this-vm-6.18.44-live/proc/meminfo", "not a memscope")):
        r = run_memscope("diff", bad, pb)
        assert r.returncode == 1 and message in r.stderr and len(r.stderr.splitlines()) == 1


def test_prom_leaves_unknown_pss_out(tmp_path):
    """A process with status only (pss unknown): report's Prometheus text has no pss sample
    for its program (never 0), says how many are unknown, and the group says so."""
    import shutil

    root = tmp_path / "host"
    shutil.copytree(FIXTURES / "this-vm-6.18.44-live", root)
    shutil.copytree(FIXTURES / "pcp-qa-procpid-2.6.32/proc/2887", root / "proc/2887")
    r = run_memscope("report", "--root", root, "--format", "prom")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    program = json.loads(run_memscope("report", "--root", root, "--format", "json").stdout)[
        "top"]["groups"]
    (group,) = [g for g in program if g["count"] == 1 and g["pss"] is None]
    assert group["pss_incomplete"] is True
    label = f'program="{group["key"]}"'
    assert not any(line.startswith("memscope_program_pss_bytes{") and label in line
                   for line in lines)
    assert f"memscope_program_pss_unknown_processes{{{label}}} 1" in lines
    assert any(line.startswith("memscope_program_rss_bytes{") and label in line
               for line in lines)
    assert 'memscope_processes_unknown{figure="pss"} 1' in lines


def test_diff_of_a_program_whose_pss_is_unknown_is_no_change_from_zero():
    """A group whose PSS is null (members unreadable) is 'unknown' with a null delta: a diff
    never computes a change from a 0 it made up."""
    from memscope.model.diff import build_diff

    def report(groups):
        return {"schema_version": 1, "summary": {}, "top": {"groups": groups}}

    old = report([{"key": "a", "pss": None}, {"key": "b", "pss": 100}, {"key": "c", "pss": None}])
    new = report([{"key": "a", "pss": 300}, {"key": "b", "pss": None}, {"key": "d", "pss": None}])
    rows = {p["key"]: p for p in build_diff(old, new)["programs"]}
    assert rows["a"]["status"] == rows["b"]["status"] == "unknown"
    assert rows["a"]["delta"] is None and rows["b"]["delta"] is None
    assert rows["c"]["status"] == "gone" and rows["c"]["delta"] is None
    assert rows["d"]["status"] == "new" and rows["d"]["delta"] is None


def test_by_mapping_on_a_snapshot_without_maps_is_an_error_not_zeros(tmp_path):
    snap = tmp_path / "s.tar.gz"
    assert run_memscope("snapshot", "-q", "-o", snap).returncode == 0
    r = run_memscope("top", "--root", snap, "--by-mapping", "--format", "json")
    assert r.returncode == 1 and r.stdout == "" and "snapshot --maps" in r.stderr
