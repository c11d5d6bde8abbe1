"""oom_kills: processes killed for want of memory, system-wide and per cgroup."""

from __future__ import annotations

from memscope.explain import Docs, ev, finding, per

WHY = ("The OOM killer ends the process with the highest oom_score when an allocation "
       "cannot be met after reclaim — system-wide, or inside a cgroup at its limit "
       "(memory.max / limit_in_bytes); vmstat oom_kill counts both.")


def _cgroup_kills(cg):
    return (cg.get("events") or {}).get("oom_kill")


def oom_kills(d: Docs):
    """OOM kills: vmstat oom_kill (4.13+), memory.events oom_kill (v2) or memory.oom_control
    oom_kill (v1), naming the cgroups. Threshold: any kill (memscope's: a killed process
    is always worth saying).

    - with two samples: any kill in the interval → critical;
    - since boot (system): info — it answers "why did my process die";
    - the --cgroup / container cgroup with kills since its creation: attention; other
      top-level cgroups with kills: info.
    """
    out = []
    kills, rate = d.activity("oom_kill")
    if kills:
        delta = kills * d.interval if rate and d.interval else None
        out.append(finding(
            "oom_kills", "critical" if rate else "info",
            (f"{delta:.0f} process(es) OOM-killed in the last {d.interval:.0f} s"
             if delta is not None else f"OOM kills: {per(kills, rate)}"),
            ("The OOM killer ended processes during the interval"
             if rate else f"The OOM killer has ended {kills:,} process(es) since boot")
            + " (system-wide or at a cgroup's limit); the kernel log (dmesg) names them.",
            [ev("/proc/vmstat", "oom_kill", kills)], WHY, "memscope cgroup / --children"))
    box = d.container()
    seen = set()
    if box is not None and _cgroup_kills(box):
        n = _cgroup_kills(box)
        seen.add(box["path"])
        src = "memory.events" if box.get("version") == 2 else "memory.oom_control"
        out.append(finding(
            "oom_kills", "attention",
            f"{n:,} OOM kill(s) in cgroup {box['path']}",
            f"The OOM killer ended {n:,} process(es) in cgroup {box['path']} (or below it) "
            "since the cgroup was created: it reached its limit (or a descendant reached "
            "its own).",
            [ev(f"{box.get('full_path') or box['path']}/{src}", "oom_kill", n)], WHY,
            f"memscope cgroup {box['path']}", scope="container"))
    for cg in d.cgroups or ():
        n = _cgroup_kills(cg)
        if n and cg["path"] not in seen and cg["path"] != "/":
            src = "memory.events" if cg.get("version") == 2 else "memory.oom_control"
            out.append(finding(
                "oom_kills", "info", f"{n:,} OOM kill(s) in cgroup {cg['path']}",
                f"The OOM killer ended {n:,} process(es) in cgroup {cg['path']} (or below "
                "it) since it was created.",
                [ev(f"{cg.get('full_path') or cg['path']}/{src}", "oom_kill", n)], WHY,
                f"memscope cgroup {cg['path']} --children"))
    return out
