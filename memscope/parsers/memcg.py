"""cgroup memory controller files, v1 and v2: flat ``key value`` files and single values;
and /proc/PID/cgroup, which names a process's cgroup in each hierarchy.

Kernel: mm/memcontrol.c (``memory_stat_format()``, v2) and mm/memcontrol-v1.c
(``memcg1_stat_format()``, v1); Documentation/admin-guide/cgroup-v2.rst and
cgroup-v1/memory.rst. docs/kernel.md §7. Samples::

    anon 465981440            (v2 memory.stat: bytes, events are counts)
    total_cache 909434880     (v1 memory.stat: total_* are hierarchical)
    oom_kill 5                (v2 memory.events, v1 memory.oom_control)
    max                       (v2 memory.max / memory.high: no limit)
    9223372036854771712       (v1 limit_in_bytes: no limit, page-rounded LONG_MAX)

Units: bytes. New keys appear anywhere in memory.stat with new kernels: kept as they come.
"""

from __future__ import annotations

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int, parse_key_values

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Dict, Optional

# v1 prints LONG_MAX rounded down to a page for "no limit" (older kernels: LONG_MAX itself);
# v2 prints "max". Anything this large is no limit at all.
UNLIMITED = 1 << 62


def parse_flat_keyed(text: str) -> Dict[str, int]:
    """memory.stat, memory.events, memory.oom_control: one ``key value`` a line."""
    return parse_key_values(text)


def parse_value(text: str) -> Optional[int]:
    """A single-value file (memory.current, memory.max, usage_in_bytes, ...): bytes, or
    None for "no limit" (``max``, or v1's LONG_MAX)."""
    check_text(text)
    lines = [line for line in kernel_lines(text) if line.strip()]
    if len(lines) != 1:
        raise ParseError(f"expected one value, got {len(lines)} lines", 2 if lines else 1)
    value = lines[0].strip()
    if value == "max":
        return None
    number = parse_int(value, "value", 1)
    return None if number >= UNLIMITED else number


def memory_cgroup(text: Optional[str]) -> Optional[str]:
    """The memory controller's cgroup path from /proc/PID/cgroup (v1 "N:memory:/x" line,
    else the v2 "0::/x" line)."""
    if not text:
        return None
    unified = None
    for line in kernel_lines(text):
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if "memory" in parts[1].split(","):
            return parts[2]
        if parts[0] == "0" and parts[1] == "":
            unified = parts[2]
    return unified
