"""The ``trend`` document: every series' fit, the leak suspects and the forecasts, from
the accumulators memscope/trend/ filled (trend/build.py read the reports; trend/analyze.py
judges one series). Pure: no file is read here.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from memscope.trend.analyze import Key, forecast, series_entry, suspect_entry
from memscope.trend.stats import Accumulator


def build_document(accs: Dict[Tuple[Key, int], Accumulator], segments: List[Dict[str, Any]],
                   limits: Dict[int, Dict[str, Any]], breaks: List[Dict[str, Any]],
                   skipped: List[Dict[str, str]], reports: int,
                   interval: Optional[float], by: Optional[str]) -> Dict[str, Any]:
    from memscope import SCHEMA_VERSION

    kinds = {"program": ("program",), "cgroup": ("cgroup",), "user": ("user",),
             "category": ("category", "system"), "slab": ("slab",)}.get(by) if by else None
    series = [series_entry(key, seg, acc) for (key, seg), acc in accs.items()
              if kinds is None or key[0] in kinds]
    series.sort(key=lambda s: (-s["suspicion"], -abs(s["rate_bytes_per_hour"] or 0),
                               s["kind"], s["name"], s["segment"]))
    suspects = [suspect_entry(s) for s in series if s["suspect"]]
    forecasts: List[Dict[str, Any]] = []
    if segments:
        last = segments[-1]["segment"]
        lim = limits.get(last, {})
        for (key, seg), acc in sorted(accs.items(), key=lambda kv: (kv[0][0][0],
                                                                   kv[0][0][1])):
            if seg != last:
                continue
            kind, name, _metric = key
            f = None
            if key == ("system", "available", "bytes"):
                f = forecast("available", "low watermark", acc, lim.get("low_watermark"),
                             True, seg)
            elif key == ("system", "swap_used", "bytes"):
                f = forecast("swap used", "swap total", acc, lim.get("swap_total"), False,
                             seg)
            elif kind == "cgroup" and by in (None, "cgroup"):
                f = forecast(f"cgroup {name}", "its limit", acc,
                             lim.get("cgroup_limits", {}).get(name), False, seg)
            if f is not None:
                forecasts.append(f)
        forecasts.sort(key=lambda f: (f["eta_seconds"] is None,
                                      f["eta_seconds"] if f["eta_seconds"] is not None
                                      else 0, f["what"]))
    return {"schema_version": SCHEMA_VERSION, "reports": reports,
            "interval_seconds": None if interval is None else round(interval, 3),
            "segments": segments, "skipped": skipped, "breaks": breaks,
            "series": series, "leak_suspects": suspects, "forecasts": forecasts}
