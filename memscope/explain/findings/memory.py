"""Memory set aside or pinned: hugetlb pools, mlock, strict overcommit, the ZFS ARC."""

from __future__ import annotations

from memscope.explain import MiB, Docs, ev, finding, pct, size


def _big(n: int, total: int) -> bool:
    """≥ 5 % of MemTotal or ≥ 512 MiB, whichever is smaller (memscope's threshold)."""
    return n >= min(total * 0.05, 512 * MiB)


def hugetlb_reserved_unused(d: Docs):
    """HugePages_Free − HugePages_Rsvd (pages neither used nor promised) × Hugepagesize,
    when ≥ 5 % of MemTotal or ≥ 512 MiB → attention: the pool is taken out of MemTotal's
    usable memory and only hugetlbfs / MAP_HUGETLB / SHM_HUGETLB can use it
    (Documentation/admin-guide/mm/hugetlbpage.rst). Default huge page size only."""
    mi, total = d.meminfo, d.total
    if "HugePages_Free" not in mi or "Hugepagesize" not in mi:
        return []
    free_pages = mi["HugePages_Free"] - mi.get("HugePages_Rsvd", 0)
    n = free_pages * mi["Hugepagesize"]
    if n <= 0 or not _big(n, total):
        return []
    return [finding(
        "hugetlb_reserved_unused", "attention",
        f"{size(n)} of huge pages reserved and unused",
        f"{free_pages:,} huge pages of {size(mi['Hugepagesize'])} ({size(n)}, "
        f"{pct(n, total)} of MemTotal) sit in the hugetlb pool unused: no program has them "
        f"or has reserved them ({mi.get('HugePages_Total', 0):,} in the pool, "
        f"{mi.get('HugePages_Rsvd', 0):,} reserved). Lower vm.nr_hugepages if nothing will "
        "use them.",
        [ev("/proc/meminfo", k, mi.get(k)) for k in ("HugePages_Total", "HugePages_Free",
                                                     "HugePages_Rsvd", "Hugepagesize")],
        "Pages in the hugetlb pool are not available to anything but huge page mappings; "
        "the kernel does not shrink the pool under pressure.",
        "memscope summary")]


def mlocked_large(d: Docs):
    """Mlocked ≥ 5 % of MemTotal or ≥ 512 MiB → attention (memscope's threshold): pages
    locked with mlock()/MAP_LOCKED/SHM_LOCK that reclaim cannot touch."""
    mi, total = d.meminfo, d.total
    n = mi.get("Mlocked")
    if n is None or not _big(n, total):
        return []
    return [finding(
        "mlocked_large", "attention", f"{size(n)} locked in memory (mlock)",
        f"{size(n)} ({pct(n, total)}) is locked in RAM with mlock(): it can be neither "
        "swapped nor dropped. `memscope top --sort rss` and the 'locked' column of `memscope "
        "proc PID` show who holds it.",
        [ev("/proc/meminfo", "Mlocked", n), ev("/proc/meminfo", "Unevictable",
                                               mi.get("Unevictable"))],
        "mlocked pages live on the unevictable LRU list: reclaim skips them, so they shrink "
        "what every other program can get.", "memscope top --sort rss")]


def overcommit_near_limit(d: Docs):
    """Strict overcommit (vm.overcommit_memory = 2): Committed_AS ≥ 90 % of CommitLimit →
    pressure, ≥ 100 % → critical (new allocations fail with ENOMEM); ≥ 80 % → attention
    (memscope's thresholds; Documentation/mm/overcommit-accounting.rst). In the heuristic
    modes 0 and 1 CommitLimit is not enforced and nothing is said."""
    mode = d.tunables.get("overcommit_memory")
    mi = d.meminfo
    limit, committed = mi.get("CommitLimit"), mi.get("Committed_AS")
    if mode != 2 or not limit or committed is None:
        return []
    share = committed / limit
    if share >= 1.0:
        severity = "critical"
    elif share >= 0.90:
        severity = "pressure"
    elif share >= 0.80:
        severity = "attention"
    else:
        return []
    return [finding(
        "overcommit_near_limit", severity,
        f"{pct(committed, limit)} of the commit limit is promised",
        f"Strict overcommit is on (vm.overcommit_memory = 2): programs have been promised "
        f"{size(committed)} against a commit limit of {size(limit)} "
        f"({pct(committed, limit)}); past it, malloc() and fork() fail with ENOMEM even "
        "with RAM free.",
        [ev("/proc/meminfo", "Committed_AS", committed), ev("/proc/meminfo", "CommitLimit",
                                                          limit),
         ev("/proc/sys/vm/overcommit_memory", "overcommit_memory", mode)],
        "In mode 2 the kernel refuses any allocation that would take Committed_AS (all "
        "private writable mappings) past CommitLimit = swap + RAM × overcommit_ratio.",
        "memscope top --sort vsz")]


def zfs_arc_counted_used(d: Docs):
    """The ZFS ARC ≥ 5 % of MemTotal → info: it is counted as used (in slab, vmalloc or
    'unaccounted', not in Cached), so MemAvailable and free(1)'s 'available' do not count
    what the ARC would give back (size − c_min) (OpenZFS arcstats)."""
    arc = d.summary.get("zfs_arc")
    total = d.total
    if not arc or not arc.get("size") or arc["size"] < total * 0.05:
        return []
    back = arc.get("reclaimable")
    mem = d.summary["memory"]
    return [finding(
        "zfs_arc_counted_used", "info",
        f"ZFS ARC holds {size(arc['size'])}, counted as used",
        f"The ZFS ARC holds {size(arc['size'])} ({pct(arc['size'], total)}); it gives back "
        f"about {size(back)} under pressure (down to c_min {size(arc.get('c_min'))}), but "
        f"'available' ({size(mem['available'])}) does not count it: about "
        f"{size(mem['available'] + (back or 0))} can really be had.",
        [ev("/proc/spl/kstat/zfs/arcstats", "size", arc["size"]),
         ev("/proc/spl/kstat/zfs/arcstats", "c_min", arc.get("c_min"))],
        "The ARC is ZFS's own cache, allocated outside the page cache; the kernel's "
        "MemAvailable formula knows nothing of it.", "memscope summary")]
