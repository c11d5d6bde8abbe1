"""One model for a memory cgroup, v1 or v2 (docs/kernel.md §7; docs/contract.md "cgroup").

v2 names are the model's; v1 maps onto them (docs/kernel.md §7.3): hierarchical ``total_*``
stat keys, usage_in_bytes (which includes kernel memory on v1), kernel and sock from
kmem.usage_in_bytes and kmem.tcp.usage_in_bytes, swap from stat ``total_swap`` (never
memsw − usage: the two are read at different instants). A figure a version lacks is null.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

# model field -> v2 memory.stat key, v1 memory.stat key (hierarchical)
STAT_MAP = [
    ("anon", "anon", "total_rss"),
    ("file", "file", "total_cache"),
    ("shmem", "shmem", "total_shmem"),
    ("slab", "slab", None),
    ("kernel_stack", "kernel_stack", None),
    ("page_tables", "pagetables", None),
    ("active_anon", "active_anon", "total_active_anon"),
    ("inactive_anon", "inactive_anon", "total_inactive_anon"),
    ("active_file", "active_file", "total_active_file"),
    ("inactive_file", "inactive_file", "total_inactive_file"),
    ("unevictable", "unevictable", "total_unevictable"),
    ("file_mapped", "file_mapped", "total_mapped_file"),
    ("file_dirty", "file_dirty", "total_dirty"),
    ("file_writeback", "file_writeback", "total_writeback"),
]
EVENT_KEYS = ("low", "high", "max", "oom", "oom_kill")


def _v1_stat(stat: Dict[str, int], key: Optional[str]) -> Optional[int]:
    """A v1 stat figure: the hierarchical total_* key, else (very old kernels, or a root
    without hierarchy) the local one."""
    if key is None:
        return None
    if key in stat:
        return stat[key]
    return stat.get(key[len("total_"):])


def build_cgroup(path: str, version: int, files: Dict[str, Any], is_root: bool,
                 notes: List[Dict[str, str]], ancestors: Optional[List[Any]] = None,
                 mount: Optional[str] = None) -> Dict[str, Any]:
    """The cgroup object, less process membership and reconciliation (added by
    add_members). ``files`` maps file names to parsed values (None where absent);
    ``ancestors`` is [(path, own limit or None)] from the parent up to the root, for the
    limit that applies (None: not read); ``mount``: where the hierarchy is mounted, as the
    user knows it, for ``full_path``."""
    stat: Dict[str, int] = files.get("memory.stat") or {}
    doc: Dict[str, Any] = {"path": path, "version": version}
    if version == 2:
        usage = files.get("memory.current")
        if is_root and usage is None and "anon" in stat and "file" in stat:
            # runc's rule: the root has no memory.current
            usage = stat["anon"] + stat["file"]
            notes.append({"code": "root_usage_rule",
                          "text": f"{path}: the root cgroup has no memory.current; usage is "
                                  "anon + file of its memory.stat (runc's rule); "
                                  "comparable_usage adds kernel and sock, as its children's "
                                  "memory.current counts them"})
        doc.update({
            "usage": usage,
            "limit": files.get("memory.max"),
            "unlimited": None if "memory.max" not in files else files["memory.max"] is None,
            "high": files.get("memory.high"),
            "peak": files.get("memory.peak"),
            "swap": files.get("memory.swap.current"),
        })
        for field, key, _ in STAT_MAP:
            doc[field] = stat.get(key)
        doc["kernel"] = stat.get("kernel")
        doc["sock"] = stat.get("sock")
        events = files.get("memory.events") or {}
        doc["events"] = {k: events.get(k) for k in EVENT_KEYS}
        swap_cache = stat.get("swapcached")
        doc["under_oom"] = None  # v2 has no such state file: memory.events oom counts
        doc["memsw_failcnt"] = None
        # v2 limits nest: the one that applies is the smallest memory.max on the way up
        # (Documentation/admin-guide/cgroup-v2.rst, "memory.max")
        effective, set_by = doc["limit"], path if doc["limit"] is not None else None
        if ancestors is not None:
            for up, limit in ancestors:
                if limit is not None and (effective is None or limit < effective):
                    effective, set_by = limit, up
        elif effective is None:
            set_by = None
        doc["effective_limit"], doc["limit_set_by"] = effective, set_by
        comparable = usage
        if is_root and files.get("memory.current") is None and usage is not None:
            # runc's rule (anon + file) leaves out what children's memory.current holds
            # besides: kernel memory and socket buffers
            comparable = usage + (stat.get("kernel") or 0) + (stat.get("sock") or 0)
    else:
        usage = files.get("memory.usage_in_bytes")
        if is_root and usage is not None:
            notes.append({"code": "root_usage_rule",
                          "text": f"{path}: the v1 root's usage_in_bytes is computed from "
                                  "global counters (page cache + anon, + swap), not charged, "
                                  "and leaves kernel memory out; comparable_usage adds "
                                  "kmem.usage_in_bytes, as its children's usage counts it"})
        limit = files.get("memory.limit_in_bytes")
        unlimited = None if "memory.limit_in_bytes" not in files else limit is None
        if unlimited is None and "hierarchical_memory_limit" in stat:
            # no limit_in_bytes under this root: the effective (hierarchical) limit
            from memscope.parsers.memcg import UNLIMITED

            h = stat["hierarchical_memory_limit"]
            limit = None if h >= UNLIMITED else h
            unlimited = limit is None
        doc.update({
            "usage": usage,
            "limit": limit,
            "unlimited": unlimited,
            "high": None,  # soft_limit_in_bytes is not memory.high (docs/kernel.md §7.3)
            "peak": files.get("memory.max_usage_in_bytes"),
            "swap": _v1_stat(stat, "total_swap"),
        })
        for field, _, key in STAT_MAP:
            doc[field] = _v1_stat(stat, key)
        doc["kernel"] = files.get("memory.kmem.usage_in_bytes")
        doc["sock"] = files.get("memory.kmem.tcp.usage_in_bytes")
        oom = files.get("memory.oom_control") or {}
        doc["events"] = {"low": None, "high": None, "max": files.get("memory.failcnt"),
                         "oom": None, "oom_kill": oom.get("oom_kill")}
        swap_cache = _v1_stat(stat, "total_swapcached")
        doc["under_oom"] = None if "under_oom" not in oom else bool(oom["under_oom"])
        doc["memsw_failcnt"] = files.get("memory.memsw.failcnt")
        doc["effective_limit"], doc["limit_set_by"] = _v1_effective(
            path, limit, stat, ancestors)
        comparable = usage
        if is_root and usage is not None:
            # The v1 root's usage_in_bytes is anon + page cache from global counters
            # (mem_cgroup_usage(), mm/memcontrol-v1.c): no kernel memory. A child's is its
            # page counter, which kernel memory is charged to as well (memcg1_account_kmem),
            # and so is the root's kmem counter: compare like with like.
            comparable = usage + (doc["kernel"] or 0)
    doc["comparable_usage"] = comparable
    inactive = doc["inactive_file"]
    doc["working_set"] = None if usage is None else max(0, usage - (inactive or 0))
    doc["pressure"] = files.get("memory.pressure")
    if mount is not None:
        doc["full_path"] = mount + ("" if path == "/" else path)
    doc["_swap_cache"] = swap_cache
    doc["stat"] = stat
    return doc


def _v1_effective(path: str, limit: Optional[int], stat: Dict[str, int],
                  ancestors: Optional[List[Any]]) -> Any:
    """v1: the kernel's own answer is memory.stat hierarchical_memory_limit (the smallest
    limit_in_bytes from here to the root, mm/memcontrol-v1.c); the ancestor that sets it is
    the nearest whose own limit equals it."""
    from memscope.parsers.memcg import UNLIMITED

    effective = limit
    if "hierarchical_memory_limit" in stat:
        h = stat["hierarchical_memory_limit"]
        effective = None if h >= UNLIMITED else h
    elif ancestors is not None:
        for _up, up_limit in ancestors:
            if up_limit is not None and (effective is None or up_limit < effective):
                effective = up_limit
    if effective is None:
        return None, None
    if limit == effective:
        return effective, path
    for up, up_limit in ancestors or ():
        if up_limit == effective:
            return effective, up
    return effective, None  # an ancestor this root does not hold


def tree_node(doc: Dict[str, Any], depth: int,
              kids: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """A cgroup of ``cgroup --tree``: the cgroup object without member processes (the tree
    reads cgroup files only), its ``depth`` below the tree's top, and ``own_usage``: its
    usage less its children's (null where a usage is unknown, or ``kids`` None: its
    children were not read)."""
    doc.pop("_swap_cache", None)
    doc.pop("stat", None)
    doc["depth"] = depth
    doc["own_usage"] = None if kids is None else own_share(doc, kids)
    return doc


def own_share(parent: Dict[str, Any], kids: List[Dict[str, Any]]) -> Optional[int]:
    """Usage of the parent not explained by its children (its own processes' charges,
    and charges left by children already removed), like with like: the root's usage rule
    leaves kernel memory out, so its ``comparable_usage`` is used."""
    usage = parent.get("comparable_usage", parent["usage"])
    if usage is None or any(k["usage"] is None for k in kids):
        return None
    return usage - sum(k["usage"] for k in kids)


def build_cgroup_document(cgroups: List[Dict[str, Any]], notes: List[Dict[str, str]],
                          parent: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The ``cgroup`` command's document (docs/contract.md "cgroup"): the cgroups as read, or with
    ``parent`` (--children) the children, largest usage first, and the parent's own
    share; notes once each."""
    from memscope import SCHEMA_VERSION

    doc: Dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    if parent is not None:
        kids = sorted(cgroups, key=lambda c: (-(c["usage"] or 0), c["path"]))
        doc["cgroups"] = kids
        doc["parent"] = {"path": parent["path"], "usage": parent["usage"],
                         "comparable_usage": parent.get("comparable_usage"),
                         "own_usage": own_share(parent, kids)}
    else:
        doc["cgroups"] = list(cgroups)
    unique: List[Dict[str, str]] = []
    for note in notes:
        if note not in unique:
            unique.append(note)
    doc["notes"] = unique
    return doc


def add_members(doc: Dict[str, Any], pids: Optional[List[int]], procs: List[Any],
                unreadable: int) -> None:
    """process_count, pids and reconciliation: usage against its member processes.

    usage = procs_pss + unmapped_file + kernel + swap_cache + residual, where residual is
    what can't be told apart without root-only page flags: pages charged here but mapped
    by processes elsewhere, or mapped here and charged elsewhere, and the per-CPU charge
    stock (docs/kernel.md §7.4).
    """
    swap_cache = doc.pop("_swap_cache")
    stat = doc.pop("stat")
    doc["process_count"] = None if pids is None else len(pids)
    doc["pids"] = pids
    rss = [p["rss"] for p in procs if p["rss"] is not None]
    pss = [p["pss"] for p in procs if p["pss"] is not None]
    procs_rss = None if pids is None else sum(rss)
    procs_pss = sum(pss) if pids is not None and len(pss) == len(procs) and not unreadable \
        else None
    unmapped = None
    if doc["file"] is not None and doc["file_mapped"] is not None:
        unmapped = max(0, doc["file"] - doc["file_mapped"])
    residual = None
    if doc["usage"] is not None and procs_pss is not None and unmapped is not None:
        residual = doc["usage"] - procs_pss - unmapped - (doc["kernel"] or 0) - \
            (swap_cache or 0)
    doc["reconciliation"] = {"procs_rss": procs_rss, "procs_pss": procs_pss,
                             "unmapped_file": unmapped, "kernel": doc["kernel"],
                             "swap_cache": swap_cache, "residual": residual}
    doc["stat"] = stat


CGROUP_KEYS = ("path", "version", "usage", "comparable_usage", "limit", "unlimited",
               "effective_limit", "limit_set_by", "high", "peak", "swap", "anon", "file",
               "shmem", "kernel", "slab", "sock", "kernel_stack", "page_tables",
               "active_anon", "inactive_anon", "active_file", "inactive_file", "unevictable",
               "file_mapped", "file_dirty", "file_writeback", "working_set", "events",
               "under_oom", "memsw_failcnt",
               "pressure", "process_count", "pids", "reconciliation", "full_path", "stat")


def ordered(doc: Dict[str, Any]) -> Dict[str, Any]:
    return {k: doc.get(k) for k in CGROUP_KEYS}
