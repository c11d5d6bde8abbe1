"""`memscope cache`: which files are in the page cache — walking trees, or the files that
processes map and hold open.

It never changes what it measures: each file is opened read-only (O_NOATIME where
permitted, O_NONBLOCK, O_NOFOLLOW, O_CLOEXEC), fstat'ed, measured by cachestat or mincore
(collect/pagecache.py) and closed; nothing is read and no page is faulted in. The type of
every entry is known before it is opened (the directory entry's d_type, or lstat where the
filesystem does not fill it in), so FIFOs, sockets and devices are never opened; fstat
after the open confirms a regular file. Symlinks inside a tree are not followed unless
``follow`` (then loops and second visits are detected by device and inode); a PATH given on
the command line is followed, as find -H does.

Memory is bounded by ``top``: files and directories go through model.cache.Ranking, totals
are running sums, at most MAX_SKIPPED skipped files are named. Files reached twice are
counted once: without ``follow`` only a file with more than one link (or named twice on the
command line) can be, and only those are remembered; with ``follow`` any file can be reached
again through a link, so every file and directory is remembered (device and inode: memory
then grows with the tree, as find -L's does).
"""

from __future__ import annotations

import errno
import os
import stat as statmod
from typing import Any, Dict, List, Optional

from memscope.collect.pagecache import (PAGE, PSEUDO_FS, Meter, NotMeasurable, fs_type,
                                        open_file)
from memscope.errors import MemscopeError, SourceError
from memscope.model import Notes
from memscope.model.cache import (MAX_SKIPPED, NO_CACHE_KINDS, Ranking, Sums, build_cache,
                                  directory_record, file_record, shown)
from memscope.parsers import kernel_lines
from memscope.parsers.maps import unescape_path
from memscope.sources import Root

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NONBLOCK
_SORT_INDEX = {"cached": 0, "dirty": 1, "evicted": 3}

_KIND = tuple(zip((statmod.S_ISFIFO, statmod.S_ISSOCK, statmod.S_ISCHR, statmod.S_ISBLK),
                  NO_CACHE_KINDS))


def _kind(mode: int) -> str:
    for test, name in _KIND:
        if test(mode):
            return name
    return "not a regular file"


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "vanished during the scan"
    if exc.errno == errno.ELOOP:
        return "became a symlink during the scan (not followed)"
    return (os.strerror(exc.errno) if exc.errno else str(exc)).lower()


def system_cached(root: Root) -> Optional[int]:
    from memscope.parsers.meminfo import parse_meminfo

    try:
        return root.parse("proc/meminfo", parse_meminfo).get("Cached")
    except (SourceError, MemscopeError):
        return None


class _Frame:
    __slots__ = ("path", "fd", "pending", "sums", "key")

    def __init__(self, path: str, fd: int, key) -> None:
        self.path = path
        self.fd = fd
        self.pending: List[Any] = []
        self.sums = Sums()
        self.key = key


class Scan:
    """One `memscope cache PATH...` run: the state every file passes through."""

    def __init__(self, sort: str, top: int, recursive: bool, follow: bool,
                 meter: Optional[Meter] = None) -> None:
        self.meter = meter or Meter()
        self.sort = sort
        self.top = top
        self.recursive = recursive
        self.follow = follow
        self.files = Ranking(top)
        self.dirs = Ranking(top)
        self.totals = Sums()
        self.skipped: List[Dict[str, str]] = []
        self.skipped_count = 0
        self.no_cache = 0  # of them: FIFOs, sockets, devices, pseudo-filesystems (no cache)
        self.symlinks = 0
        self.duplicates = 0
        self.directories = 0
        self.not_entered = 0
        self.seen: set = set()  # (dev, ino) of files with several names
        self.visited: set = set()  # (dev, ino) of directories, with follow only
        self.roots: set = set()  # (dev, ino) of the directories given as PATH
        self.notes = Notes()
        self._index = _SORT_INDEX.get(sort, 0)

    # -- bookkeeping --------------------------------------------------------------------

    def skip(self, path: str, reason: str) -> None:
        self.skipped_count += 1
        if reason.startswith(NO_CACHE_KINDS) or "no page cache" in reason:
            self.no_cache += 1
        if len(self.skipped) < MAX_SKIPPED:
            self.skipped.append({"path": shown(path), "reason": reason})

    def _key(self, size: int, figures):
        """The ranking key: the --sort figure (unknown below 0), then cached bytes, then
        size — so a figure mincore can't tell still ranks by what is known."""
        if self.sort == "size":
            return (size, figures[0], 0)
        value = figures[self._index]
        return (-1 if value is None else value, figures[0], size)

    def _measure(self, fd: int, path_of, sums: Sums, via_link: bool = False) -> None:
        """Measure an open file (the caller closes it). ``path_of`` builds the path only
        for files that are kept or skipped."""
        st = os.fstat(fd)
        if not statmod.S_ISREG(st.st_mode):
            self.skip(path_of(), _kind(st.st_mode))
            return
        if st.st_nlink > 1 or via_link or self.follow:
            key = (st.st_dev, st.st_ino)
            if key in self.seen:
                self.duplicates += 1
                return
            self.seen.add(key)
        try:
            figures = self.meter.measure(fd, st)
        except NotMeasurable as exc:
            self.skip(path_of(), exc.reason)
            return
        size = st.st_size
        sums.add(size, figures)
        key = self._key(size, figures)
        if self.files.wants(key):
            self.files.offer(key, lambda: file_record(path_of(), size, figures))

    # -- entry points -------------------------------------------------------------------

    def path(self, arg: str) -> None:
        """A PATH from the command line (followed if it is a symlink)."""
        try:
            st = os.stat(arg)
        except OSError as exc:
            if exc.errno == errno.ENOENT:  # lexists said it is there: a link to nothing
                self.skip(arg, "dangling symlink")
            elif exc.errno == errno.ELOOP:
                self.skip(arg, "symlink loop")
            else:
                self.skip(arg, _reason(exc))
            return
        if statmod.S_ISDIR(st.st_mode):
            self._tree(arg, st)
        elif statmod.S_ISREG(st.st_mode):
            self._one(arg, self.totals)
        else:
            self.skip(arg, _kind(st.st_mode))

    def _one(self, path: str, sums: Sums) -> None:
        try:
            fd = open_file(path, follow=True)
        except OSError as exc:
            self.skip(path, _reason(exc))
            return
        try:
            self._measure(fd, lambda: path, sums, via_link=True)
        finally:
            os.close(fd)

    def _tree(self, top: str, st) -> None:
        try:
            fd = os.open(top, _DIR_FLAGS)
        except OSError as exc:
            self.skip(top, _reason(exc) + " (directory not examined)")
            return
        root = _Frame(top, fd, (st.st_dev, st.st_ino))
        if root.key in self.visited or root.key in self.roots:
            os.close(fd)
            self.duplicates += 1
            return
        self.roots.add(root.key)
        if self.follow:
            self.visited.add(root.key)
        self.directories += 1
        self._scan(root)
        if not self.recursive:
            os.close(fd)
            self.totals.merge(root.sums)
            if root.pending:
                self.not_entered += len(root.pending)
            return
        stack = [root]
        ancestors = {root.key}
        while stack:
            frame = stack[-1]
            if frame.pending:
                name, via_link = frame.pending.pop()
                child = self._enter(frame, name, via_link, ancestors)
                if child is not None:
                    stack.append(child)
                    ancestors.add(child.key)
                    self._scan(child)
                continue
            stack.pop()
            ancestors.discard(frame.key)
            os.close(frame.fd)
            if stack:
                stack[-1].sums.merge(frame.sums)
            else:
                self.totals.merge(frame.sums)
            shown_sums = frame.sums.as_dict()
            key = self._key(frame.sums.size, (shown_sums["cached"], shown_sums["dirty"], None,
                                              shown_sums["evicted"], None))
            self.dirs.offer(key, lambda f=frame: directory_record(f.path, f.sums))

    def _enter(self, parent: _Frame, name: str, via_link: bool, ancestors) -> Optional[_Frame]:
        path = (parent.path if parent.path.endswith("/") else parent.path + "/") + name
        flags = _DIR_FLAGS if via_link else _DIR_FLAGS | os.O_NOFOLLOW
        try:
            fd = os.open(name, flags, dir_fd=parent.fd)
            st = os.fstat(fd)
        except OSError as exc:
            self.skip(path, _reason(exc) + " (directory not examined)")
            return None
        key = (st.st_dev, st.st_ino)
        if st.st_dev != parent.key[0]:  # a mount point: is there page cache below it?
            pseudo = PSEUDO_FS.get(fs_type(fd))
            if pseudo is not None:
                os.close(fd)
                self.skip(path, f"{pseudo} filesystem: no page cache (not entered)")
                return None
        if key in self.roots:  # also given on the command line, and examined already
            os.close(fd)
            self.duplicates += 1
            return None
        if self.follow:
            if key in ancestors:
                os.close(fd)
                self.skip(path, "symlink loop (points to a directory above it)")
                return None
            if key in self.visited:
                os.close(fd)
                self.duplicates += 1
                return None
            self.visited.add(key)
        self.directories += 1
        return _Frame(path, fd, key)

    def _scan(self, frame: _Frame) -> None:
        """Measure the files directly in a directory; remember its subdirectories."""
        dfd = frame.fd
        base = frame.path if frame.path.endswith("/") else frame.path + "/"
        sums = frame.sums
        pending = frame.pending
        try:
            it = os.scandir(dfd)
        except OSError as exc:
            self.skip(frame.path, _reason(exc) + " (directory not examined)")
            return
        try:
            with it:
                self._entries(it, frame, base, sums, pending, dfd)
        except OSError as exc:  # readdir itself failed part-way (procfs, a broken disk)
            self.skip(frame.path, _reason(exc) + " (directory listing incomplete)")

    def _entries(self, it, frame: _Frame, base: str, sums: Sums, pending, dfd: int) -> None:
        measure = self._measure
        for entry in it:
            name = entry.name
            try:
                if entry.is_file(follow_symlinks=False):
                    try:
                        fd = open_file(name, dfd)
                    except OSError as exc:
                        self.skip(base + name, _reason(exc))
                        continue
                    try:
                        measure(fd, lambda n=name: base + n, sums)
                    finally:
                        os.close(fd)
                elif entry.is_dir(follow_symlinks=False):
                    pending.append((name, False))
                elif entry.is_symlink():
                    self._link(frame, base, name, sums)
                else:
                    self.skip(base + name,
                              _kind(entry.stat(follow_symlinks=False).st_mode))
            except OSError as exc:
                self.skip(base + name, _reason(exc))

    def _link(self, frame: _Frame, base: str, name: str, sums: Sums) -> None:
        if not self.follow:
            self.symlinks += 1
            return
        try:
            st = os.stat(name, dir_fd=frame.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.skip(base + name, "symlink loop")
            elif exc.errno == errno.ENOENT:
                self.skip(base + name, "dangling symlink")
            else:
                self.skip(base + name, _reason(exc))
            return
        if statmod.S_ISDIR(st.st_mode):
            frame.pending.append((name, True))
        elif statmod.S_ISREG(st.st_mode):
            try:
                fd = open_file(name, frame.fd, follow=True)
            except OSError as exc:
                self.skip(base + name, _reason(exc))
                return
            try:
                self._measure(fd, lambda: base + name, sums, via_link=True)
            finally:
                os.close(fd)
        else:
            self.skip(base + name, _kind(st.st_mode) + " (through a symlink)")

    # -- the document -------------------------------------------------------------------

    def document(self, root: Root, processes: Optional[int] = None) -> Dict[str, Any]:
        if self.not_entered:
            self.notes.add("not_recursive", f"{self.not_entered} subdirectories were not "
                           "entered (use --recursive)")
        if self.symlinks:
            self.notes.add("symlinks_not_followed", f"{self.symlinks} symlink(s) were not "
                           "followed (use --follow)")
        extra = {"directories": self.directories, "skipped": self.skipped_count,
                 "skipped_no_cache": self.no_cache,
                 "symlinks_not_followed": self.symlinks, "duplicates": self.duplicates}
        return build_cache(self.meter.method, PAGE, self.sort, self.top,
                           self.files.sorted(self.sort),
                           self.dirs.sorted(self.sort) if self.recursive else [],
                           self.totals, extra, system_cached(root), self.skipped, self.notes,
                           processes)


def raise_nofile() -> None:
    """One descriptor per directory level is held open: allow deep trees."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, OSError, ValueError):
        pass


def collect_cache(root: Root, paths, sort: str, top: int, recursive: bool,
                  follow: bool) -> Dict[str, Any]:
    for p in paths:
        try:
            os.lstat(p)
        except OSError as exc:  # a directory on the way we may not search is not "missing"
            why = ("permission denied (a directory on the way can't be searched by this "
                   "user)" if exc.errno in (errno.EACCES, errno.EPERM)
                   else "no such file or directory (check the PATH)")
            raise MemscopeError(f"{p}: {why}") from None
        except ValueError:
            raise MemscopeError(f"{p!r}: a name with a NUL byte") from None
    if recursive:
        raise_nofile()
    scan = Scan(sort, top, recursive, follow)
    for arg in paths:
        scan.path(arg)
    return scan.document(root)


# -- `memscope cache --procs`: the files processes map and hold open ----------------------

class _Used:
    """A file some processes use, before it is opened: how to reach it, and who uses it."""

    __slots__ = ("path", "pids", "programs", "openers", "mapped", "open")

    def __init__(self, path: str) -> None:
        self.path = path
        self.pids: set = set()
        self.programs: set = set()
        self.openers: List[str] = []
        self.mapped = False
        self.open = False

    def use(self, pid: int, program: Optional[str], opener: str) -> None:
        self.pids.add(pid)
        if program:
            self.programs.add(program)
        if len(self.openers) < 4:  # a few ways in are enough: processes come and go
            self.openers.append(opener)


_DELETED = " (deleted)"


def _used_files(root: Root, pids: List[int], notes: Notes) -> Dict[Any, _Used]:
    """Every file-backed mapping (/proc/PID/maps, inode != 0) and every open regular file
    (/proc/PID/fd), keyed by device and inode."""
    from memscope.errors import NotFound

    used: Dict[Any, _Used] = {}
    denied = vanished = 0
    me = os.getpid()
    for pid in pids:
        if pid == me:
            continue
        base = f"proc/{pid}"
        try:
            comm = root.read_text(f"{base}/comm")
            comm = (comm[:-1] if comm.endswith("\n") else comm) or None  # the name whole
            maps = root.read_text(f"{base}/maps")
            fds = root.listdir(f"{base}/fd")
        except NotFound:
            vanished += 1
            continue
        except SourceError:
            denied += 1
            continue
        for line in kernel_lines(maps):
            # 7f..-7f.. r--p 00000000 fd:01 1234   /usr/lib/x86_64-linux-gnu/libc.so.6
            parts = line.split(None, 5)
            if len(parts) < 6 or parts[4] == "0" or not parts[5].startswith("/"):
                continue  # anonymous, [heap], [vdso]...: no file
            try:
                major, minor = parts[3].split(":")
                key = (os.makedev(int(major, 16), int(minor, 16)), int(parts[4]))
            except ValueError:
                continue
            entry = used.get(key)
            if entry is None:
                # the map_files link is the name exactly; maps' text escapes a newline as
                # \012, which a name holding those four characters reads as too
                exact = root.readlink(f"{base}/map_files/{parts[0]}")
                entry = used[key] = _Used(exact if exact and exact.startswith("/")
                                          else unescape_path(parts[5]))
            entry.mapped = True
            entry.use(pid, comm, f"/{base}/map_files/{parts[0]}")
        for fd in fds:
            link = f"/{base}/fd/{fd}"
            target = root.readlink(f"{base}/fd/{fd}")
            if not target or not target.startswith("/"):
                continue  # socket:[...], pipe:[...], anon_inode:...
            try:
                st = os.stat(link)
            except OSError:
                continue
            if not statmod.S_ISREG(st.st_mode):
                continue
            key = (st.st_dev, st.st_ino)
            entry = used.get(key)
            if entry is None:
                entry = used[key] = _Used(target)
            entry.open = True
            entry.use(pid, comm, link)
    if denied:
        why = ("run as root" if os.geteuid() != 0 else
               "refused even to root: a ptrace policy such as Yama, or a security module")
        notes.add("processes_unreadable", f"{denied} process(es) could not be inspected "
                  f"(permission denied: {why}): the files they use are not listed")
    if vanished:
        notes.add("processes_vanished", f"{vanished} process(es) exited during the scan")
    return used


def _open_used(entry: _Used, key):
    """An fd on the file: through /proc/PID/map_files or /proc/PID/fd (which reach deleted
    files too; map_files needs CAP_SYS_ADMIN), else by its path if it still names the same
    inode. Magic links are followed by design; the path is not followed."""
    last: Optional[OSError] = None
    for opener in entry.openers:
        try:
            return open_file(opener, follow=True)
        except OSError as exc:
            last = exc
    if not entry.path.endswith(_DELETED):
        try:
            fd = open_file(entry.path)
        except OSError as exc:
            last = exc
        else:
            if os.fstat(fd).st_ino == key[1]:
                return fd
            os.close(fd)
    raise last if last is not None else FileNotFoundError(2, "gone")


def collect_procs(root: Root, pids: List[int], sort: str, top: int) -> Dict[str, Any]:
    from memscope.collect.procs import list_pids

    missing = [pid for pid in pids if not root.isdir(f"proc/{pid}")]
    if missing:
        raise MemscopeError(
            f"no such process: {', '.join(map(str, missing))} (it has exited, or is hidden "
            "by hidepid=; check with ps)")
    scan = Scan(sort, top, False, False)
    wanted = pids or list_pids(root)
    used = _used_files(root, wanted, scan.notes)
    merged: Dict[Any, Any] = {}
    for key, entry in used.items():
        try:
            fd = _open_used(entry, key)
        except OSError as exc:
            scan.skip(entry.path, _reason(exc))
            continue
        try:
            st = os.fstat(fd)
            real = (st.st_dev, st.st_ino)
            if real in merged:  # the same file under two keys (btrfs, overlayfs devices)
                merged[real][1].append(entry)
                continue
            try:
                figures = scan.meter.measure(fd, st)
            except NotMeasurable as exc:
                scan.skip(entry.path, exc.reason)
                continue
            merged[real] = (st, [entry], figures)
        finally:
            os.close(fd)
    for st, entries, figures in merged.values():
        scan.totals.add(st.st_size, figures)
        path = entries[0].path
        deleted = st.st_nlink == 0
        if deleted and path.endswith(_DELETED):
            path = path[:-len(_DELETED)]
        key = scan._key(st.st_size, figures)

        def make(path=path, entries=entries, st=st, figures=figures, deleted=deleted):
            rec = file_record(path, st.st_size, figures)
            rec["deleted"] = deleted
            rec["pids"] = sorted(set().union(*(e.pids for e in entries)))
            rec["programs"] = sorted(set().union(*(e.programs for e in entries)))
            rec["mapped"] = any(e.mapped for e in entries)
            rec["open"] = any(e.open for e in entries)
            return rec

        scan.files.offer(key, make)
    return scan.document(root, processes=len(wanted))
