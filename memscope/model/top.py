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
TOTAL_KEYS = ("rss", "pss", "uss", "swap", "swap_pss", "shared", "hugetlb")


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


def totals(processes: Sequence[Dict[str, Any]],
           shared_swap: Optional[Dict[int, Dict[Any, int]]] = None) -> Dict[str, Any]:
    """Sums over the processes that have the figure, and how many lack it; a figure no
    process has (pss with --rss-only) is null, never 0.

    Swapped-out shmem is in the smaps Swap of every process that maps it, and in no
    SwapPss: ``shared_swap`` ({pid: {object: bytes}}) lets each object's swap be counted
    once, in ``swap`` and in ``swap_pss`` (``swap_shmem`` is that once-counted part)."""
    out: Dict[str, Any] = {"processes": len(processes)}
    for key in TOTAL_KEYS:
        known = [p[key] for p in processes if p.get(key) is not None]
        out[key] = sum(known) if known or not processes else None
        out[f"{key}_missing"] = len(processes) - len(known)
    once, per_mapper = _shared_swap(processes, shared_swap)
    out["swap_shmem"] = once
    if out["swap"] is not None:
        out["swap"] += once - per_mapper
    if out["swap_pss"] is not None:
        out["swap_pss"] += once
    return out


def _shared_swap(processes: Sequence[Dict[str, Any]],
                 shared_swap: Optional[Dict[int, Dict[Any, int]]]) -> Tuple[int, int]:
    """(each swapped shmem object's bytes counted once, the same counted once per mapper)
    over ``processes``."""
    objects: Dict[Any, int] = {}
    per_mapper = 0
    for p in processes:
        mapped = (shared_swap or {}).get(p["pid"])
        if mapped is None or not p.get("swap_shmem"):
            continue
        per_mapper += p["swap_shmem"]
        for obj, swapped in mapped.items():
            objects[obj] = max(objects.get(obj, 0), swapped)
    return sum(objects.values()), per_mapper


def group(processes: Sequence[Dict[str, Any]], keys: Sequence[str],
          sort: str = "pss",
          shared_swap: Optional[Dict[int, Dict[Any, int]]] = None) -> List[Dict[str, Any]]:
    groups: Dict[str, Dict[str, Any]] = {}
    for p, k in zip(processes, keys):
        g = groups.get(k)
        if g is None:
            g = groups[k] = {"key": k, "count": 0, "rss": 0, "pss": None, "uss": None,
                             "swap": None, "pss_missing": 0, "pss_incomplete": False}
        g["count"] += 1
        for field in ("rss", "pss", "uss", "swap"):
            if p.get(field) is not None:
                g[field] = (g[field] or 0) + p[field]
        if p.get("pss") is None:
            g["pss_missing"] += 1
            g["pss_incomplete"] = True  # pss is the known members' sum (null: none known)
    if shared_swap:
        members: Dict[str, List[Dict[str, Any]]] = {}
        for p, k in zip(processes, keys):
            members.setdefault(k, []).append(p)
        for k, ps in members.items():
            once, per_mapper = _shared_swap(ps, shared_swap)
            if per_mapper and groups[k]["swap"] is not None:
                groups[k]["swap"] += once - per_mapper  # shmem swap once per group
    return sorted(groups.values(), key=group_rank(sort))


def group_rank(sort: str):
    """Groups ranked like processes: by the figure, largest first (a group whose pss is
    unknown ranks by its rss, as a process does); by name for pid, name and user."""
    if sort in ("pid", "name", "user"):
        return lambda g: g["key"]

    def key(g):
        field = sort if sort in g else "pss"
        v = g.get(field)
        if v is None:
            v = g["rss"]
        return (-v, -g["rss"], g["key"])
    return key


def build_top(results: Sequence[Tuple[int, Any]], sort: str = "pss", limit: Optional[int] = None,
              users: Sequence[str] = (), match: Optional[str] = None,
              group_by: Optional[str] = None, limit_groups: bool = True,
              shared_swap: Optional[Dict[int, Dict[Any, int]]] = None,
              reverse: bool = False) -> Tuple[Dict[str, Any], List[str]]:
    """The ``top`` document and the warnings for stderr. ``sort`` and ``limit`` rank and
    cut the groups too (``limit_groups`` False: every group, as report keeps them);
    ``reverse`` lists the chosen processes last to first (``top -r``)."""
    from memscope import SCHEMA_VERSION

    # a str, or cli's BoundedPattern (memscope.match: text and time bounded)
    pattern = (re.compile(match) if isinstance(match, str) else match) if match else None
    kept: List[Dict[str, Any]] = []
    keys: List[str] = []
    # every process not listed, by reason (kernel threads: not processes with user memory)
    skipped = {"permission_denied": 0, "vanished": 0, "capped": 0, "unreadable": 0,
               "zombie": 0, "kernel_threads": 0, "memscope": 0}
    denied: List[str] = []
    problems: List[str] = []
    for _pid, res in results:
        if res.kind in ("vanished", "kernel", "zombie", "self"):
            skipped[{"kernel": "kernel_threads", "self": "memscope"}.get(res.kind,
                                                                         res.kind)] += 1
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
    if reverse:
        doc["processes"].reverse()
    if group_by:
        groups = group(kept, keys, sort, shared_swap)
        doc["groups"] = groups[:limit] if limit is not None and limit_groups else groups
    doc["totals"] = totals(kept, shared_swap)
    doc["skipped"] = skipped
    warnings = []
    if denied:
        shown = ", ".join(denied[:5])
        more = f" and {len(denied) - 5} more" if len(denied) > 5 else ""
        from memscope.errors import denied_hint

        warnings.append(f"{len(denied)} process(es) listed from status only, their smaps "
                        f"unreadable (permission denied; {denied_hint()}): "
                        f"{shown}{more}")
    if problems:
        warnings.append(f"{len(problems)} process(es) skipped, their files unreadable: "
                        f"{problems[0]}" + (f" (and {len(problems) - 1} more)"
                                            if len(problems) > 1 else ""))
    return doc, warnings


MAPPING_SORTS = ("pss", "rss", "uss", "swap", "size", "procs", "path")


def build_by_mapping(per_process: Sequence[Tuple[int, Sequence[Dict[str, Any]]]],
                     skipped: Dict[str, int], sort: str = "pss",
                     limit: Optional[int] = None, reverse: bool = False) -> Dict[str, Any]:
    """``top --by-mapping``: each file, library or kind of anonymous memory summed over
    every process that maps it (smem -m): how many processes, mappings, and the sum of
    their size, rss, pss, uss and swap (``reverse``: the chosen rows last to first). Σ pss
    over the rows is Σ pss over the processes read: PSS divides each shared page among its
    mappers, so nothing is counted twice."""
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
    chosen = out[:limit] if limit else out
    if reverse:
        chosen.reverse()
    return {"schema_version": SCHEMA_VERSION,
            "mappings": chosen,
            "totals": totals, "skipped": dict(skipped)}
