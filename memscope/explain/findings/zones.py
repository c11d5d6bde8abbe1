"""zone_below_low, zone_below_min, lowmem_exhausted: free pages against the watermarks."""

from __future__ import annotations

from memscope.explain import Docs, ev, finding, size

WHY_MARKS = ("Each zone keeps free pages above its watermarks (vm.min_free_kbytes, "
             "vm.watermark_scale_factor): below 'low' kswapd is woken to reclaim in the "
             "background; below 'min' an allocation must reclaim itself (direct reclaim, a "
             "stall) and only atomic or emergency allocations may dip further.")


def _zones(d: Docs):
    return [z for z in d.summary.get("zones") or () if z["state"] != "empty"]


def _name(z) -> str:
    return f"Node {z['node']} {z['zone']}"


def zone_below_min(d: Docs):
    """A zone at or below its min watermark (free ≤ min, the kernel's strict test): pressure.
    Allocations for that zone reclaim directly (mm/page_alloc.c, __zone_watermark_ok)."""
    bad = [z for z in _zones(d) if z["state"] == "below_min"]
    if not bad:
        return []
    return [finding(
        "zone_below_min", "pressure",
        "zone " + ", ".join(_name(z) for z in bad) + " at or below its min watermark",
        "; ".join(f"{_name(z)} has {size(z['free'])} free against a min watermark of "
                  f"{size(z['min'])} (low {size(z['low'])})" for z in bad)
        + ": allocations there stall in direct reclaim.",
        [ev("/proc/zoneinfo", f"{_name(z)} {k}", z[k]) for z in bad
         for k in ("free", "min", "low")],
        WHY_MARKS, "memscope zones --explain")]


def zone_below_low(d: Docs):
    """A zone at or below its low watermark but above min: attention. kswapd is awake for
    requests whose highest zone is this one (mm/vmscan.c, wakeup_kswapd)."""
    bad = [z for z in _zones(d) if z["state"] == "below_low"]
    if not bad:
        return []
    return [finding(
        "zone_below_low", "attention",
        "kswapd is awake: " + ", ".join(_name(z) for z in bad) + " below its low watermark",
        "; ".join(f"{_name(z)} has {size(z['free'])} free against a low watermark of "
                  f"{size(z['low'])}" for z in bad)
        + ": kswapd is reclaiming in the background.",
        [ev("/proc/zoneinfo", f"{_name(z)} {k}", z[k]) for z in bad for k in ("free", "low")],
        WHY_MARKS, "memscope zones --explain")]


LOWMEM = ("DMA", "DMA32", "Normal")


def lowmem_exhausted(d: Docs):
    """32-bit HighMem: a low zone (DMA, Normal) at or below its low watermark while HighMem
    on the same node is above its high watermark: pressure. Kernel data structures (slab,
    page tables on some configurations, buffers) can only live in low memory, and
    vm.lowmem_reserve_ratio keeps part of it away from allocations that could use HighMem
    (Documentation/admin-guide/sysctl/vm.rst, lowmem_reserve_ratio)."""
    zones = _zones(d)
    out = []
    for high in (z for z in zones if z["zone"] == "HighMem" and z["state"] == "ok"):
        low = [z for z in zones if z["node"] == high["node"] and z["zone"] in LOWMEM
               and z["state"] in ("below_low", "below_min")]
        if not low:
            continue
        reserve = [f"{_name(z)} keeps {size(max(z['protection'] or [0]))} back from "
                   "HighMem-capable requests (lowmem_reserve)" for z in low]
        out.append(finding(
            "lowmem_exhausted", "pressure",
            f"low memory exhausted while HighMem has {size(high['free'])} free",
            "; ".join(f"{_name(z)} has {size(z['free'])} free against low "
                      f"{size(z['low'])}" for z in low)
            + f", while {_name(high)} has {size(high['free'])} free. "
            + "; ".join(reserve) + ". Kernel allocations need low memory: they can fail or "
            "trigger the OOM killer with plenty of RAM free.",
            [ev("/proc/zoneinfo", f"{_name(z)} {k}", z[k]) for z in low
             for k in ("free", "low")]
            + [ev("/proc/zoneinfo", f"{_name(z)} protection", z["protection"]) for z in low]
            + [ev("/proc/zoneinfo", f"{_name(high)} free", high["free"])],
            "On 32-bit kernels only the low zones are permanently mapped in the kernel's "
            "address space; slab, kernel stacks and buffers must come from them, so low "
            "memory can run out while HighMem is free.",
            "memscope zones --explain"))
    return out
