"""``memscope top``: every process ranked, filtered, grouped and totalled.

Totals never silently shrink: processes whose smaps could not be read are listed from
status with pss/uss null, counted in ``skipped.permission_denied`` and named in a warning;
a total over a figure some processes lack says how many it is missing.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

SORT_KEYS = ("pss", "rss", "uss", "swap", "swap_pss", "shared", "vsz", "pid", "name",
             "user", "oom_score")
GROUP_KEYS = ("program", "user", "cgroup")
TOTAL_KEYS = ("rss", "pss", "uss", "swap", "swap_pss", "shared")


def sort_key(field: str):
    """Largest first for sizes; a process without the figure (pss of an unreadable one)
    ranks by its RSS, an upper bound of both PSS and USS, so it is never hidden."""
    if field in ("pid", "name", "user"):
        return lambda p: (p[field] is None, p[field] if p[field] is not None else "")

    def key(p):
        v = p.get(field)
        if v is None and field in ("pss", "uss", "shared", "swap_pss"):
            v = p.get("rss")
        return -(v if v is not None else -1)
    return key


def totals(processes: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"processes": len(processes)}
    for key in TOTAL_KEYS:
        known = [p[key] for p in processes if p.get(key) is not None]
        out[key] = sum(known)
        out[f"{key}_missing"] = len(processes) - len(known)
    return out


def group(processes: Sequence[Dict[str, Any]], keys: Sequence[str]) -> List[Dict[str, Any]]:
    groups: Dict[str, Dict[str, Any]] = {}
    for p, k in zip(processes, keys):
        g = groups.get(k)
        if g is None:
            g = groups[k] = {"key": k, "count": 0, "rss": 0, "pss": 0, "uss": 0, "swap": 0,
                             "pss_missing": 0}
        g["count"] += 1
        for field in ("rss", "pss", "uss", "swap"):
            if p.get(field) is not None:
                g[field] += p[field]
        if p.get("pss") is None:
            g["pss_missing"] += 1
    return sorted(groups.values(), key=lambda g: (-g["pss"], -g["rss"], g["key"]))


def build_top(results: Sequence[Tuple[int, Any]], sort: str = "pss", limit: Optional[int] = None,
              users: Sequence[str] = (), match: Optional[str] = None,
              group_by: Optional[str] = None) -> Tuple[Dict[str, Any], List[str]]:
    """The ``top`` document and the warnings for stderr."""
    from memscope import SCHEMA_VERSION

    pattern = re.compile(match) if match else None
    kept: List[Dict[str, Any]] = []
    keys: List[str] = []
    skipped = {"permission_denied": 0, "vanished": 0, "capped": 0, "unreadable": 0}
    denied: List[str] = []
    problems: List[str] = []
    for _pid, res in results:
        if res.kind in ("vanished", "kernel"):
            if res.kind == "vanished":
                skipped["vanished"] += 1
            continue
        if res.kind in ("unparsable", "unreadable"):
            skipped["unreadable"] += 1
            problems.append(res.error)
            continue
        p = res.doc
        if users and p["user"] not in users:
            continue
        if pattern and not (pattern.search(p["name"] or "") or
                            pattern.search(p["cmdline"] or "")):
            continue
        if res.kind == "denied":
            skipped["permission_denied"] += 1
            denied.append(f"{p['name']}[{p['pid']}]")
        elif res.kind == "capped":
            skipped["capped"] += 1
        kept.append(p)
        if group_by == "program":
            keys.append(res.program or p["name"] or "?")
        elif group_by == "user":
            keys.append(p["user"] or "?")
        elif group_by == "cgroup":
            keys.append(res.cgroup or "?")
    doc: Dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    ranked = sorted(kept, key=sort_key(sort))
    doc["processes"] = ranked[:limit] if limit is not None else ranked
    if group_by:
        doc["groups"] = group(kept, keys)
    doc["totals"] = totals(kept)
    doc["skipped"] = skipped
    warnings = []
    if denied:
        shown = ", ".join(denied[:5])
        more = f" and {len(denied) - 5} more" if len(denied) > 5 else ""
        warnings.append(f"{len(denied)} process(es) listed from status only, their smaps "
                        f"unreadable (permission denied; run as root for pss/uss): "
                        f"{shown}{more}")
    if problems:
        warnings.append(f"{len(problems)} process(es) skipped, their files unreadable: "
                        f"{problems[0]}" + (f" (and {len(problems) - 1} more)"
                                            if len(problems) > 1 else ""))
    return doc, warnings


MAPPING_SORTS = ("pss", "rss", "uss", "swap", "size", "procs", "path")


def build_by_mapping(per_process: Sequence[Tuple[int, Sequence[Dict[str, Any]]]],
                     skipped: Dict[str, int], sort: str = "pss",
                     limit: Optional[int] = None) -> Dict[str, Any]:
    """``top --by-mapping``: each file, library or kind of anonymous memory summed over
    every process that maps it (smem -m): how many processes, mappings, and the sum of
    their size, rss, pss, uss and swap. Σ pss over the rows is Σ pss over the processes
    read: PSS divides each shared page among its mappers, so nothing is counted twice."""
    from memscope import SCHEMA_VERSION

    rows: Dict[Tuple[str, Any], Dict[str, Any]] = {}
    for _pid, maps in per_process:
        for m in maps:
            key = (m["category"], m["path"])
            r = rows.get(key)
            if r is None:
                r = rows[key] = {"category": m["category"], "path": m["path"], "procs": 0,
                                 "count": 0, "size": 0, "rss": 0, "pss": 0, "uss": 0,
                                 "swap": 0}
            r["procs"] += 1
            for f in ("count", "size", "rss", "pss", "uss", "swap"):
                r[f] += m[f]
    out = list(rows.values())
    if sort == "path":
        out.sort(key=lambda r: (r["path"] or "", r["category"]))
    else:
        out.sort(key=lambda r: (-r[sort], r["category"], r["path"] or ""))
    totals = {f: sum(r[f] for r in out) for f in ("size", "rss", "pss", "uss", "swap")}
    totals["processes"] = len(per_process)
    totals["mappings"] = len(out)
    return {"schema_version": SCHEMA_VERSION,
            "mappings": out[:limit] if limit else out,
            "totals": totals, "skipped": dict(skipped)}
