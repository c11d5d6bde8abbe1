"""swap_nearly_full."""

from __future__ import annotations

from memscope.explain import Docs, ev, finding, pct, size

OOMD_SWAP_LIMIT = 0.90  # systemd-oomd SwapUsedLimit= default 90 % (oomd.conf(5))


def swap_nearly_full(d: Docs):
    """Swap used against swap total.

    - pressure: ≥ 90 % used — systemd-oomd's default SwapUsedLimit=90 % (oomd.conf(5)),
      critical when MemAvailable is also under 10 % of MemTotal (nothing left to give);
    - attention: ≥ 75 % used (memscope's threshold).
    """
    swap = d.summary.get("swap")
    if not swap or not swap.get("total"):
        return []
    used, total = swap["used"], swap["total"]
    share = used / total
    if share >= OOMD_SWAP_LIMIT:
        mem = d.summary["memory"]
        severity = "critical" if mem["available"] < mem["total"] * 0.10 else "pressure"
    elif share >= 0.75:
        severity = "attention"
    else:
        return []
    return [finding(
        "swap_nearly_full", severity,
        f"swap {pct(used, total)} full ({size(used)} of {size(total)})",
        f"{size(used)} of {size(total)} swap is in use ({pct(used, total)}); "
        f"{size(swap.get('cached'))} of it is also in RAM (swap cache)."
        + (" systemd-oomd acts above 90 %." if share >= OOMD_SWAP_LIMIT else ""),
        [ev("/proc/meminfo", "SwapTotal", total), ev("/proc/meminfo", "SwapFree",
                                                    swap["free"]),
         ev("/proc/meminfo", "SwapCached", swap.get("cached"))],
        "When swap is full, anonymous and shared memory can no longer be reclaimed: only "
        "page cache remains to drop, and after it the OOM killer.",
        "memscope top --sort swap")]
