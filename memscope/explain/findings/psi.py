"""psi_pressure and thrashing: time lost waiting for memory."""

from __future__ import annotations

from memscope.explain import Docs, count, ev, finding, per

OOMD_LIMIT = 60.0  # systemd-oomd: full avg10 > 60 % for 30 s (src/oom/oomd-manager.h)


def _psi(d: Docs):
    box = d.container()
    if box is not None and box.get("pressure"):
        return box["pressure"], f"{box.get('full_path') or box['path']}/memory.pressure", \
            "container"
    return d.summary.get("pressure"), "/proc/pressure/memory", "system"


def psi_pressure(d: Docs):
    """Pressure stall information (Documentation/accounting/psi.rst): the share of wall time
    some (or all: full) runnable tasks waited for memory.

    - critical: full avg10 ≥ 60 % — systemd-oomd's default (DefaultMemoryPressureLimit=60 %
      of "full" over DefaultMemoryPressureDurationSec=30 s, oomd.conf(5)); avg10 and avg60
      both above it is a sustained stall;
    - pressure: full avg10 ≥ 10 % or some avg10 ≥ 40 %; attention: some avg10 ≥ 10 %
      (memscope's thresholds).
    Under --cgroup (or a container limit on v2) the cgroup's memory.pressure is used.
    """
    psi, source, scope = _psi(d)
    if not psi or not psi.get("some"):
        return []
    some, full = psi["some"], psi.get("full") or {}
    f10, s10 = full.get("avg10") or 0.0, some.get("avg10") or 0.0
    if f10 >= OOMD_LIMIT:
        severity = "critical"
    elif f10 >= 10 or s10 >= 40:
        severity = "pressure"
    elif s10 >= 10:
        severity = "attention"
    else:
        return []
    where = "" if scope == "system" else f" in {source.rsplit('/', 1)[0]}"
    title = (f"all tasks stalled on memory {f10:.0f} % of the last 10 s{where}"
             if f10 >= 10 else f"tasks stalled on memory {s10:.0f} % of the last 10 s{where}")
    return [finding(
        "psi_pressure", severity, title,
        f"In the last 10 s some task waited for memory {s10:.1f} % of the time and all tasks "
        f"at once {f10:.1f} % (60 s averages: {some.get('avg60', 0):.1f} % and "
        f"{full.get('avg60', 0):.1f} %)."
        + (" systemd-oomd acts when 'full' stays above 60 % for 30 s." if f10 >= OOMD_LIMIT
           else ""),
        [ev(source, "some avg10", s10), ev(source, "some avg60", some.get("avg60")),
         ev(source, "full avg10", f10), ev(source, "full avg60", full.get("avg60"))],
        "PSI counts time lost to memory shortage: reclaim, refaults of evicted pages, swap-in "
        "and throttling; 'full' is time in which no task made progress.",
        "memscope summary --watch 5", scope=scope)]


def thrashing(d: Docs):
    """Evicted pages read back soon after (workingset refaults) while tasks stall.

    Fires when PSI full avg60 ≥ 5 % and workingset refaults happen: with two samples,
    refaults per second ≥ 1,000 pages (≈ 4 MiB/s) → pressure; without, full avg60 ≥ 5 %
    alone → attention, with the since-boot refault count as context (memscope's
    thresholds; the refault counter is mm/workingset.c's).
    """
    psi, source, scope = _psi(d)
    full = (psi or {}).get("full") or {}
    f60 = full.get("avg60") or 0.0
    refaults, rate = d.activity("workingset_refault")
    if f60 < 5 or refaults is None:
        return []
    if rate and refaults < 1000:
        return []
    severity = "pressure" if rate else "attention"
    return [finding(
        "thrashing", severity,
        f"thrashing: evicted pages read back ({per(refaults, rate)}) with all tasks stalled "
        f"{f60:.0f} % of the last minute",
        ("Pages evicted from memory are needed again right away ("
         + (f"{count(refaults)} workingset refaults a second" if rate else
            f"{count(refaults)} workingset refaults since boot")
         + f") and all tasks stalled on memory {f60:.1f} % of the last 60 s: the working "
         "set does not fit."),
        [ev("/proc/vmstat", "workingset_refault", refaults), ev(source, "full avg60", f60)],
        "A refault is a page read back in shortly after reclaim evicted it "
        "(mm/workingset.c); many of them mean reclaim is throwing out memory that is still "
        "in use.",
        "memscope summary --watch 5", scope=scope)]
