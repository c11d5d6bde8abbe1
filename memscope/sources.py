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
    from typing import Callable, List, Optional


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

    def recorded(self, key: str):
        """What a snapshot's manifest recorded (page_size, users, exe, statfs, taken_at):
        nothing, for a live host or a directory."""
        return None

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
        """A symlink's target (``/proc/PID/exe``), or None where it can't be read."""
        try:
            return os.readlink(self._abs(rel))
        except OSError:
            return None

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


def open_root(path: str) -> Root:
    """--root: the live host (``/``), a directory laid out as a host, or a snapshot
    archive written by ``memscope snapshot`` (a file)."""
    if path != "/" and os.path.isfile(path):
        from memscope.archive import ArchiveRoot

        return ArchiveRoot(path)
    return Root(path)
