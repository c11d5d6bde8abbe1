"""The trend document: each series' statistics, the leak suspects, the forecasts. Pure: it
takes the accumulated statistics and the segments, and does no I/O.

Leak suspect: a series (of a program, user, cgroup, slab cache, or a breakdown category
that is not free memory or page cache) that in one segment

- has at least MIN_POINTS points;
- grows: slope > 0 and at least SIGNIFICANCE standard errors from 0;
- grows steadily: R² ≥ MIN_R2 and monotonicity ≥ MIN_MONOTONICITY;
- grows significantly: by at least MIN_GROWTH_BYTES and MIN_GROWTH_SHARE of its first value
  over the segment.

Ranked by suspicion = rate (bytes/h) × R² × the kind's weight: 1 for a program or a slab
cache, 0.5 for an aggregate (user, cgroup, category), so an aggregate that merely contains a
growing program ranks below it, and outranks it only when it grows at least twice as fast
(the program does not explain it).

Forecasts, on the last segment only (a reboot resets what came before): available down to
the low watermark (Σ zone low), swap used up to swap total, each cgroup's usage up to its
effective limit (its own or an ancestor's in the report, the smallest), at the current rate
from the last value; the range from the rate ± one standard error. "not at this rate" when
the series is flat (the slope within SIGNIFICANCE standard errors of 0) or moves away from
the limit.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from memscope.trend.stats import Accumulator
from memscope.trend.timeline import format_time, human_duration

MIN_POINTS = 5
SIGNIFICANCE = 3.0
MIN_R2 = 0.8
MIN_MONOTONICITY = 0.5
MIN_GROWTH_BYTES = 1 << 20
MIN_GROWTH_SHARE = 0.01
WEIGHT = {"program": 1.0, "slab": 1.0, "user": 0.5, "cgroup": 0.5, "category": 0.5}
# free memory, and memory the kernel gives back by itself when it needs it: not leaks
NOT_LEAKS = {"free", "free_pcp", "lru", "lru.active_file", "lru.inactive_file",
             "lru.isolated", "slab_reclaimable", "kernel_misc_reclaimable"}
HOUR = 3600.0


def human(n: Optional[float]) -> str:
    """A size as an operator says it: 38 MiB, 1.1 GiB, 512 B."""
    from memscope.render.units import human as short

    if n is None:
        return "?"
    text = short(int(round(n)))
    if text.endswith("B"):
        return text[:-1] + " B"
    return f"{text[:-2]} {text[-2:]}B"

Key = Tuple[str, str, str]


def series_entry(key: Key, segment: int, acc: Accumulator) -> Dict[str, Any]:
    kind, name, metric = key
    slope = acc.slope()
    se = acc.stderr()
    r2 = acc.r2()
    mono = acc.monotonicity()
    entry: Dict[str, Any] = {
        "kind": kind, "name": name, "metric": metric, "segment": segment,
        "points": acc.n,
        "since": format_time(acc.t_first), "until": format_time(acc.t_last),
        "hours": round((acc.t_last - acc.t_first) / HOUR, 4),
        "first": round(acc.first), "last": round(acc.last),
        "min": round(acc.lo), "max": round(acc.hi),
        "change": round(acc.last - acc.first),
        "rate_bytes_per_hour": None if slope is None else round(slope * HOUR),
        "rate_stderr_bytes_per_hour": None if se is None else round(se * HOUR),
        "r2": None if r2 is None else round(r2, 4),
        "monotonicity": None if mono is None else round(mono, 4),
        "history": acc.history(),
    }
    entry["suspect"] = is_suspect(entry)
    entry["suspicion"] = suspicion(entry)
    return entry


def is_suspect(s: Dict[str, Any]) -> bool:
    if s["kind"] not in WEIGHT or (s["kind"] == "category" and s["name"] in NOT_LEAKS):
        return False
    rate, se, r2, mono = (s["rate_bytes_per_hour"], s["rate_stderr_bytes_per_hour"],
                          s["r2"], s["monotonicity"])
    if s["points"] < MIN_POINTS or rate is None or rate <= 0 or r2 is None or mono is None:
        return False
    if se and rate < SIGNIFICANCE * se:
        return False
    if r2 < MIN_R2 or mono < MIN_MONOTONICITY:
        return False
    growth = rate * s["hours"]
    return growth >= MIN_GROWTH_BYTES and growth >= MIN_GROWTH_SHARE * abs(s["first"])


def suspicion(s: Dict[str, Any]) -> float:
    """The ranking figure: growth rate × R² × monotonicity × the kind's weight (0 when it
    does not grow, or cannot leak: free memory, page cache, available)."""
    rate, r2, mono = s["rate_bytes_per_hour"], s["r2"], s["monotonicity"]
    if rate is None or rate <= 0 or r2 is None:
        return 0.0
    weight = WEIGHT.get(s["kind"], 0.0)  # available, swap used: forecasts, not leaks
    if s["kind"] == "category" and s["name"] in NOT_LEAKS:
        weight = 0.0
    return round(rate * r2 * max(mono or 0.0, 0.0) * weight, 3)


def suspect_entry(s: Dict[str, Any]) -> Dict[str, Any]:
    return {"kind": s["kind"], "name": s["name"], "metric": s["metric"],
            "rate_bytes_per_hour": s["rate_bytes_per_hour"],
            "rate_stderr_bytes_per_hour": s["rate_stderr_bytes_per_hour"],
            "r2": s["r2"], "monotonicity": s["monotonicity"],
            "first": s["first"], "last": s["last"], "since": s["since"],
            "until": s["until"], "hours": s["hours"], "segment": s["segment"],
            "text": suspect_text(s)}


def suspect_text(s: Dict[str, Any]) -> str:
    """program java: +38 MiB/h for 19 h, R² 0.98, 1.1 GiB → 1.8 GiB"""
    rate = s["rate_bytes_per_hour"]
    se = s["rate_stderr_bytes_per_hour"]
    pm = f" ± {human(se)}" if se else ""
    return (f"{s['kind']} {s['name']}: +{human(rate)}/h{pm} for "
            f"{human_duration(s['hours'] * HOUR)}, R² {s['r2']:.2f}, "
            f"{human(s['first'])} → {human(s['last'])}")


def forecast(what: str, target: str, acc: Accumulator, limit: Optional[float],
             falling: bool, segment: int) -> Optional[Dict[str, Any]]:
    """Time until the series reaches ``limit`` (rising to it, or ``falling`` to it)."""
    if limit is None:
        return None
    slope = acc.slope()
    se = acc.stderr()
    out: Dict[str, Any] = {
        "what": what, "target": target, "limit": round(limit), "current": round(acc.last),
        "segment": segment, "at": format_time(acc.t_last),
        "rate_bytes_per_hour": None if slope is None else round(slope * HOUR),
        "rate_stderr_bytes_per_hour": None if se is None else round(se * HOUR),
        "eta_seconds": None, "eta_range_seconds": None, "status": "not_at_this_rate",
        "points": acc.n,
    }
    remaining = (acc.last - limit) if falling else (limit - acc.last)
    toward = None if slope is None else (-slope if falling else slope)
    if remaining <= 0:
        out["status"] = "reached"
        out["eta_seconds"] = 0
    elif acc.n < MIN_POINTS or toward is None:
        out["status"] = "too_few_points"
    elif toward > 0 and (not se or toward >= SIGNIFICANCE * se):
        out["status"] = "eta"
        out["eta_seconds"] = round(remaining / toward)
        fast = remaining / (toward + se) if se else remaining / toward
        slow = remaining / (toward - se) if se and toward > se else None
        out["eta_range_seconds"] = [round(fast), None if slow is None else round(slow)]
        if not se:
            out["eta_range_seconds"][1] = round(remaining / toward)
    out["text"] = forecast_text(out)
    return out


def forecast_text(f: Dict[str, Any]) -> str:
    head = f"{f['what']} ({human(f['current'])}) to {f['target']} ({human(f['limit'])})"
    rate = f["rate_bytes_per_hour"]
    se = f["rate_stderr_bytes_per_hour"]
    pm = f" ± {human(se)}/h" if se else ""
    if f["status"] == "reached":
        return f"{head}: already there"
    if f["status"] == "too_few_points":
        return f"{head}: too few reports to tell ({f['points']})"
    if f["status"] == "eta":
        lo, hi = f["eta_range_seconds"]
        if hi is None:
            rng = f" (at least {human_duration(lo)})"
        elif human_duration(lo) == human_duration(hi):
            rng = ""  # an exact line: no uncertainty worth saying
        else:
            rng = f" ({human_duration(lo)} to {human_duration(hi)})"
        sign = "+" if rate >= 0 else "−"
        return (f"{head}: in {human_duration(f['eta_seconds'])}{rng} at "
                f"{sign}{human(abs(rate))}/h{pm}")
    if rate is None:
        return f"{head}: not at this rate"
    sign = "+" if rate >= 0 else "−"
    return f"{head}: not at this rate ({sign}{human(abs(rate))}/h{pm})"
