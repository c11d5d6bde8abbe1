"""`memscope cache`: the document, built from running sums and bounded rankings (no I/O).

A scan of a million files must not hold a million records: files and directories are
offered to a ``Ranking`` that keeps only the N largest by the sort key (a heap), and totals
are running sums (``Sums``). Machine output (the issue's contract, docs/cache.md)::

    {schema_version, source ("cachestat" | "mincore"), page_size, sort, top (null: all),
     files: [{path, size, cached, dirty, writeback, evicted, recently_evicted}],
     directories: [{path, files, size, cached, dirty, writeback, evicted,
                    recently_evicted}],
     totals{files, size, cached, dirty, writeback, evicted, recently_evicted, directories,
            skipped, symlinks_not_followed, duplicates},
     system_cached, skipped: [{path, reason}], notes: [{code, text}]}

With ``--procs`` each file also carries ``deleted``, ``pids`` and ``programs``.
"""

from __future__ import annotations

import heapq
from typing import Any, Callable, Dict, List, Optional

# The figures after size; cachestat knows them all, mincore only ``cached``.
STATS = ("cached", "dirty", "writeback", "evicted", "recently_evicted")
SORTS = ("cached", "size", "dirty", "evicted")
# At most this many skipped files are named; all are counted.
MAX_SKIPPED = 1000
# what holds no page cache: skipped (the reason starts with the kind) and named, never a
# failure to warn about
NO_CACHE_KINDS = ("FIFO", "socket", "character device", "block device")


class Sums:
    """Running totals of the files measured: count, size, and each figure, with how many
    files the figure was unknown for (mincore cannot tell dirty, writeback, evicted)."""

    __slots__ = ("files", "size", "cached", "dirty", "writeback", "evicted",
                 "recently_evicted", "unknown")

    def __init__(self) -> None:
        self.files = self.size = self.cached = self.dirty = self.writeback = 0
        self.evicted = self.recently_evicted = self.unknown = 0

    def add(self, size: int, figures) -> None:
        cached, dirty, writeback, evicted, recent = figures
        self.files += 1
        self.size += size
        self.cached += cached
        if dirty is None:
            self.unknown += 1
        else:
            self.dirty += dirty
            self.writeback += writeback
            self.evicted += evicted
            self.recently_evicted += recent

    def merge(self, other: "Sums") -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> Dict[str, Optional[int]]:
        """Figures unknown for every file are null; for some files, a lower bound (the
        caller notes it)."""
        known = self.files == 0 or self.unknown < self.files
        out: Dict[str, Optional[int]] = {"files": self.files, "size": self.size,
                                         "cached": self.cached}
        for name in STATS[1:]:
            out[name] = getattr(self, name) if known else None
        return out


def sort_key(value: Optional[int]) -> int:
    """Unknown sorts after every known figure, zero included."""
    return -1 if value is None else value


class Ranking:
    """The ``n`` largest records by key (all of them when ``n`` is 0), in bounded memory.
    Keys are anything ordered (the scan uses tuples: figure, cached, size)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._heap: List[Any] = []
        self._count = 0

    def wants(self, key) -> bool:
        """Would a record with this key be kept? (Build records only for those.)"""
        return not self.n or len(self._heap) < self.n or key > self._heap[0][0]

    def offer(self, key, make: Callable[[], Dict[str, Any]]) -> None:
        if not self.wants(key):
            return
        self._count += 1
        item = (key, -self._count, make())
        if self.n and len(self._heap) >= self.n:
            heapq.heapreplace(self._heap, item)
        else:
            heapq.heappush(self._heap, item)

    def sorted(self, by: str) -> List[Dict[str, Any]]:
        """Largest first: by ``by`` (unknown last), then cached bytes, size, path."""
        return sorted((rec for _k, _c, rec in self._heap),
                      key=lambda r: (-sort_key(r.get(by)), -r["cached"], -r["size"],
                                     r["path"]))


def shown(path: str) -> str:
    """A file name as every name memscope prints (docs/contract.md "General rules"): bytes
    that are not UTF-8 stay surrogate escapes (os.fsdecode), written losslessly by each
    format (JSON \\udcHH, YAML !!binary, Prometheus \\xHH, tables ?)."""
    return path


def file_record(path: str, size: int, figures) -> Dict[str, Any]:
    cached, dirty, writeback, evicted, recent = figures
    return {"path": shown(path), "size": size, "cached": cached, "dirty": dirty,
            "writeback": writeback, "evicted": evicted, "recently_evicted": recent}


def directory_record(path: str, sums: Sums) -> Dict[str, Any]:
    rec: Dict[str, Any] = {"path": shown(path)}
    rec.update(sums.as_dict())
    return rec


def build_cache(source: str, page_size: int, sort: str, top: int, files: List[Dict[str, Any]],
                directories: List[Dict[str, Any]], totals: Sums, extra: Dict[str, int],
                system_cached: Optional[int], skipped: List[Dict[str, str]],
                notes, processes: Optional[int] = None) -> Dict[str, Any]:
    """The ``cache`` document; ``processes``: how many processes ``--procs`` looked at (the
    files are then theirs, and the document says ``procs: true``)."""
    from memscope import SCHEMA_VERSION

    t: Dict[str, Any] = totals.as_dict()
    t.update(extra)
    if 0 < totals.unknown < totals.files:
        notes.add("figures_partial", f"{totals.unknown} file(s) could be measured only with "
                  "mincore (cached bytes only): dirty, writeback and evicted totals leave "
                  "them out")
    if source == "mincore":
        notes.add("mincore", "this kernel has no cachestat system call (Linux 6.5+), or it "
                  "is filtered: residency comes from mincore, which tells cached bytes only "
                  "(dirty, writeback, evicted are null)")
    if source == "mincore" and sort in ("dirty", "evicted"):
        notes.add("sort_unknown", f"mincore cannot tell {sort} bytes: files are ranked by "
                  "cached bytes instead")
    if t["skipped"] > len(skipped):
        notes.add("skipped_truncated", f"{t['skipped']} files were skipped; the first "
                  f"{len(skipped)} are named")
    doc = {"schema_version": SCHEMA_VERSION, "source": source, "page_size": page_size,
           "sort": sort, "top": top or None, "files": files, "directories": directories,
           "totals": t, "system_cached": system_cached, "skipped": skipped,
           "notes": notes.items}
    if processes is not None:
        t["processes"] = processes
        doc["procs"] = True
    return doc
