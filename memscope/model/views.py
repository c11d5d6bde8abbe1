"""Kernel views: zones with fragmentation, vmalloc by type and caller, slab caches, and who
holds Shmem (docs/contract.md "zones", "vmalloc", "slab", "shmem"; docs/kernel.md §4, §5, §8)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from memscope.model import Notes
from memscope.model.system import zone_state
from memscope.parsers.buddyinfo import unusable_index
from memscope.parsers.vmallocinfo import Area, fold_caller
from memscope.parsers.zoneinfo import Zoneinfo

# The callers that allocate vmap'd kernel stacks (CONFIG_VMAP_STACK), by kernel version.
STACK_CALLERS = ("alloc_thread_stack_node", "kernel_clone", "copy_process",
                 "dup_task_struct", "_do_fork")


def build_zone_view(zi: Zoneinfo, buddy: Optional[Dict[Tuple[int, str], List[int]]],
                    page: int, tunables: Dict[str, Any], notes: Optional[Notes] = None,
                    buddy_notes: Optional[Notes] = None) -> Dict[str, Any]:
    """The ``zones`` command's document: every zone with fragmentation, and the tunables
    (summary's shorter per-zone list is model.system.summary_zones). ``notes``: what the
    reading found (the document's notes follow them); ``buddy_notes``: buddyinfo's own,
    when it was bad (absent and no note: the code zones has always had for it)."""
    from memscope import SCHEMA_VERSION

    zones = []
    for z in zi.zones:
        managed = z.managed if z.managed is not None else z.present
        counts = buddy.get((z.node, z.name)) if buddy is not None else None
        largest = None
        if counts is not None:
            orders = [k for k, c in enumerate(counts) if c]
            largest = (page << orders[-1]) if orders else 0
        zones.append({
            "node": z.node, "zone": z.name,
            "free": z.free * page, "min": z.min * page, "low": z.low * page,
            "high": z.high * page,
            "promo": None if z.promo is None else z.promo * page,
            "boost": None if z.boost is None else z.boost * page,
            "managed": None if z.managed is None else z.managed * page,
            "present": z.present * page, "spanned": z.spanned * page,
            "protection": [p * page for p in z.protection],
            "state": zone_state(z.free, z.min, z.low, z.high, managed),
            "headroom": None if managed == 0 else (z.free - z.low) * page,
            # For a request whose highest usable zone is class zone j, this zone must keep
            # low + protection[j] free (__zone_watermark_ok): its headroom for that class.
            "headroom_by_class": None if managed == 0 else
            [(z.free - z.low - p) * page for p in z.protection],
            "free_blocks": counts,
            "unusable_index": unusable_index(counts) if counts is not None else None,
            "largest_free_block": largest,
        })
    doc = {"schema_version": SCHEMA_VERSION, "zones": zones, "tunables": tunables}
    if notes is not None:
        if buddy is None and not (buddy_notes and buddy_notes.items):
            notes.add("buddyinfo_missing", "no /proc/buddyinfo: free blocks per order unknown")
        for item in (buddy_notes.items if buddy_notes else ()):
            notes.add(item["code"], item["text"])
        if zi.skipped:
            notes.add("unknown_lines_skipped",
                      f"{len(zi.skipped)} line(s) of zoneinfo outside the kernel's format "
                      f"were skipped (first: line {zi.skipped[0][0]})")
        doc["notes"] = notes.items
    return doc


EXPLAIN = [
    ("min", "the emergency reserve (vm.min_free_kbytes, shared out by zone size). An "
            "allocation that finds a zone at or below min reclaims directly, stalling the "
            "caller; only atomic and OOM-victim allocations may dip below it."),
    ("low", "when a zone falls to low, kswapd wakes and reclaims in the background. "
            "Allocations still succeed while free stays above min."),
    ("high", "kswapd reclaims until every zone is above high, then sleeps. The gaps "
             "min -> low -> high grow with vm.watermark_scale_factor."),
    ("promo", "(6.12+, NUMA memory tiering) kswapd's target when it demotes pages to a "
              "slower tier."),
    ("boost", "a temporary raise of the marks after a fragmentation event "
              "(vm.watermark_boost_factor); kswapd reclaims it away."),
    ("protection", "lowmem_reserve: pages a zone keeps back from allocations that could "
                   "have used a higher zone (vm.lowmem_reserve_ratio), so DMA and DMA32 "
                   "are not eaten by ordinary allocations. headroom_by_class is free - low "
                   "- protection[j] for a request whose highest zone is j."),
    ("unusable_index", "for each order, the share of free memory in blocks too small for "
                       "that order: near 1 means an order-N allocation fails for "
                       "fragmentation, not for lack of memory, and compaction is the cure."),
]


def vmalloc_bytes(areas: Sequence[Area], page: int) -> int:
    """The pages of the vmalloc areas (type vmalloc), in bytes: what VmallocUsed counts."""
    return sum((a.pages or 0) * page for a in areas if a.type == "vmalloc")


def build_vmalloc(areas: Sequence[Area], vmalloc_used: Optional[int], page: int,
                  by: str = "caller", limit: Optional[int] = None,
                  notes: Optional[Notes] = None, meminfo=None) -> Dict[str, Any]:
    """The ``vmalloc`` document. With ``notes`` (what the reading found) it gets its
    notes: where the areas' pages differ from VmallocUsed (``vmalloc_used``), and where
    ``meminfo``'s VmallocUsed is no page count on this kernel."""
    from memscope import SCHEMA_VERSION

    by_type: Dict[str, List[int]] = {}
    by_caller: Dict[str, List[int]] = {}
    stacks = [0, 0, 0]
    for a in areas:
        pages = (a.pages or 0) * page
        row = by_type.setdefault(a.type, [0, 0, 0])
        row[0] += 1
        row[1] += a.size
        row[2] += pages
        caller = fold_caller(a.caller) if a.caller else f"({a.type})"
        row = by_caller.setdefault(caller, [0, 0, 0])
        row[0] += 1
        row[1] += a.size
        row[2] += pages
        if a.caller and caller.split(" ")[0] in STACK_CALLERS and a.type == "vmalloc":
            stacks[0] += 1
            stacks[1] += a.size
            stacks[2] += pages

    def rows(table: Dict[str, List[int]], key: str) -> List[Dict[str, Any]]:
        out = [{key: k, "count": v[0], "size": v[1], "bytes": v[2]} for k, v in table.items()]
        out.sort(key=lambda r: (-r["bytes"], -r["size"], r[key]))
        return out

    callers = rows(by_caller, "caller")
    doc = {
        "schema_version": SCHEMA_VERSION,
        "vmalloc_used": vmalloc_used,
        "vmalloc_bytes": by_type.get("vmalloc", [0, 0, 0])[2],
        "kernel_stacks": {"count": stacks[0], "size": stacks[1], "bytes": stacks[2]},
        "by_type": rows(by_type, "type"),
        "top_callers": callers[:limit] if limit is not None else callers,
    }
    if notes is not None:
        if vmalloc_used is not None and doc["vmalloc_bytes"] != vmalloc_used:
            notes.add("vmalloc_differs",
                      f"the pages of the vmalloc areas listed differ from VmallocUsed by "
                      f"{doc['vmalloc_bytes'] - vmalloc_used:+d} bytes: pages of areas being "
                      "set up or torn down are counted in VmallocUsed but not listed (seen "
                      "steady at -16384 on this project's 6.18 machines)")
        if meminfo is not None:
            from memscope.model.kernel import VMALLOC_PAGES, vmalloc_era

            era = vmalloc_era(meminfo)
            if era != VMALLOC_PAGES and era is not None:
                notes.add("vmallocused_not_pages",
                          f"VmallocUsed is not a page count on this kernel ({era}): compare "
                          "vmalloc_bytes, the pages= of vmalloc areas, instead")
        doc["notes"] = notes.items
    return doc


# slabtop's sort keys (procps-ng slabtop.c, its -s/--sort letters) and memscope's names
# for them: letter -> (name, the cache field, ascending?).
SLAB_SORTS = {
    "a": ("active", "active_objects", False),
    "b": ("objs-per-slab", "objects_per_slab", False),
    "c": ("cache-size", "bytes", False),
    "l": ("slabs", "total_slabs", False),
    "v": ("active-slabs", "active_slabs", False),
    "n": ("name", "name", True),
    "o": ("objects", "total_objects", False),
    "p": ("pages-per-slab", "pages_per_slab", False),
    "s": ("object-size", "object_size", False),
    "u": ("use", "use", False),
}


def slab_sort_key(key: str):
    """A sort key for slab caches by slabtop letter or memscope name; largest first except
    for names, ties by name."""
    letter = key if key in SLAB_SORTS else next(k for k, v in SLAB_SORTS.items()
                                                if v[0] == key)
    _, field, ascending = SLAB_SORTS[letter]
    if field == "name":
        return lambda c: c["name"]
    if field == "use":
        return lambda c: (-(c["active_objects"] / c["total_objects"]
                            if c["total_objects"] else 0.0), c["name"])
    return lambda c: (-c[field], c["name"])


def slab_header(caches: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """slabtop's header figures: active/total objects, slabs, caches (a cache is active
    when it has an active object) and sizes (objects × object size), and the
    minimum/average/maximum object size (average: total size / total objects)."""
    objs = sum(c["total_objects"] for c in caches)
    size = sum(c["total_objects"] * c["object_size"] for c in caches)
    return {
        "active_objects": sum(c["active_objects"] for c in caches), "total_objects": objs,
        "active_slabs": sum(c["active_slabs"] for c in caches),
        "total_slabs": sum(c["total_slabs"] for c in caches),
        "active_caches": sum(1 for c in caches if c["active_objects"]),
        "total_caches": len(caches),
        "active_size": sum(c["active_objects"] * c["object_size"] for c in caches),
        "total_size": size,
        "min_object": min((c["object_size"] for c in caches), default=0),
        "avg_object": size / objs if objs else 0.0,
        "max_object": max((c["object_size"] for c in caches), default=0),
    }


def build_slab(caches: Sequence[Any], reclaimable: Dict[str, Optional[bool]], page: int,
               meminfo: Dict[str, int], notes: Optional[Notes] = None) -> Dict[str, Any]:
    """The ``slab`` document; with ``notes`` (what the reading found), its notes: whether
    reclaimability is known, and how the caches add up against meminfo's Slab."""
    from memscope import SCHEMA_VERSION

    out = []
    for c in caches:
        out.append({
            "name": c.name, "active_objects": c.active_objects,
            "total_objects": c.total_objects, "object_size": c.object_size,
            "objects_per_slab": c.objects_per_slab, "pages_per_slab": c.pages_per_slab,
            "active_slabs": c.active_slabs, "total_slabs": c.total_slabs,
            "bytes": c.total_slabs * c.pages_per_slab * page,
            "active_bytes": c.active_objects * c.object_size,
            "reclaimable": reclaimable.get(c.name),
        })
    out.sort(key=lambda c: (-c["bytes"], c["name"]))
    total = sum(c["bytes"] for c in out)
    known = [c for c in out if c["reclaimable"] is not None]
    doc = {
        "schema_version": SCHEMA_VERSION,
        "total_bytes": total,
        "reclaimable_bytes": sum(c["bytes"] for c in known if c["reclaimable"])
        if known else None,
        "unreclaimable_bytes": sum(c["bytes"] for c in known if not c["reclaimable"])
        if known else None,
        "meminfo": {"Slab": meminfo.get("Slab"), "SReclaimable": meminfo.get("SReclaimable"),
                    "SUnreclaim": meminfo.get("SUnreclaim")},
        "caches": out,
    }
    if notes is not None:
        if not reclaimable or all(v is None for v in reclaimable.values()):
            notes.add("reclaimable_unknown",
                      "no /sys/kernel/slab/*/reclaim_account: which caches are reclaimable "
                      "is not known; SReclaimable and SUnreclaim give the split")
        if "Slab" in meminfo:
            diff = total - meminfo["Slab"]
            if diff:
                notes.add("slab_differs",
                          f"the caches add up to {diff:+d} bytes ({diff / 1048576:+.1f} MiB) "
                          "against meminfo Slab: large kmalloc allocations are counted in "
                          "SUnreclaim but in no cache, and the two files were read at "
                          "different instants")
        doc["notes"] = notes.items
    return doc
