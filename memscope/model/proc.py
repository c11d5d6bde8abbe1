"""``memscope proc PID...``: the document (docs/contract.md "proc"), from what collect_proc read.
Pure: no file is read here.

A pid that cannot be shown (exited, a zombie, a kernel thread) does not hide the others:
they are printed and the missing ones named in a warning; only when none can be shown is it
an error (exit 1).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from memscope.errors import MemscopeError
from memscope.model import Notes

REASONS = {
    "vanished": "has exited (or is hidden by hidepid=; check with ps)",
    "zombie": "is a zombie (it has exited; its parent has not reaped it): no memory to show",
    "kernel": "is a kernel thread: no user memory to show",
    "unreadable": "could not be read",
}


class ProcEntry:
    """One requested pid: collect's read (a procs.Result) and, with --maps, its smaps."""

    def __init__(self, pid: int, result: Any):
        self.pid = pid
        self.result = result
        self.smaps = None
        self.mounts = None
        self.maps_error: Optional[str] = None
        self.maps_missing = False


def build_proc(entries: List[ProcEntry], maps: bool = False, sort: str = "pss",
               notes: Optional[Notes] = None) -> Tuple[Dict[str, Any], List[str]]:
    from memscope import SCHEMA_VERSION
    from memscope.model.process import ShmemMounts, build_mappings

    notes = notes if notes is not None else Notes()
    warnings: List[str] = []
    processes = []
    missing: Dict[str, List[int]] = {}
    for entry in entries:
        pid, res = entry.pid, entry.result
        if res.kind in REASONS or res.doc is None:
            missing.setdefault(res.kind if res.kind in REASONS else "vanished",
                               []).append(pid)
            continue
        doc = res.doc
        doc["sources"] = res.sources
        if res.via_task is not None:
            notes.add("main_thread_exited",
                      f"pid {pid}: its main thread has exited (status says zombie, "
                      "smaps_rollup gives ESRCH) while other threads live on: figures from "
                      f"thread {res.via_task}'s files (/proc/{pid}/task/{res.via_task}/)")
        if res.kind == "denied":
            warnings.append(f"{res.error}: pid {pid} is shown from status only (pss, uss "
                            "and their parts are null)")
        elif doc["source"] == "status":
            notes.add("status_only", f"pid {pid}: no smaps_rollup or smaps under this root: "
                      "figures from status (pss, uss and their parts are null)")
        if res.status_rss is not None and doc["source"] != "status" and \
                res.status_rss != doc["rss"]:
            notes.add("status_differs",
                      f"pid {pid}: status VmRSS is {res.status_rss} bytes, {doc['source']} "
                      f"Rss is {doc['rss']}: status counters are approximate on many "
                      "kernels (per-thread batching 2.6.34-6.1); rss is taken from "
                      f"{doc['source']}, the rss_anon/file/shmem split from status")
        if maps:
            if entry.maps_error is not None:
                warnings.append(f"{entry.maps_error}: no --maps for pid {pid}")
            elif entry.maps_missing:
                notes.add("maps_missing", f"pid {pid}: no smaps under this root")
            if entry.smaps is not None:
                if entry.mounts is None:
                    notes.add("shmem_by_name",
                              "no mount table: shmem mappings are told by their names only "
                              "(SysV, memfd, /dev/zero, /dev/shm); files on other tmpfs "
                              "mounts show as file")
                rows = build_mappings(entry.smaps, ShmemMounts(entry.mounts))
                if sort in ("path", "category"):
                    rows.sort(key=lambda r: (r[sort] or "", r["category"]))
                else:
                    rows.sort(key=lambda r: (-r[sort], r["category"], r["path"] or ""))
                doc["mappings"] = rows
        processes.append(doc)
    said = [f"process {', '.join(map(str, pids))} {REASONS[kind]}"
            for kind, pids in missing.items() if kind != "unreadable"]
    said += [entry.result.error for entry in entries
             if entry.result.kind == "unreadable" and entry.result.error]
    if said and not processes:
        if list(missing) == ["vanished"]:
            raise MemscopeError(f"no such process: {', '.join(map(str, missing['vanished']))}"
                                " (it has exited, or is hidden by hidepid=; check with ps)")
        raise MemscopeError("; ".join(said))
    warnings.extend(said)
    return {"schema_version": SCHEMA_VERSION, "processes": processes,
            "notes": notes.items}, warnings
