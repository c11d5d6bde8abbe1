"""direct_reclaim and swap_activity: what reclaim is doing (/proc/vmstat)."""

from __future__ import annotations

from memscope.explain import Docs, count, ev, finding, per

WHY_DIRECT = ("When free pages fall below a zone's min watermark, the allocating task "
              "reclaims memory itself before it gets its page (allocstall counts these "
              "stalls; pgscan_direct the pages it scanned): latency for that task.")


def direct_reclaim(d: Docs):
    """Allocations stalled to reclaim memory themselves (vmstat allocstall, pgscan_direct).

    With two samples: any stall per second → attention; direct scanning faster than
    kswapd's → pressure. Without (counts since boot): info, and only when direct reclaim
    scanned more pages than kswapd did since boot (reclaim was mostly done by stalled
    tasks). memscope's thresholds.
    """
    stalls, rate = d.activity("allocstall")
    direct, _ = d.activity("pgscan_direct")
    kswapd, _ = d.activity("pgscan_kswapd")
    if not stalls:
        return []
    if rate:
        severity = "pressure" if (direct or 0) > (kswapd or 0) else "attention"
    elif (direct or 0) > (kswapd or 0):
        severity = "info"
    else:
        return []
    return [finding(
        "direct_reclaim", severity,
        f"direct-reclaim stalls: {per(stalls, rate)}",
        (f"Allocations stalled to reclaim memory themselves {count(stalls)} times a second; "
         f"stalled tasks scanned {count(direct)} pages a second against {count(kswapd)} by "
         "kswapd." if rate else
         f"Allocations stalled to reclaim memory themselves {count(stalls)} times since boot; "
         f"stalled tasks scanned {count(direct)} pages against {count(kswapd)} by kswapd: "
         "most reclaim was done by waiting tasks (whether it is happening now needs "
         "--interval or --since)."),
        [ev("/proc/vmstat", "allocstall", stalls), ev("/proc/vmstat", "pgscan_direct", direct),
         ev("/proc/vmstat", "pgscan_kswapd", kswapd)],
        WHY_DIRECT, "memscope summary --watch 5")]


def swap_activity(d: Docs):
    """Pages moving to and from swap (vmstat pswpin, pswpout).

    With two samples: ≥ 256 pages/s in either direction (1 MiB/s of 4 KiB pages) →
    attention, ≥ 2,560 pages/s swapped in → pressure (tasks wait for each swap-in).
    Without: info when pages were swapped in since boot and swap is at least a quarter
    used. memscope's thresholds.
    """
    pin, rate = d.activity("pswpin")
    pout, _ = d.activity("pswpout")
    if pin is None and pout is None:
        return []
    pin, pout = pin or 0, pout or 0
    swap = d.summary.get("swap") or {}
    if rate:
        if pin >= 2560:
            severity = "pressure"
        elif pin >= 256 or pout >= 256:
            severity = "attention"
        else:
            return []
    elif pin and swap.get("total") and swap["used"] >= swap["total"] / 4:
        severity = "info"
    else:
        return []
    return [finding(
        "swap_activity", severity,
        f"swapping: {per(pin, rate, ' pages')} in, {per(pout, rate, ' pages')} out"
        if rate else f"swapping: {count(pin)} pages in, {count(pout)} out since boot",
        (f"{count(pin)} pages a second are read back from swap and {count(pout)} written "
         "to it." if rate else
         f"{count(pin)} pages were read back from swap and {count(pout)} written to it since "
         f"boot, and swap is {swap['used'] * 100 // swap['total']} % used (give --interval "
         "for a rate)."),
        [ev("/proc/vmstat", "pswpin", pin), ev("/proc/vmstat", "pswpout", pout)],
        "Swap-out frees RAM holding anonymous and shared memory; swap-in makes the task that "
        "touches the page wait for the disk. Steady swap-in means the working set no longer "
        "fits.",
        "memscope summary --watch 5")]
