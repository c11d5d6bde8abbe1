"""/proc/PID/status: a process's identity and its mm counters, world-readable and O(1).

Kernel: ``proc_pid_status()`` and ``task_mem()`` in fs/proc/array.c and fs/proc/task_mmu.c.
docs/kernel.md §6.2. Sample::

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

import re

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Dict, List, Optional

KB_FIELDS = frozenset("""
VmPeak VmSize VmLck VmPin VmHWM VmRSS RssAnon RssFile RssShmem VmData VmStk VmExe VmLib
VmPTE VmPMD VmSwap HugetlbPages
""".split())


class Status:
    __slots__ = ("name", "uids", "fields", "state", "threads")

    def __init__(self) -> None:
        self.name: Optional[str] = None
        self.uids: Optional[List[int]] = None
        self.fields: Dict[str, int] = {}
        self.state: Optional[str] = None     # the State letter: R, S, D, Z, ...
        self.threads: Optional[int] = None   # Threads: live threads of the group

    @property
    def zombie(self) -> bool:
        """State Z (or X): the task has exited. For a thread-group leader with Threads > 1
        only the main thread has: the process lives on in its other threads."""
        return self.state in ("Z", "X")

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
    return parse_int(value.strip(), key, lineno)


# Patterns anchored on a literal newline, not on ^ with re.M: the engine then skips to
# each "\n" in C instead of trying every position.
_KB_LINE = re.compile(r"\n(Vm[A-Za-z]+|Rss[A-Za-z]+|HugetlbPages):[ \t]+([0-9]+) kB(?=\n)")


def parse_status(text: str) -> Status:
    """Parsed status. ``top`` reads one per process, so the usual file is taken with a few
    regular expressions; anything unusual (a known field out of shape, a duplicate) goes to
    the strict line-by-line parse, which names the line."""
    check_text(text)
    fast = _parse_fast(text)
    return fast if fast is not None else _parse_lines(text)


def _parse_fast(text: str) -> Optional[Status]:
    if not text.startswith("Name:") or not text.endswith("\n"):
        return None
    kb = _KB_LINE.findall(text)
    if len(kb) != text.count("\nVm") + text.count("\nRss") + text.count("\nHugetlbPages:"):
        return None
    if any(len(v) > 19 for _k, v in kb):
        return None  # the strict parse names the line of a number past 64 bits
    st = Status()
    st.fields = {k: int(v) << 10 for k, v in kb}
    if len(st.fields) != len(kb):
        return None
    end = text.find("\n")
    name = text[5:end]
    st.name = unescape_name(name[1:] if name.startswith("\t") else name.strip())
    at = text.find("\nUid:")
    if at >= 0:
        uids = text[at + 5:text.find("\n", at + 5)].split()
        if len(uids) != 4 or any(u.strip("0123456789") or len(u) > 19 for u in uids) or \
                text.find("\nUid:", at + 5) >= 0:
            return None
        st.uids = [int(u) for u in uids]
    at = text.find("\nState:")
    if at >= 0:
        st.state = text[at + 7:text.find("\n", at + 7)].strip()[:1] or None
    at = text.find("\nThreads:")
    if at >= 0:
        value = text[at + 9:text.find("\n", at + 9)].strip()
        if not value.isdigit() or not value.isascii():
            return None  # the strict parse names the line
        st.threads = int(value)
    return st


def _parse_lines(text: str) -> Status:
    st = Status()
    for lineno, line in enumerate(kernel_lines(text), 1):
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
        elif key == "State":
            st.state = value.strip()[:1] or None
        elif key == "Threads":
            st.threads = parse_int(value.strip(), key, lineno)
        elif key == "Uid":
            parts = value.split()
            if len(parts) != 4:
                raise ParseError(f"Uid: expected four ids, got {value.strip()!r}", lineno)
            st.uids = [_int(p, key, lineno) for p in parts]
    if st.name is None:
        raise ParseError("no Name line", None)
    return st
