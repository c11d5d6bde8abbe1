"""fragmentation: free memory in pieces too small for large allocations."""

from __future__ import annotations

from memscope.explain import Docs, ev, finding, per, size

COSTLY_ORDER = 3  # PAGE_ALLOC_COSTLY_ORDER (include/linux/mmzone.h)


def fragmentation(d: Docs):
    """A zone with plenty free (free > 2 × high watermark) whose unusable free index at
    PAGE_ALLOC_COSTLY_ORDER (order 3, 32 KiB) is ≥ 0.9: nine tenths of its free memory is
    in blocks too small for such requests (the unusable free index is Mel Gorman's, as
    /sys/kernel/debug/extfrag/unusable_index prints it). attention; with compaction failing
    (compact_fail) or THP faults falling back to small pages in the interval, pressure.
    memscope's thresholds."""
    if not d.zones:
        return []
    bad = []
    for z in d.zones.get("zones") or ():
        idx = z.get("unusable_index") or []
        if len(idx) <= COSTLY_ORDER or z.get("managed") == 0:  # None: kernels < 3.8
            continue
        if z["free"] > 2 * z["high"] and idx[COSTLY_ORDER] >= 0.9:
            bad.append(z)
    if not bad:
        return []
    fail, rate = d.activity("compact_fail")
    fallback, _ = d.activity("thp_fault_fallback")
    severity = "pressure" if rate and ((fail or 0) > 0 or (fallback or 0) > 0) else \
        "attention"
    names = ", ".join(f"Node {z['node']} {z['zone']}" for z in bad)
    counters = []  # what vmstat says, where this kernel has the counters
    if fail is not None:
        counters.append(f"compaction failed {per(fail, rate)}")
    if fallback is not None:
        counters.append(f"THP faults fell back to small pages {per(fallback, rate)}")
    return [finding(
        "fragmentation", severity, f"free memory fragmented in {names}",
        "; ".join(f"Node {z['node']} {z['zone']} has {size(z['free'])} free, but "
                  f"{z['unusable_index'][COSTLY_ORDER] * 100:.0f} % of it is in blocks "
                  "smaller than 32 KiB" for z in bad)
        + ("; " + ", ".join(counters) if counters else "") + ".",
        [ev("/proc/buddyinfo", f"Node {z['node']} {z['zone']} unusable_index[3]",
            round(z["unusable_index"][COSTLY_ORDER], 4)) for z in bad]
        + [ev("/proc/vmstat", k, v) for k, v in (("compact_fail", fail),
                                                  ("thp_fault_fallback", fallback))
           if v is not None],
        "Allocations of order 3 and above (network jumbo buffers, THP, some drivers) need "
        "physically contiguous pages; when free memory is scattered, the kernel must "
        "compact (migrate pages) or reclaim, and may fail.", "memscope zones")]
