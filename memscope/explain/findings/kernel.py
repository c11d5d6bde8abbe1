"""Kernel memory: slab, vmalloc, page tables, and memory in no counter."""

from __future__ import annotations

from memscope.explain import MiB, Docs, ev, finding, pct, size


def _top_caches(d: Docs, reclaimable):
    if not d.slab:
        return []
    caches = [c for c in d.slab.get("caches") or ()
              if reclaimable is None or c.get("reclaimable") in (reclaimable, None)]
    caches.sort(key=lambda c: -c["bytes"])
    return caches[:3]


def slab_unreclaimable_large(d: Docs):
    """SUnreclaim ≥ 10 % of MemTotal → attention, ≥ 20 % → pressure (memscope's
    thresholds: a few percent is normal; more is a kernel leak or a driver/network stack
    holding buffers). Names the largest caches when /proc/slabinfo is readable."""
    mi, total = d.meminfo, d.total
    n = mi.get("SUnreclaim")
    if n is None or n < total * 0.10:
        return []
    caches = _top_caches(d, False)
    return [finding(
        "slab_unreclaimable_large", "pressure" if n >= total * 0.20 else "attention",
        f"{size(n)} of unreclaimable kernel slab ({pct(n, total)})",
        f"The kernel holds {size(n)} ({pct(n, total)}) in slab caches it cannot reclaim"
        + ("; the largest: " + ", ".join(f"{c['name']} {size(c['bytes'])}" for c in caches)
           if caches else " (the caches are in /proc/slabinfo: run as root)") + ".",
        [ev("/proc/meminfo", "SUnreclaim", n)]
        + [ev("/proc/slabinfo", c["name"], c["bytes"]) for c in caches],
        "Unreclaimable slab is kernel objects in use (network buffers, kmalloc'ed "
        "structures): only the code that allocated them frees them; growth without end is a "
        "leak.", "memscope slab")]


def slab_reclaimable_large(d: Docs):
    """SReclaimable ≥ 20 % of MemTotal → info (memscope's threshold): dentry and inode
    caches the kernel shrinks under pressure; MemAvailable counts half of it."""
    mi, total = d.meminfo, d.total
    n = mi.get("SReclaimable")
    if n is None or n < total * 0.20:
        return []
    caches = _top_caches(d, True)
    return [finding(
        "slab_reclaimable_large", "info",
        f"{size(n)} of reclaimable kernel slab ({pct(n, total)})",
        f"{size(n)} ({pct(n, total)}) is reclaimable slab"
        + (": " + ", ".join(f"{c['name']} {size(c['bytes'])}" for c in caches)
           if caches else "") + ". The kernel shrinks it under pressure; it is usually the "
        "dentry and inode caches of a file tree walked once (find, backup, updatedb).",
        [ev("/proc/meminfo", "SReclaimable", n)]
        + [ev("/proc/slabinfo", c["name"], c["bytes"]) for c in caches],
        "Reclaimable slab caches (dentries, inodes) are freed by the shrinkers when memory "
        "is needed; MemAvailable counts half of them as available.", "memscope slab")]


def vmalloc_large(d: Docs):
    """The vmalloc breakdown category (RAM in vmalloc areas, kernel stacks taken out)
    ≥ 5 % of MemTotal → attention (memscope's threshold). Names the largest callers when
    /proc/vmallocinfo is readable."""
    n, total = d.breakdown("vmalloc"), d.total
    if n is None or n < total * 0.05:
        return []
    callers = (d.vmalloc or {}).get("top_callers") or []
    callers = sorted(callers, key=lambda c: -c["bytes"])[:3]
    return [finding(
        "vmalloc_large", "attention", f"{size(n)} in vmalloc areas ({pct(n, total)})",
        f"{size(n)} ({pct(n, total)}) of RAM is in kernel vmalloc areas"
        + ("; the largest callers: " + ", ".join(f"{c['caller']} {size(c['bytes'])}"
                                                for c in callers) if callers else
           " (callers are in /proc/vmallocinfo: run as root)") + ".",
        [ev("/proc/meminfo", "VmallocUsed", d.meminfo.get("VmallocUsed"))]
        + [ev("/proc/vmallocinfo", c["caller"], c["bytes"]) for c in callers],
        "vmalloc backs large kernel buffers (BPF maps, module text, some drivers, ZFS on "
        "older releases); it is never reclaimed.", "memscope vmalloc")]


def page_tables_large(d: Docs):
    """PageTables (+ SecPageTables) ≥ 5 % of MemTotal → attention (memscope's threshold):
    many processes mapping large shared memory with 4 KiB pages, or huge sparse address
    spaces."""
    n, total = d.breakdown("page_tables"), d.total
    if n is None or n < total * 0.05:
        return []
    return [finding(
        "page_tables_large", "attention", f"{size(n)} of page tables ({pct(n, total)})",
        f"Page tables take {size(n)} ({pct(n, total)}): each process mapping a large "
        "region with 4 KiB pages pays for its own tables (a database's shared buffers "
        "mapped by hundreds of backends is the classic case).",
        [ev("/proc/meminfo", "PageTables", d.meminfo.get("PageTables"))],
        "Page tables map virtual to physical addresses, per process; huge pages (hugetlb or "
        "THP) need 512 times fewer entries.", "memscope top --sort rss")]


def unaccounted_large(d: Docs):
    """The breakdown's 'unaccounted' remainder ≥ 5 % of MemTotal and ≥ 64 MiB → attention
    (memscope's threshold): pages allocated straight from the page allocator by drivers
    (GPU, RDMA, network), balloon drivers, or a kernel counter memscope does not know."""
    n, total = d.breakdown("unaccounted"), d.total
    if n is None or n < max(total * 0.05, 64 * MiB):
        return []
    balloon = d.meminfo.get("Balloon")
    arc = (d.summary.get("zfs_arc") or {}).get("size")
    return [finding(
        "unaccounted_large", "attention",
        f"{size(n)} in no kernel counter ({pct(n, total)})",
        f"{size(n)} ({pct(n, total)}) of MemTotal is in none of the kernel's counters: pages "
        "taken directly from the page allocator by drivers (GPU, RDMA, network), "
        + (f"the balloon driver ({size(balloon)}), " if balloon else "a balloon driver, ")
        + (f"or the ZFS ARC (it holds {size(arc)})." if arc else
           "or ZFS's ARC on older releases."),
        [ev("/proc/meminfo", "MemTotal", total), ev("memscope summary", "unaccounted", n)]
        + ([ev("/proc/spl/kstat/zfs/arcstats", "size", arc)] if arc else []),
        "Drivers calling alloc_pages() directly are counted nowhere in /proc/meminfo; "
        "summing every counter and subtracting from MemTotal is the only way to see them.",
        "memscope summary")]
