"""Live hazards on this kernel (issue 10): a cgroup subtree deeper than PATH_MAX, a cgroup
removed while it is read, sysctls whose read has side effects, a deleted working directory.
cgroups are made under the test's own v1 memory cgroup only, and removed after."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid

import pytest

from conftest import REPO, run_memscope
from memscope.sources import Root

pytestmark = pytest.mark.skipif(not os.path.isfile("/proc/self/smaps_rollup"),
                                reason="needs a live Linux /proc")
NAME = "d" * 250  # NAME_MAX is 255: twenty of them make a path past PATH_MAX (4096)


def own_v1_memcg():
    from test_cgroup import own_memcg

    found = own_memcg()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def _chain_fds(top_fd):
    """Directory fds down the chain of NAME under top_fd (the caller closes them)."""
    fds = [top_fd]
    while True:
        try:
            fds.append(os.open(NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
        except FileNotFoundError:
            return fds


@pytest.fixture
def deep_cgroup():
    """A chain of twenty cgroups, each named with 250 characters, under a child of our own
    cgroup: its deeper levels have paths longer than PATH_MAX. Made and removed with
    directory fds (mkdirat, unlinkat): by path, neither can reach them."""
    base, path = own_v1_memcg()
    top = f"memscope-deep-{uuid.uuid4().hex[:8]}"
    os.mkdir(os.path.join(base, top))
    top_fd = os.open(os.path.join(base, top), os.O_RDONLY | os.O_DIRECTORY)
    fds = [top_fd]
    try:
        for _ in range(20):
            os.mkdir(NAME, dir_fd=fds[-1])
            fds.append(os.open(NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
        assert len(os.path.join(base, top, *[NAME] * 20)) > 4096
        for fd in fds[1:]:
            os.close(fd)
        yield path.rstrip("/") + "/" + top, os.path.join(base, top)
    finally:
        fds = _chain_fds(top_fd)
        for i in range(len(fds) - 1, 0, -1):  # deepest first
            os.close(fds[i])
            os.rmdir(NAME, dir_fd=fds[i - 1])
        os.close(top_fd)
        os.rmdir(os.path.join(base, top))


def test_a_subtree_deeper_than_path_max_does_not_break_the_host(deep_cgroup, tmp_path):
    cg, real = deep_cgroup
    with pytest.raises(OSError):  # by path, the kernel refuses the deepest level
        os.listdir(os.path.join(real, *[NAME] * 20))
    for args in (["cgroup", "/"], ["cgroup", "/", "--children"], ["cgroup", cg, "--children"],
                 ["report"]):
        r = run_memscope(*args, "--format", "json")
        assert r.returncode == 0, (args, r.stderr[-400:])
        doc = json.loads(r.stdout)
        paths = [c["path"] for c in doc["cgroups"]]
        if "--children" not in args:
            assert "/" in paths, args  # report on main drops "/" silently
    r = run_memscope("cgroup", cg, "--children", "--format", "json")
    child = json.loads(r.stdout)["cgroups"]
    assert [c["path"] for c in child] == [f"{cg}/{NAME}"]
    assert child[0]["usage"] is not None and child[0]["usage"] >= 0
    # the deepest cgroup itself, named past PATH_MAX
    deepest = cg + ("/" + NAME) * 20
    r = run_memscope("cgroup", deepest, "--format", "json")
    assert r.returncode == 0, r.stderr[-400:]
    assert json.loads(r.stdout)["cgroups"][0]["usage"] == 0
    # a snapshot keeps it, and reads it back
    out = tmp_path / "s.tar.gz"
    r = run_memscope("snapshot", "-o", out)
    assert r.returncode == 0, r.stderr[-400:]
    r = run_memscope("cgroup", deepest, "--root", out, "--format", "json")
    assert r.returncode == 0, r.stderr[-400:]


class RemovingRoot(Root):
    """The live host, where a chosen cgroup is removed (rmdir, for real) just after memscope
    opens its first memory file and before it reads it: the kernel then answers ENODEV for
    that read and ENOENT for every later open."""

    def __init__(self, victim: str):
        super().__init__("/")
        self.victim = victim
        self.removed = False

    def _open_file(self, rel):
        fd = super()._open_file(rel)
        if not self.removed and rel.startswith(self.victim.lstrip("/") + "/memory."):
            os.rmdir(self.victim)
            self.removed = True
        return fd


@pytest.mark.parametrize("victim_index", [0, 1])
def test_a_cgroup_removed_mid_read_is_counted_as_gone(victim_index):
    from memscope.collect.cgroups import find_hierarchy, read_children

    base, path = own_v1_memcg()
    top = f"memscope-gone-{uuid.uuid4().hex[:8]}"
    made = [os.path.join(base, top)] + [os.path.join(base, top, f"c{i}") for i in range(2)]
    for d in made:
        os.mkdir(d)
    try:
        root = RemovingRoot(made[1 + victim_index])
        hier = find_hierarchy(root)
        notes = []
        parent, kids = read_children(root, hier, path.rstrip("/") + "/" + top, notes)
        assert root.removed
        assert [k["path"].rsplit("/", 1)[1] for k in kids] == [f"c{1 - victim_index}"]
        assert "cgroups_vanished" in [n["code"] for n in notes]
    finally:
        for d in reversed(made):
            if os.path.isdir(d):
                os.rmdir(d)


def test_enodev_on_read_is_gone_not_an_error():
    from memscope.errors import NotFound

    base, _path = own_v1_memcg()
    d = os.path.join(base, f"memscope-enodev-{uuid.uuid4().hex[:8]}")
    os.mkdir(d)
    rel = d.lstrip("/") + "/memory.stat"
    root = RemovingRoot(d)
    try:
        with pytest.raises(NotFound):
            root.read_text(rel)
        assert root.read_optional(rel) is None
    finally:
        if os.path.isdir(d):
            os.rmdir(d)


class RecordingRoot(Root):
    """The live host, recording every file memscope opens (no strace needed)."""

    def __init__(self):
        super().__init__("/")
        self.opened = []

    def _open_file(self, rel):
        self.opened.append(rel)
        return super()._open_file(rel)


def test_snapshot_reads_only_allow_listed_sysctls():
    from memscope import snapshot

    root = RecordingRoot()
    stat_refresh = os.stat("/proc/sys/vm/stat_refresh")
    manifest = snapshot.take(root, io.BytesIO())
    assert manifest["files"] > 0
    vm = {rel.rsplit("/", 1)[1] for rel in root.opened if rel.startswith("proc/sys/vm/")}
    for trigger in ("stat_refresh", "drop_caches", "compact_memory"):
        assert trigger not in vm
    assert vm <= set(snapshot.VM_SYSCTLS)
    assert {"min_free_kbytes", "watermark_scale_factor", "lowmem_reserve_ratio",
            "overcommit_memory", "swappiness"} <= vm
    # nothing under /proc/sys outside the allow-list and the system files
    allowed = set(snapshot.SYSTEM_FILES) | {f"proc/sys/vm/{n}" for n in snapshot.VM_SYSCTLS}
    assert {r for r in root.opened if r.startswith("proc/sys/")} <= allowed
    # stat_refresh's read would have touched it: its atime (where the fs keeps one) and
    # the recorded opens say it was never read
    assert os.stat("/proc/sys/vm/stat_refresh").st_atime == stat_refresh.st_atime


def test_a_deleted_working_directory_with_a_relative_root(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (f"import os, subprocess, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); "
            "r = subprocess.run([sys.executable, '-m', 'memscope', 'summary', '--root', "
            "'captured/host'], capture_output=True, text=True, "
            f"env=dict(os.environ, PYTHONPATH={str(REPO)!r})); "
            "sys.stdout.write(r.stderr); sys.exit(r.returncode)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1, r.stdout
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and "current directory no longer exists" in lines[0], r.stdout


def test_a_closed_delegated_subtree_does_not_break_the_walk():
    """A child cgroup another user closed (0700): an unprivileged `cgroup` of its parent,
    and `cgroup / --children`, still answer, naming what they could not read."""
    from conftest import run_unprivileged

    base, path = own_v1_memcg()
    top = f"memscope-closed-{uuid.uuid4().hex[:8]}"
    parent = os.path.join(base, top)
    made = [parent, os.path.join(parent, "closed"), os.path.join(parent, "closed", "inner")]
    for d in made:
        os.mkdir(d)
    os.chmod(made[1], 0o700)
    try:
        cg = path.rstrip("/") + "/" + top
        r = run_unprivileged("cgroup", cg, "--format", "json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["cgroups"][0]["path"] == cg
        assert "cgroup_subtree_unreadable" in [n["code"] for n in doc["notes"]]
        r = run_unprivileged("cgroup", cg, "--children", "--format", "json")
        assert r.returncode == 0, r.stderr
    finally:
        for d in reversed(made):
            os.rmdir(d)


# Names the kernel prints unescaped (or escaped as \012 alone) in maps and smaps, a file
# mapped under such a name, and a process named with leading and trailing blanks.
ODD_NAMES = ["a\nb", "c\u2028d", "e\rf", "g\x85h", "i\\012j"]

MAPPER = r"""
import mmap, os, sys
names = sys.argv[1:]
maps = []
for name in names:
    fd = os.memfd_create(name)
    os.ftruncate(fd, 1 << 16)
    m = mmap.mmap(fd, 1 << 16)
    m.write(b"x" * (1 << 16))
    maps.append(m)
path = os.path.join(os.environ["DIR"], "file\nwith\u2028breaks")
with open(path, "wb") as f:
    f.write(b"y" * 8192)
f = open(path, "rb")
mapped = mmap.mmap(f.fileno(), 8192, prot=mmap.PROT_READ)
mapped[0]
import ctypes
ctypes.CDLL(None).prctl(15, b" sp ace\xc2\xa0", 0, 0, 0)  # PR_SET_NAME
print("ready", flush=True)
sys.stdin.read()
"""


def test_odd_names_in_maps_stay_whole_in_every_command(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", MAPPER, *ODD_NAMES], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=dict(os.environ, DIR=str(tmp_path)),
                            text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        pid = str(proc.pid)
        # the literal \012 reads as a newline: maps can't tell them apart (docs/contract.md)
        want = {f"/memfd:{n.replace(chr(92) + '012', chr(10))} (deleted)" for n in ODD_NAMES}
        r = run_memscope("shmem", "--format", "json")
        assert r.returncode == 0, r.stderr
        mapped = {m["path"] for m in json.loads(r.stdout)["mapped"] if int(pid) in m["pids"]}
        assert mapped == want
        r = run_memscope("proc", pid, "--maps", "--format", "json")
        paths = {m["path"] for m in json.loads(r.stdout)["processes"][0]["mappings"]}
        assert want <= paths and str(tmp_path / "file\nwith\u2028breaks") in paths
        r = run_memscope("cache", "--procs", "--pid", pid, "--format", "json")
        assert r.returncode == 0, r.stderr
        files = {f["path"]: f for f in json.loads(r.stdout)["files"]}
        odd = files[str(tmp_path / "file\nwith\u2028breaks")]
        assert odd["programs"] == [" sp ace\xa0"]
        r = run_memscope("proc", pid)
        assert r.returncode == 0 and "\n" not in r.stdout.split("name", 1)[1].split("\n")[0]
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
