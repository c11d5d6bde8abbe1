"""Reading processes through the Root: policy for ``proc`` and ``top``.

What a failure means is decided here (psutil's habit): a file that is missing is "the
process is gone" only when its /proc/PID directory is gone too; smaps_rollup missing beside
a live directory means a kernel before 4.14 (sum smaps instead); EACCES on smaps_rollup
(another user's process, ptrace rules) means status figures only, counted and named.

For a live ``top``, forked children may have read most processes already while the CLI was
importing (memscope.prefetch); scan() takes their results.
"""

from __future__ import annotations


from memscope.errors import NotFound, ParseError, PermissionDenied, SourceError, Unsupported
from memscope.model.process import PROCESS_KEYS, Process, build_process, figure_sources
from memscope.parsers.memcg import memory_cgroup
from memscope.parsers.smaps import parse_smaps, parse_smaps_rollup
from memscope.parsers.stat import parse_cmdline
from memscope.parsers.status import Status, parse_status
from memscope.sources import Root

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple


class Users:
    """uid -> user name: the live host's passwd database; under another root the uid as
    text (a captured tree has no passwd), unless a map is given."""

    def __init__(self, root: Root, names: Optional[Dict[int, str]] = None):
        self.live = root.live
        recorded = root.recorded("users") or {}
        self.cache: Dict[int, str] = {int(k): v for k, v in recorded.items()
                                      if str(k).isdigit() and isinstance(v, str)}
        self.cache.update(names or {})

    def __call__(self, uid: Optional[int]) -> Optional[str]:
        if uid is None:
            return None
        name = self.cache.get(uid)
        if name is None:
            name = str(uid)
            if self.live:
                import pwd

                try:
                    name = pwd.getpwuid(uid).pw_name
                except KeyError:
                    pass
            self.cache[uid] = name
        return name


class Options:
    """How much to read for each process."""

    def __init__(self, rss_only: bool = False, walk_limit: Optional[int] = None,
                 program: bool = False, cgroup: bool = False, sources: bool = False):
        self.rss_only = rss_only
        self.walk_limit = walk_limit  # bytes of RSS above which status figures are used
        self.program = program        # read /proc/PID/exe for --group-by program
        self.cgroup = cgroup          # read /proc/PID/cgroup for --group-by cgroup
        self.sources = sources        # record which file each figure came from


class Result:
    """One process read: ``kind`` is ok | denied | capped | vanished | kernel."""

    __slots__ = ("kind", "doc", "sources", "program", "cgroup", "error", "status_rss")

    def __init__(self, kind: str, doc: Optional[Dict[str, Any]] = None,
                 sources: Optional[Dict[str, str]] = None, error: Optional[str] = None):
        self.kind = kind
        self.doc = doc
        self.sources = sources
        self.program: Optional[str] = None
        self.cgroup: Optional[str] = None
        self.error = error
        self.status_rss: Optional[int] = None


def list_pids(root: Root) -> List[int]:
    return sorted(int(name) for name in root.listdir("proc") if name.isdigit())


def _optional_text(root: Root, rel: str) -> Optional[str]:
    try:
        return root.read_text(rel)
    except (NotFound, PermissionDenied, Unsupported):
        return None


def read_process(root: Root, pid: int, opts: Options, users: Users) -> Result:
    base = f"proc/{pid}"
    try:
        status: Optional[Status] = root.parse(f"{base}/status", parse_status)
    except NotFound:
        if not root.exists(base):
            return Result("vanished")
        status = None  # a captured tree without status: smaps alone
    if status is not None and not status.has_mm:
        return Result("kernel")  # kernel thread or zombie: no address space
    counters = None
    source = "status"
    kind = "ok"
    error = None
    rss = status.fields.get("VmRSS") if status is not None else None
    if opts.rss_only or (opts.walk_limit is not None and rss is not None
                         and rss > opts.walk_limit):
        kind = "capped"
    else:
        try:
            counters = root.parse(f"{base}/smaps_rollup", parse_smaps_rollup)
            source = "smaps_rollup"
            if counters is None:  # empty: the process exited while being read
                return Result("vanished")
        except NotFound:
            if not root.exists(base):
                return Result("vanished")
            try:
                smaps = root.parse(f"{base}/smaps", parse_smaps)
            except NotFound:
                if not root.exists(base):
                    return Result("vanished")
                smaps = None
            except PermissionDenied as exc:
                smaps, kind, error = None, "denied", str(exc)
            if smaps is not None:
                if not len(smaps):
                    return Result("vanished")
                counters, source = smaps.totals(), "smaps"
        except PermissionDenied as exc:
            kind, error = "denied", str(exc)
    if status is None and counters is None:
        return Result("vanished")
    raw = None
    try:
        raw = root.read_bytes(f"{base}/cmdline")
    except (NotFound, PermissionDenied, Unsupported):
        pass
    oom_text = _optional_text(root, f"{base}/oom_score")
    oom = int(oom_text) if oom_text is not None and oom_text.strip().isdigit() else None
    uid = status.uids[1] if status is not None and status.uids else None
    doc = build_process(pid, status, counters, source,
                        parse_cmdline(raw) if raw is not None else None, users(uid), oom)
    result = Result(kind, doc, figure_sources(doc, status, counters) if opts.sources else None,
                    error)
    result.status_rss = rss
    if opts.program:
        result.program = program_name(root, pid, doc)
    if opts.cgroup:
        result.cgroup = memory_cgroup(_optional_text(root, f"{base}/cgroup"))
    return result


def program_name(root: Root, pid: int, doc: Dict[str, Any]) -> str:
    """ps_mem's fold: the executable's base name; else the process name."""
    target = root.readlink(f"proc/{pid}/exe")
    if target:
        if target.endswith(" (deleted)"):
            target = target[:-len(" (deleted)")]
        return target.rsplit("/", 1)[-1]
    return doc["name"] or "?"


def encode(res: Result) -> tuple:
    """A Result as plain values, for a prefetch child to hand over (marshal)."""
    doc = res.doc
    values = tuple(getattr(doc, k) for k in PROCESS_KEYS) if doc is not None else None
    return (res.kind, values, res.error, res.status_rss)


def decode(record: tuple) -> Result:
    kind, values, error, status_rss = record
    res = Result(kind, Process(*values) if values is not None else None, None, error)
    res.status_rss = status_rss
    return res


def start_prefetch() -> None:
    """Start reading every live process in forked children (see memscope.prefetch), with
    top's default reading options."""
    import os

    from memscope import prefetch

    try:
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    except OSError:
        return
    root = Root("/")
    opts, users = Options(), Users(root)
    prefetch.start(lambda pid: encode(read_process(root, pid, opts, users)), pids)


def scan(root: Root, pids: List[int], opts: Options,
         users: Users) -> List[Tuple[int, Result]]:
    """Read every pid; results in pid order.

    On the live host with top's default reading options, the processes that prefetch
    children already read are taken from them (program and cgroup are read here).
    """
    from memscope import prefetch

    results: Dict[int, Result] = {}
    ahead = prefetch.ACTIVE
    if ahead is not None and root.live and not (opts.rss_only or opts.walk_limit is not None
                                                or opts.sources):
        prefetch.ACTIVE = None  # once: a --watch round reads afresh
        for pid, record in ahead.collect().items():
            res = decode(record)
            if res.doc is not None and opts.program:
                res.program = program_name(root, pid, res.doc)
            if res.doc is not None and opts.cgroup:
                res.cgroup = memory_cgroup(_optional_text(root, f"proc/{pid}/cgroup"))
            results[pid] = res
        helpers = set(ahead.children)  # the prefetch children themselves: gone by now
        pids = [pid for pid in pids if pid not in results and pid not in helpers]
    for pid in pids:
        try:
            results[pid] = read_process(root, pid, opts, users)
        except ParseError as exc:
            # one bad file must not hide every other process: count and name it
            results[pid] = Result("unparsable", error=str(exc))
        except SourceError as exc:
            results[pid] = Result("unreadable", error=str(exc))
    return sorted(results.items())


def mount_table(root: Root, pid: int):
    """The process's own view of the mounts (its mount namespace), else the root's."""
    from memscope.parsers.mounts import parse_mounts

    for rel in (f"proc/{pid}/mounts", "proc/self/mounts", "proc/mounts"):
        try:
            mounts = root.parse(rel, parse_mounts, optional=True)
        except PermissionDenied:
            continue
        if mounts:
            return mounts
    return None


MAP_SORTS = ("pss", "rss", "uss", "size", "swap", "count", "path", "category")


def collect_proc(root: Root, pids: List[int], maps: bool = False,
                 sort: str = "pss") -> Tuple[Dict[str, Any], List[str]]:
    """The ``proc`` document for the given pids, and warnings for stderr."""
    from memscope import SCHEMA_VERSION
    from memscope.errors import MemscopeError
    from memscope.model import Notes
    from memscope.model.process import ShmemMounts, build_mappings

    users = Users(root)
    opts = Options(sources=True)
    notes = Notes()
    warnings: List[str] = []
    processes = []
    missing, kernel = [], []
    for pid in pids:
        res = read_process(root, pid, opts, users)
        if res.kind == "vanished":
            missing.append(pid)
            continue
        if res.kind == "kernel":
            kernel.append(pid)
            continue
        doc = res.doc
        doc["sources"] = res.sources
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
            try:
                smaps = root.parse(f"proc/{pid}/smaps", parse_smaps)
            except PermissionDenied as exc:
                warnings.append(f"{exc}: no --maps for pid {pid}")
                smaps = None
            except NotFound:
                if not root.exists(f"proc/{pid}"):
                    missing.append(pid)
                    continue
                notes.add("maps_missing", f"pid {pid}: no smaps under this root")
                smaps = None
            if smaps is not None:
                mounts = mount_table(root, pid)
                if mounts is None:
                    notes.add("shmem_by_name",
                              "no mount table: shmem mappings are told by their names only "
                              "(SysV, memfd, /dev/zero, /dev/shm); files on other tmpfs "
                              "mounts show as file")
                rows = build_mappings(smaps, ShmemMounts(mounts))
                if sort in ("path", "category"):
                    rows.sort(key=lambda r: (r[sort] or "", r["category"]))
                else:
                    rows.sort(key=lambda r: (-r[sort], r["category"], r["path"] or ""))
                doc["mappings"] = rows
        processes.append(doc)
    if missing:
        raise MemscopeError(
            f"no such process: {', '.join(map(str, missing))} (it has exited, or is hidden "
            "by hidepid=; check with ps)")
    if kernel:
        raise MemscopeError(
            f"process {', '.join(map(str, kernel))}: a kernel thread or a zombie, with no "
            "user memory to show")
    return {"schema_version": SCHEMA_VERSION, "processes": processes,
            "notes": notes.items}, warnings


def collect_mappings(root: Root, pids: List[int]) -> Tuple[List[Tuple[int, List[Dict[str, Any]]]],
                                                          Dict[str, int]]:
    """Every process's per-mapping rows (``top --by-mapping``, like ``smem -m``): [(pid,
    rows)] and what was skipped: processes whose smaps is unreadable (permission denied),
    gone, or kernel threads (empty smaps, not counted)."""
    from memscope.model.process import ShmemMounts, build_mappings

    out: List[Tuple[int, List[Dict[str, Any]]]] = []
    skipped = {"permission_denied": 0, "vanished": 0, "unreadable": 0}
    shared_mounts = None
    for pid in pids:
        try:
            smaps = root.parse(f"proc/{pid}/smaps", parse_smaps)
        except PermissionDenied:
            skipped["permission_denied"] += 1
            continue
        except NotFound:
            if not root.exists(f"proc/{pid}"):
                skipped["vanished"] += 1
            continue
        except (ParseError, SourceError):
            skipped["unreadable"] += 1
            continue
        if smaps is None or not len(smaps):
            continue  # a kernel thread, a zombie, or gone between open and read
        if shared_mounts is None:  # one mount table for all: the root's own view
            shared_mounts = ShmemMounts(mount_table(root, pid))
        out.append((pid, build_mappings(smaps, shared_mounts)))
    return out, skipped
