"""Per-process memory (``proc`` and ``top``): the RSS split, PSS and its parts, USS, swap,
hugetlb, ... from smaps_rollup (or summed smaps) and status. KERNEL.md §6.

Which file each figure comes from is recorded, because status counters were approximate on
many kernels (per-thread batching, 2.6.34-6.1) while smaps walks the page tables.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional, Tuple

from memscope.parsers.smaps import Smaps
from memscope.parsers.status import Status

# The keys of a process object (SPEC.md "proc"), in order.
PROCESS_KEYS = ("pid", "name", "cmdline", "user", "rss", "pss", "uss", "shared", "swap",
                "swap_pss", "rss_anon", "rss_file", "rss_shmem", "pss_anon", "pss_file",
                "pss_shmem", "locked", "anon_huge", "hugetlb", "vsz", "oom_score", "source")
SIZE_KEYS = ("rss", "pss", "uss", "shared", "swap", "swap_pss", "rss_anon", "rss_file",
             "rss_shmem", "pss_anon", "pss_file", "pss_shmem", "locked", "anon_huge",
             "hugetlb", "vsz")


def _sum(fields: Dict[str, int], *keys: str) -> Optional[int]:
    vals = [fields[k] for k in keys if k in fields]
    return sum(vals) if vals else None


def build_process(pid: int, status: Optional[Status], counters: Optional[Dict[str, int]],
                  source: str, cmdline: Optional[str], user: Optional[str],
                  oom_score: Optional[int], name: Optional[str] = None
                  ) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """One process object, and which file each of its figures came from.

    ``counters`` are smaps_rollup's (or summed smaps') in bytes and ``source`` names that
    file; with only status readable, ``counters`` is None, ``source`` is "status" and pss,
    uss and their kin are null.
    """
    st = status.fields if status is not None else {}
    c = counters or {}
    doc: Dict[str, Any] = {
        "pid": pid,
        "name": name if name is not None else (status.name if status else None),
        "cmdline": cmdline,
        "user": user,
    }
    sources: Dict[str, str] = {}

    def put(key: str, value: Optional[int], where: str) -> None:
        doc[key] = value
        if value is not None:
            sources[key] = where

    if counters is not None:
        put("rss", c.get("Rss"), source)
        put("pss", c.get("Pss"), source)
        put("uss", _sum(c, "Private_Clean", "Private_Dirty"), source)
        put("shared", _sum(c, "Shared_Clean", "Shared_Dirty"), source)
        put("swap", c.get("Swap"), source)
        put("swap_pss", c.get("SwapPss"), source)
    else:
        put("rss", st.get("VmRSS"), "status")
        for key in ("pss", "uss", "shared"):
            put(key, None, "")
        put("swap", st.get("VmSwap"), "status")
        put("swap_pss", None, "")
    if "RssAnon" in st or counters is None:
        put("rss_anon", st.get("RssAnon"), "status")
    else:
        put("rss_anon", c.get("Anonymous"), source)  # before 4.5: smaps' Anonymous
    put("rss_file", st.get("RssFile"), "status")
    put("rss_shmem", st.get("RssShmem"), "status")
    rollup = source == "smaps_rollup"
    for key, field in (("pss_anon", "Pss_Anon"), ("pss_file", "Pss_File"),
                       ("pss_shmem", "Pss_Shmem")):
        put(key, c.get(field) if rollup else None, source)
    put("locked", c.get("Locked"), source)
    put("anon_huge", c.get("AnonHugePages"), source)
    if "Shared_Hugetlb" in c or "Private_Hugetlb" in c:
        put("hugetlb", _sum(c, "Shared_Hugetlb", "Private_Hugetlb"), source)
    else:
        put("hugetlb", st.get("HugetlbPages"), "status")
    put("vsz", st.get("VmSize"), "status")
    put("oom_score", oom_score, "oom_score")
    doc["source"] = source
    return doc, sources


# ---------------------------------------------------------------------------------------
# Per-mapping view (``proc --maps``): pmap-like, one row per distinct path


SPECIAL = {"[heap]": "heap", "[stack]": "stack", "[vdso]": "vdso", "[vvar]": "vdso",
           "[vvar_vclock]": "vdso", "[vsyscall]": "vdso", "[sigpage]": "vdso",
           "[vectors]": "vdso", "[uprobes]": "vdso"}
_SYSV = re.compile(r"/SYSV[0-9a-f]{8}( \(deleted\))?\Z")


class ShmemMounts:
    """Decides whether a path lives on a shmem filesystem (tmpfs, shm, devtmpfs is not),
    from the mount table: longest mount point that is a prefix of the path."""

    SHMEM_TYPES = frozenset(["tmpfs", "shm", "ramfs"])

    def __init__(self, mounts: Optional[Iterable]):
        self.known = mounts is not None
        self.points = sorted(((mp, fstype) for _dev, mp, fstype in (mounts or ())),
                             key=lambda x: len(x[0]), reverse=True)

    def fstype(self, path: str) -> Optional[str]:
        for point, fstype in self.points:
            if path == point or path.startswith(point.rstrip("/") + "/"):
                return fstype
        return None

    def is_shmem(self, path: str) -> bool:
        return self.fstype(path) in self.SHMEM_TYPES


def categorize(path: str, vmflags: str, shmem: ShmemMounts) -> str:
    if "ht" in vmflags.split():
        return "hugetlb"
    if not path:
        return "anon"
    special = SPECIAL.get(path)
    if special:
        return special
    if path.startswith("[stack:"):
        return "stack"  # < 4.5: thread stacks were named
    if path.startswith("[anon_shmem:"):
        return "shmem"
    if path.startswith("["):
        return "anon"  # [anon:name] (5.17+), other named anonymous areas
    if _SYSV.match(path) or path.startswith("/memfd:") or path.startswith("/dev/zero"):
        return "shmem"  # SysV segments, memfd, MAP_SHARED|MAP_ANONYMOUS
    bare = path[:-len(" (deleted)")] if path.endswith(" (deleted)") else path
    if shmem.is_shmem(bare):
        return "shmem"
    if not shmem.known and bare.startswith(("/dev/shm/", "/run/shm/")):
        return "shmem"  # no mount table (a captured tree): the conventional shm mounts
    return "file"


FOLDED = ("heap", "stack", "anon")


def build_mappings(smaps: Smaps, shmem: ShmemMounts) -> List[Dict[str, Any]]:
    """Rows of the per-mapping table: one per distinct path, except heap, stack and
    anonymous mappings, one row each category. Sizes in bytes."""
    cols = smaps.columns
    zeros = [0] * len(smaps)
    size, rss, pss = cols.get("Size", zeros), cols.get("Rss", zeros), cols.get("Pss", zeros)
    pc, pd = cols.get("Private_Clean", zeros), cols.get("Private_Dirty", zeros)
    swap = cols.get("Swap", zeros)
    flags = smaps.vmflags or [""] * len(smaps)
    rows: Dict[tuple, List[int]] = {}
    for i, header in enumerate(smaps.headers):
        parts = header.split(None, 5)
        path = parts[5] if len(parts) > 5 else ""
        category = categorize(path, flags[i], shmem)
        key = (category, None if category in FOLDED else path)
        row = rows.get(key)
        if row is None:
            row = rows[key] = [0, 0, 0, 0, 0, 0]
        row[0] += 1
        row[1] += size[i]
        row[2] += rss[i]
        row[3] += pss[i]
        row[4] += pc[i] + pd[i]
        row[5] += swap[i]
    return [{"category": cat, "path": path, "count": r[0], "size": r[1] << 10,
             "rss": r[2] << 10, "pss": r[3] << 10, "uss": r[4] << 10, "swap": r[5] << 10}
            for (cat, path), r in rows.items()]
