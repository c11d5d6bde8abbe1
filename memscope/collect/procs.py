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
from memscope.parsers import parse_int
from memscope.parsers.sysctl import parse_number
from memscope.parsers.memcg import memory_cgroup
from memscope.parsers.smaps import parse_smaps, parse_smaps_rollup
from memscope.parsers.cmdline import parse_cmdline
from memscope.parsers.status import Status, parse_status
from memscope.sources import Root

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple


class Users:
    """uid -> user name, cached, from the root's host facts (Root.user_name: the live
    passwd database, a snapshot's recorded map); the uid as text where the root does not
    say (a captured tree has no passwd), unless a map is given."""

    def __init__(self, root: Root, names: Optional[Dict[int, str]] = None):
        self.root = root
        self.cache: Dict[int, str] = dict(names or {})

    def __call__(self, uid: Optional[int]) -> Optional[str]:
        if uid is None:
            return None
        name = self.cache.get(uid)
        if name is None:
            name = self.root.user_name(uid) or str(uid)
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
    """One process read: ``kind`` is ok | denied | capped | vanished | kernel | zombie
    (| unparsable | unreadable, from scan). ``via_task`` is the thread whose files were
    read when the main thread has exited."""

    __slots__ = ("kind", "doc", "sources", "program", "cgroup", "error", "status_rss",
                 "via_task")

    def __init__(self, kind: str, doc: Optional[Dict[str, Any]] = None,
                 sources: Optional[Dict[str, str]] = None, error: Optional[str] = None):
        self.kind = kind
        self.doc = doc
        self.sources = sources
        self.program: Optional[str] = None
        self.cgroup: Optional[str] = None
        self.error = error
        self.status_rss: Optional[int] = None
        self.via_task: Optional[int] = None


def list_pids(root: Root) -> List[int]:
    return sorted(pid_of(name) for name in root.listdir("proc") if is_pid(name))


def is_pid(name: str) -> bool:
    """A /proc entry named as a process: ASCII digits only (``'²'.isdigit()`` is True in
    Python), at most the 2^22 (PID_MAX_LIMIT, include/linux/threads.h) a kernel can give."""
    return 0 < len(name) <= 7 and name[0] != "0" and not name.strip("0123456789")


def pid_of(name: str) -> int:
    return parse_int(name, "pid", 1)


# Command lines are capped: the kernel bounds /proc/PID/cmdline only by the argument space
# (a quarter of RLIMIT_STACK, fs/exec.c), and under a --root one file hard-linked into many
# processes costs its size each time. Each is cut at CMDLINE_MAX bytes, and once
# CMDLINE_TOTAL bytes have been kept for one root, at CMDLINE_AFTER_TOTAL; a cut one ends
# with CMDLINE_CUT.
CMDLINE_MAX = 128 << 10
CMDLINE_TOTAL = 64 << 20
CMDLINE_AFTER_TOTAL = 4 << 10
CMDLINE_CUT = b" [cut]"


def read_cmdline(root: Root, base: str) -> Optional[bytes]:
    spent = getattr(root, "_cmdline_bytes", 0)
    cap = CMDLINE_MAX if spent < CMDLINE_TOTAL else CMDLINE_AFTER_TOTAL
    try:
        raw = root.read_bytes(f"{base}/cmdline", limit=cap)
    except (NotFound, PermissionDenied, Unsupported):
        return None
    if len(raw) > cap:
        raw = raw[:cap].rstrip(b"\x00") + CMDLINE_CUT
    root._cmdline_bytes = spent + len(raw)
    return raw


def _optional_text(root: Root, rel: str) -> Optional[str]:
    try:
        return root.read_text(rel)
    except (NotFound, PermissionDenied, Unsupported):
        return None


def live_task(root: Root, pid: int) -> Optional[Tuple[int, Status]]:
    """A live thread of a process whose main thread has exited, and its status.

    When the thread-group leader calls pthread_exit(), it stays a zombie (status State Z,
    no mm) until the last thread exits, and the files that go through the leader
    (smaps_rollup: ESRCH, smaps and maps: empty, cmdline: empty) show nothing; the other
    threads share the mm and /proc/PID/task/TID/ shows it (fs/proc/base.c, task_mmu.c).
    """
    try:
        tids = sorted(pid_of(t) for t in root.listdir(f"proc/{pid}/task") if is_pid(t))
    except SourceError:
        return None
    for tid in tids:
        if tid == pid:
            continue
        try:
            st = root.parse(f"proc/{pid}/task/{tid}/status", parse_status)
        except (SourceError, ParseError):
            continue
        if st.has_mm:
            return tid, st
    return None


def read_process(root: Root, pid: int, opts: Options, users: Users) -> Result:
    base = f"proc/{pid}"
    try:
        status: Optional[Status] = root.parse(f"{base}/status", parse_status)
    except NotFound:
        if not root.exists(base):
            return Result("vanished")
        status = None  # a captured tree without status: smaps alone
    via = None
    if status is not None and not status.has_mm:
        if not status.zombie:
            return Result("kernel")  # a kernel thread: no address space
        if (status.threads or 0) <= 1:
            return Result("zombie")  # exited, not yet reaped: nothing to measure
        found = live_task(root, pid)
        if found is None:
            if not root.exists(base):
                return Result("vanished")
            # its threads live, but none of their files is readable (a capture without
            # task/): unreadable, not a zombie, and said so
            return Result("unreadable", error=(
                f"{root.display(base + '/task')}: the main thread of process {pid} has "
                f"exited while {status.threads - 1} other thread(s) live on, and no live "
                "thread's files could be read"))
        via, task_status = found
        task_status.name = status.name  # the process's name, not the thread's
        task_status.uids = status.uids
        status, base = task_status, f"proc/{pid}/task/{via}"
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
    raw = read_cmdline(root, base)
    oom_text = _optional_text(root, f"{base}/oom_score")
    oom = None
    if oom_text is not None:
        try:
            oom = parse_number(oom_text)
        except ParseError as exc:
            exc.path = root.display(f"{base}/oom_score")
            raise
    uid = status.uids[1] if status is not None and status.uids else None
    doc = build_process(pid, status, counters, source,
                        parse_cmdline(raw) if raw is not None else None, users(uid), oom)
    result = Result(kind, doc, figure_sources(doc, status, counters) if opts.sources else None,
                    error)
    result.status_rss = rss
    result.via_task = via
    if opts.program:
        result.program = program_name(root, pid, doc, via)
    if opts.cgroup:
        result.cgroup = memory_cgroup(_optional_text(root, f"{base}/cgroup"))
    return result


def program_name(root: Root, pid: int, doc: Dict[str, Any], via: Optional[int] = None) -> str:
    """ps_mem's fold: the executable's base name; else the process name."""
    target = root.readlink(f"proc/{pid}/exe" if via is None else f"proc/{pid}/task/{via}/exe")
    if target:
        if target.endswith(" (deleted)"):
            target = target[:-len(" (deleted)")]
        return target.rsplit("/", 1)[-1]
    return doc["name"] or "?"


def encode(res: Result) -> tuple:
    """A Result as plain values, for a prefetch child to hand over (marshal)."""
    doc = res.doc
    values = tuple(getattr(doc, k) for k in PROCESS_KEYS) if doc is not None else None
    return (res.kind, values, res.error, res.status_rss, res.via_task)


def decode(record: tuple) -> Result:
    kind, values, error, status_rss, via_task = record
    res = Result(kind, Process(*values) if values is not None else None, None, error)
    res.status_rss = status_rss
    res.via_task = via_task
    return res


def start_prefetch() -> None:
    """Start reading every live process in forked children (see memscope.prefetch), with
    top's default reading options."""
    import os

    from memscope import prefetch

    try:
        pids = sorted(pid_of(p) for p in os.listdir("/proc") if is_pid(p))
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
    if root.live:
        import os

        me = os.getpid()
        if me in pids:  # memscope is not a process to report (nor matched by --match)
            results[me] = Result("self")
            pids = [pid for pid in pids if pid != me]
    ahead = prefetch.ACTIVE
    if ahead is not None and root.live and not (opts.rss_only or opts.walk_limit is not None
                                                or opts.sources):
        prefetch.ACTIVE = None  # once: a --watch round reads afresh
        for pid, record in ahead.collect().items():
            if pid in results:
                continue
            res = decode(record)
            if res.doc is not None and opts.program:
                res.program = program_name(root, pid, res.doc, res.via_task)
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


def shmem_swap(root: Root, results) -> Dict[int, Dict[Tuple[str, int], int]]:
    """For the processes whose smaps Swap holds swapped-out shmem (swap_shmem > 0): the
    swapped bytes of each shmem object they map shared, {pid: {(dev, inode): bytes}}, so
    ``top`` counts an object's swap once, not once per mapper. Read only where there is
    such swap (smaps walks the page tables)."""
    out: Dict[int, Dict[Tuple[str, int], int]] = {}
    for pid, res in results:
        doc = res.doc
        if doc is None or not doc["swap_shmem"]:
            continue
        base = f"proc/{pid}" if res.via_task is None else f"proc/{pid}/task/{res.via_task}"
        try:
            smaps = root.parse(f"{base}/smaps", parse_smaps)
        except (SourceError, ParseError):
            continue
        swap = smaps.columns.get("Swap") or [0] * len(smaps)
        objects: Dict[Tuple[str, int], int] = {}
        for i, header in enumerate(smaps.headers):
            parts = header.split(None, 5)
            if not swap[i] or len(parts) < 5 or parts[1][3:] != "s":
                continue  # only shared mappings hold shmem swap that others see too
            key = (parts[3], parse_int(parts[4], "inode", 0))
            objects[key] = objects.get(key, 0) + (swap[i] << 10)
        out[pid] = objects
    return out


def mount_table(root: Root, pid: int, notes=None):
    """The process's own view of the mounts (its mount namespace), else the root's: each
    optional (collect/policy.py), a bad one noted and the next tried."""
    from memscope.collect.policy import optional
    from memscope.parsers.mounts import parse_mounts

    for rel in (f"proc/{pid}/mounts", "proc/self/mounts", "proc/mounts"):
        mounts = optional(root, rel, parse_mounts, [] if notes is None else notes,
                          "the next mount table is used", missing=None)
        if mounts:
            return mounts
    return None


MAP_SORTS = ("pss", "rss", "uss", "size", "swap", "count", "path", "category")


def collect_proc(root: Root, pids: List[int], maps: bool = False,
                 sort: str = "pss") -> Tuple[Dict[str, Any], List[str]]:
    """Reads what ``proc`` shows for the given pids; the document and warnings are
    memscope.model.proc's."""
    from memscope.model import Notes
    from memscope.model.proc import ProcEntry, build_proc

    users = Users(root)
    opts = Options(sources=True)
    notes = Notes()  # what the reads noted (a bad mount table); the model adds its own
    entries = []
    for pid in pids:
        res = read_process(root, pid, opts, users)
        entry = ProcEntry(pid, res)
        entries.append(entry)
        if res.kind not in ("ok", "denied", "capped") or not maps:
            continue
        base = f"proc/{pid}" if res.via_task is None else f"proc/{pid}/task/{res.via_task}"
        try:
            entry.smaps = root.parse(f"{base}/smaps", parse_smaps)
        except PermissionDenied as exc:
            entry.maps_error = str(exc)
        except NotFound:
            if not root.exists(f"proc/{pid}"):
                res.kind = "vanished"
                continue
            entry.maps_missing = True
        if entry.smaps is not None:
            entry.mounts = mount_table(root, pid, notes)
    return build_proc(entries, maps, sort, notes)


def collect_mappings(root: Root, pids: List[int]) -> Tuple[List[Tuple[int, List[Dict[str, Any]]]],
                                                          Dict[str, int]]:
    """Every process's per-mapping rows (``top --by-mapping``, like ``smem -m``): [(pid,
    rows)] and what was skipped: processes whose smaps is unreadable (permission denied),
    gone, or kernel threads (empty smaps, not counted)."""
    from memscope.model.process import ShmemMounts, build_mappings

    from memscope.errors import MemscopeError

    out: List[Tuple[int, List[Dict[str, Any]]]] = []
    skipped = {"permission_denied": 0, "vanished": 0, "unreadable": 0}
    no_smaps = 0
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
            else:  # the root holds the process but not its smaps (snapshot without --maps)
                no_smaps += 1
            continue
        except (ParseError, SourceError):
            skipped["unreadable"] += 1
            continue
        if smaps is not None and not len(smaps):  # a kernel thread, a zombie, or a process
            found = live_task(root, pid)           # whose main thread exited: its threads'
            if found is not None:                  # memory is read from a live one
                try:
                    smaps = root.parse(f"proc/{pid}/task/{found[0]}/smaps", parse_smaps)
                except (ParseError, SourceError):
                    smaps = None
        if smaps is None or not len(smaps):
            continue
        if shared_mounts is None:  # one mount table for all: the root's own view
            shared_mounts = ShmemMounts(mount_table(root, pid))
        out.append((pid, build_mappings(smaps, shared_mounts)))
    if no_smaps and not out:
        raise MemscopeError(f"{root.display('proc')}: no process has its smaps under this "
                            "root (a snapshot taken without --maps?): per-mapping figures "
                            "are unknown; take one with memscope snapshot --maps")
    skipped["unreadable"] += no_smaps  # some without smaps: counted, never a silent 0
    return out, skipped
