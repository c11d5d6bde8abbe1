"""Every finding rule, in the order findings of equal severity are listed. Adding a finding
is one module in memscope/explain/findings/ and one line here (and one test)."""

from __future__ import annotations

from memscope.explain.findings import (available, cache, cgroup, kernel, memory, oom, psi,
                                       reclaim, shmem, swap, zones)

# Rules that need nothing but the summary document: summary's verdict line uses these.
SUMMARY_RULES = [
    available.low_available,
    zones.zone_below_min,
    zones.lowmem_exhausted,
    zones.zone_below_low,
    psi.psi_pressure,
    psi.thrashing,
    reclaim.direct_reclaim,
    oom.oom_kills,
    cgroup.cgroup_near_limit,
    swap.swap_nearly_full,
    reclaim.swap_activity,
    kernel.slab_unreclaimable_large,
    kernel.vmalloc_large,
    kernel.page_tables_large,
    kernel.unaccounted_large,
    memory.hugetlb_reserved_unused,
    memory.mlocked_large,
    shmem.shmem_not_reclaimable,
    cache.cache_reclaimable,
    kernel.slab_reclaimable_large,
    memory.zfs_arc_counted_used,
]


def more_rules():
    """Rules that need more than the summary (tunables, buddyinfo, the process scan):
    imported here, so summary's start-up does not load them."""
    from memscope.explain.findings import fragmentation, top

    return [memory.overcommit_near_limit, fragmentation.fragmentation, top.top_consumers]


def all_rules():
    return SUMMARY_RULES + more_rules()

CODES = ("cache_reclaimable", "shmem_not_reclaimable", "low_available", "zone_below_low",
         "zone_below_min", "lowmem_exhausted", "direct_reclaim", "thrashing", "psi_pressure",
         "oom_kills", "cgroup_near_limit", "swap_nearly_full", "swap_activity",
         "hugetlb_reserved_unused", "slab_unreclaimable_large", "slab_reclaimable_large",
         "vmalloc_large", "page_tables_large", "unaccounted_large", "fragmentation",
         "overcommit_near_limit", "mlocked_large", "zfs_arc_counted_used", "top_consumers")
