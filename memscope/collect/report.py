"""``memscope report``: the union of the views, for a cron job.

The bad-file policy (collect/policy.py) applies section by section: summary's required file
(/proc/meminfo) is the report's only required file; a view whose own required file is
missing, unreadable or malformed (zoneinfo for zones, vmallocinfo for vmalloc, the cgroup
hierarchy) is null, with a note naming the file and why. A cron job gets a report with notes,
not nothing.
"""

from __future__ import annotations

from memscope.collect.policy import section
from memscope.collect.system import collect_system
from memscope.collect.views import collect_vmalloc, collect_zones
from memscope.model import Notes
from memscope.sources import Root


def collect_report(root: Root):
    """``memscope report``: one document for a cron job (docs/contract.md "report")."""
    from memscope import SCHEMA_VERSION
    from memscope.collect.cgroups import children_of, find_hierarchy, read_cgroup
    from memscope.collect.procs import Options, Users, list_pids, scan, shmem_swap
    from memscope.errors import MemscopeError
    from memscope.model.system import build_summary
    from memscope.model.top import build_top

    from memscope.model.explain import with_verdict

    inputs = collect_system(root)
    summary = with_verdict(build_summary(inputs))
    notes = Notes()
    zones = section(lambda: collect_zones(root, inputs), notes, "zones")
    # vmalloc_unreadable: the code this section has had since schema 1 (mode 0400: not root)
    vmalloc = section(lambda: collect_vmalloc(root, "caller", 20), notes, "vmalloc",
                      {"file_missing": "vmalloc_unreadable",
                       "file_unreadable": "vmalloc_unreadable"})
    users = Users(root)
    opts = Options(program=True)
    # /proc itself is listed by summary's required read: a process's bad file is top's
    # per-process policy (skipped, counted, named in a warning)
    results = scan(root, list_pids(root), opts, users)
    top, warnings = build_top(results, "pss", 20, (), None, "program", limit_groups=False,
                              shared_swap=shmem_swap(root, results))
    top["user_groups"] = user_groups(results)
    known = dict(results)  # the cgroups' members: read once, here
    cgroups = []
    try:
        hier = find_hierarchy(root)
        cg_notes: list = []
        gone = 0
        for path in ["/"] + children_of(root, hier, "/"):
            try:
                cgroups.append(read_cgroup(root, hier, path, cg_notes, users, known))
            except MemscopeError:
                if path == "/" or root.isdir(hier.rel(path)):
                    raise
                gone += 1  # removed meanwhile
        if gone:
            notes.add("cgroups_vanished", f"{gone} cgroup(s) were removed while being read "
                      "and are not shown")
    except MemscopeError as exc:
        notes.add("no_cgroups", f"no cgroup section: {exc}")
    return {"schema_version": SCHEMA_VERSION, "source": summary["source"],
            "summary": summary, "zones": zones, "vmalloc": vmalloc, "top": top,
            "cgroups": cgroups, "notes": notes.items}, warnings


def user_groups(results) -> list:
    """Every process folded by user (as ``top --group-by user``), for ``trend --by user``:
    the report's ``top.processes`` are only the largest 20."""
    from memscope.model.top import group

    docs = [res.doc for _pid, res in results
            if res.kind not in ("vanished", "kernel", "unparsable", "unreadable")
            and res.doc is not None]
    return group(docs, [d.get("user") or "?" for d in docs])

