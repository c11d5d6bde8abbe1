"""cgroup_near_limit: a memory cgroup's working set against its limit."""

from __future__ import annotations

from memscope.explain import Docs, ev, finding, pct, size

WHY = ("A cgroup's working set is its usage minus inactive file cache (kubelet's and "
       "cAdvisor's container_memory_working_set_bytes): memory the cgroup cannot give back "
       "without swapping or losing hot cache. At the limit, the cgroup reclaims its own "
       "pages, then its processes are OOM-killed, whatever the host has free.")


def _check(d: Docs, cg, scope: str):
    limit = cg.get("effective_limit") or cg.get("limit")
    ws = cg.get("working_set")
    if not limit or ws is None:
        return None
    events = cg.get("events") or {}
    hit = events.get("max")  # v2 memory.events max; v1 memory.failcnt
    high = events.get("high")
    share = ws / limit
    warn, crit = d.available_marks(cgroup=True)
    if share >= 0.95:
        severity = "critical"
    elif share >= 1 - crit / 100:
        severity = "pressure"
    elif share >= 1 - warn / 100:
        severity = "attention"
    elif hit or high:
        severity = "info"
    else:
        return None
    path = cg["path"]
    full = cg.get("full_path") or path
    v1 = cg.get("version") == 1
    hits = []
    if hit:
        hits.append(f"it has hit the limit {hit:,} time(s)" + (" (failcnt)" if v1 else ""))
    if high:
        hits.append(f"it went over memory.high {high:,} time(s) and was throttled")
    evidence = [ev(f"{full}/" + ("memory.usage_in_bytes" if v1 else "memory.current"),
                   "usage", cg.get("usage")),
                ev(f"{full}/memory.stat", "inactive_file", cg.get("inactive_file")),
                ev(f"{cg.get('limit_from') or full}/"
                   + ("memory.limit_in_bytes" if v1 else "memory.max"), "limit", limit)]
    if hit is not None:
        evidence.append(ev(f"{full}/" + ("memory.failcnt" if v1 else "memory.events"),
                           "failcnt" if v1 else "max", hit))
    if high:
        evidence.append(ev(f"{full}/memory.events", "high", high))
    inherited = (f" (inherited from {cg['limit_from']})" if cg.get("limit_from")
                 and cg["limit_from"] != full else "")
    return finding(
        "cgroup_near_limit", severity,
        f"cgroup {path} is at {pct(ws, limit)} of its {size(limit)} limit",
        f"Cgroup {path} holds a working set of {size(ws)} (usage {size(cg.get('usage'))} "
        f"less {size(cg.get('inactive_file'))} of inactive file cache) against a limit of "
        f"{size(limit)}{inherited}: {size(limit - ws)} of headroom"
        + ("; " + "; ".join(hits) if hits else "") + ".",
        evidence, WHY, f"memscope cgroup {path}", scope=scope)


def cgroup_near_limit(d: Docs):
    """Working set (usage − inactive_file, kubelet's rule) against the effective limit
    (the lowest limit of the cgroup and its ancestors): ≥ 95 % critical, ≥ 90 % pressure,
    ≥ 80 % attention (memscope's thresholds; check's -c/-w set the headroom percentages;
    kubelet evicts at memory.available < 100Mi of the node's allocatable); below 80 %, info when the
    cgroup has already hit its limit (v2 memory.events max, v1 memory.failcnt) or memory.high.

    Checked for the --cgroup PATH (or the container memscope runs in) and for every
    top-level cgroup that has a limit.
    """
    out = []
    box = d.container()
    seen = set()
    if box is not None:
        f = _check(d, box, "container")
        seen.add(box["path"])
        if f:
            out.append(f)
    for cg in d.cgroups or ():
        if cg["path"] in seen or cg["path"] == "/":
            continue
        f = _check(d, cg, "cgroup")
        if f:
            out.append(f)
    return out
