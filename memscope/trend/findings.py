"""Trend findings for ``memscope explain --history DIR``: a pure function of the trend
document (``memscope trend --format json``), no I/O.

Each finding: ``{code, severity, title, text, evidence: [{source, key, value}], why, next,
scope}`` (scope ``cgroup`` for a cgroup's series or forecast, else ``system``),
severity one of info / attention / pressure / critical.

- ``leak_suspect``: one per leak suspect, most suspicious first. Severity ``attention``;
  ``pressure`` when the same segment's available memory is forecast to reach the low
  watermark within a week.
- ``exhaustion_forecast``: one per forecast with an ETA (available → low watermark, swap →
  full, a cgroup → its limit). Severity by how soon: ``critical`` when already reached or
  within 6 hours, ``pressure`` within 3 days, ``attention`` within 30 days, ``info`` beyond.
  Forecasts "not at this rate" are no finding.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from memscope.trend.analyze import HOUR, human
from memscope.trend.timeline import human_duration

CRITICAL_SECONDS = 6 * HOUR
PRESSURE_SECONDS = 3 * 24 * HOUR
ATTENTION_SECONDS = 30 * 24 * HOUR
SOURCE = "memscope trend"


def trend_findings(trend_doc: Dict[str, Any], history: str = "DIR") -> List[Dict[str, Any]]:
    """The findings of a trend document; ``history`` is the path the user gave (for the
    ``next`` command)."""
    out: List[Dict[str, Any]] = []
    forecasts = [f for f in trend_doc.get("forecasts") or [] if isinstance(f, dict)]
    available_soon = any(f.get("what") == "available" and f.get("eta_seconds") is not None
                         and f["eta_seconds"] <= 7 * 24 * HOUR for f in forecasts)
    for s in trend_doc.get("leak_suspects") or []:
        if isinstance(s, dict):
            out.append(_leak(s, history, available_soon))
    for f in forecasts:
        finding = _forecast(f, history)
        if finding is not None:
            out.append(finding)
    return out


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)


def _leak(s: Dict[str, Any], history: str, available_soon: bool) -> Dict[str, Any]:
    rate = s.get("rate_bytes_per_hour") or 0
    se = s.get("rate_stderr_bytes_per_hour")
    hours = s.get("hours") or 0
    kind, name = s.get("kind"), s.get("name")
    pm = f" (± {human(se)}/h)" if se else ""
    r2 = s.get("r2")
    text = (f"{kind} {name} grew by {human(rate)} an hour{pm} for "
            f"{human_duration(hours * HOUR)}, from {human(s.get('first'))} to "
            f"{human(s.get('last'))}"
            + (f"; the line fits with R² {r2:.2f}" if isinstance(r2, (int, float)) else "")
            + f" ({s.get('since')} to {s.get('until')}).")
    by = {"program": "program", "user": "user", "cgroup": "cgroup", "category": "category",
          "slab": "slab"}.get(kind, None)
    return {
        "code": "leak_suspect",
        "severity": "pressure" if available_soon else "attention",
        "title": f"{kind} {name} grows steadily: +{human(rate)}/h",
        "text": text,
        "evidence": [
            {"source": SOURCE, "key": f"leak_suspects[{kind}={name}].rate_bytes_per_hour",
             "value": rate},
            {"source": SOURCE, "key": f"leak_suspects[{kind}={name}].r2", "value": r2},
            {"source": SOURCE, "key": f"leak_suspects[{kind}={name}].first",
             "value": s.get("first")},
            {"source": SOURCE, "key": f"leak_suspects[{kind}={name}].last",
             "value": s.get("last")},
            {"source": SOURCE, "key": f"leak_suspects[{kind}={name}].hours", "value": hours},
        ],
        "why": ("Memory that grows at a steady rate across many reports, and never comes "
                "back, is what a leak looks like; a cache or a workload that grew grows "
                "in steps and levels off."),
        "next": f"memscope trend {_quote(history)}" + (f" --by {by}" if by else ""),
        "scope": "cgroup" if kind == "cgroup" else "system",
    }


def _severity(eta: Optional[float]) -> str:
    if eta is None:
        return "info"
    if eta <= CRITICAL_SECONDS:
        return "critical"
    if eta <= PRESSURE_SECONDS:
        return "pressure"
    if eta <= ATTENTION_SECONDS:
        return "attention"
    return "info"


def _forecast(f: Dict[str, Any], history: str) -> Optional[Dict[str, Any]]:
    eta = f.get("eta_seconds")
    if eta is None:
        return None
    what, target = f.get("what"), f.get("target")
    rate = f.get("rate_bytes_per_hour")
    se = f.get("rate_stderr_bytes_per_hour")
    if eta == 0:
        text = (f"{what} is already at {target}: {human(f.get('current'))} against "
                f"{human(f.get('limit'))}.")
        title = f"{what} has reached {target}"
    else:
        lo, hi = (f.get("eta_range_seconds") or [None, None])[:2]
        rng = ""
        if lo is not None and (hi is None or human_duration(lo) != human_duration(hi)):
            rng = (f" (between {human_duration(lo)} and {human_duration(hi)} given the "
                   "rate's uncertainty)" if hi is not None
                   else f" (at least {human_duration(lo)} given the rate's uncertainty)")
        direction = "falls" if what == "available" else "grows"
        text = (f"{what} {direction} by {human(abs(rate or 0))} an hour"
                + (f" (± {human(se)})" if se else "")
                + f"; at that rate it reaches {target} ({human(f.get('limit'))}, now "
                f"{human(f.get('current'))}) in {human_duration(eta)}{rng}.")
        title = f"{what} reaches {target} in {human_duration(eta)}"
    why = {
        "available": ("Below the low watermark kswapd reclaims in the background; further "
                      "down allocations reclaim directly and stall, and then the OOM killer "
                      "runs."),
        "swap used": ("When swap is full, anonymous memory can no longer be reclaimed: the "
                      "next shortage ends with the OOM killer."),
    }.get(what, "At its limit a cgroup reclaims its own memory and, when that is not "
                "enough, the OOM killer kills a process in it.")
    nxt = f"memscope trend {_quote(history)}"
    if isinstance(what, str) and what.startswith("cgroup "):
        nxt += " --by cgroup"
    return {
        "code": "exhaustion_forecast",
        "severity": _severity(eta),
        "title": title,
        "text": text,
        "evidence": [
            {"source": SOURCE, "key": f"forecasts[{what}].eta_seconds", "value": eta},
            {"source": SOURCE, "key": f"forecasts[{what}].rate_bytes_per_hour",
             "value": rate},
            {"source": SOURCE, "key": f"forecasts[{what}].rate_stderr_bytes_per_hour",
             "value": se},
            {"source": SOURCE, "key": f"forecasts[{what}].current",
             "value": f.get("current")},
            {"source": SOURCE, "key": f"forecasts[{what}].limit", "value": f.get("limit")},
        ],
        "why": why,
        "next": nxt,
        "scope": "cgroup" if isinstance(what, str) and what.startswith("cgroup ") else "system",
    }
