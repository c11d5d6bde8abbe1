"""The system picture behind ``memscope summary``: free-compatible figures, the MemTotal
breakdown, physical RAM, MemAvailable rebuilt, zones and pressure.

Every rule here cites docs/kernel.md (which cites the kernel source). Inputs are parsed records;
the output is the ``summary`` document of docs/contract.md, in integer bytes.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from memscope.model import Notes
from memscope.model.kernel import VMALLOC_ADDRESS_SPACE, VMALLOC_ZERO, kernel_floor, vmalloc_era
from memscope.parsers.meminfo import Meminfo
from memscope.parsers.zoneinfo import Zone, Zoneinfo


class SystemInputs:
    """What collect.py read for one system picture. Pages are converted with page_size."""

    __slots__ = ("meminfo", "zoneinfo", "vmstat", "pressure", "page_size", "vmap_stack",
                 "hugetlb_sysfs", "source", "notes", "container", "vmalloc_pages", "zram",
                 "arc", "hugepage_pools")

    def __init__(self, meminfo: Meminfo, zoneinfo: Optional[Zoneinfo] = None,
                 vmstat: Optional[Dict[str, int]] = None, pressure: Optional[dict] = None,
                 page_size: int = 4096, vmap_stack: Optional[bool] = None,
                 hugetlb_sysfs: Optional[int] = None, source: Optional[dict] = None,
                 notes: Optional[Notes] = None):
        self.meminfo = meminfo
        self.zoneinfo = zoneinfo
        self.vmstat = vmstat
        self.pressure = pressure
        self.page_size = page_size
        self.vmap_stack = vmap_stack
        self.hugetlb_sysfs = hugetlb_sysfs
        self.source = source or {"root": None, "hostname": None, "kernel": None,
                                 "taken_at": None}
        self.notes = notes if notes is not None else Notes()
        self.container: Optional[Dict[str, Any]] = None
        self.vmalloc_pages: Optional[int] = None   # bytes of vmalloc areas (vmallocinfo)
        self.zram: Dict[str, Dict[str, int]] = {}  # device -> mm_stat
        self.arc: Optional[Dict[str, int]] = None  # ZFS arcstats
        self.hugepage_pools: Optional[Dict[int, Dict[str, Optional[int]]]] = None

    def counter(self, name: str) -> Optional[int]:
        """A VM counter (pages) from /proc/vmstat, else summed from zoneinfo's node and zone
        counters (the same counters, per node), else None."""
        if self.vmstat is not None:
            return self.vmstat.get(name)
        if self.zoneinfo is not None:
            return self.zoneinfo.node_stat(name)
        return None


def mib(n: int) -> str:
    """A size for note texts: exact bytes are in the machine output; notes say it in MiB."""
    return f"{n / 1048576:.1f} MiB"


# ---------------------------------------------------------------------------------------
# free(1) compatibility (docs/kernel.md §3; procps-ng 4.0.1+ library/meminfo.c)


def build_memory(inp: SystemInputs, available_estimate: Optional[int]) -> Dict[str, Any]:
    mi, notes = inp.meminfo, inp.notes
    total = mi["MemTotal"]
    free = mi.get("MemFree", 0)
    available = mi.get("MemAvailable")
    # procps: "if (0 == MemAvailable) MemAvailable = MemFree" - absent counts as 0 there.
    if not available:
        available = free
        notes.add("memavailable_missing",
                  "MemAvailable is missing (kernels before 3.14): 'available' is MemFree, as "
                  "procps-ng >= 4.0 computes it" +
                  ("; memscope's estimate from zoneinfo (the 3.14 formula) is "
                   f"{mib(available_estimate)}" if available_estimate is not None else ""))
    elif available > total:
        notes.add("lxcfs_suspected",
                  f"MemAvailable ({mib(available)}) is larger than MemTotal ({mib(total)}): "
                  "meminfo is virtualised (LXCFS-style container); 'available' is MemFree, "
                  "as procps-ng computes it")
        available = free
    used = total - available
    if used < 0:
        used = total - free
        notes.add("used_fallback", "MemTotal - MemAvailable is negative: 'used' is "
                  "MemTotal - MemFree, as procps-ng computes it")
    cache = mi.get("Cached", 0) + mi.get("SReclaimable", 0)
    buffers = mi.get("Buffers", 0)
    return {
        "total": total,
        "used": used,
        "free": free,
        "shared": mi.get("Shmem"),
        "buffers": buffers,
        "cache": cache,
        "buff_cache": buffers + cache,
        "available": available,
        "available_estimate": available_estimate,
    }


def build_swap(mi: Meminfo) -> Optional[Dict[str, Any]]:
    if "SwapTotal" not in mi:
        return None
    total, free = mi["SwapTotal"], mi.get("SwapFree", 0)
    return {"total": total, "used": total - free if free < total else 0, "free": free,
            "cached": mi.get("SwapCached")}


# ---------------------------------------------------------------------------------------
# The MemTotal breakdown (docs/kernel.md §1.4; docs/contract.md "Breakdown")


def _sum_present(mi: Meminfo, keys) -> Optional[int]:
    vals = [mi[k] for k in keys if k in mi]
    return sum(vals) if vals else None


def build_breakdown(inp: SystemInputs) -> List[Dict[str, Any]]:
    mi, zi, P, notes = inp.meminfo, inp.zoneinfo, inp.page_size, inp.notes
    out: List[Dict[str, Any]] = []

    def add(category: str, value: Optional[int], **extra) -> None:
        if value is not None:
            out.append(dict({"category": category, "bytes": value}, **extra))

    add("free", mi.get("MemFree"))
    if zi is not None and any(z.pcp_count is not None for z in zi.zones):
        # Per-CPU free lists: off the buddy lists and out of MemFree (docs/kernel.md §1.3).
        add("free_pcp", P * sum(z.pcp_count or 0 for z in zi.zones))
    else:
        notes.add("free_pcp_unknown", "per-CPU free lists are not known without "
                  "/proc/zoneinfo: they are in 'unaccounted'")

    # LRU lists: the parts sum exactly to the parent.
    parts: List[Dict[str, Any]] = []
    if "Active(anon)" in mi:
        names = [("active_anon", "Active(anon)"), ("inactive_anon", "Inactive(anon)"),
                 ("active_file", "Active(file)"), ("inactive_file", "Inactive(file)"),
                 ("unevictable", "Unevictable")]
    else:  # before 2.6.28 the lists were not split by type
        names = [("active", "Active"), ("inactive", "Inactive")]
    for cat, key in names:
        if key in mi:
            parts.append({"category": cat, "bytes": mi[key]})
    iso_a, iso_f = inp.counter("nr_isolated_anon"), inp.counter("nr_isolated_file")
    if iso_a is not None or iso_f is not None:
        parts.append({"category": "isolated", "bytes": P * ((iso_a or 0) + (iso_f or 0))})
    if parts:
        contents = []
        for cat, value in (("anon", mi.get("AnonPages")), ("shmem", mi.get("Shmem")),
                           ("page_cache", None if "Cached" not in mi
                            else mi["Cached"] - mi.get("Shmem", 0)),
                           ("buffers", mi.get("Buffers")),
                           ("swap_cache", mi.get("SwapCached")),
                           ("mlocked", mi.get("Mlocked"))):
            if value is not None:
                contents.append({"category": cat, "bytes": value})
        add("lru", sum(p["bytes"] for p in parts), parts=parts, contents=contents)

    if "SReclaimable" in mi or "SUnreclaim" in mi:
        add("slab_reclaimable", mi.get("SReclaimable"))
        add("slab_unreclaimable", mi.get("SUnreclaim"))
    else:
        add("slab", mi.get("Slab"))
    if "KReclaimable" in mi:
        add("kernel_misc_reclaimable", mi["KReclaimable"] - mi.get("SReclaimable", 0))
    add("kernel_stack", mi.get("KernelStack"))
    add("page_tables", _sum_present(mi, ("PageTables", "SecPageTables")))
    add("vmalloc", _vmalloc_bytes(inp))
    add("percpu", mi.get("Percpu"))
    add("hugetlb", _hugetlb_bytes(inp))
    zspages = inp.counter("nr_zspages")
    zram = [{"category": dev, "bytes": st["mem_used_total"]}
            for dev, st in sorted(inp.zram.items())]
    pool = P * zspages if zspages is not None else None
    if pool is None and (zram or "Zswap" in mi):
        # no nr_zspages: the pool is what zram and zswap say they use
        pool = sum(z["bytes"] for z in zram) + mi.get("Zswap", 0)
    if pool is not None:
        if zram:  # zram's mm_stat is this same pool: a part, never a sibling
            rest = pool - sum(z["bytes"] for z in zram)
            add("zsmalloc", pool, parts=zram + [{"category": "zswap_and_other",
                                                   "bytes": rest}])
        else:
            add("zsmalloc", pool)
    memmap = inp.counter("nr_memmap_pages")
    if memmap is not None:
        add("memmap", P * memmap)
    add("misc", _sum_present(mi, ("Bounce", "WritebackTmp")))

    unaccounted = mi["MemTotal"] - sum(c["bytes"] for c in out)
    add("unaccounted", unaccounted)
    if unaccounted < 0:
        notes.add("unaccounted_negative",
                  f"the categories exceed MemTotal by {mib(-unaccounted)}: this kernel's "
                  "counters overlap (Percpu includes a first chunk outside MemTotal; "
                  "patched or virtualised kernels count some pages twice)")
    if mi.get("Balloon"):
        notes.add("balloon", f"Balloon {mib(mi['Balloon'])}: pages held by the hypervisor's "
                  "balloon driver; whether MemTotal already excludes them depends on the "
                  "driver, so they are left in 'unaccounted'")
    return out


def _vmalloc_bytes(inp: SystemInputs) -> Optional[int]:
    """VmallocUsed is RAM only on 5.3+ (docs/kernel.md §1.1, §1.4)."""
    mi, notes = inp.meminfo, inp.notes
    if "VmallocUsed" not in mi:
        return None
    used, era = mi["VmallocUsed"], vmalloc_era(mi)
    if era == VMALLOC_ADDRESS_SPACE:
        notes.add("vmallocused_not_ram",
                  f"VmallocUsed ({mib(used)}) is address space, not RAM, on kernels before "
                  "4.4 (it counts every area, ioremap included): no vmalloc category; "
                  "vmalloc pages are in 'unaccounted'")
        return None
    if era == VMALLOC_ZERO:
        if inp.vmalloc_pages is None:
            notes.add("vmallocused_zero",
                      "VmallocUsed reads 0 on kernels 4.4-5.2 and /proc/vmallocinfo is not "
                      "readable (mode 0400: root only; or absent under this root): no vmalloc "
                      "category; vmalloc pages are in "
                      "'unaccounted'")
            return None
        notes.add("vmalloc_from_vmallocinfo",
                  "VmallocUsed reads 0 on kernels 4.4-5.2: vmalloc is the pages= of the "
                  "vmalloc areas in /proc/vmallocinfo")
        used = inp.vmalloc_pages
    stack = mi.get("KernelStack", 0)
    vmap_stack = inp.vmap_stack
    if vmap_stack is None:
        # CONFIG_VMAP_STACK is the default on x86_64 and arm64; stacks larger than all of
        # vmalloc cannot be inside it.
        vmap_stack = stack <= used
        notes.add("vmap_stack_assumed",
                  "the kernel config is not readable: kernel stacks are assumed to be "
                  + ("vmalloc'ed (CONFIG_VMAP_STACK, the x86_64 and arm64 default) and are "
                     "taken out of VmallocUsed" if vmap_stack else
                     "outside vmalloc (KernelStack exceeds VmallocUsed)"))
    return max(0, used - stack) if vmap_stack else used


def _hugetlb_bytes(inp: SystemInputs) -> Optional[int]:
    mi = inp.meminfo
    if "Hugetlb" in mi:  # 4.16+: all huge page sizes
        return mi["Hugetlb"]
    if inp.hugetlb_sysfs is not None:
        return inp.hugetlb_sysfs
    if "HugePages_Total" in mi and "Hugepagesize" in mi:
        if mi["HugePages_Total"]:
            inp.notes.add("hugetlb_default_size_only",
                          "no Hugetlb line (kernels before 4.16) and no "
                          "/sys/kernel/mm/hugepages: hugetlb counts the default page size "
                          "only")
        return mi["HugePages_Total"] * mi["Hugepagesize"]
    return None


# ---------------------------------------------------------------------------------------
# Huge pages: THP in use (meminfo) and the hugetlb pools (docs/kernel.md §1.1)

THP_FIELDS = (("anon", "AnonHugePages"), ("shmem", "ShmemHugePages"),
              ("shmem_pmd_mapped", "ShmemPmdMapped"), ("file", "FileHugePages"),
              ("file_pmd_mapped", "FilePmdMapped"))


def build_thp(mi: Meminfo) -> Optional[Dict[str, Optional[int]]]:
    """Transparent huge pages in use, in bytes (inside AnonPages, Shmem and Cached, not
    beside them); null for a field this kernel does not print."""
    if not any(key in mi for _, key in THP_FIELDS):
        return None
    return {name: mi.get(key) for name, key in THP_FIELDS}


def build_hugetlb_pools(inp: SystemInputs) -> List[Dict[str, Any]]:
    """The hugetlb pool per page size, in bytes: total = used + free; reserved pages are
    free pages promised to mappings (not yet faulted), surplus the pages above
    nr_hugepages from overcommit (Documentation/admin-guide/mm/hugetlbpage.rst). From
    /sys/kernel/mm/hugepages, else meminfo's HugePages_* for the default size."""
    mi = inp.meminfo
    pools = inp.hugepage_pools
    if pools is None and "HugePages_Total" in mi and mi.get("Hugepagesize"):
        pools = {mi["Hugepagesize"]: {
            "nr_hugepages": mi.get("HugePages_Total"), "free_hugepages": mi.get("HugePages_Free"),
            "resv_hugepages": mi.get("HugePages_Rsvd"),
            "surplus_hugepages": mi.get("HugePages_Surp")}}
    out = []
    for size, p in sorted((pools or {}).items()):
        b = {key: None if p.get(key) is None else p[key] * size
             for key in ("nr_hugepages", "free_hugepages", "resv_hugepages",
                         "surplus_hugepages")}
        total, free = b["nr_hugepages"], b["free_hugepages"]
        out.append({"page_size": size, "total": total, "used": None if total is None or
                    free is None else total - free, "free": free,
                    "reserved": b["resv_hugepages"], "surplus": b["surplus_hugepages"]})
    return out


# ---------------------------------------------------------------------------------------
# What reclaim has already done (/proc/vmstat; counters since boot)

ACTIVITY = ("pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct",
            "allocstall", "compact_stall", "compact_fail", "oom_kill", "workingset_refault",
            "thp_fault_fallback", "thp_file_fallback", "pswpin", "pswpout")


def build_activity(vm: Optional[Dict[str, int]]) -> Optional[Dict[str, Optional[int]]]:
    """Reclaim and OOM counters (events or pages, as the kernel counts them). Kernels that
    count per zone (pgscan_kswapd_normal, allocstall_dma32, ... before 4.8) or per type
    (workingset_refault_anon/_file, 5.9+) are summed."""
    if vm is None:
        return None
    out: Dict[str, Optional[int]] = {}
    for name in ACTIVITY:
        if name in vm:
            out[name] = vm[name]
            continue
        parts = [v for k, v in vm.items() if k.startswith(name + "_")
                 and not k.endswith("_throttle") and not k.startswith(name + "_khugepaged")]
        out[name] = sum(parts) if parts else None
    return out


def add_rates(doc: Dict[str, Any], previous: Optional[Dict[str, Optional[int]]],
              seconds: float) -> None:
    """--watch: per-second rates of the activity counters over the last ``seconds``."""
    now = doc.get("activity")
    if previous is None or not now or seconds <= 0:
        doc["activity_rates"] = None
        return
    doc["activity_rates"] = {
        k: (None if v is None or previous.get(k) is None
            else round((v - previous[k]) / seconds, 3))
        for k, v in now.items()}


# ---------------------------------------------------------------------------------------
# MemAvailable rebuilt (docs/kernel.md §2.1, §2.4)


def _reserve_candidates(zones: List[Zone]) -> Dict[str, List[int]]:
    """The reserve term each formula could have used, in pages.

    totalreserve_pages is a value the kernel computed at some earlier instant
    (calculate_totalreserve_pages(), mm/page_alloc.c: max lowmem_reserve + high_wmark_pages,
    capped at managed). high_wmark_pages() includes the zone's watermark_boost, which the
    kernel raises after fragmentation events and kswapd later resets: the stored total may
    hold the boost zoneinfo shows now, or none of it. Both are candidates; the one that
    reproduces MemAvailable is reported (seen on 6.18 with Normal boost 1536 pages).
    """
    sum_low = sum(z.low for z in zones)
    unboosted = boosted = 0
    for z in zones:
        managed = z.managed if z.managed is not None else z.present
        top = max(z.protection, default=0) + z.high
        unboosted += min(managed, top - (z.boost or 0))
        boosted += min(managed, top)
    return {"totalreserve": sorted({unboosted, boosted}), "sum_low": [sum_low]}


def rebuild_available(inp: SystemInputs) -> Optional[Dict[str, Any]]:
    """``available_explained``: the kernel's MemAvailable arithmetic from meminfo + zoneinfo.

    The reserve term changed in 4.5 without leaving a trace in the files: both are
    computed and the one that reproduces the kernel's figure is reported.
    """
    mi, zi, P, notes = inp.meminfo, inp.zoneinfo, inp.page_size, inp.notes
    if zi is None:
        notes.add("available_not_rebuilt",
                  "no /proc/zoneinfo: MemAvailable can't be rebuilt")
        return None
    sum_low = sum(z.low for z in zi.zones)
    free = mi.get("MemFree", 0) // P
    pagecache = (mi.get("Active(file)", 0) + mi.get("Inactive(file)", 0)) // P
    reclaimable = mi.get("KReclaimable", mi.get("SReclaimable", 0)) // P
    pagecache_kept = pagecache - min(pagecache // 2, sum_low)
    reclaimable_kept = reclaimable - min(reclaimable // 2, sum_low)
    # 4.17-4.19: indirectly reclaimable bytes, added uncapped.
    indirect = (inp.vmstat or {}).get("nr_indirectly_reclaimable", 0) // P
    results: List[Tuple[str, int, int]] = []
    for formula, reserves in _reserve_candidates(zi.zones).items():
        for reserve in reserves:
            estimate = max(0, free - reserve + pagecache_kept + reclaimable_kept + indirect)
            results.append((formula, reserve, estimate * P))
    kernel = mi.get("MemAvailable") or None
    if kernel is None:
        # the 3.14 formula: the kernel's guidance
        formula, reserve, estimate = [r for r in results if r[0] == "sum_low"][0]
    else:
        exact = [r for r in results if r[2] == kernel]
        if len({r[0] for r in exact}) == 2:
            # Both reproduce it: the field set says which kernel this is (4.5+: totalreserve).
            floor, _ = kernel_floor(mi, zi)
            newer = floor is not None and floor not in ("3.14", "2.6.32", "4.4")
            exact = [r for r in exact if r[0] == ("totalreserve" if newer else "sum_low")]
        formula, reserve, estimate = exact[0] if exact else \
            min(results, key=lambda r: abs(r[2] - kernel))
        if estimate != kernel:
            notes.add("available_rebuild_differs",
                      f"MemAvailable rebuilt from zoneinfo ({formula}) differs from the "
                      f"kernel's by {estimate - kernel:+d} bytes: the two files were read at "
                      "different instants, or this kernel's formula differs")
    return {
        "free": free * P,
        "reserve": reserve * P,
        "pagecache_kept": pagecache_kept * P,
        "reclaimable_kept": (reclaimable_kept + indirect) * P,
        "formula": formula,
        "estimate": estimate,
        "kernel": kernel,
    }


# ---------------------------------------------------------------------------------------
# Zones and physical RAM (docs/contract.md "Zone state"; docs/kernel.md §1.3, §4)


def zone_state(free: int, zmin: int, low: int, high: int, managed: int) -> str:
    # The kernel's test is strict: a zone passes a mark when free > mark.
    if managed == 0:
        return "empty"
    if free > high:
        return "ok"
    if free > low:
        return "below_high"
    if free > zmin:
        return "below_low"
    return "below_min"


def summary_zones(inp: SystemInputs) -> List[Dict[str, Any]]:
    """summary's ``zones``: free against the marks, state, headroom (the ``zones`` command's
    fuller document is model.views.build_zone_view)."""
    if inp.zoneinfo is None:
        return []
    P = inp.page_size
    out = []
    for z in inp.zoneinfo.zones:
        managed = z.managed if z.managed is not None else z.present
        out.append({
            "node": z.node,
            "zone": z.name,
            "free": z.free * P,
            "min": z.min * P,
            "low": z.low * P,
            "high": z.high * P,
            "managed": None if z.managed is None else z.managed * P,
            "present": z.present * P,
            "protection": [p * P for p in z.protection],
            "state": zone_state(z.free, z.min, z.low, z.high, managed),
            # an empty zone (managed 0) has no headroom: null, never free - low < 0
            "headroom": None if managed == 0 else (z.free - z.low) * P,
        })
    return out


def build_physical(inp: SystemInputs) -> Optional[Dict[str, Any]]:
    zi, mi, P, notes = inp.zoneinfo, inp.meminfo, inp.page_size, inp.notes
    if zi is None:
        return None
    present = P * sum(z.present for z in zi.zones)
    total = mi["MemTotal"]
    if all(z.managed is not None for z in zi.zones):
        managed = P * sum(z.managed for z in zi.zones)
        if managed != total:
            notes.add("managed_ne_memtotal",
                      f"the zones' managed pages ({mib(managed)}) differ from MemTotal "
                      f"({mib(total)}) by {mib(total - managed)}: this kernel counts memory "
                      "it has not yet initialised (deferred or lazy struct page init), "
                      "or pages were hot(un)plugged between reads")
    return {"present": present, "reserved": present - total}


# ---------------------------------------------------------------------------------------


def build_summary(inp: SystemInputs) -> Dict[str, Any]:
    from memscope import SCHEMA_VERSION

    mi, notes = inp.meminfo, inp.notes
    explained = rebuild_available(inp)
    memory = build_memory(inp, explained["estimate"] if explained else None)
    doc: Dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "source": inp.source,
        "memory": memory,
        "available_explained": explained,
        "swap": build_swap(mi),
        "breakdown": build_breakdown(inp),
        "physical": build_physical(inp),
        "zones": summary_zones(inp),
        "pressure": inp.pressure,
        "container": inp.container,
        "thp": build_thp(mi),
        "hugetlb_pools": build_hugetlb_pools(inp),
        "activity": build_activity(inp.vmstat),
        "activity_rates": None,  # --watch fills it (add_rates)
        "zfs_arc": None if inp.arc is None else {
            "size": inp.arc.get("size"), "c_min": inp.arc.get("c_min"),
            "reclaimable": None if "size" not in inp.arc or "c_min" not in inp.arc
            else max(0, inp.arc["size"] - inp.arc["c_min"])},
        "meminfo": dict(mi.fields),
    }
    if inp.container is not None:
        c = inp.container
        notes.add("container_limit",
                  f"memscope runs in cgroup {c['path']} (v{c['version']}) limited to "
                  f"{mib(c['limit'])}, below MemTotal: meminfo shows the host; the "
                  "container's own figures are in 'container'")
    if inp.arc is not None and "size" in inp.arc:
        arc = doc["zfs_arc"]
        notes.add("zfs_arc",
                  f"ZFS ARC holds ≈ {mib(arc['size'])}, of which {mib(arc['reclaimable'] or 0)} "
                  "above its minimum (c_min) the ARC gives back under pressure; it sits in "
                  "slab, vmalloc or 'unaccounted', not in Cached, so 'available' does not "
                  "count it")
    if inp.source.get("kernel") is None:
        floor, evidence = kernel_floor(mi, inp.zoneinfo)
        notes.add("kernel_inferred",
                  "no kernel release under this root; " +
                  (f"the fields present say {floor} or newer ({', '.join(evidence)})"
                   if floor else "the fields present say a kernel older than 2.6.32"))
    if mi.unknown_fields:
        notes.add("unknown_fields",
                  "fields mainline kernels do not print, kept in 'meminfo' but not "
                  "interpreted (their memory is inside the categories or 'unaccounted'): "
                  + ", ".join(mi.unknown_fields))
    if mi.skipped:
        first = mi.skipped[0]
        notes.add("unknown_lines_skipped",
                  f"{len(mi.skipped)} line(s) of meminfo outside the kernel's format were "
                  f"skipped (first: line {first[0]}, {first[1].strip()[:40]!r})")
    if inp.zoneinfo is not None and inp.zoneinfo.skipped:
        first = inp.zoneinfo.skipped[0]
        notes.add("unknown_lines_skipped",
                  f"{len(inp.zoneinfo.skipped)} line(s) of zoneinfo outside the kernel's "
                  f"format were skipped (first: line {first[0]}, {first[1].strip()[:40]!r})")
    doc["notes"] = notes.items
    return doc
