"""/proc/PID/status: a process's identity and its mm counters, world-readable and O(1).

Kernel: ``proc_pid_status()`` and ``task_mem()`` in fs/proc/array.c and fs/proc/task_mmu.c.
KERNEL.md §6.2. Sample::

    Name:	python3
    Uid:	0	0	0	0
    VmSize:	  316652 kB
    RssAnon:	   74516 kB

Units: kB (returned in bytes). Kernel threads and zombies have no mm: no Vm* lines.
Variants: RssAnon/RssFile/RssShmem and HugetlbPages 4.5+; VmPMD 4.x only; Kthread 6.x.
``Name`` is escaped by the kernel (newline and backslash; octal escapes on old kernels) and
otherwise set by any user: it is unescaped here and treated as untrusted text.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from memscope.errors import ParseError
from memscope.parsers import check_text

KB_FIELDS = frozenset("""
VmPeak VmSize VmLck VmPin VmHWM VmRSS RssAnon RssFile RssShmem VmData VmStk VmExe VmLib
VmPTE VmPMD VmSwap HugetlbPages
""".split())


class Status:
    __slots__ = ("name", "pid", "ppid", "uids", "kthread", "fields", "threads")

    def __init__(self) -> None:
        self.name: Optional[str] = None
        self.pid: Optional[int] = None
        self.ppid: Optional[int] = None
        self.uids: Optional[List[int]] = None
        self.kthread: Optional[bool] = None
        self.threads: Optional[int] = None
        self.fields: Dict[str, int] = {}

    @property
    def has_mm(self) -> bool:
        """False for kernel threads and zombies: no address space to measure."""
        return "VmSize" in self.fields


def unescape_name(value: str) -> str:
    """Undo the kernel's escaping of Name: ``\\n`` and ``\\\\`` (4.x+), ``\\ooo`` (older)."""
    if "\\" not in value:
        return value
    out = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            if nxt == "n":
                out.append("\n")
                i += 2
                continue
            if nxt == "\\":
                out.append("\\")
                i += 2
                continue
            octal = value[i + 1:i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal):
                out.append(chr(int(octal, 8)))
                i += 4
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _int(value: str, key: str, lineno: int) -> int:
    value = value.strip()
    if not value.isdigit() or not value.isascii():
        raise ParseError(f"{key}: {value!r} is not a number", lineno)
    return int(value)


def parse_status(text: str) -> Status:
    check_text(text)
    st = Status()
    for lineno, line in enumerate(text.splitlines(), 1):
        key, sep, value = line.partition(":")
        if not sep:
            continue  # not in the kernel's shape: tolerated
        if key in KB_FIELDS:
            parts = value.split()
            if len(parts) != 2 or parts[1] != "kB":
                raise ParseError(f"{key}: expected 'N kB', got {value.strip()!r}", lineno)
            if key in st.fields:
                raise ParseError(f"{key}: duplicate line", lineno)
            st.fields[key] = _int(parts[0], key, lineno) * 1024
        elif key == "Name":
            st.name = unescape_name(value[1:] if value.startswith("\t") else value.strip())
        elif key == "Pid":
            st.pid = _int(value, key, lineno)
        elif key == "PPid":
            st.ppid = _int(value, key, lineno)
        elif key == "Threads":
            st.threads = _int(value, key, lineno)
        elif key == "Kthread":
            st.kthread = _int(value, key, lineno) == 1
        elif key == "Uid":
            parts = value.split()
            if len(parts) != 4:
                raise ParseError(f"Uid: expected four ids, got {value.strip()!r}", lineno)
            st.uids = [_int(p, key, lineno) for p in parts]
    if st.name is None:
        raise ParseError("no Name line", None)
    return st
