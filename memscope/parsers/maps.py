"""/proc/PID/maps: a process's mappings, one line each, without counters.

Kernel: ``show_map_vma()`` in fs/proc/task_mmu.c; documented in
Documentation/filesystems/proc.rst ("/proc/PID/maps"). Sample::

    7ffff7a00000-7ffff7e00000 rw-s 00000000 00:11 4          /SYSV00003039 (deleted)
    7ffff7ff7000-7ffff7ffb000 r--p 00000000 00:00 0          [vvar]

Fields: start-end (hex), perms (4 characters: rwx + p|s), offset (hex), device (major:minor,
hex), inode (decimal; the shmid for a SysV segment), path (may hold spaces; may end in
`` (deleted)``; empty for anonymous memory). Much cheaper than smaps (no page-table walk):
memscope reads it to find which processes map a shmem or hugetlb object before reading their
smaps. The format has not changed since 2.6.
"""

from __future__ import annotations

from typing import List, NamedTuple

from memscope.errors import ParseError
from memscope.parsers import kernel_lines, parse_int

_HEX = frozenset("0123456789abcdef")


class MapsLine(NamedTuple):
    start: int
    end: int
    perms: str
    offset: int
    dev: str
    inode: int
    path: str


def _hex(value: str, field: str, lineno: int) -> int:
    if not value or not set(value) <= _HEX:
        raise ParseError(f"{field}: {value!r} is not a hexadecimal number", lineno)
    return int(value, 16)


def unescape_path(path: str) -> str:
    """A mapped file's name as it is: maps and smaps print a newline in it as ``\\012``
    (``seq_file_path(m, file, "\\n")``, fs/proc/task_mmu.c) and escape nothing else. A name
    holding the four characters ``\\012`` reads the same; the kernel's text can't tell them
    apart, and the newline is taken (as the mount table's ``\\012`` is)."""
    return path.replace("\\012", "\n") if "\\012" in path else path


def header_path(header: str) -> str:
    """The name at the end of a maps or smaps header line ('' for anonymous memory)."""
    parts = header.split(None, 5)
    return unescape_path(parts[5]) if len(parts) > 5 else ""


def parse_maps(text: str) -> List[MapsLine]:
    """Every mapping of the file; an empty file (a process that exited, or a kernel
    thread) is an empty list."""
    if "\x00" in text:
        raise ParseError("binary data (NUL byte)", text.count("\n", 0, text.find("\x00")) + 1)
    out: List[MapsLine] = []
    for lineno, line in enumerate(kernel_lines(text), 1):
        if not line.strip():
            continue
        parts = line.split(None, 5)
        if len(parts) < 5:
            raise ParseError(f"malformed mapping line {line[:80]!r}", lineno)
        rng, perms, offset, dev, inode = parts[:5]
        start, sep, end = rng.partition("-")
        if not sep or len(perms) != 4 or dev.count(":") != 1:
            raise ParseError(f"malformed mapping line {line[:80]!r}", lineno)
        major, minor = dev.split(":")
        _hex(major, "device", lineno)
        _hex(minor, "device", lineno)
        out.append(MapsLine(_hex(start, "start", lineno), _hex(end, "end", lineno), perms,
                            _hex(offset, "offset", lineno), dev,
                            parse_int(inode, "inode", lineno),
                            unescape_path(parts[5]) if len(parts) > 5 else ""))
    return out
