"""shmem_not_reclaimable: shared memory inside buff/cache that reclaim cannot drop."""

from __future__ import annotations

from memscope.explain import MiB, Docs, ev, finding, pct, size


def holders(shmem):
    """The largest holders in the shmem document: mounts, SysV segments, mapped objects."""
    rows = []
    for m in shmem.get("mounts") or ():
        if m.get("used"):
            rows.append((m["used"], f"{m['mountpoint']} ({m['fstype']})"))
    for s in shmem.get("sysv") or ():
        if s.get("rss"):
            rows.append((s["rss"], f"SysV segment {s['key']} (owner {s.get('owner')})"))
    for m in shmem.get("mapped") or ():
        if m.get("rss"):
            rows.append((m["rss"], f"{m['path']} (mapped by {len(m['pids'])} process(es))"))
    rows.sort(key=lambda r: -r[0])
    return rows[:3]


def shmem_not_reclaimable(d: Docs):
    """Shmem (tmpfs, /dev/shm, SysV, memfd, shared anonymous memory) is counted in Cached and
    buff/cache, but reclaim can only move it to swap.

    Fires when Shmem ≥ 5 % of MemTotal or ≥ 512 MiB, whichever is smaller (memscope's
    threshold): attention when there is no free swap to move it to and it is ≥ 10 % of
    MemTotal, else info. Names the largest holders when the shmem view was read.
    """
    mi = d.meminfo
    shmem, total = mi.get("Shmem"), d.total
    if shmem is None or shmem < min(total * 0.05, 512 * MiB):
        return []
    swap = d.summary.get("swap") or {}
    swap_free = swap.get("free") or 0
    severity = "attention" if swap_free < shmem and shmem >= total * 0.10 else "info"
    named = holders(d.shmem) if d.shmem else []
    who = ("; the largest: " + ", ".join(f"{name} {size(n)}" for n, name in named)) \
        if named else ""
    evidence = [ev("/proc/meminfo", "Shmem", shmem), ev("/proc/meminfo", "Cached",
                                                         mi.get("Cached")),
                ev("/proc/meminfo", "SwapFree", swap.get("free"))]
    for n, name in named:
        evidence.append(ev("memscope shmem", name, n))
    return [finding(
        "shmem_not_reclaimable", severity,
        f"{size(shmem)} of shared memory (tmpfs, shm) cannot be dropped",
        f"{size(shmem)} ({pct(shmem, total)}) is shared memory — tmpfs and /dev/shm files, "
        "SysV segments, memfd — counted in buff/cache but not droppable: reclaim can only "
        + ("swap it out, and swap has " + size(swap_free) + " free" if swap.get("total")
           else "swap it out, and there is no swap")
        + who + ".",
        evidence,
        "Shmem pages have no file on disk to be written back to: reclaim moves them to swap "
        "or keeps them; deleting the tmpfs file (or the last attach of the segment) frees "
        "them.",
        "memscope shmem")]
