"""The one place that opens files: a Root through which every kernel file is read.

``Root("/")`` is the live host. ``Root(DIR)`` is a directory laid out as a host (``DIR/proc``,
``DIR/sys``): captured trees, test fixtures. Snapshot archives join through the same
interface later. Callers name files relative to the root (``"proc/meminfo"``); error
messages name them as the user knows them (``/proc/meminfo`` live, ``DIR/proc/meminfo``
otherwise).

OSError becomes memscope's errors here and nowhere else (psutil's choke-point habit):
ENOENT -> NotFound, EACCES/EPERM -> PermissionDenied, EOPNOTSUPP/EINVAL on read ->
Unsupported (PSI files read EOPNOTSUPP when PSI is off; some v1 cgroup files EINVAL).
"""

from __future__ import annotations

import errno
import os

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
    from typing import Callable, Dict, List, Optional


# A kernel text file bigger than this is hostile or broken, not /proc: refuse it rather than
# exhausting memory. (The largest real files memscope reads, smaps of a process at
# vm.max_map_count, are ~40 MB.)
MAX_FILE_BYTES = 256 * 1024 * 1024
READ_CHUNK = 128 * 1024


def _read_fd(path: str, rel: str) -> bytes:
    # Read in chunks: sysctl files kmalloc a buffer of the requested size (asking for the
    # cap at once fails with ENOMEM), and seq_file resumes cleanly between reads.
    chunks = []
    size = 0
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while True:
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise _TooLarge(rel)
    finally:
        os.close(fd)
    return b"".join(chunks)


class _TooLarge(Exception):
    pass


class Root:
    """Read files of a host: the live one (``/``) or a directory laid out as one."""

    def __init__(self, path: str = "/"):
        self.path = path
        real = os.path.realpath(path)
        self.live = real == "/"
        if not self.live:
            if not os.path.exists(path):
                raise MemscopeError(f"--root {path}: no such directory "
                                    "(give a directory holding proc/ and sys/ as on a host)")
            if not os.path.isdir(path):
                raise MemscopeError(f"--root {path}: not a directory "
                                    "(give a directory holding proc/ and sys/ as on a host)")
        self._prefix = "/" if self.live else real.rstrip("/") + "/"

    def __repr__(self) -> str:
        return f"Root({self.path!r})"

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
                dev = os.stat(mountpoint).st_dev
                vfs = os.statvfs(mountpoint)
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
        if code in (errno.ENOENT, errno.ENOTDIR, errno.ESRCH):
            return NotFound(name, "no such file")
        if code in (errno.EACCES, errno.EPERM):
            return PermissionDenied(name, "permission denied")
        if code in (errno.EOPNOTSUPP, errno.EINVAL):
            return Unsupported(name, f"not supported by this kernel ({os.strerror(code)})")
        if code == errno.EISDIR:
            return SourceError(name, "is a directory, not a file",
                               "check the --root tree")
        return SourceError(name, os.strerror(code) if code else str(exc))

    def read_bytes(self, rel: str) -> bytes:
        """The whole file, read in one pass (procfs files are racy across partial reads)."""
        try:
            return _read_fd(self._abs(rel), rel)
        except OSError as exc:
            raise self._error(rel, exc) from None
        except _TooLarge:
            raise SourceError(self.display(rel), f"larger than {MAX_FILE_BYTES} bytes",
                              "not a kernel file: check the --root tree") from None

    def read_text(self, rel: str) -> str:
        # Kernel files are ASCII; anything else is shown, never fatal, at decode time.
        return self.read_bytes(rel).decode("utf-8", "replace")

    def read_optional(self, rel: str) -> Optional[str]:
        """The file's text, or None where the kernel lacks it (absent or unsupported)."""
        try:
            return self.read_text(rel)
        except (NotFound, Unsupported):
            return None

    def exists(self, rel: str) -> bool:
        return os.path.exists(self._abs(rel))

    def isdir(self, rel: str) -> bool:
        return os.path.isdir(self._abs(rel))

    def inside(self, rel: str, base: str) -> bool:
        """Is ``rel``, symlinks resolved, still below ``base``? (A hostile tree may hold
        links out of it.)"""
        real = os.path.realpath(self._abs(rel))
        top = os.path.realpath(self._abs(base))
        return real == top or real.startswith(top.rstrip("/") + "/")

    def subdirs(self, rel: str) -> List[str]:
        """Names of the directories directly under ``rel`` (not following links)."""
        try:
            with os.scandir(self._abs(rel)) as it:
                return sorted(e.name for e in it if e.is_dir(follow_symlinks=False))
        except OSError as exc:
            raise self._error(rel, exc) from None

    def readlink(self, rel: str) -> Optional[str]:
        """A symlink's target (``/proc/PID/exe``), or None where it can't be read. A
        directory without the link answers from its manifest, as a snapshot does."""
        try:
            return os.readlink(self._abs(rel))
        except OSError:
            pass
        return None if self.live else recorded_link(self, rel)

    def listdir(self, rel: str) -> List[str]:
        try:
            return sorted(os.listdir(self._abs(rel)))
        except OSError as exc:
            raise self._error(rel, exc) from None

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
    if not os.path.isfile(root._abs("manifest.json")):
        return {}
    import json

    try:
        data = json.loads(root.read_bytes("manifest.json").decode("utf-8"))
    except (SourceError, ValueError):
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
