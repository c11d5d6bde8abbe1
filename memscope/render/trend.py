"""The ``trend`` table: what was read and where the history breaks, the leak suspects, the
forecasts, then one line per series (sorted by suspicion) with a sparkline of its history.

Sparklines use the eight block elements ▁▂▃▄▅▆▇█ under a UTF-8 locale and ``_.:-=+*#``
otherwise (the locale is LC_ALL, else LC_CTYPE, else LANG, as setlocale reads them; Python
coerces the C locale to UTF-8 for its own streams, so its stream encoding does not say
what the terminal shows).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from memscope.render.table import clean
from memscope.render.term import wrap
from memscope.render.units import Units

BLOCKS = "▁▂▃▄▅▆▇█"
ASCII_BLOCKS = "_.:-=+*#"


def sparkline(values: List[Optional[int]], unicode: bool = True, points: int = 0) -> str:
    """One character per bucket of the segment, scaled between the series' own min and
    max; a blank where a bucket holds no report, unless the series has fewer points than
    buckets (then only the buckets that hold one)."""
    chars = BLOCKS if unicode else ASCII_BLOCKS
    known = [v for v in values if v is not None]
    if points < len(values):
        values = known
    if not known:
        return ""
    lo, hi = min(known), max(known)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif hi == lo:
            out.append(chars[len(chars) // 2 - 1] if unicode else "-")
        else:
            out.append(chars[min(int((v - lo) / (hi - lo) * len(chars)), len(chars) - 1)])
    return "".join(out)


def trend_table(doc: Dict[str, Any], units: Units, limit: Optional[int] = None,
                unicode: Optional[bool] = None) -> str:
    from memscope.render.term import unicode as unicode_terminal
    from memscope.text import ascii_text

    uni = unicode_terminal() if unicode is None else unicode
    u = units
    blocks: List[str] = []
    segs = doc["segments"]
    head = f"{doc['reports']} report(s)"
    if segs:
        head += f", {segs[0]['since']} to {segs[-1]['until']}"
    if doc.get("interval_seconds"):
        from memscope.trend.timeline import human_duration

        head += f", usually every {human_duration(doc['interval_seconds'])}"
    head += f"; {len(segs)} segment(s)"
    lines = [head]
    for b in doc["breaks"]:
        lines.append(f"break before {b['before']} ({b['at']}): {', '.join(b['kinds'])}: "
                     f"{b['text']} (segment {b['segment']} starts)")
    for s in doc["skipped"]:
        lines.append(f"skipped {s['file']}: {s['reason']}")
    # each line made safe whole (a name's newline is a ?, never a line of its own), then
    # wrapped to the terminal
    blocks.append("\n".join(wrap(clean(line), "    ") for line in lines))
    if doc["leak_suspects"]:
        blocks.append("Leak suspects (most suspicious first):\n" + "\n".join(
            wrap(clean(f"  {i}. {s['text']}" + (f" [segment {s['segment']}]"
                                                 if len(segs) > 1 else "")), "     ")
            for i, s in enumerate(doc["leak_suspects"], 1)))
    else:
        blocks.append("Leak suspects: none (no series grows steadily and significantly)")
    if doc["forecasts"]:
        blocks.append("Forecasts (at the current rate, ± one standard error):\n" +
                      "\n".join(wrap(clean(f"  {f['text']}"), "    ")
                                 for f in doc["forecasts"]))
    rows = []
    series = doc["series"] if limit is None else doc["series"][:limit]

    def signed(n):
        return "-" if n is None else ("+" if n > 0 else "") + u(n)

    for s in series:
        row = [s["kind"], clean(s["name"])]
        if len(segs) > 1:
            row.append(str(s["segment"]))
        row += [s["metric"], u(s["first"]), u(s["last"]), signed(s["change"]),
                signed(s["rate_bytes_per_hour"]),
                "-" if s["rate_stderr_bytes_per_hour"] is None
                else u(s["rate_stderr_bytes_per_hour"]),
                "-" if s["r2"] is None else f"{s['r2']:.2f}",
                "-" if s["monotonicity"] is None else f"{s['monotonicity']:+.2f}",
                "*" if s["suspect"] else "", sparkline(s["history"], uni, s["points"])]
        rows.append(row)
    headers = ["kind", "name"] + (["seg"] if len(segs) > 1 else []) + [
        "metric", "first", "last", "change", "rate/h", "±/h", "R²", "mono", "leak",
        "history"]
    align = ["left", "left"] + (["right"] if len(segs) > 1 else []) + [
        "left", "right", "right", "right", "right", "right", "right", "right", "left",
        "left"]
    if rows:
        from memscope.render.term import Column, fit, width

        drop = {"±/h": 1, "mono": 2, "first": 3, "metric": 4, "seg": 5, "change": 6,
                "leak": 7, "kind": 8}
        cols = [Column(h, a, drop=drop.get(h)) for h, a in zip(headers, align)]
        cols[1] = Column("name", "left", least=8, most=40, flex=True)
        table = fit(cols, rows, width())
        if limit is not None and len(doc["series"]) > limit:
            table += f"\n({len(doc['series']) - limit} more series: drop --limit to see them)"
        blocks.append(table)
    else:
        blocks.append("Series: none of this kind in these reports (slab caches are in a "
                      "report only where it carries slab.caches)")
    text = "\n\n".join(blocks) + "\n"
    return text if uni else ascii_text(text)


