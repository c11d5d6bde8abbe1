"""The kernel views: zones (with buddyinfo), vmalloc, slab, shmem."""

from __future__ import annotations

from typing import Optional

from memscope.collect.policy import optional, required
from memscope.collect.system import LIVE_REREADS, page_size
from memscope.errors import ParseError, SourceError
from memscope.model import Notes
from memscope.model.system import SystemInputs
from memscope.parsers import parse_int
from memscope.parsers.maps import header_path
from memscope.parsers.sysctl import parse_number
from memscope.parsers.meminfo import parse_meminfo
from memscope.parsers.zoneinfo import parse_zoneinfo
from memscope.sources import Root


def read_tunables(root: Root, notes: Notes) -> dict:
    """vm.min_free_kbytes (as bytes), vm.watermark_scale_factor, vm.lowmem_reserve_ratio:
    optional files, null when absent (a captured tree without sysctls)."""
    from memscope.parsers.sysctl import parse_numbers

    kb = optional(root, "proc/sys/vm/min_free_kbytes", parse_number, notes,
                  "tunables.min_free_bytes unknown", missing=None)
    return {
        "min_free_bytes": None if kb is None else kb * 1024,
        "watermark_scale_factor": optional(
            root, "proc/sys/vm/watermark_scale_factor", parse_number, notes,
            "tunables.watermark_scale_factor unknown", missing=None),
        "lowmem_reserve_ratio": optional(
            root, "proc/sys/vm/lowmem_reserve_ratio", parse_numbers, notes,
            "tunables.lowmem_reserve_ratio unknown", missing=None),
    }


def collect_zones(root: Root, inputs: Optional[SystemInputs] = None) -> dict:
    """``zones``; ``inputs`` (a summary's, in report) saves reading zoneinfo and meminfo
    again."""
    from memscope.model.views import build_zone_view
    from memscope.parsers.buddyinfo import parse_buddyinfo

    notes = Notes()
    # required: zoneinfo; optional: meminfo (page size), buddyinfo, the vm sysctls
    if inputs is not None and inputs.zoneinfo is not None:
        zoneinfo, meminfo = inputs.zoneinfo, inputs.meminfo
    else:
        zoneinfo = required(root, "proc/zoneinfo", parse_zoneinfo)
        meminfo = optional(root, "proc/meminfo", parse_meminfo, notes,
                           "the page size is not inferred from it", missing=None)
    buddy_notes = Notes()
    buddy = optional(root, "proc/buddyinfo", parse_buddyinfo, buddy_notes,
                     "free blocks per order unknown", missing=None)
    if meminfo is not None:
        page = page_size(root, meminfo, zoneinfo, notes)
    else:
        page = root.page_size()
        if page is None:
            page = 4096
            notes.add("page_size_assumed",
                      "page size not recorded under this root: 4096 assumed")
    return build_zone_view(zoneinfo, buddy, page, read_tunables(root, notes), notes,
                           buddy_notes)


def view_page_size(root: Root, meminfo, notes: Notes) -> int:
    """The page size for a view that has no zoneinfo of its own to hand."""
    known = root.page_size()
    if known is not None:
        return known
    zoneinfo = optional(root, "proc/zoneinfo", parse_zoneinfo, notes,
                        "the page size is not inferred from it", missing=None)
    if meminfo is None:
        notes.add("page_size_assumed", "page size not recorded under this root: 4096 assumed")
        return 4096
    return page_size(root, meminfo, zoneinfo, notes)


def collect_vmalloc(root: Root, by: str, limit) -> dict:
    from memscope.model.views import build_vmalloc, vmalloc_bytes
    from memscope.parsers.vmallocinfo import parse_vmallocinfo

    notes = Notes()
    # Re-read only on a live host: only it moves between two reads (a tree or a snapshot
    # gives the same bytes again). Not a host fact, so ``live`` is the right question.
    for _ in range(LIVE_REREADS if root.live else 1):
        # vmallocinfo then meminfo, back to back: the vmalloc pages against VmallocUsed
        # required: vmallocinfo; optional: meminfo (VmallocUsed), zoneinfo (page size)
        areas = required(root, "proc/vmallocinfo", parse_vmallocinfo)
        meminfo = optional(root, "proc/meminfo", parse_meminfo, notes,
                           "VmallocUsed unknown", missing=None)
        used = meminfo.get("VmallocUsed") if meminfo is not None else None
        page = view_page_size(root, meminfo, notes)
        if used is None or vmalloc_bytes(areas, page) == used:
            break
    return build_vmalloc(areas, used, page, by, limit, notes, meminfo)


def collect_slab(root: Root, meminfo=None) -> dict:
    """``meminfo`` (already read, in explain) saves reading it again."""
    from memscope.model.views import build_slab
    from memscope.parsers.slabinfo import parse_slabinfo

    notes = Notes()
    # required: slabinfo; optional: meminfo (unless given), reclaim_account, zoneinfo
    caches = required(root, "proc/slabinfo", parse_slabinfo)
    if meminfo is None:
        meminfo = optional(root, "proc/meminfo", parse_meminfo, notes,
                           "SReclaimable, SUnreclaim and Slab unknown", missing=None)
    reclaimable = {}
    if root.isdir("sys/kernel/slab"):
        for c in caches:
            flag = optional(root, f"sys/kernel/slab/{c.name}/reclaim_account", parse_number,
                            notes, "whether the cache is reclaimable is unknown",
                            missing=None)  # merged caches are listed under one alias
            reclaimable[c.name] = None if flag is None else flag == 1
    page = view_page_size(root, meminfo, notes)
    return build_slab(caches, reclaimable, page, meminfo.fields if meminfo else {}, notes)


SHMEM_FS = ("tmpfs", "devtmpfs")  # shmem-backed filesystems (ramfs pages are not Shmem)


def collect_shmem(root: Root, meminfo=None) -> dict:
    """Who holds Shmem: reads tmpfs mounts (statfs, live), SysV segments, and the shmem and
    hugetlb objects processes map (maps to find them, smaps for their figures); the
    document is memscope.model.shmem's. ``meminfo`` (already read, in explain) saves
    reading it again."""
    from memscope.collect.procs import Users, list_pids
    from memscope.model.process import ShmemMounts, categorize
    from memscope.model.shmem import SYSV_PREFIX, ShmemInputs, build_shmem
    from memscope.parsers.ipc import parse_sysvipc_shm
    from memscope.parsers.maps import parse_maps
    from memscope.parsers.mounts import parse_mounts
    from memscope.parsers.smaps import parse_smaps

    notes = Notes()
    # required: meminfo (Shmem), unless given; optional: mounts, sysvipc/shm, each
    # process's maps/smaps
    if meminfo is None:
        meminfo = required(root, "proc/meminfo", parse_meminfo)
    mounts = optional(root, "proc/self/mounts", parse_mounts, notes,
                      "tmpfs mounts are not listed", missing=None)
    users = Users(root)
    rows, seen, points = [], set(), set()
    for _dev, point, fstype, _opts in mounts or []:
        if fstype not in SHMEM_FS or point in points:
            continue  # a point mounted over again: the last mount is the one seen
        points.add(point)
        fs = root.statfs(point)  # a host fact: live statfs, or the snapshot's record
        if fs is not None and fs["dev"] is not None:
            if fs["dev"] in seen:
                continue  # the same filesystem mounted again
            seen.add(fs["dev"])
        rows.append({"mountpoint": point, "fstype": fstype,
                     "used": None if fs is None else fs["used"]})
    segments = []
    for seg in optional(root, "proc/sysvipc/shm", parse_sysvipc_shm, notes,
                        "SysV segments are not listed", missing=None) or []:
        segments.append(dict(seg, owner=users(seg.get("uid"))))
    # Objects mapped by processes: maps (cheap) to find them, smaps for their figures.
    table = ShmemMounts(mounts)

    def wanted(path: str) -> bool:
        bare = path[:-len(" (deleted)")] if path.endswith(" (deleted)") else path
        return path.startswith(SYSV_PREFIX) or categorize(path, "", table) == "shmem" or \
            table.fstype(bare) == "hugetlbfs"

    mapped: dict = {}
    denied = 0
    no_maps = 0
    for pid in list_pids(root):
        base = f"proc/{pid}"
        try:
            text = root.read_optional(f"{base}/maps")
            if text == "":  # a kernel thread, or a main thread that has exited
                from memscope.collect.procs import live_task

                found = live_task(root, pid)
                if found is not None:
                    base = f"proc/{pid}/task/{found[0]}"
                    text = root.read_optional(f"{base}/maps")
        except SourceError:
            denied += 1
            continue
        if text is None:  # the root holds the process but not its maps
            no_maps += 1
            continue
        try:
            lines = parse_maps(text) if text else []
        except ParseError:  # malformed: this process is uninspected, counted
            denied += 1
            continue
        if not any(wanted(m.path) for m in lines):
            continue
        try:
            smaps = root.parse(f"{base}/smaps", parse_smaps)
        except (SourceError, ParseError):
            denied += 1
            continue
        cols = smaps.columns
        zeros = [0] * len(smaps)
        pss = cols.get("Pss") or zeros
        sh, ph = cols.get("Shared_Hugetlb") or zeros, cols.get("Private_Hugetlb") or zeros
        flags = smaps.vmflags or [""] * len(smaps)
        records = []
        for i, header in enumerate(smaps.headers):
            parts = header.split(None, 5)
            path = header_path(header)
            if len(parts) < 6 or not wanted(path):
                continue
            try:
                inode = parse_int(parts[4], "inode", i + 1)
            except ParseError:  # a malformed smaps: this process is uninspected, counted
                denied += 1
                records = []
                break
            records.append((path, parts[3], inode, flags[i], pss[i] << 10,
                            (sh[i] + ph[i]) << 10))
        if records:
            mapped[pid] = records
    swap_used = None
    if "SwapTotal" in meminfo and "SwapFree" in meminfo:
        swap_used = meminfo["SwapTotal"] - meminfo["SwapFree"]
    return build_shmem(ShmemInputs(
        meminfo.get("Shmem"), mounts, rows, segments, mapped, denied,
        view_page_size(root, meminfo, notes), swap_used, no_maps), notes)
