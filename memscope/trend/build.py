"""``memscope trend``: the two passes over the files (see trend/read.py), then the document.

Memory: one small header per file (for ordering and breaks), and per series and segment a
constant-size accumulator (trend/stats.py); no document is kept once its figures are read.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from memscope.errors import MemscopeError
from memscope.trend import read
from memscope.model.trend import build_document
from memscope.trend.series import extract
from memscope.trend.stats import Accumulator
from memscope.trend.timeline import Entry, find_breaks, format_time, parse_when, place


def build_trend(paths: List[str], since: Optional[str] = None, until: Optional[str] = None,
                by: Optional[str] = None) -> Dict[str, Any]:
    files, skipped = read.list_inputs(paths)
    headers: List[Tuple[str, Dict[str, Any]]] = []
    for path in files:
        try:
            header = read.probe(path)
        except read.Skip as exc:
            skipped.append({"file": path, "reason": str(exc)})
            continue
        if Entry(path, header).epoch is None:
            skipped.append({"file": path, "reason": "no taken_at in its source: can't "
                                                    "place it in time"})
            continue
        headers.append((path, header))
    # Pass 2 reads each report whole; one that fails there (cut short, changed) must not
    # have placed the others in time, set the interval or hidden a gap with its header:
    # the history is placed again without it (at most once more: files that change
    # between reads are skipped then, not placed again).
    for attempt in range(2):
        if not headers:
            _nothing_readable(paths, files, skipped)
        entries = place([Entry(path, header) for path, header in headers])
        entries = _window(entries, since, until)
        failed: List[Dict[str, str]] = []
        result = _read_all(entries, by, failed)
        if not failed or attempt == 1:
            break
        bad = {f["file"] for f in failed}
        headers = [(p, h) for p, h in headers if p not in bad]
        skipped.extend(failed)
        failed = []
    skipped.extend(failed)
    accs, segments, limits, breaks, used, interval = result
    if not used:
        _nothing_readable(paths, files, skipped)
    return build_document(accs, segments, limits, breaks, skipped, len(used), interval, by)


def _nothing_readable(paths: List[str], files: List[str], skipped: List[Dict[str, str]]):
    given = ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
    why = f"; {skipped[0]['file']}: {skipped[0]['reason']}" if skipped else ""
    raise MemscopeError(f"{given}: no readable report among {len(files)} file(s){why} (give "
                        "reports written by memscope report --format yaml or json, or "
                        "a directory of them)")


def _read_all(entries: List[Entry], by: Optional[str], failed: List[Dict[str, str]]):
    breaks, interval = find_breaks(entries)
    accs: Dict[Tuple[Tuple[str, str, str], int], Accumulator] = {}
    limits: Dict[int, Dict[str, Any]] = {}
    bounds = _segment_bounds(entries)
    used: List[Entry] = []
    seen: Dict[Tuple, str] = {}
    for entry in entries:
        ident = entry.identity()
        if entry.uptime is not None and ident in seen:  # report.json and report.json.gz
            failed.append({"file": entry.file, "reason": f"the same report as {seen[ident]}"})
            continue
        try:
            doc = read.read_report(entry.file)
        except read.Skip as exc:
            failed.append({"file": entry.file, "reason": str(exc)})
            continue
        source = doc.get("source") if isinstance(doc.get("source"), dict) else {}
        if source.get("taken_at") != entry.taken_at:
            failed.append({"file": entry.file, "reason": "changed while being read "
                                                         "(its taken_at differs)"})
            continue
        try:
            values, lim = extract(doc)
        except (TypeError, ValueError, AttributeError, OverflowError,
                RecursionError) as exc:  # a document of an unexpected shape: never fatal
            failed.append({"file": entry.file, "reason": f"unexpected content "
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
    return accs, segments, limits, breaks, used, interval


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
