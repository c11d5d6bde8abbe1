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


def write_atomic(path: str, text: Union[str, Iterable[str]]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    pieces = (text,) if isinstance(text, str) else text
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".memscope-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise MemscopeError(f"{path}: cannot write ({exc.strerror}; check the directory "
                            "exists and is writable)") from None
    try:
        try:
            os.fchmod(fd, 0o644)
            for piece in pieces:
                view = memoryview(piece.encode("utf-8", "surrogateescape"))
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise MemscopeError(f"{path}: cannot write ({exc.strerror}; check the path and "
                            "free space)") from None
    try:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename itself is done


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
