"""top_consumers: who holds the memory."""

from __future__ import annotations

from memscope.explain import Docs, ev, finding, pct, size


def top_consumers(d: Docs):
    """The programs (processes folded by executable) holding most memory by PSS, and the
    largest top-level cgroups, with their share of MemTotal. info, and only when more than
    half (50 %) of MemTotal is used (MemTotal − MemAvailable): on a quiet machine it is trivia."""
    mem = d.summary["memory"]
    total = mem["total"]
    if mem["used"] < total * 0.5 or not d.top:
        return []
    groups = [g for g in d.top.get("groups") or () if g.get("pss") and g["key"] != "?"]
    groups.sort(key=lambda g: -g["pss"])
    groups = groups[:3]
    cgs = [c for c in d.cgroups or () if c["path"] != "/" and c.get("usage")]
    cgs.sort(key=lambda c: -c["usage"])
    cgs = cgs[:3]
    if not groups and not cgs:
        return []
    parts = []
    if groups:
        parts.append("By program (PSS): " + ", ".join(
            f"{g['key']} {size(g['pss'])} ({pct(g['pss'], total)}, {g['count']} "
            f"process{'es' if g['count'] != 1 else ''})" for g in groups) + ".")
    if cgs:
        parts.append("By cgroup (usage): " + ", ".join(
            f"{c['path']} {size(c['usage'])} ({pct(c['usage'], total)})" for c in cgs) + ".")
    return [finding(
        "top_consumers", "info",
        "largest: " + ", ".join(f"{g['key']} {size(g['pss'])}" for g in groups[:2])
        if groups else "largest: " + ", ".join(c["path"] for c in cgs[:2]),
        " ".join(parts),
        [ev("/proc/PID/smaps_rollup", f"program {g['key']} pss", g["pss"]) for g in groups]
        + [ev(f"{c.get('full_path') or c['path']}", "usage", c["usage"]) for c in cgs],
        "PSS divides each shared page among the processes that map it, so the programs' "
        "figures add up without counting shared libraries twice.",
        "memscope top --group-by program")]
