"""low_available: how much memory the kernel can give without swapping."""

from __future__ import annotations

from memscope.explain import GiB, MiB, Docs, ev, finding, pct, size

KUBELET_HARD_EVICTION = 100 * MiB


def low_available(d: Docs):
    """MemAvailable against MemTotal.

    - critical: below 100 MiB — kubelet's default hard-eviction threshold
      ``memory.available<100Mi`` (kubernetes.io, "Node-pressure Eviction") — on hosts of
      2 GiB or more; on smaller hosts below 2 % of MemTotal;
    - pressure: below 5 % of MemTotal; attention: below 10 % (check's -c/-w change them)
      (memscope's thresholds: the
      kernel's low watermarks sit near 1-3 % of a zone, so 5-10 % is the last stretch before
      kswapd works continuously).
    """
    mem = d.summary["memory"]
    avail, total = mem["available"], mem["total"]
    mi = d.meminfo
    estimated = False
    if not mi.get("MemAvailable"):
        # before 3.14 (or a virtualised meminfo): free(1)'s 'available' is MemFree, which
        # ignores the page cache; judge memscope's zoneinfo rebuild (the 3.14 formula) or
        # nothing
        avail, estimated = mem.get("available_estimate"), True
    if avail is None or not total:
        return []
    floor = KUBELET_HARD_EVICTION if total >= 2 * GiB else total * 0.02
    warn, crit = d.available_marks()
    if avail < floor:
        severity = "critical"
    elif avail < total * crit / 100:
        severity = "pressure"
    elif avail < total * warn / 100:
        severity = "attention"
    else:
        return []
    source = "memscope summary" if estimated else "/proc/meminfo"
    key = "available_estimate" if estimated else "MemAvailable"
    return [finding(
        "low_available", severity,
        f"{size(avail)} available of {size(total)} ({pct(avail, total)})",
        ("memscope estimates (from zoneinfo, the kernel's 3.14 formula; this kernel "
         "has no MemAvailable) that " if estimated else "The kernel estimates ")
        + f"{size(avail)} can be given to programs without swapping "
        f"({pct(avail, total)} of {size(total)}); {size(mem['free'])} is entirely free and "
        f"{size(mem['used'])} is in use."
        + (" Below 100 MiB, kubelet would already be evicting pods." if avail <
           KUBELET_HARD_EVICTION and total >= 2 * GiB else ""),
        [ev(source, key, avail),
         ev("/proc/meminfo", "MemTotal", total), ev("/proc/meminfo", "MemFree", mem["free"])],
        "MemAvailable is free memory above the zones' reserves plus the page cache and "
        "reclaimable slab the kernel can drop (half of each kept back); when it runs out, "
        "allocations stall in reclaim, swap, or end in the OOM killer.",
        "memscope summary")]
