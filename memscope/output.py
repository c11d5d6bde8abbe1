"""Where a command's output goes: stdout, or a file replaced atomically.

``--output FILE`` (SPEC.md "Commands"): the text is written to a temp file named
``.memscope-*.tmp`` in the same directory, mode 0644, fsync'ed, renamed over FILE, and the
directory fsync'ed. A reader sees the old file or the new one, never a partial one; a crash
mid-write leaves the previous file. rename() replaces a symlink at FILE instead of
following it.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, Optional, Union

from memscope.errors import MemscopeError


class AtomicFile:
    """A file replaced atomically: ``with AtomicFile(path) as f: f.write(...)``.

    Writes go to ``.memscope-*.tmp`` in the same directory (mode 0644); on success the data
    is fsync'ed, renamed over ``path`` and the directory fsync'ed; on any failure the temp
    file is removed and ``path`` is untouched.
    """

    def __init__(self, path: str):
        self.path = path
        self.directory = os.path.dirname(os.path.abspath(path))

    def __enter__(self):
        import tempfile

        try:
            fd, self.tmp = tempfile.mkstemp(prefix=".memscope-", suffix=".tmp",
                                            dir=self.directory)
            os.fchmod(fd, 0o644)
        except OSError as exc:
            raise MemscopeError(f"{self.path}: cannot write ({exc.strerror}; check the "
                                "directory exists and is writable)") from None
        self.file = os.fdopen(fd, "wb")
        return self.file

    def __exit__(self, kind, value, tb) -> None:
        try:
            if kind is None:
                self.file.flush()
                os.fsync(self.file.fileno())
            self.file.close()
            if kind is None:
                os.replace(self.tmp, self.path)
        except OSError as exc:
            self._discard()
            raise MemscopeError(f"{self.path}: cannot write ({exc.strerror}; check the path "
                                "and free space)") from None
        if kind is not None:
            self._discard()
            if isinstance(value, OSError) and not isinstance(value, BrokenPipeError):
                raise MemscopeError(f"{self.path}: cannot write ({value.strerror}; check the "
                                    "path and free space)") from None
            return
        try:
            dfd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass  # some filesystems refuse fsync on a directory; the rename is done

    def _discard(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def write_atomic(path: str, text: Union[str, Iterable[str]]) -> None:
    pieces = (text,) if isinstance(text, str) else text
    with AtomicFile(path) as f:
        for piece in pieces:
            f.write(piece.encode("utf-8", "surrogateescape"))


def emit(text: Union[str, Iterable[str]], output: Optional[str]) -> None:
    """Write a rendered document (a string, or pieces to write in turn)."""
    if output is None or output == "-":
        try:
            write = sys.stdout.write
            for piece in (text,) if isinstance(text, str) else text:
                write(piece)
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # the reader went away (| head): the CLI exits quietly
        except OSError as exc:
            raise MemscopeError(f"standard output: cannot write ({exc.strerror}; check "
                                "where it is redirected)") from None
    else:
        write_atomic(output, text)
