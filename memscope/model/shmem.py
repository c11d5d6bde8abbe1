"""``memscope shmem``: who holds Shmem (docs/contract.md "shmem"; docs/kernel.md §1.1).
Pure: the reading is memscope.collect.views.collect_shmem's.

Shmem counts tmpfs/shm files, SysV segments, memfd and shared anonymous memory. hugetlb is
not in it, whatever the interface used to get the pages: a SysV segment made with
SHM_HUGETLB and a memfd made with MFD_HUGETLB live on the internal hugetlbfs mount and are
counted in HugePages_*/Hugetlb (mm/hugetlb.c), never in NR_SHMEM. They are shown apart,
under ``hugetlb``, and kept out of the attribution.

/proc/sysvipc/shm's rss column is not to be trusted for hugetlb segments: shm_add_rss_swap()
(ipc/shm.c) multiplies the hugetlb mapping's nrpages by pages_per_huge_page(), and since
the page cache counts a huge folio as 512 base pages in nrpages (6.x folios), a 2 MiB-page
segment reads 512 times its size. rss above the segment's size (rounded up to its page) is
clamped and noted (``sysvipc_rss_implausible``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from memscope.model import Notes
from memscope.model.process import ShmemMounts, categorize

# One mapping of interest in one process's smaps: what collect hands over.
#   (path, dev, inode, vmflags, pss_bytes, hugetlb_bytes)
MappedRecord = Tuple[str, str, int, str, int, int]


class ShmemInputs:
    """What collect_shmem read; sizes in bytes."""

    def __init__(self, shmem: Optional[int], mounts_table: Optional[Sequence],
                 mount_rows: List[Dict[str, Any]], segments: List[Dict[str, Any]],
                 mapped: Dict[int, List[MappedRecord]], denied: int, page_size: int,
                 swap_used: Optional[int], no_maps: int = 0):
        self.shmem = shmem                # meminfo Shmem
        self.mounts_table = mounts_table  # parsed /proc/self/mounts (None: none)
        self.mount_rows = mount_rows      # [{mountpoint, fstype, used}]
        self.segments = segments          # /proc/sysvipc/shm rows, "owner" resolved
        self.mapped = mapped              # pid -> records of shmem/hugetlb/SysV mappings
        self.denied = denied              # processes whose maps or smaps were unreadable
        self.page_size = page_size
        self.swap_used = swap_used        # SwapTotal - SwapFree (None: unknown)
        self.no_maps = no_maps            # processes with no maps under the root


SYSV_PREFIX = "/SYSV"


def _round_up(n: int, unit: int) -> int:
    return -(-n // unit) * unit


def build_shmem(inp: ShmemInputs, notes: Optional[Notes] = None) -> Dict[str, Any]:
    """The ``shmem`` document; its notes follow ``notes`` (what the reading found)."""
    from memscope import SCHEMA_VERSION

    notes = Notes() if notes is None else notes
    if inp.no_maps:
        notes.add("maps_missing", f"{inp.no_maps} process(es) have no maps under this root "
                  "(a snapshot taken without --maps, or whose capture could not read "
                  "them): the shmem objects they map are not named, and what they hold is "
                  "left in unattributed")
    table = ShmemMounts(inp.mounts_table)
    # Per object mapped by processes: shmem (memfd, shm files, shared anonymous) or hugetlb
    # (the VMA's "ht" flag: SHM_HUGETLB segments, MFD_HUGETLB memfds, hugetlbfs files).
    objects: Dict[Tuple[str, int, str], Dict[str, Any]] = {}
    huge_sysv: Dict[int, Dict[str, Any]] = {}  # shmid -> {pids, rss}
    for pid in sorted(inp.mapped):
        for path, dev, inode, flags, pss, huge in inp.mapped[pid]:
            category = categorize(path, flags, table)
            if path.startswith(SYSV_PREFIX):
                if category == "hugetlb":
                    seg = huge_sysv.setdefault(inode, {"pids": [], "rss": 0})
                    if pid not in seg["pids"]:
                        seg["pids"].append(pid)
                    seg["rss"] = max(seg["rss"], huge)  # every mapper sees the same pages
                continue  # SysV segments are counted from /proc/sysvipc/shm
            if category not in ("shmem", "hugetlb"):
                continue
            entry = objects.setdefault((dev, inode, path), {
                "path": path, "inode": inode, "pids": [], "rss": 0,
                "hugetlb": category == "hugetlb"})
            if pid not in entry["pids"]:
                entry["pids"].append(pid)
            if entry["hugetlb"]:
                entry["rss"] = max(entry["rss"], huge)
            else:
                entry["rss"] += pss  # Σ Pss over mappers = the resident mapped bytes
    sysv, hugetlb, implausible = [], [], []
    for seg in inp.segments:
        size, rss = seg.get("size"), seg.get("rss")
        shmid = seg.get("shmid")
        mappers = huge_sysv.get(shmid)
        is_huge = mappers is not None
        if size is not None and rss is not None and \
                rss > _round_up(size, inp.page_size):
            # only hugetlb's accounting (above) reports more than the segment holds:
            # what its mappers hold, else at most its size
            implausible.append((shmid, rss, size))
            is_huge = True
            rss = mappers["rss"] if mappers else size
        row = {"key": "0x%08x" % (seg["key"] & 0xffffffff), "shmid": shmid,
               "owner": seg.get("owner"), "size": size, "rss": rss,
               "swap": seg.get("swap"), "attached": seg.get("nattch")}
        if is_huge:
            hugetlb.append({"kind": "sysv", "name": row["key"], "shmid": shmid,
                            "owner": row["owner"], "size": size, "rss": rss,
                            "pids": mappers["pids"] if mappers else [],
                            "attached": row["attached"]})
        else:
            sysv.append(row)
    for e in objects.values():
        if e["hugetlb"]:
            hugetlb.append({"kind": "memfd" if e["path"].startswith("/memfd:") else "file",
                            "name": e["path"], "shmid": None, "owner": None, "size": None,
                            "rss": e["rss"], "pids": e["pids"], "attached": len(e["pids"])})
    mapped_rows = sorted(({"path": e["path"], "inode": e["inode"], "pids": e["pids"],
                           "rss": e["rss"]} for e in objects.values() if not e["hugetlb"]),
                         key=lambda e: (-e["rss"], e["path"]))
    hugetlb.sort(key=lambda h: (-(h["rss"] or 0), h["name"]))
    if implausible:
        first = implausible[0]
        notes.add("sysvipc_rss_implausible",
                  f"{len(implausible)} SysV segment(s) report more resident memory than "
                  f"their size in /proc/sysvipc/shm (shmid {first[0]}: rss {first[1]} bytes, "
                  f"size {first[2]}): the kernel's count for hugetlb segments is "
                  "pages_per_huge_page times too large (ipc/shm.c shm_add_rss_swap); they "
                  "are hugetlb, shown apart, and their rss is clamped to what their mappers "
                  "hold (else to their size)")
    if hugetlb:
        notes.add("hugetlb_not_shmem",
                  f"{len(hugetlb)} hugetlb object(s) (SHM_HUGETLB segments, MFD_HUGETLB "
                  "memfds, hugetlbfs files) are shown apart: their pages are in Hugetlb "
                  "and HugePages_*, not in Shmem")
    if inp.denied:
        from memscope.errors import denied_hint

        notes.add("smaps_unreadable", f"{inp.denied} process(es) could not be inspected for "
                  f"mapped shmem objects ({denied_hint()}): what they map is unattributed")
    total = inp.shmem
    on_mounts = sum(r["used"] or 0 for r in inp.mount_rows)
    off_mounts = sum(e["rss"] for e in mapped_rows
                     if not table.is_shmem(e["path"].replace(" (deleted)", "")))
    attributed = on_mounts + sum(s["rss"] or 0 for s in sysv) + off_mounts
    unattributed = None
    unmeasured = [r["mountpoint"] for r in inp.mount_rows if r["used"] is None]
    if unmeasured:
        # a mount whose usage is not known is unknown, not 0: no remainder
        notes.add("mount_usage_unknown",
                  f"tmpfs usage is not known for {len(unmeasured)} shmem mount(s) "
                  f"({unmeasured[0]}{' ...' if len(unmeasured) > 1 else ''}): statfs failed, "
                  "or this root does not record it (a directory tree; a snapshot does): "
                  "'used' is null, and so is what is left unattributed")
    elif total is not None:
        unattributed = total - attributed
        if unattributed < 0:
            if inp.swap_used:
                cause = (f"tmpfs usage (statfs) counts pages swapped out ({inp.swap_used} "
                         "bytes of swap are in use), and Shmem does not")
            elif inp.swap_used == 0:
                cause = ("no swap is in use, so no tmpfs page is swapped out: Shmem changed "
                         "while the mounts and processes were being read")
            else:
                cause = ("tmpfs usage (statfs) counts pages swapped out, Shmem does not; "
                         "or Shmem changed while the mounts and processes were being read")
            notes.add("shmem_overcounted",
                      f"the attributed figures exceed Shmem by {-unattributed} bytes: "
                      + cause)
    return {"schema_version": SCHEMA_VERSION, "total": total, "mounts": inp.mount_rows,
            "sysv": sysv, "mapped": mapped_rows, "hugetlb": hugetlb,
            "unattributed": unattributed, "notes": notes.items}
