"""Root answers host facts (page size, clock, user and group names, statfs of a mount, link
targets) identically live, from a snapshot archive, and from a directory (an extracted
snapshot: its manifest.json), so no command branches on ``root.live`` for them."""

from __future__ import annotations

import grp
import os
import pwd
import re
import tarfile
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, run_memscope
from memscope.sources import Root, open_root


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    base = tmp_path_factory.mktemp("facts")
    path = base / "s.tar.gz"
    r = run_memscope("snapshot", "-o", path)
    assert r.returncode == 0, r.stderr
    extracted = base / "tree"
    with tarfile.open(path) as tar:
        tar.extractall(extracted, filter="data")
    return path, extracted


def test_live_facts_are_the_running_hosts():
    root = Root("/")
    assert root.page_size() == os.sysconf("SC_PAGE_SIZE")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", root.taken_at())
    assert abs(time.mktime(time.strptime(root.taken_at(), "%Y-%m-%dT%H:%M:%SZ"))
               - time.mktime(time.gmtime())) < 5
    assert root.user_name(0) == pwd.getpwuid(0).pw_name
    assert root.group_name(0) == grp.getgrgid(0).gr_name
    assert root.user_name(2**31 - 3) is None
    vfs = os.statvfs("/dev/shm")
    fs = root.statfs("/dev/shm")
    assert fs["dev"] == os.stat("/dev/shm").st_dev
    assert fs["used"] == ((vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize if vfs.f_blocks else None)
    assert root.statfs("/no/such/mount") is None
    assert root.readlink(f"proc/{os.getpid()}/exe") == os.readlink("/proc/self/exe")


def test_snapshot_and_extracted_tree_answer_alike(snapshot):
    path, tree = snapshot
    archive, directory = open_root(str(path)), open_root(str(tree))
    live = Root("/")
    for root in (archive, directory):
        assert not root.live
        assert root.page_size() == live.page_size()
        assert root.taken_at() == archive.recorded("taken_at")
        assert root.user_name(0) == live.user_name(0)
        assert root.group_name(0) == live.group_name(0)
        assert root.statfs("/dev/shm")["dev"] == live.statfs("/dev/shm")["dev"]
        assert root.readlink("proc/1/exe") == live.readlink("proc/1/exe")
        assert root.statfs("/not/recorded") == {"dev": None, "used": None}


def test_directory_without_manifest_does_not_know():
    root = Root(str(FIXTURES / "this-vm-6.18.44-kernel-views"))
    assert root.page_size() is None and root.taken_at() is None
    assert root.user_name(0) is None and root.group_name(0) is None
    assert root.statfs("/dev/shm") is None and root.readlink("proc/1/exe") is None


def test_a_foreign_manifest_is_ignored(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "manifest.json").write_text('{"page_size": 4096, "users": {"0": "x"}}')
    root = Root(str(tmp_path))
    assert root.page_size() is None and root.user_name(0) is None
    (tmp_path / "manifest.json").write_text('{"format": "memscope-snapshot", "page_size": 3}')
    assert Root(str(tmp_path)).page_size() is None  # not a page size: inferred instead


def test_every_command_agrees_between_archive_and_extracted_tree(snapshot):
    path, tree = snapshot
    for args in (["summary"], ["zones"], ["shmem"], ["top", "--group-by", "program"]):
        a = run_memscope(*args, "--root", path, "--format", "json")
        b = run_memscope(*args, "--root", tree, "--format", "json")
        assert a.returncode == b.returncode == 0, (a.stderr, b.stderr)
        # the source names the root it was given; everything else is the same
        strip = re.compile(r'"root": "[^"]*"')
        assert strip.sub("", a.stdout) == strip.sub("", b.stdout), args


def test_commands_do_not_branch_on_live():
    """The only reads of ``live`` outside sources.py: the re-read loops for consistency (only a
    live host moves between two reads), the prefetch (only live processes can be read
    ahead), memscope leaving itself out of ``top`` (only on the live host is one of the
    processes memscope), and the snapshot (only the live host can be captured)."""
    allowed = {
        "memscope/collect/system.py": 2, "memscope/collect/views.py": 1,
        "memscope/collect/procs.py": 2, "memscope/snapshot.py": 1,
        "memscope/collect/cgroups.py": 1,  # memscope leaves itself out of a cgroup's members
        "memscope/archive.py": 1,  # self.live = False
        "memscope/commands.py": 1,  # explain --interval: a second sample of the live host
    }
    found = {}
    for path in sorted((REPO / "memscope").rglob("*.py")):
        rel = str(path.relative_to(REPO))
        if rel == "memscope/sources.py":
            continue
        n = len(re.findall(r"\.live\b", Path(path).read_text()))
        if n:
            found[rel] = n
    assert found == allowed


def test_a_filesystem_mounted_twice_is_counted_once_from_a_record(tmp_path):
    """statfs_dev lets a snapshot (here: its extracted tree) drop the second mount of one
    tmpfs, as the live statfs does."""
    import json
    import shutil

    shutil.copytree(FIXTURES / "this-vm-6.18.44-kernel-views" / "proc", tmp_path / "proc",
                    ignore=shutil.ignore_patterns("sysvipc"))
    (tmp_path / "proc/self/mounts").write_text(
        "tmpfs /dev/shm tmpfs rw 0 0\ntmpfs /mnt/again tmpfs rw 0 0\n"
        "tmpfs /run tmpfs rw 0 0\n")
    (tmp_path / "manifest.json").write_text(json.dumps({
        "format": "memscope-snapshot", "page_size": 4096,
        "statfs": {"/dev/shm": 8192, "/mnt/again": 8192, "/run": 4096},
        "statfs_dev": {"/dev/shm": 27, "/mnt/again": 27, "/run": 25}}))
    r = run_memscope("shmem", "--root", tmp_path, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [(m["mountpoint"], m["used"]) for m in doc["mounts"]] == \
        [("/dev/shm", 8192), ("/run", 4096)]
    assert doc["unattributed"] == doc["total"] - 8192 - 4096
    assert "mount_usage_unknown" not in [n["code"] for n in doc["notes"]]


def test_snapshot_names_the_owner_of_a_sysv_segment(tmp_path):
    """A SysV segment whose owner runs no process (made with ipcmk, which exits) keeps its
    owner's name under the snapshot: the manifest records segment owners too."""
    import json
    import shutil
    import subprocess

    from conftest import _unprivileged_uid

    uid = _unprivileged_uid()
    if os.geteuid() != 0 or uid is None or shutil.which("ipcmk") is None:
        pytest.skip("needs root, an unprivileged user and ipcmk")
    out = subprocess.run(["ipcmk", "-M", "65536"], user=uid, capture_output=True, text=True,
                         cwd="/", check=True).stdout
    shmid = int(out.split()[-1])
    try:
        snap = tmp_path / "s.tar.gz"
        assert run_memscope("snapshot", "-o", snap).returncode == 0
    finally:
        subprocess.run(["ipcrm", "-m", str(shmid)], check=True)
    r = run_memscope("shmem", "--root", snap, "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = [s for s in json.loads(r.stdout)["sysv"] if s["shmid"] == shmid]
    assert [(s["owner"], s["size"]) for s in rows] == [(pwd.getpwuid(uid).pw_name, 65536)]
