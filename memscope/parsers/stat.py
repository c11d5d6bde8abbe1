"""/proc/PID/stat: one line of process state (``proc_pid_stat()``, fs/proc/array.c; proc(5)).

Sample::

    19124 (python3) S 19119 19119 2358 0 -1 4194560 ...

The comm field is set by the process itself and may hold spaces, ``)`` and newlines: the
record is split at the *last* ``)``. Fields after it are numbers (proc(5) numbering: field 3
is state, 9 flags, 22 starttime in clock ticks, 23 vsize bytes, 24 rss pages).
"""

from __future__ import annotations


from memscope.errors import ParseError
from memscope.parsers import check_text

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Dict, Union

PF_KTHREAD = 0x00200000


def parse_stat(text: str) -> Dict[str, Union[int, str]]:
    check_text(text)
    lpar = text.find(" (")
    rpar = text.rfind(")")
    if lpar < 0 or rpar < lpar:
        raise ParseError("expected 'PID (comm) state ...'", 1)
    pid = text[:lpar]
    rest = text[rpar + 1:].split()
    if not pid.isdigit() or len(rest) < 22:
        raise ParseError("expected 'PID (comm) state ...' with at least 24 fields",
                         text.count("\n", 0, rpar) + 1)
    try:
        nums = [int(x) for x in rest[1:22]]
    except ValueError:
        raise ParseError("a numeric field after the comm is not a number",
                         text.count("\n", 0, rpar) + 1) from None
    return {
        "pid": int(pid),
        "comm": text[lpar + 2:rpar],
        "state": rest[0],
        "ppid": nums[0],
        "flags": nums[5],
        "starttime": nums[18],
        "vsize": nums[19],
        "rss_pages": nums[20],
    }


def parse_cmdline(data: bytes) -> str:
    """argv joined by spaces (any user sets it); bytes that are not UTF-8 are kept as
    surrogate escapes (PEP 383), so machine output carries them losslessly."""
    return data.rstrip(b"\x00").replace(b"\x00", b" ").decode("utf-8", "surrogateescape")
