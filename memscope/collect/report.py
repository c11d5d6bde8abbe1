"""``memscope report``: the union of the views, for a cron job."""

from __future__ import annotations

from memscope.collect.system import collect_system
from memscope.collect.views import collect_vmalloc, collect_zones
from memscope.errors import SourceError
from memscope.model import Notes
from memscope.sources import Root




def collect_report(root: Root):
    """``memscope report``: one document for a cron job (SPEC.md "report")."""
    from memscope import SCHEMA_VERSION
    from memscope.collect.cgroups import children_of, find_hierarchy, read_cgroup
    from memscope.collect.procs import Options, Users, list_pids, scan
    from memscope.errors import MemscopeError
    from memscope.model.system import build_summary
    from memscope.model.top import build_top

    inputs = collect_system(root)
    summary = build_summary(inputs)
    notes = Notes()
    try:
        zones = collect_zones(root, inputs)
    except SourceError:
        zones = None
    try:
        vmalloc = collect_vmalloc(root, "caller", 20)
    except SourceError as exc:
        vmalloc = None
        notes.add("vmalloc_unreadable", f"no vmalloc section: {exc}")
    users = Users(root)
    opts = Options(program=True)
    results = scan(root, list_pids(root), opts, users)
    top, warnings = build_top(results, "pss", 20, (), None, "program")
    top["user_groups"] = user_groups(results)
    known = dict(results)  # the cgroups' members: read once, here
    cgroups = []
    try:
        hier = find_hierarchy(root)
        cg_notes: list = []
        for path in ["/"] + children_of(root, hier, "/"):
            try:
                cgroups.append(read_cgroup(root, hier, path, cg_notes, users, known))
            except MemscopeError:
                continue  # removed meanwhile
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

