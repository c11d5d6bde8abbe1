"""/proc/sysvipc/shm: System V shared memory segments (``sysvipc_shm_proc_show()``,
ipc/shm.c).

Sample (4.x+; rss and swap columns since ≈2.6.27 in bytes)::

           key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap
    1836412275          0   600               4194304  1234  1234      1     0     0     0     0          0          0 1763812345               4194304                     0

Units: bytes for size, rss, swap. The key is printed in decimal.
"""

from __future__ import annotations

from typing import Dict, List

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int


def parse_sysvipc_shm(text: str) -> List[Dict[str, int]]:
    check_text(text)
    lines = kernel_lines(text)
    header = lines[0].split()
    if "key" not in header or "size" not in header:
        raise ParseError(f"expected a header naming key and size, got {lines[0][:60]!r}", 1)
    out = []
    for lineno, line in enumerate(lines[1:], 2):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(header):
            raise ParseError(f"{len(parts)} fields where the header names {len(header)}",
                             lineno)
        row = {}
        for name, value in zip(header, parts):
            # ipc/shm.c sysvipc_shm_proc_show prints key and shmid with %10d
            row[name] = parse_int(value, name, lineno, signed=name in ("key", "shmid"))
        out.append(row)
    return out
