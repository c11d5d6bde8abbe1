"""Orchestration and policy: which files to read through the Root, in what order, and what a
missing one means. Parsers never decide that; the CLI never reads files.
"""

from __future__ import annotations

import os
import time
from typing import Optional

from memscope.errors import ParseError, SourceError
from memscope.model import Notes
from memscope.model.system import SystemInputs, rebuild_available
from memscope.parsers.kconfig import parse_kconfig
from memscope.parsers.meminfo import parse_meminfo
from memscope.parsers.pressure import parse_pressure
from memscope.parsers.vmstat import parse_vmstat
from memscope.parsers.zoneinfo import parse_zoneinfo
from memscope.sources import Root

# meminfo and zoneinfo are separate snapshots of moving counters: on a live host, read them
# again when the rebuilt MemAvailable does not match (KERNEL.md §2.4, error budget (1)).
LIVE_REREADS = 3


def read_identity(root: Root) -> dict:
    """source{root, hostname, kernel, taken_at}: from the root, never from this machine."""
    hostname = root.read_optional("proc/sys/kernel/hostname")
    kernel = root.read_optional("proc/sys/kernel/osrelease")
    return {
        "root": root.path,
        "hostname": hostname.strip() if hostname else None,
        "kernel": kernel.strip() if kernel else None,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) if root.live
        else root.recorded("taken_at"),
    }


def page_size(root: Root, meminfo, zoneinfo, notes: Notes) -> int:
    """The page size: this machine's when live; otherwise inferred from the root's files.

    Captured trees do not record it, but meminfo (kB) and zoneinfo (pages) count the same
    free pages, so their ratio gives it.
    """
    if root.live:
        return os.sysconf("SC_PAGE_SIZE")
    if isinstance(root.recorded("page_size"), int):
        return root.recorded("page_size")
    if zoneinfo is not None:
        # Pairs of (bytes, pages) that count the same pages. Free pages first; the LRU lists
        # next, which stay exact where MemFree counts memory not yet initialised.
        lru_bytes = sum(meminfo.get(k, 0) for k in ("Active(file)", "Inactive(file)",
                                                       "Active(anon)", "Inactive(anon)"))
        lru_pages = sum(zoneinfo.node_stat(k) or 0 for k in (
            "nr_active_file", "nr_inactive_file", "nr_active_anon", "nr_inactive_anon"))
        pairs = [(meminfo.get("MemFree"), sum(z.free for z in zoneinfo.zones)),
                 (lru_bytes, lru_pages)]
        near = None
        for nbytes, pages in pairs:
            if not nbytes or not pages:
                continue
            ratio = nbytes / pages
            for size in (4096, 8192, 16384, 65536):
                if abs(ratio - size) / size < 0.01:  # the same pages, read moments apart
                    return size
                if near is None and abs(ratio - size) / size < 0.05:
                    near = size
        if near is not None:
            notes.add("page_size_inferred",
                      f"page size {near} inferred from meminfo against zoneinfo (the files "
                      "were not read at the same instant)")
            return near
    if zoneinfo is not None or root.exists("proc/vmstat"):  # only where pages are converted
        notes.add("page_size_assumed", "page size not recorded under this root: 4096 assumed")
    return 4096


def vmap_stack(root: Root, kernel: Optional[str]) -> Optional[bool]:
    """Is CONFIG_VMAP_STACK set (kernel stacks inside VmallocUsed)? None when unknowable."""
    data = None
    try:
        data = root.read_bytes("proc/config.gz")
    except SourceError:  # absent, unreadable: look elsewhere
        data = None
    text = None
    if data is not None:
        import zlib

        try:
            text = zlib.decompress(data, 47).decode("ascii", "replace")
        except zlib.error:
            text = None
    if text is None and root.live and kernel:
        text = root.read_optional(f"boot/config-{kernel}")
    if text is None:
        return None
    try:
        config = parse_kconfig(text)
    except ParseError:
        return None
    return config.get("CONFIG_VMAP_STACK") == "y"


def hugetlb_from_sysfs(root: Root) -> Optional[int]:
    """Σ nr_hugepages × size over every huge page size (for kernels without Hugetlb)."""
    base = "sys/kernel/mm/hugepages"
    if not root.exists(base):
        return None
    total = 0
    for name in root.listdir(base):
        if not (name.startswith("hugepages-") and name.endswith("kB")):
            continue
        size_kb = name[len("hugepages-"):-2]
        count = root.read_optional(f"{base}/{name}/nr_hugepages")
        if count is None or not size_kb.isdigit() or not count.strip().isdigit():
            continue
        total += int(count) * int(size_kb) * 1024
    return total


def collect_system(root: Root) -> SystemInputs:
    notes = Notes()
    meminfo = zoneinfo = None
    for _attempt in range(LIVE_REREADS if root.live else 1):
        # zoneinfo then meminfo, back to back: the two snapshots MemAvailable is rebuilt from.
        zoneinfo = root.parse("proc/zoneinfo", parse_zoneinfo, optional=True)
        meminfo = root.parse("proc/meminfo", parse_meminfo)
        if zoneinfo is None or not root.live or "MemAvailable" not in meminfo:
            break
        probe = SystemInputs(meminfo, zoneinfo, page_size=os.sysconf("SC_PAGE_SIZE"))
        rebuilt = rebuild_available(probe)
        if rebuilt is not None and rebuilt["estimate"] == meminfo["MemAvailable"]:
            break
    vmstat = root.parse("proc/vmstat", parse_vmstat, optional=True)
    pressure = root.parse("proc/pressure/memory", parse_pressure, optional=True)
    source = read_identity(root)
    inp = SystemInputs(
        meminfo=meminfo,
        zoneinfo=zoneinfo,
        vmstat=vmstat,
        pressure=pressure,
        page_size=page_size(root, meminfo, zoneinfo, notes),
        vmap_stack=vmap_stack(root, source["kernel"]) if "VmallocUsed" in meminfo else None,
        hugetlb_sysfs=None if "Hugetlb" in meminfo else hugetlb_from_sysfs(root),
        source=source,
        notes=notes,
    )
    from memscope.collect_cgroups import container_view
    from memscope.model.kernel import VMALLOC_ZERO, vmalloc_era

    inp.container = container_view(root, meminfo["MemTotal"])
    if vmalloc_era(meminfo) == VMALLOC_ZERO:
        inp.vmalloc_pages, stacks = vmalloc_from_vmallocinfo(root, inp.page_size)
        if stacks and inp.vmap_stack is None:
            inp.vmap_stack = True  # kernel stacks seen among the vmalloc areas
    inp.zram = read_zram(root)
    if root.exists("proc/spl/kstat/zfs/arcstats"):
        from memscope.parsers.zram import parse_arcstats

        inp.arc = root.parse("proc/spl/kstat/zfs/arcstats", parse_arcstats, optional=True)
    return inp


def vmalloc_from_vmallocinfo(root: Root, page: int):
    """(Σ pages= of the vmalloc areas in bytes, whether kernel stacks are among them), or
    (None, False) where vmallocinfo can't be read."""
    from memscope.model.views import STACK_CALLERS
    from memscope.parsers.vmallocinfo import fold_caller, parse_vmallocinfo

    try:
        areas = root.parse("proc/vmallocinfo", parse_vmallocinfo, optional=True)
    except SourceError:
        return None, False  # mode 0400: not root
    if areas is None:
        return None, False
    stacks = any(a.caller and fold_caller(a.caller).split(" ")[0] in STACK_CALLERS
                 for a in areas if a.type == "vmalloc")
    return page * sum(a.pages or 0 for a in areas if a.type == "vmalloc"), stacks


def read_zram(root: Root) -> dict:
    from memscope.parsers.zram import parse_mm_stat

    out = {}
    if not root.isdir("sys/block"):
        return out
    for name in root.listdir("sys/block"):
        if name.startswith("zram"):
            stat = root.parse(f"sys/block/{name}/mm_stat", parse_mm_stat, optional=True)
            if stat is not None:
                out[name] = stat
    return out


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


def collect_slab(root: Root) -> dict:
    from memscope.model.views import build_slab
    from memscope.parsers.slabinfo import parse_slabinfo

    caches = root.parse("proc/slabinfo", parse_slabinfo)
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


def collect_shmem(root: Root) -> dict:
    """Who holds Shmem: tmpfs mounts (statfs, live), SysV segments, and shmem objects
    mapped by processes but on no visible mount (memfd, shared anonymous memory)."""
    from memscope import SCHEMA_VERSION
    from memscope.collect_procs import Users, list_pids
    from memscope.model.process import ShmemMounts, categorize
    from memscope.parsers.ipc import parse_sysvipc_shm
    from memscope.parsers.mounts import parse_mounts
    from memscope.parsers.smaps import parse_smaps

    notes = Notes()
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


def collect_report(root: Root):
    """``memscope report``: one document for a cron job (SPEC.md "report")."""
    from memscope import SCHEMA_VERSION
    from memscope.collect_cgroups import children_of, find_hierarchy, read_cgroup
    from memscope.collect_procs import Options, Users, list_pids, scan
    from memscope.errors import MemscopeError
    from memscope.model.system import build_summary
    from memscope.model.top import build_top

    inputs = collect_system(root)
    summary = build_summary(inputs)
    notes = Notes()
    try:
        zones = collect_zones(root, inputs)
    except SourceError:
        zones = None
    try:
        vmalloc = collect_vmalloc(root, "caller", 20)
    except SourceError as exc:
        vmalloc = None
        notes.add("vmalloc_unreadable", f"no vmalloc section: {exc}")
    users = Users(root)
    opts = Options(program=True)
    results = scan(root, list_pids(root), opts, users)
    top, warnings = build_top(results, "pss", 20, (), None, "program")
    known = dict(results)  # the cgroups' members: read once, here
    cgroups = []
    try:
        hier = find_hierarchy(root)
        cg_notes: list = []
        for path in ["/"] + children_of(root, hier, "/"):
            try:
                cgroups.append(read_cgroup(root, hier, path, cg_notes, users, known))
            except MemscopeError:
                continue  # removed meanwhile
    except MemscopeError as exc:
        notes.add("no_cgroups", f"no cgroup section: {exc}")
    return {"schema_version": SCHEMA_VERSION, "source": summary["source"],
            "summary": summary, "zones": zones, "vmalloc": vmalloc, "top": top,
            "cgroups": cgroups, "notes": notes.items}, warnings
