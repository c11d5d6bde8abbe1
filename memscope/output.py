"""Where a command's output goes: stdout, or ``--output FILE``.

``--output FILE`` (docs/contract.md "Commands"):

- a regular file, or a path where nothing is yet, is replaced atomically: the text is written
  to a temp file named ``.memscope-*.tmp`` in the same directory, fsync'ed, renamed over FILE,
  and the directory fsync'ed. A reader sees the old file or the new one, never a partial one;
  a crash mid-write leaves the previous file. An existing regular file keeps its mode (and,
  for root, its owner); a new file follows the umask, as a shell's ``>`` would. rename()
  replaces a symlink at FILE instead of following it.
- anything else — a character or block device (/dev/null), a FIFO, a socket, /dev/stdout,
  /proc/self/fd/N, a process substitution ``>(gzip)`` (/dev/fd/63), or a symlink to one of
  those, or any path on the filesystems of /dev, /proc or /sys — is written in place and
  never replaced: our own descriptors (/dev/stdout, /dev/fd/N, /proc/self/fd/N) are
  dup()ed, so a pipe or socket works and an append-mode file keeps appending; other paths
  are opened for writing without O_CREAT and, for a device or FIFO, without O_TRUNC.
- a directory, or a name ending in ``/``, is refused with one line.

No signal leaves a temp file behind: the temp files being written are listed in
``PENDING``, created and renamed with SIGINT/SIGTERM/SIGHUP blocked (so a signal lands
before the name is listed or after it is gone, never between), and memscope.main's signal
handler calls cleanup() before it exits.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Iterable, Optional, Union

from memscope.errors import MemscopeError

PENDING: set = set()  # temp files being written (absolute names), removed by cleanup()

# Names of this process's own descriptors: written through a dup() of the descriptor.
_OWN_FD_DIRS = ("/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/")
_STD_NAMES = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
# Pseudo filesystems: nothing there is ours to rename over.
_PSEUDO = ("/dev", "/proc", "/sys")


def cleanup() -> None:
    """Remove every temp file still being written (on a signal, or any exit)."""
    for tmp in list(PENDING):
        try:
            os.unlink(tmp)
        except OSError:
            pass
        PENDING.discard(tmp)


def _signals_blocked():
    import signal

    wanted = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    return signal.pthread_sigmask(signal.SIG_BLOCK, wanted)


def _restore(old) -> None:
    import signal

    signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _fail(path: str, reason: str, hint: str = "check the path and free space") -> MemscopeError:
    return MemscopeError(f"{path}: cannot write ({reason}; {hint})")


def _own_fd(path: str) -> Optional[int]:
    """N when ``path`` names this process's descriptor N (/dev/stdout, /proc/self/fd/N...)."""
    norm = os.path.normpath(path) if path.startswith("/") else None
    if norm is None:
        return None
    if norm in _STD_NAMES:
        return _STD_NAMES[norm]
    for prefix in _OWN_FD_DIRS + (f"/proc/{os.getpid()}/fd/",):
        tail = norm[len(prefix):] if norm.startswith(prefix) else ""
        if tail.isascii() and tail.isdigit():
            return int(tail)
    return None


def _absolute(path: str) -> str:
    try:
        return os.path.abspath(path)
    except FileNotFoundError:
        raise _fail(path, "the working directory no longer exists",
                    "give an absolute path, or cd to a directory that exists") from None


def _in_pseudo_fs(abspath: str) -> bool:
    """Is the directory on the filesystem of /dev, /proc or /sys itself? (/dev/shm, a tmpfs
    of its own, is not: files are made there as anywhere.)"""
    try:
        dev = os.stat(os.path.dirname(abspath)).st_dev
    except OSError:
        return False
    for top in _PSEUDO:
        try:
            if os.stat(top).st_dev == dev:
                return True
        except OSError:
            continue
    return False


class InPlace:
    """Writes into something that is not a regular file: a device, FIFO, socket, pipe."""

    def __init__(self, path: str, fd: int):
        self.path = path
        self.file = os.fdopen(fd, "wb")

    def __enter__(self):
        return self.file

    def __exit__(self, kind, value, tb) -> None:
        try:
            self.file.close()
        except OSError as exc:
            if kind is None and not isinstance(exc, BrokenPipeError):
                raise _fail(self.path, exc.strerror) from None
        if isinstance(value, OSError) and not isinstance(value, BrokenPipeError):
            raise _fail(self.path, value.strerror) from None


def open_output(path: str):
    """A context manager giving a binary file for ``path`` (see the module's rules)."""
    if not path:
        raise MemscopeError("-o: the file name is empty (give a file name, or - for stdout)")
    fd = _own_fd(path)
    if fd is not None:
        closed = {0: sys.stdin, 1: sys.stdout, 2: sys.stderr}.get(fd, True) is None
        try:
            if closed:
                raise OSError(9, "Bad file descriptor")
            return InPlace(path, os.dup(fd))
        except OSError:
            raise _fail(path, f"descriptor {fd} is not open",
                        "redirect it, or give a file name") from None
    abspath = _absolute(path)
    if path.endswith("/") or os.path.isdir(abspath):
        raise _fail(path, "it is a directory",
                    "give a file name, e.g. " + os.path.join(path, "memscope.out"))
    try:
        st = os.stat(abspath)  # through a symlink: what would be written to
    except FileNotFoundError:
        st = None  # nothing there, or a dangling symlink: replaced
    except OSError as exc:
        raise _fail(path, exc.strerror, "check the path") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        return InPlace(path, _open_in_place(path, abspath, st.st_mode))
    if _in_pseudo_fs(abspath):
        if st is None:
            raise _fail(path, "no such file", "memscope creates no files under /dev, /proc "
                        "or /sys")
        return InPlace(path, _open_in_place(path, abspath, st.st_mode))
    return AtomicFile(path, abspath)


def _open_in_place(path: str, abspath: str, mode: int) -> int:
    if stat.S_ISSOCK(mode):
        import socket

        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            sock = socket.socket(socket.AF_UNIX, kind)
            try:
                sock.connect(abspath)
                return sock.detach()
            except OSError as exc:
                sock.close()
                error = exc
        raise _fail(path, f"a socket that takes no connection: {error.strerror}",
                    "check that its server is listening") from None
    flags = os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC
    if stat.S_ISREG(mode):
        flags |= os.O_TRUNC  # a regular file reached through /proc: what > would do
    try:
        return os.open(abspath, flags)
    except OSError as exc:
        raise _fail(path, exc.strerror, "check the path") from None


class AtomicFile:
    """A file replaced atomically: ``with AtomicFile(path) as f: f.write(...)``.

    Writes go to ``.memscope-*.tmp`` in the same directory; on success the data is fsync'ed,
    renamed over ``path`` and the directory fsync'ed; on any failure the temp file is removed
    and ``path`` is untouched. The new file gets the mode (and, for root, the owner) of the
    regular file it replaces, or the umask's default for a new file.
    """

    def __init__(self, path: str, abspath: Optional[str] = None):
        self.path = path
        self.abspath = abspath or _absolute(path)
        self.directory = os.path.dirname(self.abspath)
        self.tmp: Optional[str] = None

    def _target_mode(self):
        """(mode, uid, gid) of the regular file being replaced, or (umask default, None, None)
        for a new file or a symlink."""
        try:
            st = os.lstat(self.abspath)
            if stat.S_ISREG(st.st_mode):
                return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        except OSError:
            pass
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask, None, None

    def __enter__(self):
        import tempfile

        mode, uid, gid = self._target_mode()
        old = _signals_blocked()
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=".memscope-", suffix=".tmp",
                                            dir=self.directory)
            PENDING.add(self.tmp)
            try:
                if uid is not None and os.geteuid() == 0:
                    os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
            except OSError:
                self._discard_fd(fd)
                raise
        except OSError as exc:
            raise _fail(self.path, exc.strerror,
                        "check the directory exists and is writable") from None
        finally:
            _restore(old)
        self.file = os.fdopen(fd, "wb")
        return self.file

    def _discard_fd(self, fd: int) -> None:
        os.close(fd)
        self._unlink()

    def __exit__(self, kind, value, tb) -> None:
        try:
            if kind is None:
                self.file.flush()
                os.fsync(self.file.fileno())
            self.file.close()
            if kind is None:
                old = _signals_blocked()
                try:
                    os.replace(self.tmp, self.abspath)
                    PENDING.discard(self.tmp)
                finally:
                    _restore(old)
        except OSError as exc:
            self._discard()
            reason = exc.strerror
            if isinstance(exc, IsADirectoryError):
                reason = "a directory appeared at the path"
            raise _fail(self.path, reason) from None
        if kind is not None:
            self._discard()
            if isinstance(value, OSError) and not isinstance(value, BrokenPipeError):
                raise _fail(self.path, value.strerror) from None
            return
        try:
            dfd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass  # some filesystems refuse fsync on a directory; the rename is done

    def _unlink(self) -> None:
        try:
            os.unlink(self.tmp)
        except OSError:
            pass
        PENDING.discard(self.tmp)

    def _discard(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass
        self._unlink()


def write_file(path: str, text: Union[str, Iterable[str]]) -> None:
    pieces = (text,) if isinstance(text, str) else text
    with open_output(path) as f:
        for piece in pieces:
            f.write(piece.encode("utf-8", "surrogateescape"))


write_atomic = write_file  # the old name


def _stdout_is_utf8() -> bool:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return encoding in ("utf8", "utf8sig")


def emit(text: Union[str, Iterable[str]], output: Optional[str], utf8: bool = False) -> None:
    """Write a rendered document (a string, or pieces to write in turn).

    ``utf8``: machine formats are UTF-8 whatever the locale says (JSON, YAML and the
    Prometheus text format are defined in UTF-8); tables go in the terminal's encoding.
    """
    if output is None or output == "-":
        if sys.stdout is None:  # started with stdout closed (>&-)
            raise MemscopeError("standard output: cannot write (it is closed; redirect it, "
                                "or give -o FILE)")
        try:
            pieces = (text,) if isinstance(text, str) else text
            out = getattr(sys.stdout, "buffer", None)  # none on a StringIO (tests)
            if utf8 and out is not None and not _stdout_is_utf8():
                sys.stdout.flush()
                for piece in pieces:
                    out.write(piece.encode("utf-8", "surrogateescape"))
                out.flush()
            else:
                write = sys.stdout.write
                for piece in pieces:
                    write(piece)
                sys.stdout.flush()
        except BrokenPipeError:
            raise  # the reader went away (| head): the CLI exits quietly
        except OSError as exc:
            raise MemscopeError(f"standard output: cannot write ({exc.strerror}; check "
                                "where it is redirected)") from None
    else:
        write_file(output, text)
