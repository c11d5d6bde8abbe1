"""Per-process memory (``proc`` and ``top``): the RSS split, PSS and its parts, USS, swap,
hugetlb, ... from smaps_rollup (or summed smaps) and status. docs/kernel.md §6.

Which file each figure comes from is recorded, because status counters were approximate on
many kernels (per-thread batching, 2.6.34-6.1) while smaps walks the page tables.
"""

from __future__ import annotations

import re

from memscope.parsers.maps import header_path
from memscope.parsers.smaps import Smaps
from memscope.parsers.status import Status

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional

# The keys of a process object (docs/contract.md "proc"), in order.
PROCESS_KEYS = ("pid", "name", "cmdline", "user", "rss", "pss", "uss", "shared", "swap",
                "swap_pss", "rss_anon", "rss_file", "rss_shmem", "pss_anon", "pss_file",
                "pss_shmem", "locked", "anon_huge", "hugetlb", "vsz", "oom_score", "source",
                "vm_locked", "shmem_pmd_mapped", "file_pmd_mapped", "swap_shmem")
SIZE_KEYS = ("rss", "pss", "uss", "shared", "swap", "swap_pss", "rss_anon", "rss_file",
             "rss_shmem", "pss_anon", "pss_file", "pss_shmem", "locked", "anon_huge",
             "hugetlb", "vsz", "vm_locked", "shmem_pmd_mapped", "file_pmd_mapped",
             "swap_shmem")


class Process:
    """A process object: docs/contract.md's keys as slots, read like a dict (``p["pss"]``).

    ``top`` holds one per process: a dict of 22 keys costs ~1.2 KiB, slots ~0.2 KiB, and
    docs/contract.md bounds memscope's memory at under 2 KiB per process. ``sources`` and
    ``mappings`` (``proc`` only) go in ``extra``.
    """

    __slots__ = PROCESS_KEYS + ("extra",)

    def __init__(self, *values: Any):
        for key, value in zip(PROCESS_KEYS, values):
            object.__setattr__(self, key, value)
        self.extra: Optional[Dict[str, Any]] = None

    def __getitem__(self, key: str) -> Any:
        if key in _SLOTS:
            return getattr(self, key)
        if self.extra is not None and key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key in _SLOTS:
            setattr(self, key, value)
        else:
            if self.extra is None:
                self.extra = {}
            self.extra[key] = value

    def __contains__(self, key: str) -> bool:
        return key in _SLOTS or (self.extra is not None and key in self.extra)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def as_dict(self) -> Dict[str, Any]:
        out = {key: getattr(self, key) for key in PROCESS_KEYS}
        if self.extra:
            out.update(self.extra)
        return out


_SLOTS = frozenset(PROCESS_KEYS)


def build_process(pid: int, status: Optional[Status], counters: Optional[Dict[str, int]],
                  source: str, cmdline: Optional[str], user: Optional[str],
                  oom_score: Optional[int], name: Optional[str] = None
                  ) -> Process:
    """One process object (docs/contract.md "proc"; figure_sources() says where each figure
    is from).

    ``counters`` are smaps_rollup's (or summed smaps') in bytes and ``source`` names that
    file; with only status readable, ``counters`` is None, ``source`` is "status" and pss,
    uss and their kin are null. ``top`` builds one per process: plain code, no helpers.
    """
    st = status.fields if status is not None else {}
    if counters is not None:
        c = counters
        get = c.get
        pc, pd, sc, sd = get("Private_Clean"), get("Private_Dirty"), get("Shared_Clean"), \
            get("Shared_Dirty")
        rss, pss, swap, swap_pss = get("Rss"), get("Pss"), get("Swap"), get("SwapPss")
        uss = None if pc is None and pd is None else (pc or 0) + (pd or 0)
        shared = None if sc is None and sd is None else (sc or 0) + (sd or 0)
        rss_anon = st.get("RssAnon") if "RssAnon" in st else get("Anonymous")
        rollup = source == "smaps_rollup"
        pss_anon = get("Pss_Anon") if rollup else None
        pss_file = get("Pss_File") if rollup else None
        pss_shmem = get("Pss_Shmem") if rollup else None
        # smaps Locked is proportional (a page locked by k processes counts 1/k in each:
        # smaps_account(), fs/proc/task_mmu.c); status VmLck is what mlock() locked,
        # whole, and what RLIMIT_MEMLOCK counts
        locked, anon_huge = get("Locked"), get("AnonHugePages")
        shmem_pmd, file_pmd = get("ShmemPmdMapped"), get("FilePmdMapped")
        # smaps Swap counts swapped-out shmem pages in every mapper (shmem_swap_usage(),
        # mm/shmem.c); status VmSwap counts swap entries in the page tables (MM_SWAPENTS),
        # which a swapped shmem page never leaves: the difference is the shmem part. Status
        # counters lag on kernels that batch them per thread (2.6.34-6.1), so it is capped
        # by Swap - SwapPss (SwapPss has anonymous swap only, at most all of it)
        vm_swap = st.get("VmSwap")
        swap_shmem = None
        if swap is not None and (vm_swap is not None or swap_pss is not None):
            swap_shmem = max(0, min(swap - (vm_swap if vm_swap is not None else 0),
                                    swap - (swap_pss if swap_pss is not None else 0)))
        sh, ph = get("Shared_Hugetlb"), get("Private_Hugetlb")
        hugetlb = st.get("HugetlbPages") if sh is None and ph is None else (sh or 0) + (ph or 0)
    else:
        rss, swap = st.get("VmRSS"), st.get("VmSwap")
        pss = uss = shared = swap_pss = pss_anon = pss_file = pss_shmem = None
        locked = anon_huge = shmem_pmd = file_pmd = swap_shmem = None
        rss_anon = st.get("RssAnon")
        hugetlb = st.get("HugetlbPages")
    return Process(
        pid, name if name is not None else (status.name if status else None), cmdline, user,
        rss, pss, uss, shared, swap, swap_pss,
        rss_anon, st.get("RssFile"), st.get("RssShmem"), pss_anon, pss_file, pss_shmem,
        locked, anon_huge, hugetlb, st.get("VmSize"), oom_score, source, st.get("VmLck"),
        shmem_pmd, file_pmd, swap_shmem)


def figure_sources(doc: Dict[str, Any], status: Optional[Status],
                   counters: Optional[Dict[str, int]]) -> Dict[str, str]:
    """Which file each non-null figure of a process object came from (build_process's
    choices, spelled out for ``proc``)."""
    st = status.fields if status is not None else {}
    source = doc["source"]
    if counters is None:
        from_status = set(SIZE_KEYS)
    else:
        from_status = {"rss_file", "rss_shmem", "vsz", "vm_locked"}
        if "RssAnon" in st:
            from_status.add("rss_anon")
        if "Shared_Hugetlb" not in counters and "Private_Hugetlb" not in counters:
            from_status.add("hugetlb")
    out = {key: "status" if key in from_status else source
           for key in SIZE_KEYS if doc.get(key) is not None}
    if doc.get("oom_score") is not None:
        out["oom_score"] = "oom_score"
    return out


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
        self.points = sorted(((m[1], m[2]) for m in (mounts or ())),
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
        path = header_path(header)
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
