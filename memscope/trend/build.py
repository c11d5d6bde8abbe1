"""``memscope trend``: the two passes over the files (see trend/read.py), then the document.

Memory: one small header per file (for ordering and breaks), and per series and segment a
constant-size accumulator (trend/stats.py); no document is kept once its figures are read.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from memscope.errors import MemscopeError
from memscope.trend import read
from memscope.trend.analyze import build_document
from memscope.trend.series import extract
from memscope.trend.stats import Accumulator
from memscope.trend.timeline import Entry, find_breaks, format_time, parse_when, place


def build_trend(paths: List[str], since: Optional[str] = None, until: Optional[str] = None,
                by: Optional[str] = None) -> Dict[str, Any]:
    files, skipped = read.list_inputs(paths)
    entries: List[Entry] = []
    for path in files:
        try:
            header = read.probe(path)
        except read.Skip as exc:
            skipped.append({"file": path, "reason": str(exc)})
            continue
        entry = Entry(path, header)
        if entry.epoch is None:
            skipped.append({"file": path, "reason": "no taken_at in its source: can't "
                                                    "place it in time"})
            continue
        entries.append(entry)
    if not entries:
        given = ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
        raise MemscopeError(f"{given}: no readable report among {len(files)} file(s) (give "
                            "reports written by memscope report --format yaml or json, or "
                            "a directory of them)")
    entries = place(entries)
    entries = _window(entries, since, until)
    breaks, interval = find_breaks(entries)
    accs: Dict[Tuple[Tuple[str, str, str], int], Accumulator] = {}
    limits: Dict[int, Dict[str, Any]] = {}
    bounds = _segment_bounds(entries)
    used: List[Entry] = []
    seen: Dict[Tuple, str] = {}
    for entry in entries:
        ident = entry.identity()
        if entry.uptime is not None and ident in seen:  # report.json and report.json.gz
            skipped.append({"file": entry.file, "reason": f"the same report as {seen[ident]}"})
            continue
        try:
            doc = read.read_report(entry.file)
        except read.Skip as exc:
            skipped.append({"file": entry.file, "reason": str(exc)})
            continue
        source = doc.get("source") if isinstance(doc.get("source"), dict) else {}
        if source.get("taken_at") != entry.taken_at:
            skipped.append({"file": entry.file, "reason": "changed while being read "
                                                          "(its taken_at differs)"})
            continue
        try:
            values, lim = extract(doc)
        except (TypeError, ValueError, AttributeError, OverflowError,
                RecursionError) as exc:  # a document of an unexpected shape: never fatal
            skipped.append({"file": entry.file, "reason": f"unexpected content "
                                                          f"({type(exc).__name__})"})
            continue
        seg = entry.segment
        t0, t1 = bounds[seg]
        for key, value in values.items():
            acc = accs.get((key, seg))
            if acc is None:
                acc = accs[(key, seg)] = Accumulator(t0, t1)
            acc.add(entry.t, value)
        limits[seg] = lim
        used.append(entry)
        seen[ident] = entry.file
    segments = _segments(used)
    breaks = [b for b in breaks if b["segment"] in {s["segment"] for s in segments}]
    return build_document(accs, segments, limits, breaks, skipped, len(used), interval, by)


def _window(entries: List[Entry], since: Optional[str], until: Optional[str]) -> List[Entry]:
    newest = entries[-1].t if entries else None
    lo = parse_when(since, newest) if since else None
    hi = parse_when(until, newest) if until else None
    kept = [e for e in entries if (lo is None or e.t >= lo) and (hi is None or e.t <= hi)]
    if entries and not kept:
        raise MemscopeError(f"no report between {since or 'the first'} and "
                            f"{until or 'the last'} (the reports run from "
                            f"{entries[0].taken_at} to {entries[-1].taken_at})")
    return kept


def _segment_bounds(entries: List[Entry]) -> Dict[int, Tuple[float, float]]:
    bounds: Dict[int, Tuple[float, float]] = {}
    for e in entries:
        lo, hi = bounds.get(e.segment, (e.t, e.t))
        bounds[e.segment] = (min(lo, e.t), max(hi, e.t))
    return bounds


def _segments(used: List[Entry]) -> List[Dict[str, Any]]:
    out: Dict[int, Dict[str, Any]] = {}
    for e in used:
        s = out.get(e.segment)
        if s is None:
            s = out[e.segment] = {"segment": e.segment, "since": format_time(e.t),
                                  "reports": 0, "hostname": e.hostname, "kernel": e.kernel,
                                  "boot_id": e.boot_id, "schema_version": e.schema}
        s["until"] = format_time(e.t)
        s["reports"] += 1
    return [out[k] for k in sorted(out)]
