"""cache_reclaimable: "Linux ate my RAM" answered."""

from __future__ import annotations

from memscope.explain import Docs, ev, finding, pct, size


def cache_reclaimable(d: Docs):
    """Little free memory, much available: the rest is page cache the kernel drops on demand.

    Fires (info) when MemFree < 10 % of MemTotal while MemAvailable ≥ 20 % of MemTotal and
    at least three times MemFree (memscope's thresholds: the situation linuxatemyram.com
    describes). Says how much is page cache, how much of it is Shmem (not droppable) and how
    much the kernel's MemAvailable counts as reclaimable.
    """
    mem, mi = d.summary["memory"], d.meminfo
    free, avail, total = mem["free"], mem["available"], mem["total"]
    if avail is None or "MemAvailable" not in mi:
        return []
    if not (free < total * 0.10 and avail >= total * 0.20 and avail >= 3 * free):
        return []
    shmem = mi.get("Shmem", 0)
    cache = mi.get("Cached", 0) + mi.get("Buffers", 0)
    droppable = cache - shmem
    ex = d.summary.get("available_explained") or {}
    kept = ex.get("pagecache_kept")
    return [finding(
        "cache_reclaimable", "info",
        f"only {size(free)} free, but {size(avail)} available: the rest is cache",
        f"Only {size(free)} is free ({pct(free, total)}), yet {size(avail)} is available: "
        f"{size(cache)} is page cache and buffers, of which {size(shmem)} is shared memory "
        f"(tmpfs, shm) that cannot be dropped and {size(droppable)} is file data the kernel "
        "drops when programs need the memory"
        + (f"; MemAvailable counts {size(kept)} of it as reclaimable" if kept is not None
           else "") + ". Nothing is wrong: unused RAM is wasted RAM.",
        [ev("/proc/meminfo", "MemFree", free), ev("/proc/meminfo", "MemAvailable", avail),
         ev("/proc/meminfo", "Cached", mi.get("Cached")),
         ev("/proc/meminfo", "Buffers", mi.get("Buffers")),
         ev("/proc/meminfo", "Shmem", mi.get("Shmem"))],
        "Linux keeps file data in otherwise unused memory (the page cache); clean cache is "
        "dropped without I/O when an allocation needs the page, so 'free' is low by design "
        "and 'available' is the figure to watch.",
        "memscope summary")]
