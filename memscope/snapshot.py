"""``memscope snapshot -o FILE.tar.gz``: capture the raw files, for analysis elsewhere with
``--root FILE.tar.gz`` (SPEC.md "Snapshots"), like smem's capture.

The archive holds, under proc/ and sys/ as on the host, the system files, every process's
smaps_rollup/status/stat/cmdline/cgroup/oom_score (smaps, maps and mounts too with
``--maps``), the memory files of every cgroup from an explicit list, and a manifest: what
can't be archived as a file (the page size, uid -> user name, /proc/PID/exe targets, tmpfs
usage from statfs) and who took it when. Files the kernel refuses (another user's smaps
without root, vmallocinfo) are left out and counted.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from typing import Dict

from memscope.errors import SourceError
from memscope.sources import Root

SYSTEM_FILES = [
    "proc/meminfo", "proc/zoneinfo", "proc/vmstat", "proc/buddyinfo", "proc/vmallocinfo",
    "proc/slabinfo", "proc/pressure/memory", "proc/sysvipc/shm", "proc/self/mounts",
    "proc/self/cgroup", "proc/config.gz", "proc/sys/kernel/hostname",
    "proc/sys/kernel/osrelease", "proc/sys/kernel/random/boot_id", "proc/uptime",
    "proc/sys/vm/min_free_kbytes",
    "proc/sys/vm/watermark_scale_factor", "proc/sys/vm/lowmem_reserve_ratio",
    "proc/spl/kstat/zfs/arcstats",
]
PROCESS_FILES = ["smaps_rollup", "status", "stat", "cmdline", "cgroup", "oom_score"]
MAPS_FILES = ["smaps", "maps", "mounts"]


class Capture:
    def __init__(self, tar: tarfile.TarFile, root: Root):
        self.tar = tar
        self.root = root
        self.now = time.time()
        self.skipped: Dict[str, int] = {}
        self.files = 0

    def add(self, rel: str, optional: bool = True) -> bool:
        try:
            data = self.root.read_bytes(rel)
        except SourceError as exc:
            kind = type(exc).__name__
            self.skipped[kind] = self.skipped.get(kind, 0) + 1
            return False
        self.add_bytes(rel, data)
        return True

    def add_bytes(self, rel: str, data: bytes) -> None:
        info = tarfile.TarInfo(rel)
        info.size = len(data)
        info.mode = 0o444
        info.mtime = int(self.now)
        self.tar.addfile(info, io.BytesIO(data))
        self.files += 1


def take(root: Root, out, maps: bool = False) -> Dict[str, object]:
    """Write the snapshot of the live ``root`` as a gzip tar into the binary file ``out``;
    return the manifest."""
    from memscope import __version__
    from memscope.collect.views import SHMEM_FS
    from memscope.collect.cgroups import V1_FILES, V2_FILES, find_hierarchy
    from memscope.collect.procs import list_pids
    from memscope.errors import MemscopeError
    from memscope.parsers.mounts import parse_mounts

    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=6) as tar:
        cap = Capture(tar, root)
        for rel in SYSTEM_FILES:
            cap.add(rel)
        # every readable vm sysctl (write-only ones like drop_caches are not state)
        for name in root.listdir("proc/sys/vm") if root.isdir("proc/sys/vm") else ():
            rel = f"proc/sys/vm/{name}"
            try:
                mode = os.stat("/" + rel).st_mode
            except OSError:
                continue
            if mode & 0o444 and rel not in SYSTEM_FILES:
                cap.add(rel)
        for base in ("sys/kernel/mm/hugepages", "sys/block", "sys/kernel/slab"):
            if not root.isdir(base):
                continue
            for name in root.listdir(base):
                if base == "sys/block" and not name.startswith("zram"):
                    continue
                wanted = {"sys/kernel/mm/hugepages": ("nr_hugepages", "free_hugepages",
                                                      "resv_hugepages", "surplus_hugepages"),
                          "sys/block": ("mm_stat",),
                          "sys/kernel/slab": ("reclaim_account",)}[base]
                for leaf in wanted:
                    cap.add(f"{base}/{name}/{leaf}")
        users: Dict[str, str] = {}
        exe: Dict[str, str] = {}
        from memscope.collect.procs import Users

        names = Users(root)
        pids = list_pids(root)
        for pid in pids:
            got = [cap.add(f"proc/{pid}/{leaf}") for leaf in PROCESS_FILES]
            if not any(got):
                continue  # gone
            if maps:
                for leaf in MAPS_FILES:
                    cap.add(f"proc/{pid}/{leaf}")
            target = root.readlink(f"proc/{pid}/exe")
            if target:
                exe[str(pid)] = target
        # uid -> user name for every uid a process or segment has
        for pid in pids:
            try:
                status = root.read_text(f"proc/{pid}/status")
            except SourceError:
                continue
            for line in status.splitlines():
                if line.startswith("Uid:"):
                    for uid in line.split()[1:]:
                        if uid.isdigit() and uid not in users:
                            users[uid] = names(int(uid)) or uid
                    break
        # cgroups: every cgroup's memory files, from the explicit list
        try:
            hier = find_hierarchy(root)
        except MemscopeError:
            hier = None
        if hier is not None:
            table = list(V2_FILES if hier.version == 2 else V1_FILES)
            trees = [hier.mount] + ([hier.unified] if hier.unified else [])
            for top in trees:
                stack = [top]
                leaves = table + ["cgroup.procs", "cgroup.controllers"] if top == hier.mount \
                    else ["memory.pressure", "cgroup.procs"]
                while stack:
                    rel = stack.pop()
                    for leaf in leaves:
                        if root.exists(f"{rel}/{leaf}"):
                            cap.add(f"{rel}/{leaf}")
                    try:
                        stack.extend(f"{rel}/{d}" for d in root.subdirs(rel))
                    except SourceError:
                        continue
        statfs: Dict[str, int] = {}
        mounts = root.parse("proc/self/mounts", parse_mounts, optional=True) or []
        for _dev, point, fstype, _opts in mounts:
            if fstype in SHMEM_FS:
                try:
                    vfs = os.statvfs(point)
                except OSError:
                    continue
                if vfs.f_blocks:
                    statfs[point] = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
        hostname = root.read_optional("proc/sys/kernel/hostname")
        kernel = root.read_optional("proc/sys/kernel/osrelease")
        manifest = {
            "format": "memscope-snapshot",
            "memscope_version": __version__,
            "hostname": hostname.strip() if hostname else None,
            "kernel": kernel.strip() if kernel else None,
            "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cap.now)),
            "page_size": os.sysconf("SC_PAGE_SIZE"),
            "maps": maps,
            "processes": len(exe) if exe else None,
            "files": cap.files,
            "skipped": cap.skipped,
            "users": users,
            "exe": exe,
            "statfs": statfs,
        }
        cap.add_bytes("manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest


def capture(root: Root, output: str, maps: bool = False) -> Dict[str, object]:
    """Write the snapshot to ``output`` atomically; return its manifest."""
    from memscope.errors import MemscopeError
    from memscope.output import AtomicFile

    if not root.live:
        raise MemscopeError(f"--root {root.path}: a snapshot is taken of the live host "
                            "(--root /); this root is already a capture")
    with AtomicFile(output) as out:
        return take(root, out, maps)
