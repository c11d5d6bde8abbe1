"""The kernel views: zones (with buddyinfo), vmalloc, slab, shmem."""

from __future__ import annotations

import os
from typing import Optional

from memscope.collect.system import LIVE_REREADS, page_size
from memscope.errors import ParseError, SourceError
from memscope.model import Notes
from memscope.model.system import SystemInputs
from memscope.parsers.meminfo import parse_meminfo
from memscope.parsers.zoneinfo import parse_zoneinfo
from memscope.sources import Root


def read_tunables(root: Root) -> dict:
    """vm.min_free_kbytes (as bytes), vm.watermark_scale_factor, vm.lowmem_reserve_ratio."""
    def number(rel):
        text = root.read_optional(rel)
        return int(text) if text is not None and text.strip().isdigit() else None

    kb = number("proc/sys/vm/min_free_kbytes")
    ratio = root.read_optional("proc/sys/vm/lowmem_reserve_ratio")
    return {
        "min_free_bytes": None if kb is None else kb * 1024,
        "watermark_scale_factor": number("proc/sys/vm/watermark_scale_factor"),
        "lowmem_reserve_ratio": [int(x) for x in ratio.split()]
        if ratio and all(x.isdigit() for x in ratio.split()) else None,
    }


def collect_zones(root: Root, inputs: Optional[SystemInputs] = None) -> dict:
    """``zones``; ``inputs`` (a summary's, in report) saves reading zoneinfo and meminfo
    again."""
    from memscope.model.views import build_zones
    from memscope.parsers.buddyinfo import parse_buddyinfo

    if inputs is not None and inputs.zoneinfo is not None:
        zoneinfo, meminfo = inputs.zoneinfo, inputs.meminfo
    else:
        zoneinfo = root.parse("proc/zoneinfo", parse_zoneinfo)
        meminfo = root.parse("proc/meminfo", parse_meminfo, optional=True)
    buddy = root.parse("proc/buddyinfo", parse_buddyinfo, optional=True)
    notes = Notes()
    page = page_size(root, meminfo, zoneinfo, notes) if meminfo is not None else \
        (os.sysconf("SC_PAGE_SIZE") if root.live else 4096)
    doc = build_zones(zoneinfo, buddy, page, read_tunables(root))
    if buddy is None:
        notes.add("buddyinfo_missing", "no /proc/buddyinfo: free blocks per order unknown")
    if zoneinfo.skipped:
        notes.add("unknown_lines_skipped",
                  f"{len(zoneinfo.skipped)} line(s) of zoneinfo outside the kernel's format "
                  f"were skipped (first: line {zoneinfo.skipped[0][0]})")
    doc["notes"] = notes.items
    return doc


def view_page_size(root: Root, meminfo, notes: Notes) -> int:
    """The page size for a view that has no zoneinfo of its own to hand."""
    if root.live:
        return os.sysconf("SC_PAGE_SIZE")
    if isinstance(root.recorded("page_size"), int):
        return root.recorded("page_size")
    zoneinfo = root.parse("proc/zoneinfo", parse_zoneinfo, optional=True)
    if meminfo is None:
        notes.add("page_size_assumed", "page size not recorded under this root: 4096 assumed")
        return 4096
    return page_size(root, meminfo, zoneinfo, notes)


def collect_vmalloc(root: Root, by: str, limit) -> dict:
    from memscope.model.views import build_vmalloc
    from memscope.parsers.vmallocinfo import parse_vmallocinfo

    notes = Notes()
    for _ in range(LIVE_REREADS if root.live else 1):
        # vmallocinfo then meminfo, back to back: the vmalloc pages against VmallocUsed
        areas = root.parse("proc/vmallocinfo", parse_vmallocinfo)
        meminfo = root.parse("proc/meminfo", parse_meminfo, optional=True)
        used = meminfo.get("VmallocUsed") if meminfo is not None else None
        doc = build_vmalloc(areas, used, view_page_size(root, meminfo, notes), by, limit)
        if used is None or doc["vmalloc_bytes"] == used:
            break
    if used is not None and doc["vmalloc_bytes"] != used:
        notes.add("vmalloc_differs",
                  f"the pages of the vmalloc areas listed differ from VmallocUsed by "
                  f"{doc['vmalloc_bytes'] - used:+d} bytes: pages of areas being set up or "
                  "torn down are counted in VmallocUsed but not listed (seen steady at "
                  "-16384 on this project's 6.18 machines)")
    if meminfo is not None:
        from memscope.model.kernel import VMALLOC_PAGES, vmalloc_era

        era = vmalloc_era(meminfo)
        if era != VMALLOC_PAGES and era is not None:
            notes.add("vmallocused_not_pages",
                      f"VmallocUsed is not a page count on this kernel ({era}): compare "
                      "vmalloc_bytes, the pages= of vmalloc areas, instead")
    doc["notes"] = notes.items
    return doc


def collect_slab(root: Root, meminfo=None) -> dict:
    """``meminfo`` (already read, in explain) saves reading it again."""
    from memscope.model.views import build_slab
    from memscope.parsers.slabinfo import parse_slabinfo

    caches = root.parse("proc/slabinfo", parse_slabinfo)
    if meminfo is None:
        meminfo = root.parse("proc/meminfo", parse_meminfo, optional=True)
    reclaimable = {}
    if root.isdir("sys/kernel/slab"):
        for c in caches:
            text = root.read_optional(f"sys/kernel/slab/{c.name}/reclaim_account")
            reclaimable[c.name] = None if text is None or not text.strip().isdigit() \
                else text.strip() == "1"
    notes = Notes()
    page = view_page_size(root, meminfo, notes)
    doc = build_slab(caches, reclaimable, page, meminfo.fields if meminfo else {})
    if not reclaimable or all(v is None for v in reclaimable.values()):
        notes.add("reclaimable_unknown",
                  "no /sys/kernel/slab/*/reclaim_account: which caches are reclaimable is "
                  "not known; SReclaimable and SUnreclaim give the split")
    if meminfo is not None and "Slab" in meminfo:
        diff = doc["total_bytes"] - meminfo["Slab"]
        if diff:
            notes.add("slab_differs",
                      f"the caches add up to {diff:+d} bytes against meminfo Slab: large "
                      "kmalloc allocations are counted in SUnreclaim but in no cache, and "
                      "the two files were read at different instants")
    doc["notes"] = notes.items
    return doc


SHMEM_FS = ("tmpfs", "devtmpfs")  # shmem-backed filesystems (ramfs pages are not Shmem)


def collect_shmem(root: Root, meminfo=None) -> dict:
    """Who holds Shmem: tmpfs mounts (statfs, live), SysV segments, and shmem objects
    mapped by processes but on no visible mount (memfd, shared anonymous memory).
    ``meminfo`` (already read, in explain) saves reading it again."""
    from memscope import SCHEMA_VERSION
    from memscope.collect.procs import Users, list_pids
    from memscope.model.process import ShmemMounts, categorize
    from memscope.parsers.ipc import parse_sysvipc_shm
    from memscope.parsers.mounts import parse_mounts
    from memscope.parsers.smaps import parse_smaps

    notes = Notes()
    if meminfo is None:
        meminfo = root.parse("proc/meminfo", parse_meminfo)
    mounts = root.parse("proc/self/mounts", parse_mounts, optional=True) or []
    users = Users(root)
    rows, seen, points = [], set(), set()
    for _dev, point, fstype, _opts in mounts:
        if fstype not in SHMEM_FS or point in points:
            continue  # a point mounted over again: the last mount is the one seen
        points.add(point)
        used = (root.recorded("statfs") or {}).get(point)
        if root.live:
            try:
                st = os.stat(point)
                if st.st_dev in seen:
                    continue  # the same filesystem mounted again
                seen.add(st.st_dev)
                vfs = os.statvfs(point)
                used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize if vfs.f_blocks else None
            except OSError:
                used = None
        rows.append({"mountpoint": point, "fstype": fstype, "used": used})
    if not root.live and rows and root.recorded("statfs") is None:
        notes.add("mount_usage_unknown", "tmpfs usage is measured with statfs on the live "
                  "host only: 'used' is null under this root")
    sysv = []
    for seg in root.parse("proc/sysvipc/shm", parse_sysvipc_shm, optional=True) or []:
        sysv.append({"key": "0x%08x" % (seg["key"] & 0xffffffff), "shmid": seg.get("shmid"),
                     "owner": users(seg.get("uid")), "size": seg.get("size"),
                     "rss": seg.get("rss"), "swap": seg.get("swap"),
                     "attached": seg.get("nattch")})
    # Shmem objects mapped by processes: maps (cheap) to find them, smaps for their PSS.
    table = ShmemMounts(mounts)
    mapped: dict = {}
    denied = 0
    for pid in list_pids(root):
        try:
            text = root.read_optional(f"proc/{pid}/maps")
        except SourceError:
            denied += 1
            continue
        if not text:
            continue
        wanted = False
        for line in text.splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and categorize(parts[5], "", table) == "shmem" and \
                    not parts[5].startswith("/SYSV"):
                wanted = True
                break
        if not wanted:
            continue
        try:
            smaps = root.parse(f"proc/{pid}/smaps", parse_smaps)
        except (SourceError, ParseError):
            denied += 1
            continue
        pss = smaps.columns.get("Pss") or [0] * len(smaps)
        for i, header in enumerate(smaps.headers):
            parts = header.split(None, 5)
            if len(parts) < 6 or parts[5].startswith("/SYSV") or \
                    categorize(parts[5], "", table) != "shmem":
                continue
            key = (parts[3], parts[4], parts[5])  # device, inode, path: one object
            entry = mapped.setdefault(key, {"path": parts[5], "inode": int(parts[4]),
                                            "pids": [], "rss": 0})
            if pid not in entry["pids"]:
                entry["pids"].append(pid)
            entry["rss"] += pss[i] << 10  # Σ Pss over mappers = the resident mapped bytes
    mapped_rows = sorted(mapped.values(), key=lambda e: (-e["rss"], e["path"]))
    if denied:
        notes.add("smaps_unreadable", f"{denied} process(es) could not be inspected for "
                  "mapped shmem objects (run as root): what they map is unattributed")
    total = meminfo.get("Shmem")
    on_mounts = sum(r["used"] or 0 for r in rows)
    off_mounts = sum(e["rss"] for e in mapped_rows
                     if not table.is_shmem(e["path"].replace(" (deleted)", "")))
    attributed = on_mounts + sum(s["rss"] or 0 for s in sysv) + off_mounts
    unattributed = None
    if total is not None and (root.live or not rows or root.recorded("statfs") is not None):
        unattributed = total - attributed
        if unattributed < 0:
            notes.add("shmem_overcounted",
                      "the attributed figures exceed Shmem: tmpfs usage counts pages that "
                      "are swapped out, and Shmem does not")
    return {"schema_version": SCHEMA_VERSION, "total": total, "mounts": rows,
            "sysv": sysv, "mapped": mapped_rows, "unattributed": unattributed,
            "notes": notes.items}
