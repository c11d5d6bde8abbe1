"""Collection for ``memscope explain`` and ``memscope check``: the documents the findings
read, each /proc file read once, through the existing collectors.

Policy: the summary is required (meminfo); everything else is optional. Views that need
root (slab, vmalloc) or that a captured tree lacks are skipped with a note, never an
error: the findings that would name caches or callers say less.
"""

from __future__ import annotations

import posixpath
import time
from typing import Any, Dict, List, Optional, Tuple

from memscope.errors import MemscopeError, ParseError
from memscope.sources import Root


def explain_tunables(root: Root, notes) -> Dict[str, Any]:
    """The sysctls the findings read, each optional (collect/policy.py)."""
    from memscope.collect.policy import optional
    from memscope.parsers.sysctl import parse_number

    return {"overcommit_memory": optional(
        root, "proc/sys/vm/overcommit_memory", parse_number, notes,
        "the overcommit policy is unknown", missing=None)}


def sample(root: Root):
    """One sample: the summary's inputs and document."""
    from memscope.collect.system import collect_system
    from memscope.model.system import build_summary

    inputs = collect_system(root)
    return inputs, build_summary(inputs)


def _parse_time(text: Optional[str]) -> Optional[float]:
    if not isinstance(text, str):
        return None
    import calendar

    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


def rates_since(summary: Dict[str, Any], path: str) -> float:
    """Fill summary's activity_rates from a saved report; returns the seconds between."""
    from memscope.collect.documents import load_report
    from memscope.model.system import add_rates

    old = load_report(path, summary_ok=True,
                      purpose="--since takes a report or a summary")["summary"]

    def field(doc, key) -> Dict[str, Any]:
        value = doc.get(key)
        return value if isinstance(value, dict) else {}

    then = _parse_time(field(old, "source").get("taken_at"))
    now = _parse_time((summary.get("source") or {}).get("taken_at"))
    if then is None or now is None:
        raise MemscopeError(f"{path}: no taken_at time in the report or under this root "
                            "(rates need both times; use --interval SECONDS on a live host)")
    seconds = now - then
    if seconds <= 0:
        raise MemscopeError(f"{path}: taken at {field(old, 'source')['taken_at']}, not "
                            f"before this sample ({summary['source']['taken_at']})")
    old_host = field(old, "source").get("hostname")
    new_host = (summary.get("source") or {}).get("hostname")
    if old_host and new_host and old_host != new_host:
        raise MemscopeError(f"{path}: a report of host {old_host}, not {new_host}")
    old_boot = field(old, "source").get("boot_id")
    new_boot = (summary.get("source") or {}).get("boot_id")
    if old_boot and new_boot and old_boot != new_boot:
        raise MemscopeError(f"{path}: a report of another boot (boot_id {str(old_boot)[:36]}, "
                            f"now {new_boot}): counters restart at a reboot, so rates can't "
                            "be computed from it")
    uptime = (summary.get("source") or {}).get("uptime")
    if isinstance(uptime, (int, float)) and seconds > uptime + 1:
        raise MemscopeError(f"{path}: taken {seconds:.0f} s before this sample, but the host "
                            f"booted {uptime:.0f} s ago: a report of an earlier boot")
    before = field(old, "activity")
    after = summary.get("activity") or {}
    if not before:
        raise MemscopeError(f"{path}: the report has no reclaim counters (activity): rates "
                            "can't be computed from it")
    for key, value in before.items():  # counters: integers >= 0, or null (unknown)
        if value is not None and (type(value) is not int or value < 0):
            raise MemscopeError(f"{path}: summary.activity.{key}: {str(value)[:20]!r} is not "
                                "a counter (not a report memscope wrote)")
    if any(type(before.get(k)) is int and v is not None and v < before[k]
           for k, v in after.items()):
        raise MemscopeError(f"{path}: counters went backwards since that report (the host "
                            "rebooted): rates can't be computed from it")
    add_rates(summary, {k: v if type(v) is int else None for k, v in before.items()},
              seconds)
    return seconds


def effective_limit(root: Root, hier, cg: Dict[str, Any]) -> None:
    """The lowest limit of the cgroup and its ancestors (the one that applies), with the
    cgroup it comes from."""
    from memscope.collect.cgroups import read_files_quiet
    from memscope.model.cgroup import build_cgroup

    best, where = cg.get("limit"), cg.get("full_path")
    probe = cg["path"]
    while probe != "/":
        probe = posixpath.dirname(probe)
        doc = build_cgroup(probe, hier.version, read_files_quiet(root, hier, probe),
                           probe == "/", [])
        if doc["limit"] is not None and (best is None or doc["limit"] < best):
            best, where = doc["limit"], hier.display + ("" if probe == "/" else probe)
    cg["effective_limit"] = best
    cg["limit_from"] = where


def collect_explain(root: Root, cgroup: Optional[str] = None, since: Optional[str] = None,
                    interval: Optional[float] = None, light: bool = False):
    """(Docs, notes, scope, warnings). ``light`` (check): no process scan, no shmem, slab or
    vmalloc view — nothing that changes the verdict is lost, only names in the texts."""
    from memscope.collect.cgroups import (children_of, find_hierarchy, resolve)
    from memscope.collect.policy import section
    from memscope.collect.views import collect_zones
    from memscope.explain import Docs
    from memscope.model import Notes
    from memscope.model.system import add_rates

    notes = Notes()
    warnings: List[str] = []
    inputs, summary = sample(root)
    seconds = None
    if interval is not None:
        start = time.monotonic()
        time.sleep(interval)
        inputs, second = sample(root)
        seconds = time.monotonic() - start
        add_rates(second, summary["activity"], seconds)
        summary = second
    elif since is not None:
        seconds = rates_since(summary, since)
    zones = section(lambda: collect_zones(root, inputs), notes, "zones",
                    consequence="no zone findings (watermarks, fragmentation)")
    tunables = explain_tunables(root, notes)

    # cgroups: the --cgroup target (or the container memscope runs in) and the top level
    hier = None
    try:
        hier = find_hierarchy(root)
    except MemscopeError as exc:
        if cgroup is not None:
            raise
        notes.add("no_cgroups", f"no cgroup findings: {exc}")
    target = None
    scope = {"kind": "host", "cgroup": None}
    results = None
    top = None
    if not light:
        from memscope.collect.procs import Options, Users, list_pids, scan
        from memscope.model.top import build_top

        users = Users(root)
        results = scan(root, list_pids(root), Options(program=True), users)
        top, warnings = build_top(results, "pss", 20, (), None, "program")
    known = dict(results) if results is not None else {}
    users_arg = None if light else users
    if hier is not None:
        path = None
        if cgroup is not None:
            path = resolve(root, hier, cgroup)
            scope = {"kind": "cgroup", "cgroup": path}
        elif summary.get("container"):
            path = summary["container"]["path"]
            scope = {"kind": "container", "cgroup": path}
        if path is not None:
            cg_notes: List[Dict[str, str]] = []
            target = _read(root, hier, path, cg_notes, users_arg, known, light)
            effective_limit(root, hier, target)
    cgroups = None
    if hier is not None:
        cgroups = []
        cg_notes = []
        try:
            paths = children_of(root, hier, "/")
        except MemscopeError:
            paths = []
        for p in paths:
            try:
                cgroups.append(_read(root, hier, p, cg_notes, users_arg, known, light))
            except (MemscopeError, ParseError):
                continue  # removed meanwhile, or unreadable
    shmem = slab = vmalloc = None
    if not light:
        shmem, slab, vmalloc = _views(root, inputs, notes)
    docs = Docs(summary, zones=zones, top=top, cgroups=cgroups, target=target, shmem=shmem,
                slab=slab, vmalloc=vmalloc, tunables=tunables, interval=seconds)
    for n in summary.get("notes") or ():
        # (and every bad file summary met: a diagnosis that rests on fewer files says so)
        if n["code"] in ("kernel_inferred", "container_limit", "file_missing",
                         "file_unreadable", "file_malformed"):
            notes.add(n["code"], n["text"])
    if seconds is not None:
        notes.add("rates", f"rates are per second over the last {seconds:.0f} s"
                  + (f" (since the report {since})" if since else ""))
    return docs, notes.items, scope, warnings


def _read(root, hier, path, notes, users, known, light):
    from memscope.collect.cgroups import read_cgroup, read_files
    from memscope.model.cgroup import build_cgroup

    if not light:
        return read_cgroup(root, hier, path, notes, users, known)
    return build_cgroup(path, hier.version, read_files(root, hier, path), path == "/", notes,
                        mount=hier.display)


def _views(root: Root, inputs, notes) -> Tuple[Any, Any, Any]:
    """shmem, slab and vmalloc, each a section under the one bad-file policy
    (collect/policy.py): null with a note naming the file where it can't be read."""
    from memscope.collect.policy import section
    from memscope.collect.views import collect_shmem, collect_slab

    meminfo = inputs.meminfo
    shmem = section(lambda: collect_shmem(root, meminfo), notes, "shmem holders")
    slab = vmalloc = None
    if root.exists("proc/slabinfo"):
        slab = section(lambda: collect_slab(root, meminfo), notes, "slab caches")
    if root.exists("proc/vmallocinfo"):
        vmalloc = section(lambda: _vmalloc(root, inputs), notes, "vmalloc callers",
                          {"file_missing": "vmalloc_unreadable",
                           "file_unreadable": "vmalloc_unreadable"})
    return shmem, slab, vmalloc


def _vmalloc(root: Root, inputs) -> Dict[str, Any]:
    from memscope.model.views import build_vmalloc
    from memscope.parsers.vmallocinfo import parse_vmallocinfo

    areas = root.parse("proc/vmallocinfo", parse_vmallocinfo)
    return build_vmalloc(areas, inputs.meminfo.get("VmallocUsed"), inputs.page_size,
                         "caller", 5)
