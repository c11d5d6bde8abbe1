"""/proc/PID/stat: one line of process state (``proc_pid_stat()``, fs/proc/array.c; proc(5)).

Sample::

    19124 (python3) S 19119 19119 2358 0 -1 4194560 ...

The comm field is set by the process itself and may hold spaces, ``)`` and newlines: the
record is split at the *last* ``)``. Fields after it are numbers (proc(5) numbering: field 3
is state, 9 flags, 22 starttime in clock ticks, 23 vsize bytes, 24 rss pages).
"""

from __future__ import annotations


from memscope.errors import ParseError
from memscope.parsers import check_text, parse_int

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Dict, Union

PF_KTHREAD = 0x00200000
# proc(5) fields 7, 8, 16-21 (tty_nr .. itrealvalue), as offsets from field 4
_SIGNED = frozenset(f - 4 for f in (7, 8, 16, 17, 18, 19, 20, 21))


def parse_stat(text: str) -> Dict[str, Union[int, str]]:
    check_text(text)
    lpar = text.find(" (")
    rpar = text.rfind(")")
    if lpar < 0 or rpar < lpar:
        raise ParseError("expected 'PID (comm) state ...'", 1)
    pid = text[:lpar]
    rest = text[rpar + 1:].split()
    lineno = text.count("\n", 0, rpar) + 1
    if len(rest) < 22:
        raise ParseError("expected 'PID (comm) state ...' with at least 24 fields", lineno)
    # fs/proc/array.c do_task_stat: tty_nr, tpgid, cutime, cstime, priority, nice and
    # itrealvalue are printed signed (%d/%ld); the rest unsigned.
    nums = [parse_int(x, f"field {i + 4}", lineno, signed=i in _SIGNED)
            for i, x in enumerate(rest[1:22])]
    return {
        "pid": parse_int(pid, "pid", 1),
        "comm": text[lpar + 2:rpar],
        "state": rest[0],
        "ppid": nums[0],
        "flags": nums[5],
        "starttime": nums[18],
        "vsize": nums[19],
        "rss_pages": nums[20],
    }


def parse_cmdline(data: bytes) -> str:
    """argv joined by spaces, decoded with replacement (any user sets it)."""
    return data.rstrip(b"\x00").replace(b"\x00", b" ").decode("utf-8", "replace")
