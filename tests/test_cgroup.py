"""memscope cgroup: v1 and v2 in one model — captured trees (golden), real child cgroups of
the test's own cgroup, errors, and the container view of summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from conftest import FIXTURES, GOLDEN, MiB, REPO, run_memscope
from memscope.collect.cgroups import find_hierarchy, read_files
from memscope.errors import MemscopeError
from memscope.sources import Root

GNOME = ("/user.slice/user-1000.slice/user@1000.service/session.slice/"
         "org.gnome.Shell@wayland.service")
DOCKER = ("/system.slice/docker-f4d3b90bea1585f216da780c97cc4675827296e1c90fdc957fb2ea0c1db85a6a"
          ".scope")
CASES = [  # (name, host, paths): v2 from 5.3 to 6.15, v1 from RHEL 6 to 6.18
    ("v2-5.3-fedora", "pcp-qa-cgroups-root-004-v2-fedora", ["/system.slice"]),
    ("v2-6.14-ubuntu", "ubuntu-vm-cgroup2-6.14", ["/", GNOME]),
    ("v2-6.15-warpnix", "warpnix-cgroup2-6.15plus", ["/"]),
    ("v1-rhel6", "pcp-qa-cgroups-root-001-rhel6", ["/"]),
    ("v1-3.1x-docker", "pcp-qa-cgroups-root-003-docker", ["/", DOCKER]),
    ("v1-4.1x-ubuntu", "ubuntu-desktop-cgroup1-4.1x", ["/"]),
    ("v1-container-256m", "container-cgroup1-256m", ["/"]),
    ("v1-6.18-this-vm", "this-vm-6.18.44-fc-v657", ["/session.slice/build.scope"]),
]


def cgroup_json(*args):
    r = run_memscope("cgroup", *args, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("name, host, paths", CASES)
def test_fixture_golden(name, host, paths, update_golden):
    from test_golden import check

    for fmt, suffix in (("json", "json"), ("table", "txt")):
        r = run_memscope("cgroup", *paths, "--root", FIXTURES / host, "--format", fmt)
        assert r.returncode == 0, r.stderr
        check(GOLDEN / "cgroup" / f"{name}.{suffix}", r.stdout, update_golden)


def test_v2_mapping_ubuntu_gnome_shell():
    doc = cgroup_json(GNOME, "--root", FIXTURES / "ubuntu-vm-cgroup2-6.14")
    cg = doc["cgroups"][0]
    stat = cg["stat"]
    base = FIXTURES / "ubuntu-vm-cgroup2-6.14" / "sys/fs/cgroup" / GNOME.lstrip("/")
    assert cg["version"] == 2
    assert cg["usage"] == int((base / "memory.current").read_text())
    assert cg["peak"] == int((base / "memory.peak").read_text())
    assert cg["limit"] is None and cg["unlimited"] is True
    assert (cg["anon"], cg["file"], cg["kernel"], cg["sock"], cg["page_tables"]) == \
        (stat["anon"], stat["file"], stat["kernel"], stat["sock"], stat["pagetables"])
    assert cg["working_set"] == cg["usage"] - stat["inactive_file"]
    assert cg["events"] == {"low": 0, "high": 0, "max": 0, "oom": 0, "oom_kill": 0}
    assert cg["pressure"]["some"]["avg10"] == 0.0
    assert cg["process_count"] is None  # the capture holds no cgroup.procs


def test_v2_root_uses_runc_rule():
    doc = cgroup_json("/", "--root", FIXTURES / "ubuntu-vm-cgroup2-6.14")
    cg = doc["cgroups"][0]
    assert cg["usage"] == cg["stat"]["anon"] + cg["stat"]["file"]
    assert "root_usage_rule" in [n["code"] for n in doc["notes"]]


def test_v1_mapping_this_vm():
    doc = cgroup_json("/session.slice/build.scope", "--root",
                      FIXTURES / "this-vm-6.18.44-fc-v657")
    cg = doc["cgroups"][0]
    stat = cg["stat"]
    assert cg["version"] == 1
    assert cg["usage"] == 4902912 and cg["peak"] == 5996544
    assert cg["limit"] is None and cg["unlimited"] is True  # page-rounded LONG_MAX
    assert (cg["anon"], cg["file"], cg["swap"], cg["file_mapped"]) == \
        (stat["total_rss"], stat["total_cache"], stat["total_swap"], stat["total_mapped_file"])
    assert cg["working_set"] == cg["usage"] - stat["total_inactive_file"]
    assert cg["events"]["max"] == 0 and cg["events"]["oom_kill"] == 0
    assert cg["high"] is None and cg["kernel"] is None  # v1: no memory.high; no kmem file


def test_v1_container_limit_from_hierarchical_limit():
    cg = cgroup_json("/", "--root", FIXTURES / "container-cgroup1-256m")["cgroups"][0]
    assert cg["limit"] == 256 * MiB and cg["unlimited"] is False
    assert cg["usage"] == 44752896


def test_rhel6_layout_and_full_path():
    root = FIXTURES / "pcp-qa-cgroups-root-001-rhel6"
    cg = cgroup_json("/", "--root", root)["cgroups"][0]
    assert cg["file"] == 909434880 and cg["swap"] == 0
    doc = cgroup_json("/sys/fs/cgroup/memory" + DOCKER, "--root",
                      FIXTURES / "pcp-qa-cgroups-root-003-docker")
    assert doc["cgroups"][0]["path"] == DOCKER


@pytest.mark.parametrize("path, message", [
    ("/no/such/cgroup", "no such cgroup"),
    ("../../etc", "outside the memory hierarchy"),
    ("/sys/fs/cgroup/cpu/foo", "outside the memory hierarchy"),
])
def test_bad_paths_exit_1(path, message):
    r = run_memscope("cgroup", path, "--root", FIXTURES / "this-vm-6.18.44-fc-v657")
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and message in r.stderr


def test_no_hierarchy_exit_1(tmp_path):
    r = run_memscope("cgroup", "--root", tmp_path)
    assert r.returncode == 1 and "no cgroup memory controller" in r.stderr


def test_removed_mid_read(tmp_path):
    """A cgroup removed while its files are read: one clear error, not a traceback."""
    shutil.copytree(FIXTURES / "this-vm-6.18.44-fc-v657" / "sys", tmp_path / "sys")
    target = tmp_path / "sys/fs/cgroup/memory/session.slice/build.scope"

    class Vanishing(Root):
        def read_bytes(self, rel):
            data = super().read_bytes(rel)
            if target.exists():
                shutil.rmtree(target)
            return data

    root = Vanishing(str(tmp_path))
    with pytest.raises(MemscopeError) as info:
        read_files(root, find_hierarchy(root), "/session.slice/build.scope")
    assert "removed while being read" in str(info.value)


def test_children_of_generated_tree(tmp_path):
    base = tmp_path / "sys/fs/cgroup"
    for i in range(20):
        d = base / f"svc{i:02d}.service"
        d.mkdir(parents=True)
        (d / "memory.current").write_text(f"{(i + 1) * MiB}\n")
        (d / "memory.max").write_text("max\n")
        (d / "memory.stat").write_text(f"anon {i * MiB}\nfile {MiB}\ninactive_file 4096\n")
        (d / "cgroup.procs").write_text("")
    (base / "memory.stat").write_text(f"anon {300 * MiB}\nfile {100 * MiB}\n")
    (base / "cgroup.procs").write_text("")
    doc = cgroup_json("/", "--children", "--root", tmp_path)
    usages = [c["usage"] for c in doc["cgroups"]]
    assert usages == sorted(usages, reverse=True) and len(usages) == 20
    assert doc["parent"]["own_usage"] == 400 * MiB - sum(usages)
    assert doc["cgroups"][0]["working_set"] == 20 * MiB - 4096


# ---------------------------------------------------------------------------------------
# Live: child cgroups of the test's own cgroup (this machine mounts the v1 controller)


def own_memcg():
    """(hierarchy mount, own cgroup path) on the live host, or a skip reason."""
    try:
        hier = find_hierarchy(Root("/"))
    except MemscopeError as exc:
        return str(exc)
    from memscope.parsers.memcg import memory_cgroup

    path = memory_cgroup(open("/proc/self/cgroup").read())
    base = "/" + hier.mount + ("" if path == "/" else path)
    if hier.version != 1:
        return "the live tests drive the v1 controller (v2 is covered by captured trees)"
    if not os.access(base, os.W_OK):
        return f"{base} is not writable: no child cgroups can be made here"
    return base, path


@pytest.fixture
def child_cgroups():
    found = own_memcg()
    if isinstance(found, str):
        pytest.skip(found)
    base, path = found
    top = f"memscope-test-{uuid.uuid4().hex[:8]}"
    made = []

    def make(*names):
        os.mkdir(os.path.join(base, top)) if not made else None
        if not made:
            made.append(os.path.join(base, top))
        out = []
        for name in names:
            d = os.path.join(base, top, name)
            os.mkdir(d)
            made.append(d)
            out.append(((path.rstrip("/") + f"/{top}/{name}"), d))
        return out

    yield make, path.rstrip("/") + f"/{top}"
    for d in reversed(made):
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.1)


def read_int(d, name):
    with open(os.path.join(d, name)) as f:
        return int(f.read())


def test_live_v1_children_with_known_charges(child_cgroups, workers, tmp_path):
    make, parent = child_cgroups
    (a_path, a_dir), (b_path, b_dir) = make("a", "b")
    anon, fsize = 32 * MiB, 8 * MiB
    procs = []
    for d, n in ((a_dir, anon), (b_dir, 2 * anon)):
        w = workers("charge", n, tmp_path / f"file-{os.path.basename(d)}", fsize)
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(w.pid))
        w.go()
        procs.append((w, d, n))
    doc = cgroup_json(a_path, b_path)
    for cg, (w, d, n) in zip(doc["cgroups"], procs):
        stat = cg["stat"]
        assert cg["version"] == 1
        assert cg["pids"] == [w.pid] and cg["process_count"] == 1
        # the construction: the worker's anonymous memory and the file it wrote
        assert n <= cg["anon"] < n + 2 * MiB
        assert fsize <= cg["file"] < fsize + 2 * MiB
        assert cg["file_mapped"] < MiB  # written, not mapped
        # the cgroup's own files, read right after (the worker is idle)
        assert cg["usage"] == read_int(d, "memory.usage_in_bytes")
        assert cg["kernel"] == read_int(d, "memory.kmem.usage_in_bytes")
        assert cg["working_set"] == cg["usage"] - stat["total_inactive_file"]
        assert cg["limit"] is None and cg["unlimited"] is True
        rec = cg["reconciliation"]
        proc = json.loads(run_memscope("proc", w.pid, "--format", "json").stdout)
        assert rec["procs_rss"] == proc["processes"][0]["rss"]
        assert rec["unmapped_file"] == cg["file"] - cg["file_mapped"]
        assert rec["residual"] == (cg["usage"] - rec["procs_pss"] - rec["unmapped_file"]
                                   - rec["kernel"] - rec["swap_cache"])
    # the parent's children, largest first, and --pid
    doc = cgroup_json(parent, "--children")
    assert [c["path"] for c in doc["cgroups"]] == [b_path, a_path]
    assert doc["parent"]["own_usage"] == doc["parent"]["usage"] - sum(
        c["usage"] for c in doc["cgroups"])
    doc = cgroup_json("--pid", procs[0][0].pid)
    assert doc["cgroups"][0]["path"] == a_path
    full = cgroup_json("/sys/fs/cgroup/memory" + a_path)
    assert full["cgroups"][0]["path"] == a_path
    r = run_memscope("cgroup", parent, "--children")
    assert r.returncode == 0 and "residual" in r.stdout


def test_live_container_view(child_cgroups):
    make, _parent = child_cgroups
    ((path, d),) = make("boxed")
    limit = 1024 * MiB
    with open(os.path.join(d, "memory.limit_in_bytes"), "w") as f:
        f.write(str(limit))
    script = (f"echo $$ > {d}/cgroup.procs && exec {sys.executable} -m memscope summary "
              "--format json")
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    box = doc["container"]
    assert box["path"] == path and box["version"] == 1 and box["limit"] == limit
    assert box["headroom"] == limit - box["working_set"]
    assert "container_limit" in [n["code"] for n in doc["notes"]]
    # outside it (the test's own cgroup has no limit): no container section
    assert cgroup_json("--pid", os.getpid())["cgroups"][0]["unlimited"] is True
    assert json.loads(run_memscope("summary", "--format", "json").stdout)["container"] is None


def test_live_v1_effective_limit_from_a_limited_parent(child_cgroups):
    """A cgroup with no limit of its own under a limited parent: the limit that applies is
    the parent's (the kernel's hierarchical_memory_limit), and the parent is named."""
    make, _top = child_cgroups
    ((lim_path, lim_dir),) = make("lim")
    inner = os.path.join(lim_dir, "inner")
    with open(os.path.join(lim_dir, "memory.limit_in_bytes"), "w") as f:
        f.write(str(64 * MiB))
    os.mkdir(inner)
    try:
        doc = cgroup_json(lim_path + "/inner")
        cg = doc["cgroups"][0]
        with open(os.path.join(inner, "memory.stat")) as f:
            stat = dict(line.split() for line in f)
        assert int(stat["hierarchical_memory_limit"]) == 64 * MiB  # the kernel's own
        assert cg["limit"] is None and cg["unlimited"] is True  # its own: none (unchanged)
        assert cg["effective_limit"] == 64 * MiB
        assert cg["limit_set_by"] == lim_path
        own = cgroup_json(lim_path)["cgroups"][0]
        assert own["effective_limit"] == own["limit"] == 64 * MiB
        assert own["limit_set_by"] == lim_path
        r = run_memscope("cgroup", lim_path + "/inner")
        applies = next(line for line in r.stdout.splitlines() if "applies" in line)
        assert applies.split()[-1] == "64Mi"
        for cg in (doc["cgroups"][0], own):
            assert cg["under_oom"] is False
            assert cg["memsw_failcnt"] == read_int(lim_dir, "memory.memsw.failcnt")
    finally:
        os.rmdir(inner)


def test_v2_effective_limit_is_the_smallest_above(tmp_path):
    base = tmp_path / "sys/fs/cgroup"
    for rel, limit in (("a", f"{512 * MiB}"), ("a/b", f"{128 * MiB}"), ("a/b/c", "max"),
                       ("a/b/c/d", f"{256 * MiB}")):
        d = base / rel
        d.mkdir(parents=True)
        (d / "memory.current").write_text(f"{MiB}\n")
        (d / "memory.max").write_text(limit + "\n")
        (d / "memory.stat").write_text(f"anon {MiB}\nfile 0\n")
    (base / "memory.stat").write_text(f"anon {MiB}\nfile 0\n")
    doc = cgroup_json("/a/b/c", "/a/b/c/d", "/a", "--root", tmp_path)
    got = [(c["limit"], c["effective_limit"], c["limit_set_by"]) for c in doc["cgroups"]]
    assert got == [(None, 128 * MiB, "/a/b"), (256 * MiB, 128 * MiB, "/a/b"),
                   (512 * MiB, 512 * MiB, "/a")]
    assert all(c["under_oom"] is None and c["memsw_failcnt"] is None for c in doc["cgroups"])


def test_live_v1_root_own_share_compares_like_with_like():
    """The v1 root's usage_in_bytes has no kernel memory, its children's usage has: the
    root's own share is taken against usage + kmem, never negative, and report never shows
    / below a child."""
    found = own_memcg()
    if isinstance(found, str):
        pytest.skip(found)
    doc = cgroup_json("/", "--children")
    parent = doc["parent"]
    root = cgroup_json("/")["cgroups"][0]
    # the identity, within one document: usage_in_bytes + kmem.usage_in_bytes
    assert root["comparable_usage"] == root["usage"] + root["kernel"]
    mount = "/sys/fs/cgroup/memory"
    assert os.path.exists(os.path.join(mount, "memory.kmem.usage_in_bytes"))
    assert parent["own_usage"] == parent["comparable_usage"] - sum(
        c["usage"] for c in doc["cgroups"])
    # other engineers' tests churn memory between the reads of root and children
    biggest = max(c["usage"] for c in doc["cgroups"])
    slack = 4 * MiB + biggest // 50
    assert parent["own_usage"] > -slack
    report = json.loads(run_memscope("report", "--format", "json").stdout)
    top = next(c for c in report["cgroups"] if c["path"] == "/")
    for child in report["cgroups"]:
        assert top["comparable_usage"] + slack >= child["usage"]
    r = run_memscope("report")
    assert "incl. kernel" in r.stdout
