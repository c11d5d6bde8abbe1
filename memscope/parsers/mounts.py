"""/proc/PID/mounts (= /proc/self/mounts): the mount table in fstab format.

Kernel: ``show_vfsmnt()`` in fs/proc_namespace.c. Sample::

    tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0

Spaces, tabs, newlines and backslashes in paths are octal-escaped (``\\040``).
"""

from __future__ import annotations

from typing import List, Tuple

from memscope.parsers import check_text, kernel_lines


def _unescape(field: str) -> str:
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and len(field) >= i + 4 and \
                all(c in "01234567" for c in field[i + 1:i + 4]):
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mounts(text: str) -> List[Tuple[str, str, str, str]]:
    """(device, mountpoint, fstype, options) for every well-formed line; others skipped."""
    if not text.strip():
        return []
    check_text(text)
    out = []
    for line in kernel_lines(text):
        # fields are separated by one space; str.split() would also cut at \x1c-\x1f,
        # \x85, U+00A0, U+2028..., which a mount point may hold unescaped
        parts = [p for p in line.split(" ") if p]
        if len(parts) >= 3:
            out.append((_unescape(parts[0]), _unescape(parts[1]), parts[2],
                        parts[3] if len(parts) > 3 else ""))
    return out
