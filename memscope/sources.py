"""The one place that opens files: a Root through which every kernel file is read.

``Root("/")`` is the live host. ``Root(DIR)`` is a directory laid out as a host (``DIR/proc``,
``DIR/sys``): captured trees, test fixtures. Snapshot archives join through the same
interface later. Callers name files relative to the root (``"proc/meminfo"``); error
messages name them as the user knows them (``/proc/meminfo`` live, ``DIR/proc/meminfo``
otherwise).

OSError becomes memscope's errors here and nowhere else (psutil's choke-point habit):
ENOENT/ESRCH/ENODEV -> NotFound (ENODEV: a cgroup file read after its cgroup was removed),
EACCES/EPERM -> PermissionDenied, EOPNOTSUPP/EINVAL on read -> Unsupported (PSI files read
EOPNOTSUPP when PSI is off; some v1 cgroup files EINVAL).

Under a directory root, names are resolved inside the root with directory fds and only
regular files are read (see Root); every read is bounded (MAX_FILE_BYTES, or a caller's
``limit``).
"""

from __future__ import annotations

import errno
import os
import stat
import sys

from memscope.errors import (
    MemscopeError,
    NotFound,
    ParseError,
    PermissionDenied,
    SourceError,
    Unsupported,
)

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Tuple


# A kernel text file bigger than this is hostile or broken, not /proc: refuse it rather than
# exhausting memory. (The largest real files memscope reads, smaps of a process at
# vm.max_map_count, are ~40 MB.)
MAX_FILE_BYTES = 256 * 1024 * 1024
READ_CHUNK = 128 * 1024


def _read_fd(fd: int, rel: str, limit: Optional[int] = None) -> bytes:
    """Read an open fd to its end (or to ``limit`` bytes), closing it."""
    # Read in chunks: sysctl files kmalloc a buffer of the requested size (asking for the
    # cap at once fails with ENOMEM), and seq_file resumes cleanly between reads.
    chunks = []
    size = 0
    cap = MAX_FILE_BYTES if limit is None else limit
    try:
        while True:
            chunk = os.read(fd, min(READ_CHUNK, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                if limit is not None:
                    break  # the caller cuts and says so
                raise _TooLarge(rel)
    finally:
        os.close(fd)
    return b"".join(chunks)


class _TooLarge(Exception):
    pass


class _Refused(Exception):
    """A path under a --root that memscope will not read: ``reason`` says why."""

    def __init__(self, reason: str):
        self.reason = reason


# Linux's own limit on symlinks followed in one lookup (MAXSYMLINKS, include/linux/namei.h).
MAX_LINKS = 40
_O_PATH = getattr(os, "O_PATH", 0)

# Names reach the Root two ways: read from the kernel's files (decoded as UTF-8, surrogate
# escapes for other bytes) and listed from the filesystem or given in argv (decoded with the
# filesystem encoding). Both are UTF-8 on any host with a UTF-8 or C.UTF-8 locale, and then
# nothing is converted. Under a plain C locale without UTF-8 (PYTHONCOERCECLOCALE=0, or no
# C.UTF-8 on the host) the filesystem encoding is ASCII: a name read from /proc/PID/cgroup
# holding U+2028 could not be passed to a system call, and a listed one would come back as
# surrogates. There every name crosses the boundary as its UTF-8 bytes (_fs) and comes back
# decoded as UTF-8 (_decoded), so a name is the same string whatever the locale.
_UTF8_FS = sys.getfilesystemencoding().lower().replace("-", "").replace("_", "") == "utf8"


def _fs(path):
    """A name for a system call (see above): itself, or its UTF-8 bytes."""
    if _UTF8_FS or not isinstance(path, str):
        return path
    return path.encode("utf-8", "surrogateescape")


def _decoded(raw) -> str:
    """A name from a system call, as memscope decodes names everywhere else (see above)."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "surrogateescape")
    if _UTF8_FS:
        return raw
    return os.fsencode(raw).decode("utf-8", "surrogateescape")
_KIND = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device",
         stat.S_IFBLK: "a block device", stat.S_IFDIR: "a directory", stat.S_IFLNK: "a symlink"}


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, for messages: "a FIFO", "a socket"..."""
    return _KIND.get(stat.S_IFMT(mode), "not a regular file")


class Root:
    """Read files of a host: the live one (``/``) or a directory laid out as one.

    Under a directory root every name is resolved one component at a time with directory
    file descriptors, as openat2(RESOLVE_IN_ROOT) would (Python has no openat2): a relative
    symlink is followed only while it stays inside the root; an absolute one, or one whose
    ``..`` climbs above the root, is refused, never followed. Only regular files are read
    (fstat after a non-blocking open): a FIFO, socket or device is refused unread. The live
    host's /proc and /sys are read as they are, by path; a path longer than PATH_MAX (a deep
    cgroup) is walked with directory file descriptors instead.
    """

    def __init__(self, path: str = "/"):
        self.path = path
        try:
            real = os.path.realpath(path)
        except OSError as exc:  # a relative path from a deleted working directory
            try:
                os.getcwd()
            except OSError:
                raise MemscopeError(f"--root {path}: the current directory no longer exists "
                                    "(give an absolute path, or cd somewhere that exists)") \
                    from None
            raise MemscopeError(f"--root {path}: {exc.strerror}") from None
        self.live = real == "/"
        if not self.live:
            if not os.path.isabs(real):
                raise MemscopeError(f"--root {path}: the current directory was removed "
                                    "(give an absolute path)")
            if not os.path.exists(path):
                raise MemscopeError(f"--root {path}: no such directory "
                                    "(give a directory holding proc/ and sys/ as on a host)")
            if not os.path.isdir(path):
                raise MemscopeError(f"--root {path}: not a directory "
                                    "(give a directory holding proc/ and sys/ as on a host)")
        self._prefix = "/" if self.live else real.rstrip("/") + "/"
        self._root_fd: Optional[int] = None

    def __repr__(self) -> str:
        return f"Root({self.path!r})"

    def __del__(self):
        fds = list(self.__dict__.get("_dirs", {}).values())
        fds.append(self.__dict__.get("_root_fd"))
        for fd in fds:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    # -- Host facts -----------------------------------------------------------------------
    # What a command needs of the host beyond its files: the page size, the clock, user and
    # group names, statfs of a mount, link targets. Live, the running system answers; a
    # snapshot answers from its manifest (memscope.snapshot records each fact); a directory
    # answers from a manifest.json at its top (an extracted snapshot), else None: unknown.
    # Commands ask these methods and never branch on ``live`` for them.

    def recorded(self, key: str):
        """What a snapshot's manifest recorded under ``key``; None for the live host or a
        directory without a memscope manifest."""
        if self.live:
            return None
        manifest = getattr(self, "_manifest", False)
        if manifest is False:
            manifest = self._manifest = _load_manifest(self)
        return manifest.get(key)

    def page_size(self) -> Optional[int]:
        """The host's page size in bytes, or None where the root does not record it."""
        if self.live:
            return os.sysconf("SC_PAGE_SIZE")
        size = self.recorded("page_size")
        if isinstance(size, int) and not isinstance(size, bool) and size >= 1024 and \
                size & (size - 1) == 0:
            return size
        return None

    def taken_at(self) -> Optional[str]:
        """When the figures were read (UTC, ISO 8601): now, live; the snapshot's time."""
        if self.live:
            import time

            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        value = self.recorded("taken_at")
        return value if isinstance(value, str) else None

    def user_name(self, uid: int) -> Optional[str]:
        """uid -> user name, or None where the host does not say."""
        if self.live:
            import pwd

            try:
                return pwd.getpwuid(uid).pw_name
            except (KeyError, OverflowError):
                return None
        return _name_in(self.recorded("users"), uid)

    def user_id(self, name: str) -> Optional[int]:
        """user name -> uid (``top --user NAME``), or None where the host does not say."""
        if self.live:
            import pwd

            try:
                return pwd.getpwnam(name).pw_uid
            except (KeyError, ValueError):
                return None
        table = self.recorded("users")
        if isinstance(table, dict):
            for uid, known in table.items():
                if known == name and str(uid).isdigit() and str(uid).isascii():
                    return int(uid)
        return None

    def group_name(self, gid: int) -> Optional[str]:
        """gid -> group name, or None where the host does not say."""
        if self.live:
            import grp

            try:
                return grp.getgrgid(gid).gr_name
            except (KeyError, OverflowError):
                return None
        return _name_in(self.recorded("groups"), gid)

    def statfs(self, mountpoint: str) -> Optional[Dict[str, Optional[int]]]:
        """{"dev": device id, "used": bytes in use} of a mounted filesystem (tmpfs usage),
        or None where the root cannot say. ``used`` is None for a filesystem without a
        size (tmpfs with size=0); ``dev`` None where the snapshot did not record it."""
        if self.live:
            try:
                dev = os.stat(_fs(mountpoint)).st_dev
                vfs = os.statvfs(_fs(mountpoint))
            except OSError:
                return None
            used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize if vfs.f_blocks else None
            return {"dev": dev, "used": used}
        table = self.recorded("statfs")
        if not isinstance(table, dict):
            return None
        used = table.get(mountpoint)
        dev = (self.recorded("statfs_dev") or {}).get(mountpoint)
        return {"dev": dev if _is_count(dev) else None,
                "used": used if _is_count(used) else None}

    def display(self, rel: str) -> str:
        """The name of ``rel`` as the user knows it, for messages."""
        if self.live:
            return "/" + rel
        return os.path.join(self.path, rel)

    def _abs(self, rel: str) -> str:
        return self._prefix + rel

    def _error(self, rel: str, exc: OSError) -> SourceError:
        name = self.display(rel)
        code = exc.errno
        # ENODEV: a cgroup (or sysfs) file whose object was removed after the open
        if code in (errno.ENOENT, errno.ENOTDIR, errno.ESRCH, errno.ENODEV):
            return NotFound(name, "no such file")
        if code in (errno.EACCES, errno.EPERM):
            return PermissionDenied(name, "permission denied")
        if code in (errno.EOPNOTSUPP, errno.EINVAL):
            return Unsupported(name, f"not supported by this kernel ({os.strerror(code)})")
        if code == errno.EISDIR:
            return SourceError(name, "is a directory, not a file",
                               "check the --root tree")
        if code == errno.ELOOP:
            return SourceError(name, "too many levels of symbolic links",
                               "check the --root tree")
        return SourceError(name, os.strerror(code) if code else str(exc))

    def _refused(self, rel: str, exc: _Refused) -> SourceError:
        return SourceError(self.display(rel), f"{exc.reason} (refused, not read)",
                           "memscope reads only regular files and directories inside "
                           "the --root tree")

    # -- resolution within the root ----------------------------------------------------

    def _top_fd(self) -> int:
        if self._root_fd is None:
            self._root_fd = os.open(_fs(self._prefix), _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return self._root_fd

    def _walk(self, rel: str, follow_last: bool = True):
        """Resolve ``rel`` below the root, component by component: (parent O_PATH fd, last
        name, O_PATH fd of the object, its stat); self._names holds the components resolved (the
        canonical path below the root). The caller closes both fds.

        Under a directory root a symlink is followed only where its target stays inside;
        on the live host (used for paths past PATH_MAX) links resolve as the kernel would.
        """
        strict = not self.live
        top = self._top_fd()
        stack = [top]
        self._names: List[str] = []  # the components resolved: the canonical path
        names = self._names
        todo = [c for c in reversed(rel.split("/")) if c not in ("", ".")]
        links = 0
        try:
            if not todo:
                fd = os.open(".", _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=top)
                return os.dup(top), ".", fd, os.fstat(fd)
            while todo:
                comp = todo.pop()
                if comp == ".":
                    continue
                if comp == "..":
                    if len(stack) == 1:
                        if strict:
                            raise _Refused("a symbolic link on the way leads outside the "
                                           "--root tree")
                        continue
                    os.close(stack.pop())
                    names.pop()
                    continue
                last = not todo
                fd = os.open(_fs(comp), _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
                st = os.fstat(fd)
                if stat.S_ISLNK(st.st_mode) and (follow_last or not last):
                    os.close(fd)
                    links += 1
                    if links > MAX_LINKS:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                    target = _decoded(os.readlink(_fs(comp), dir_fd=stack[-1]))
                    if target.startswith("/"):
                        if strict:
                            raise _Refused("a symbolic link on the way leads outside the --root "
                                           "tree (an absolute target)")
                        while len(stack) > 1:
                            os.close(stack.pop())
                        del names[:]
                    if not target:
                        raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
                    # (a link to "." leaves nothing to do: the directory on top of the stack)
                    todo.extend(c for c in reversed(target.split("/")) if c not in ("", "."))
                    continue
                if last:
                    parent = stack.pop() if len(stack) > 1 else os.dup(top)
                    names.append(comp)
                    return parent, comp, fd, st
                if not stat.S_ISDIR(st.st_mode):
                    os.close(fd)
                    raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
                stack.append(fd)
                names.append(comp)
            # the path ended in '..': the directory now on top of the stack
            fd = os.open(".", _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=stack[-1])
            parent = os.dup(stack[-1])
            return parent, ".", fd, os.fstat(fd)
        finally:
            for fd in stack[1:]:
                os.close(fd)

    def _direct(self, rel: str) -> bool:
        """Open by path (the live host) rather than walk?"""
        return self.live and len(self._prefix) + len(rel) < 4000

    # Directories resolved once, kept as O_PATH fds (a few: reads cluster by directory), so
    # a file costs an openat from its directory rather than a walk from the root.
    _DIR_CACHE = 64

    def _dir(self, rel: str) -> int:
        """The O_PATH fd of the directory ``rel`` (a clean relative name), resolved within
        the root and cached: the cache owns it."""
        if not rel:
            return self._top_fd()
        cache = self.__dict__.setdefault("_dirs", {})
        fd = cache.get(rel)
        if fd is None:
            parent, _name, fd, st = self._walk(rel)
            os.close(parent)
            if not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            if len(cache) >= self._DIR_CACHE:
                for old in cache.values():
                    os.close(old)
                cache.clear()
            cache[rel] = fd
        return fd

    @staticmethod
    def _split(rel: str) -> Optional[Tuple[str, str]]:
        """(directory, name) of a clean relative name (no '', '.', '..' component)."""
        parts = rel.split("/")
        if not rel or "" in parts or "." in parts or ".." in parts:
            return None
        return "/".join(parts[:-1]), parts[-1]

    def _open_checked(self, parent: int, name: str, st: os.stat_result) -> int:
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
            if self.live:  # /proc and /sys files are what they are
                return os.open(_fs(name), os.O_RDONLY | os.O_CLOEXEC, dir_fd=parent)
            raise _Refused(f"is {file_kind(st.st_mode)}, not a regular file")
        # Non-blocking and without following: the name could have been swapped for a FIFO
        # or a link since the fstat; the inode must be the one checked.
        fd = os.open(_fs(name), os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW
                     | os.O_NOCTTY, dir_fd=parent)
        again = os.fstat(fd)
        if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) or \
                not stat.S_ISREG(again.st_mode):
            os.close(fd)
            raise _Refused("changed while being opened")
        return fd

    def _open_file(self, rel: str) -> int:
        """An fd open for reading on the regular file ``rel`` (under a root: checked: an
        O_PATH open and fstat first, so a device is never opened)."""
        if self._direct(rel):
            return os.open(_fs(self._abs(rel)), os.O_RDONLY | os.O_CLOEXEC)
        split = self._split(rel)
        if split is not None:
            parent = self._dir(split[0])
            pfd = os.open(_fs(split[1]), _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                st = os.fstat(pfd)
                if not stat.S_ISLNK(st.st_mode):
                    return self._open_checked(parent, split[1], st)
            finally:
                os.close(pfd)
        parent, name, pfd, st = self._walk(rel)  # through a link: resolved within the root
        try:
            return self._open_checked(parent, name, st)
        finally:
            os.close(pfd)
            os.close(parent)

    def _stat(self, rel: str) -> Optional[os.stat_result]:
        """The object at ``rel`` (links followed within the root), or None."""
        if self._direct(rel):
            try:
                return os.stat(_fs(self._abs(rel)))
            except (OSError, ValueError):
                return None
        try:
            split = self._split(rel)
            if split is not None:
                st = os.stat(_fs(split[1]), dir_fd=self._dir(split[0]), follow_symlinks=False)
                if not stat.S_ISLNK(st.st_mode):
                    return st
            parent, _name, fd, st = self._walk(rel)
        except (OSError, _Refused, ValueError):
            return None
        os.close(fd)
        os.close(parent)
        return st

    def _open_dir(self, rel: str) -> int:
        """An fd open for listing on the directory ``rel``."""
        if self._direct(rel):
            return os.open(_fs(self._abs(rel)), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if self._split(rel) is not None:
            return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC,
                           dir_fd=self._dir(rel))
        parent, _name, pfd, st = self._walk(rel)
        try:
            if not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=pfd)
        finally:
            os.close(pfd)
            os.close(parent)

    def _canonical(self, rel: str) -> Optional[str]:
        """``rel`` with links resolved, relative to the root (None if it can't be)."""
        if self._direct(rel):
            return _decoded(os.path.realpath(_fs(self._abs(rel))))
        try:
            parent, _name, fd, _st = self._walk(rel)
        except (OSError, _Refused, ValueError):
            return None
        os.close(fd)
        os.close(parent)
        return self._prefix + "/".join(self._names)

    # -- the interface -----------------------------------------------------------------

    def read_bytes(self, rel: str, limit: Optional[int] = None) -> bytes:
        """The whole file, read in one pass (procfs files are racy across partial reads).
        With ``limit``, at most limit + 1 bytes (the caller cuts and says so)."""
        try:
            return _read_fd(self._open_file(rel), rel, limit)
        except OSError as exc:
            raise self._error(rel, exc) from None
        except _Refused as exc:
            raise self._refused(rel, exc) from None
        except ValueError:  # a NUL in the name
            raise SourceError(self.display(rel), "a name with a NUL byte") from None
        except _TooLarge:
            raise SourceError(self.display(rel), f"larger than {MAX_FILE_BYTES} bytes",
                              "not a kernel file: check the --root tree") from None

    def read_text(self, rel: str) -> str:
        # Kernel files are ASCII; names in them (comm, mount points, cgroup paths) are any
        # bytes a user chose: kept losslessly as surrogate escapes (PEP 383), escaped by each
        # renderer (memscope.render, memscope.text), never fatal at decode time.
        return self.read_bytes(rel).decode("utf-8", "surrogateescape")

    def read_optional(self, rel: str) -> Optional[str]:
        """The file's text, or None where the kernel lacks it (absent or unsupported)."""
        try:
            return self.read_text(rel)
        except (NotFound, Unsupported):
            return None

    def exists(self, rel: str) -> bool:
        return self._stat(rel) is not None

    def isdir(self, rel: str) -> bool:
        st = self._stat(rel)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def inside(self, rel: str, base: str) -> bool:
        """Is ``rel``, symlinks resolved, still below ``base``? (A hostile tree may hold
        links out of it.)"""
        real = self._canonical(rel)
        top = self._canonical(base)
        if real is None or top is None:
            return False
        return real == top or real.startswith(top.rstrip("/") + "/")

    def _scan(self, rel: str, dirs_only: bool) -> List[str]:
        try:
            fd = self._open_dir(rel)
            try:
                with os.scandir(fd) as it:
                    return sorted(_decoded(e.name) for e in it
                                  if not dirs_only or e.is_dir(follow_symlinks=False))
            finally:
                os.close(fd)
        except OSError as exc:
            raise self._error(rel, exc) from None
        except _Refused as exc:
            raise self._refused(rel, exc) from None
        except ValueError:
            raise SourceError(self.display(rel), "a name with a NUL byte") from None

    def subdirs(self, rel: str) -> List[str]:
        """Names of the directories directly under ``rel`` (not following links)."""
        return self._scan(rel, True)

    def listdir(self, rel: str) -> List[str]:
        return self._scan(rel, False)

    def readlink(self, rel: str) -> Optional[str]:
        """A symlink's target (``/proc/PID/exe``), or None where it can't be read. A
        directory without the link answers from its manifest, as a snapshot does."""
        try:
            if self._direct(rel):
                return _decoded(os.readlink(_fs(self._abs(rel))))
            parent, name, fd, st = self._walk(rel, follow_last=False)
            try:
                if stat.S_ISLNK(st.st_mode):
                    return _decoded(os.readlink(_fs(name), dir_fd=parent))
            finally:
                os.close(fd)
                os.close(parent)
        except (OSError, _Refused, ValueError):
            pass
        return None if self.live else recorded_link(self, rel)

    def parse(self, rel: str, parser: Callable[[str], object], optional: bool = False):
        """Read ``rel`` and parse it, naming the file in any ParseError.

        With ``optional``, a file the kernel lacks gives None instead of NotFound.
        """
        text = self.read_optional(rel) if optional else self.read_text(rel)
        if text is None:
            return None
        try:
            return parser(text)
        except ParseError as exc:
            exc.path = self.display(rel)
            raise


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _name_in(table, number: int) -> Optional[str]:
    """A name from a manifest's {"uid": "name"} map."""
    if not isinstance(table, dict):
        return None
    name = table.get(str(number))
    return name if isinstance(name, str) and name else None


def recorded_link(root: Root, rel: str) -> Optional[str]:
    """A /proc/PID/exe target kept in the manifest (links are not archived)."""
    parts = rel.split("/")
    if len(parts) == 3 and parts[0] == "proc" and parts[2] == "exe":
        target = (root.recorded("exe") or {}).get(parts[1])
        return target if isinstance(target, str) else None
    return None


def _load_manifest(root: Root) -> dict:
    """A directory's manifest.json, when it is a memscope snapshot's (extracted); else {}."""
    import json

    try:  # read as every file under the root is: regular files only, no links out
        data = json.loads(root.read_bytes("manifest.json").decode("utf-8"))
    except (SourceError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("format") != "memscope-snapshot":
        return {}
    return data


def open_root(path: str) -> Root:
    """--root: the live host (``/``), a directory laid out as a host, or a snapshot
    archive written by ``memscope snapshot`` (a file)."""
    if path != "/" and os.path.isfile(path):
        from memscope.archive import ArchiveRoot

        return ArchiveRoot(path)
    return Root(path)
