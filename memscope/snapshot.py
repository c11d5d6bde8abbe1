"""``memscope snapshot -o FILE.tar.gz``: capture the raw files, for analysis elsewhere with
``--root FILE.tar.gz`` (docs/contract.md "Snapshots"), like smem's capture.

The archive holds, under proc/ and sys/ as on the host, the system files, every process's
smaps_rollup/status/stat/cmdline/cgroup/oom_score (smaps, maps and mounts too with
``--maps``), the memory files of every cgroup from an explicit list, and a manifest: what
can't be archived as a file (the host facts of sources.Root: page size, uid -> user name,
gid -> group name, /proc/PID/exe targets, statfs of tmpfs mounts) and who took it when.
Files the kernel refuses (another user's smaps without root, vmallocinfo) are left out and
counted.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from typing import Dict, Optional

from memscope.errors import ParseError, SourceError
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
# The vm sysctls a snapshot keeps: an allow-list of settings whose read is only a read
# (Documentation/admin-guide/sysctl/vm.rst). Never a listing of /proc/sys/vm: some entries
# act when read or written (stat_refresh folds every CPU's counters when read;
# drop_caches and compact_memory are triggers), and a new kernel may add more.
VM_SYSCTLS = (
    "admin_reserve_kbytes", "compact_unevictable_allowed", "compaction_proactiveness",
    "defrag_mode", "dirty_background_bytes", "dirty_background_ratio", "dirty_bytes",
    "dirty_expire_centisecs", "dirty_ratio", "dirty_writeback_centisecs",
    "dirtytime_expire_seconds", "extfrag_threshold", "hugetlb_optimize_vmemmap",
    "hugetlb_shm_group", "laptop_mode", "legacy_va_layout", "lowmem_reserve_ratio",
    "max_map_count", "memfd_noexec", "min_free_kbytes", "min_slab_ratio",
    "min_unmapped_ratio", "mmap_min_addr", "nr_hugepages", "nr_hugepages_mempolicy",
    "nr_overcommit_hugepages", "numa_stat", "numa_zonelist_order", "oom_dump_tasks",
    "oom_kill_allocating_task", "overcommit_kbytes", "overcommit_memory", "overcommit_ratio",
    "page-cluster", "page_lock_unfairness", "panic_on_oom", "percpu_pagelist_high_fraction",
    "stat_interval", "swappiness", "user_reserve_kbytes", "vfs_cache_pressure",
    "vfs_cache_pressure_denom", "watermark_boost_factor", "watermark_scale_factor",
    "zone_reclaim_mode",
)
PROCESS_FILES = ["smaps_rollup", "status", "stat", "cmdline", "cgroup", "oom_score"]
MAPS_FILES = ["smaps", "maps", "mounts"]


class Capture:
    def __init__(self, tar: tarfile.TarFile, root: Root):
        self.tar = tar
        self.root = root
        self.now = time.time()
        self.skipped: Dict[str, int] = {}
        self.first_skipped: Dict[str, str] = {}  # one file of each kind, to name it
        self.files = 0

    def add(self, rel: str, optional: bool = True) -> Optional[bytes]:
        """The file captured; its bytes (for a caller that also reads them), or None."""
        try:
            data = self.root.read_bytes(rel)
        except SourceError as exc:
            kind = type(exc).__name__
            self.skipped[kind] = self.skipped.get(kind, 0) + 1
            self.first_skipped.setdefault(kind, self.root.display(rel))
            return None
        self.add_bytes(rel, data)
        return data

    def add_cmdline(self, base: str) -> Optional[bytes]:
        """/proc/PID/cmdline, capped as memscope reads it anywhere (collect.procs)."""
        from memscope.collect.procs import read_cmdline

        data = read_cmdline(self.root, base)
        if data is not None:
            self.add_bytes(f"{base}/cmdline", data)
        return data

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
    from memscope.errors import ParseError
    from memscope.parsers.status import parse_status
    from memscope.errors import MemscopeError
    from memscope.parsers.mounts import parse_mounts

    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=6) as tar:
        cap = Capture(tar, root)
        for rel in SYSTEM_FILES:
            cap.add(rel)
        for name in VM_SYSCTLS:
            rel = f"proc/sys/vm/{name}"
            if rel not in SYSTEM_FILES and root.exists(rel):
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
        groups: Dict[str, str] = {}
        exe: Dict[str, str] = {}
        from memscope.collect.procs import Users

        names = Users(root)
        # memscope is not a process to capture (top leaves itself out live; the snapshot of
        # it would list `memscope snapshot` as a process of the host)
        pids = [pid for pid in list_pids(root) if pid != os.getpid()]
        for pid in pids:
            got = {leaf: cap.add(f"proc/{pid}/{leaf}") if leaf != "cmdline" else
                   cap.add_cmdline(f"proc/{pid}") for leaf in PROCESS_FILES}
            if all(v is None for v in got.values()):
                continue  # gone
            # status, read once: the live thread to capture, and the uid/gid names
            status = text = None
            if got["status"] is not None:
                text = got["status"].decode("utf-8", "surrogateescape")
                try:
                    status = parse_status(text)
                except ParseError:
                    status = None
            if status is not None:
                for uid in status.uids or ():
                    if str(uid) not in users:
                        users[str(uid)] = names(uid) or str(uid)
                for gid in _gids(text):
                    if str(gid) not in groups:
                        name = root.group_name(gid)
                        if name is not None:
                            groups[str(gid)] = name
            bases = [f"proc/{pid}"]
            thread = _live_thread(root, pid, status)
            if thread is not None:
                # the main thread has exited while others live on: its own files show
                # nothing (smaps_rollup ESRCH); a live thread's are what memscope reads
                # (collect.procs.read_process), so they are captured too
                tbase = f"proc/{pid}/task/{thread}"
                for leaf in ("status", "smaps_rollup", "stat", "cgroup"):
                    cap.add(f"{tbase}/{leaf}")
                bases.append(tbase)
            if maps:
                for base in bases:
                    for leaf in MAPS_FILES:
                        cap.add(f"{base}/{leaf}")
            target = root.readlink(f"proc/{pid}/exe")
            if target:
                exe[str(pid)] = target
        # uid -> user name and gid -> group name for every uid and gid a process has (above)
        # and of every SysV segment's owner (shmem's sysv[].owner): Root.user_name and
        # Root.group_name answer from these maps under the snapshot
        from memscope.parsers.ipc import parse_sysvipc_shm

        try:
            segments = root.parse("proc/sysvipc/shm", parse_sysvipc_shm, optional=True) or []
        except (SourceError, ParseError):
            segments = []
        for seg in segments:
            for key, table, lookup in (("uid", users, names), ("gid", groups, None)):
                number = seg.get(key)
                if isinstance(number, int) and str(number) not in table:
                    name = lookup(number) if lookup else root.group_name(number)
                    if name is not None:
                        table[str(number)] = name
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
        # statfs of every shmem-backed mount (Root.statfs): bytes in use (null for a tmpfs
        # without a size) and the device, so a filesystem mounted twice is counted once
        statfs: Dict[str, Optional[int]] = {}
        statfs_dev: Dict[str, int] = {}
        mounts = root.parse("proc/self/mounts", parse_mounts, optional=True) or []
        for _dev, point, fstype, _opts in mounts:
            if fstype in SHMEM_FS:
                fs = root.statfs(point)
                if fs is None:
                    continue
                statfs[point] = fs["used"]
                statfs_dev[point] = fs["dev"]
        hostname = root.read_optional("proc/sys/kernel/hostname")
        kernel = root.read_optional("proc/sys/kernel/osrelease")
        manifest = {
            "format": "memscope-snapshot",
            "memscope_version": __version__,
            "hostname": hostname.strip() if hostname else None,
            "kernel": kernel.strip() if kernel else None,
            "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cap.now)),
            "page_size": root.page_size(),
            "maps": maps,
            "processes": len(exe) if exe else None,
            "files": cap.files,
            "skipped": cap.skipped,
            "skipped_first": cap.first_skipped,
            "users": users,
            "groups": groups,
            "exe": exe,
            "statfs": statfs,
            "statfs_dev": statfs_dev,
        }
        cap.add_bytes("manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest


def capture(root: Root, output: str, maps: bool = False) -> Dict[str, object]:
    """Write the snapshot to ``output`` (atomically, or in place for a device or pipe: see
    memscope.output); return its manifest."""
    from memscope.errors import MemscopeError
    from memscope.output import open_output

    # The one place that must know the root is live: a capture is of the running host.
    if not root.live:
        raise MemscopeError(f"--root {root.path}: a snapshot is taken of the live host "
                            "(--root /); this root is already a capture")
    with open_output(output) as out:
        return take(root, out, maps)


def _gids(status_text: str) -> list:
    """The Gid: line's four ids (real, effective, saved, filesystem), each through the one
    integer validator; none where the line is missing or malformed."""
    from memscope.parsers import parse_int

    at = status_text.find("\nGid:")
    if at < 0:
        return []
    parts = status_text[at + 5:status_text.find("\n", at + 5)].split()
    try:
        return [parse_int(p, "Gid", None) for p in parts[:4]]
    except ParseError:
        return []


def _live_thread(root: Root, pid: int, status) -> Optional[int]:
    """The live thread memscope reads a process through when its main thread has exited
    (status: zombie, no mm, more than one thread); None for every other process."""
    from memscope.collect.procs import live_task

    if status is None or status.has_mm or not status.zombie or (status.threads or 0) <= 1:
        return None
    found = live_task(root, pid)
    return None if found is None else found[0]
