"""Reading memory cgroups through the Root: which hierarchy, which files, what a missing one
means (docs/kernel.md §7).

The hierarchy is found from the root's mount table where it has one (cgroup2, or a v1
``cgroup`` mount with the memory controller), else from the layout (sys/fs/cgroup/memory:
v1, hybrid when sys/fs/cgroup/unified is beside it; cgroup/memory: RHEL 6; sys/fs/cgroup:
v2). Files are read from an explicit list: some v1 files fail on read by design
(memory.pressure_level, memory.force_empty: EINVAL).
"""

from __future__ import annotations

import os
import posixpath
from typing import Any, Dict, List, Optional, Tuple

from memscope.errors import (MemscopeError, NotFound, ParseError, PermissionDenied, SourceError,
                             denied_hint)
from memscope.model.cgroup import add_members, build_cgroup, ordered, tree_node
from memscope.parsers import kernel_lines, parse_int
from memscope.parsers.memcg import parse_flat_keyed, parse_value
from memscope.parsers.pressure import parse_pressure
from memscope.sources import Root

V2_FILES = {
    "memory.current": parse_value, "memory.max": parse_value, "memory.high": parse_value,
    "memory.low": parse_value, "memory.min": parse_value, "memory.peak": parse_value,
    "memory.stat": parse_flat_keyed, "memory.events": parse_flat_keyed,
    "memory.pressure": parse_pressure, "memory.swap.current": parse_value,
    "memory.swap.max": parse_value,
}
V1_FILES = {
    "memory.usage_in_bytes": parse_value, "memory.limit_in_bytes": parse_value,
    "memory.soft_limit_in_bytes": parse_value, "memory.max_usage_in_bytes": parse_value,
    "memory.failcnt": parse_value, "memory.stat": parse_flat_keyed,
    "memory.oom_control": parse_flat_keyed, "memory.kmem.usage_in_bytes": parse_value,
    "memory.kmem.tcp.usage_in_bytes": parse_value, "memory.memsw.usage_in_bytes": parse_value,
    "memory.memsw.limit_in_bytes": parse_value, "memory.memsw.failcnt": parse_value,
}
LIMIT_FILE = {1: "memory.limit_in_bytes", 2: "memory.max"}


class Hierarchy:
    """The memory controller's hierarchy under a root."""

    def __init__(self, version: int, mount: str, unified: Optional[str] = None):
        self.version = version
        self.mount = mount.strip("/")    # relative to the root: "sys/fs/cgroup/memory"
        self.unified = unified.strip("/") if unified else None  # v2 tree beside v1 (PSI)

    @property
    def display(self) -> str:
        return "/" + self.mount

    def rel(self, path: str) -> str:
        return self.mount if path == "/" else self.mount + path


def find_hierarchy(root: Root) -> Hierarchy:
    from memscope.parsers.mounts import parse_mounts

    mounts = None
    for rel in ("proc/self/mounts", "proc/mounts"):
        try:
            mounts = root.parse(rel, parse_mounts, optional=True)
        except PermissionDenied:
            mounts = None
        if mounts:
            break
    v1 = v2 = None
    for _dev, point, fstype, options in mounts or ():
        if fstype == "cgroup" and "memory" in options.split(",") and v1 is None:
            v1 = point
        elif fstype == "cgroup2" and v2 is None:
            v2 = point
    if v1 and root.isdir(v1.strip("/")):
        return Hierarchy(1, v1, v2 if v2 and root.isdir(v2.strip("/")) else None)
    if v2 and root.isdir(v2.strip("/")):
        controllers = root.read_optional(v2.strip("/") + "/cgroup.controllers") or ""
        if "memory" in controllers.split() or root.exists(v2.strip("/") + "/memory.stat"):
            return Hierarchy(2, v2)
    # No mount table (a captured tree): the usual layouts.
    if root.isdir("sys/fs/cgroup/memory"):
        unified = "sys/fs/cgroup/unified" if root.isdir("sys/fs/cgroup/unified") else None
        return Hierarchy(1, "sys/fs/cgroup/memory", unified)
    if root.isdir("cgroup/memory"):
        return Hierarchy(1, "cgroup/memory")
    if root.isdir("sys/fs/cgroup"):
        return Hierarchy(2, "sys/fs/cgroup")
    raise MemscopeError(f"{root.display('sys/fs/cgroup')}: no cgroup memory controller "
                        "(no cgroup2 or v1 memory mount in the mount table, nor under "
                        "sys/fs/cgroup)")


def resolve(root: Root, hier: Hierarchy, path: str) -> str:
    """A cgroup path as the user gave it (relative to the hierarchy's mount, or a full
    /sys/fs/cgroup/... path) -> the cgroup's path within the hierarchy ("/a/b")."""
    given = path
    if path.startswith(hier.display + "/") or path == hier.display:
        path = path[len(hier.display):] or "/"
    elif path.startswith("/sys/fs/cgroup") and not path.startswith(hier.display):
        raise MemscopeError(f"cgroup {given}: outside the memory hierarchy "
                            f"({hier.display}); give a path relative to it")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise MemscopeError(f"cgroup {given}: '..' leads outside the memory hierarchy "
                            f"({hier.display})")
    norm = "/" + "/".join(parts)
    rel = hier.rel(norm)
    if not root.isdir(rel) or not root.inside(rel, hier.mount):
        raise MemscopeError(f"cgroup {given}: no such cgroup under {root.display(hier.mount)}"
                            " (list them with: memscope cgroup / --children)")
    return norm


def cgroup_of_pid(root: Root, hier: Hierarchy, pid: int) -> str:
    from memscope.parsers.memcg import memory_cgroup

    try:
        text = root.read_text(f"proc/{pid}/cgroup")
    except NotFound:
        raise MemscopeError(f"no such process: {pid} (it has exited, or is hidden by "
                            "hidepid=; check with ps)") from None
    path = memory_cgroup(text)
    if path is None:
        raise MemscopeError(f"{root.display(f'proc/{pid}/cgroup')}: no memory cgroup line")
    if hier.version == 1 and not any("memory" in line.split(":")[1].split(",")
                                     for line in kernel_lines(text) if line.count(":") >= 2):
        raise MemscopeError(f"process {pid} is in no v1 memory cgroup")
    return path


def read_files(root: Root, hier: Hierarchy, path: str,
               notes: Optional[List[Dict[str, str]]] = None) -> Dict[str, Any]:
    """Every memory file of the cgroup: each optional (collect/policy.py), its figures null
    and a note where it is malformed or unreadable; silent where absent (files differ by
    kernel release and configuration)."""
    from memscope.collect.policy import optional

    notes = [] if notes is None else notes
    rel = hier.rel(path)
    table = V2_FILES if hier.version == 2 else V1_FILES
    files: Dict[str, Any] = {}
    for name, parser in table.items():
        value = optional(root, f"{rel}/{name}", parser, notes,
                         "its figures are null", missing=None)
        if value is not None or root.exists(f"{rel}/{name}"):
            files[name] = value
    if hier.version == 1 and hier.unified:
        # v1 has no PSI of its own: the unified tree's, at the same path, where it exists
        files["memory.pressure"] = optional(
            root, (hier.unified if path == "/" else hier.unified + path) + "/memory.pressure",
            parse_pressure, notes, "pressure is null", missing=None)
    if not root.isdir(rel):
        raise MemscopeError(f"cgroup {path}: removed while being read "
                            f"({root.display(rel)})")
    return files


def ancestor_limits(root: Root, hier: Hierarchy, path: str) -> List[Tuple[str, Optional[int]]]:
    """[(path, its own limit)] from the parent up to the root (the limits that may apply
    to ``path``); an unreadable or absent limit file reads as no limit."""
    out: List[Tuple[str, Optional[int]]] = []
    name = LIMIT_FILE[hier.version]
    probe = path
    while probe != "/":
        probe = posixpath.dirname(probe)
        try:
            limit = root.parse(f"{hier.rel(probe)}/{name}", parse_value, optional=True)
        except (SourceError, ParseError):  # (PermissionDenied is a SourceError)
            limit = None
        out.append((probe, limit))
    return out


def member_pids(root: Root, hier: Hierarchy, path: str,
                unreachable: Optional[List[str]] = None) -> Optional[List[int]]:
    """Processes of the cgroup and of its descendants; None where the root does not hold
    the cgroup's cgroup.procs (a captured tree without it). A descendant that can't be
    read (a delegated subtree another user closed, 0700) is skipped and named in
    ``unreachable``: one such cgroup must not break the walk for the whole host."""
    if not root.exists(hier.rel(path) + "/cgroup.procs"):
        return None
    pids: List[int] = []
    stack = [hier.rel(path)]
    top = stack[0]
    while stack:
        rel = stack.pop()
        try:
            text = root.read_optional(f"{rel}/cgroup.procs")
        except SourceError:
            if rel == top or unreachable is None:
                raise
            unreachable.append(rel)
            continue
        if text:
            try:
                pids.extend(parse_int(x, "pid", n) for n, x in enumerate(text.split(), 1))
            except ParseError as exc:
                exc.path = root.display(f"{rel}/cgroup.procs")
                raise
        try:
            stack.extend(f"{rel}/{d}" for d in root.subdirs(rel))
        except NotFound:
            continue  # removed meanwhile
        except SourceError:
            if rel == top or unreachable is None:
                raise
            unreachable.append(rel)
    return sorted(set(pids))


def read_cgroup(root: Root, hier: Hierarchy, path: str, notes: List[Dict[str, str]],
                users=None, known: Optional[Dict[int, Any]] = None) -> Dict[str, Any]:
    """The cgroup object of docs/contract.md, with its member processes reconciled. ``known`` holds
    processes already read ({pid: Result}); what is read here is added to it, so a parent
    and its children (or a report's top scan and its cgroups) read each process once."""
    from memscope.collect.procs import Options, Users, read_process

    files = read_files(root, hier, path, notes)
    doc = build_cgroup(path, hier.version, files, path == "/", notes,
                       ancestor_limits(root, hier, path), hier.display)
    unreachable: List[str] = []
    pids = member_pids(root, hier, path, unreachable)
    if unreachable:
        notes.append({"code": "cgroup_subtree_unreadable",
                      "text": f"{path}: {len(unreachable)} descendant cgroup(s) could not be "
                              f"read ({root.display(unreachable[0])}: permission denied or "
                              "unreachable): their processes are not in pids"})
    procs, unreadable = [], 0
    users = users or Users(root)
    opts = Options()
    members: Optional[List[int]] = None if pids is None else []
    # memscope itself is not a member to report (top leaves it out too; only on the live
    # host is one of the pids memscope)
    me = os.getpid() if root.live else None
    for pid in pids or ():
        if pid == me:
            continue
        res = known.get(pid) if known is not None else None
        if res is None:
            try:
                res = read_process(root, pid, opts, users)
            except (ParseError, MemscopeError):
                unreadable += 1
                if members is not None:
                    members.append(pid)  # a member, its figures unknown
                continue
            if known is not None:
                known[pid] = res
        if res.kind in ("kernel", "zombie", "self"):
            continue  # as top: kernel threads (the root's cgroup.procs lists them), zombies
        if members is not None:
            members.append(pid)
        if res.kind in ("ok", "denied", "capped"):
            procs.append(res.doc)
            if res.kind != "ok":
                unreadable += 1
    add_members(doc, members, procs, unreadable)
    if unreadable:
        notes.append({"code": "members_unreadable",
                      "text": f"{path}: {unreadable} member process(es) could not be read "
                              f"fully ({denied_hint()}): procs_pss and residual are "
                              "null"})
    return ordered(doc)


def children_of(root: Root, hier: Hierarchy, path: str) -> List[str]:
    rel = hier.rel(path)
    base = "" if path == "/" else path
    return [f"{base}/{name}" for name in root.subdirs(rel)]


def read_children(root: Root, hier: Hierarchy, path: str,
                  notes: List[Dict[str, str]]) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The parent and its direct children, largest usage first; children removed while
    being read are skipped and counted in a note."""
    from memscope.collect.procs import Users

    users = Users(root)
    known: Dict[int, Any] = {}
    parent = read_cgroup(root, hier, path, notes, users, known)
    kids, gone = [], 0
    for child in children_of(root, hier, path):
        try:
            kids.append(read_cgroup(root, hier, child, notes, users, known))
        except MemscopeError:
            if root.isdir(hier.rel(child)):
                raise
            gone += 1
    if gone:
        notes.append({"code": "cgroups_vanished",
                      "text": f"{gone} child cgroup(s) of {path} were removed while being "
                              "read and are not shown"})
    return parent, kids


def container_view(root: Root, total: int) -> Optional[Dict[str, Any]]:
    """summary's ``container``: memscope's own cgroup when it, or an ancestor, has a
    memory limit below MemTotal (the docker / kubernetes case, where /proc/meminfo shows
    the host). None when there is no such limit, or no memory hierarchy."""
    from memscope.parsers.memcg import memory_cgroup

    try:
        hier = find_hierarchy(root)
    except MemscopeError:
        return None
    text = root.read_optional("proc/self/cgroup")
    path = memory_cgroup(text) if text else "/"
    if path is None or ".." in path.split("/"):
        return None
    probe = path
    while True:
        rel = hier.rel(probe)
        if root.isdir(rel):
            files = read_files_quiet(root, hier, probe)
            notes: List[Dict[str, str]] = []
            doc = build_cgroup(probe, hier.version, files, probe == "/", notes)
            if doc["limit"] is not None and doc["limit"] < total:
                working = doc["working_set"]
                return {"path": probe, "version": hier.version, "limit": doc["limit"],
                        "usage": doc["usage"], "working_set": working,
                        "headroom": None if working is None else doc["limit"] - working}
        if probe == "/":
            return None
        probe = posixpath.dirname(probe)


def read_files_quiet(root: Root, hier: Hierarchy, path: str) -> Dict[str, Any]:
    try:
        return read_files(root, hier, path)
    except (MemscopeError, ParseError):
        return {}


def read_tree(root: Root, hier: Hierarchy, path: str, notes: List[Dict[str, str]],
              depth: Optional[int] = None) -> List[Dict[str, Any]]:
    """``cgroup --tree``: PATH and its descendants (to ``depth`` levels below it), parents
    before children, siblings by usage (largest first). Each is the cgroup object without
    its member processes (no reconciliation: the tree reads the cgroup files only), with
    ``depth`` and ``own_usage``: its usage less its children's (its own processes'
    charges, and what children since removed left behind); null where a usage is
    unknown."""
    out: List[Dict[str, Any]] = []
    gone = [0]

    limit_file = LIMIT_FILE[hier.version]

    def visit(p: str, level: int, chain: List[Tuple[str, Optional[int]]]
              ) -> Optional[Dict[str, Any]]:
        # chain: [(ancestor, its own limit)], parent first, for the effective limit
        try:
            files = read_files(root, hier, p, notes)
            doc = build_cgroup(p, hier.version, files, p == "/", notes, chain, hier.display)
        except MemscopeError:
            if p != path and not root.isdir(hier.rel(p)):
                gone[0] += 1
                return None
            raise
        at = len(out)
        out.append(doc)
        kids: Optional[List[Dict[str, Any]]] = None
        if depth is None or level < depth:
            kids = []
            try:
                names = children_of(root, hier, p)
            except NotFound:
                names = []
            subtrees = []
            for child in names:
                start = len(out)
                kid = visit(child, level + 1, [(p, files.get(limit_file))] + chain)
                if kid is not None:
                    kids.append(kid)
                    subtrees.append((-(kid["usage"] or 0), kid["path"], out[start:]))
                del out[start:]
            for _, _, sub in sorted(subtrees, key=lambda t: (t[0], t[1])):
                out.extend(sub)
        out[at] = tree_node(doc, level, kids)
        return doc

    visit(path, 0, ancestor_limits(root, hier, path))
    if gone[0]:
        notes.append({"code": "cgroups_vanished",
                      "text": f"{gone[0]} cgroup(s) under {path} were removed while being "
                              "read and are not shown"})
    return out
