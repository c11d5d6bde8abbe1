"""/proc/meminfo: system-wide memory counters.

Kernel: ``meminfo_proc_show()`` in fs/proc/meminfo.c; documented in
Documentation/filesystems/proc.rst ("meminfo"). docs/kernel.md §1 says what each field means.

Sample::

    MemTotal:       24684084 kB
    HugePages_Total:       0

Units: lines ending in `` kB`` are KiB (returned here in bytes); the HugePages_* lines are
counts of default-size huge pages (returned as is). Fields depend on kernel version and
config (MemAvailable 3.14+, KReclaimable 4.20+, Percpu 4.16+, ...): parse by key.

Variants: vendors add fields (Android: ``Gpu``, ``ION_heap``, ``Zram``; kept, reported as
unknown fields) and even whole sections (Kindle 2.6.31 appends a ``====`` separator and
lines like ``Total RAM:  262144 kB``; lines outside the ``Key: value [kB]`` shape are
skipped and reported).
"""

from __future__ import annotations

import re
from typing import Dict, List, Tuple

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int

# Every field mainline kernels print (2.6.x to 6.18), so that a vendor's addition can be told
# apart. Keys are the kernel's spelling.
KNOWN_FIELDS = frozenset("""
MemTotal MemFree MemAvailable Buffers Cached SwapCached Active Inactive Active(anon)
Inactive(anon) Active(file) Inactive(file) Unevictable Mlocked HighTotal HighFree LowTotal
LowFree MmapCopy SwapTotal SwapFree Zswap Zswapped Dirty Writeback AnonPages Mapped Shmem
KReclaimable Slab SReclaimable SUnreclaim KernelStack ShadowCallStack PageTables
SecPageTables NFS_Unstable Bounce WritebackTmp CommitLimit Committed_AS VmallocTotal
VmallocUsed VmallocChunk Percpu EarlyMemtestBad HardwareCorrupted AnonHugePages
ShmemHugePages ShmemPmdMapped FileHugePages FilePmdMapped CmaTotal CmaFree Unaccepted Balloon
GPUActive GPUReclaim HugePages_Total HugePages_Free HugePages_Rsvd HugePages_Surp
Hugepagesize Hugetlb DirectMap4k DirectMap4M DirectMap2M DirectMap1G Quicklists
""".split())

# The fields printed without a unit (counts of default-size huge pages).
COUNT_FIELDS = frozenset(["HugePages_Total", "HugePages_Free", "HugePages_Rsvd",
                          "HugePages_Surp"])

_LINE = re.compile(r"([A-Za-z0-9_()]+):[ \t]*(\S+)(?:[ \t]+(\S+))?[ \t]*\Z")


class Meminfo:
    """Parsed /proc/meminfo.

    ``fields``: kernel key -> value (bytes for kB lines, counts as is), in file order.
    ``unknown_fields``: keys in the kernel's shape that mainline does not print.
    ``skipped``: (line number, text) of lines outside the shape.
    """

    __slots__ = ("fields", "unknown_fields", "skipped")

    def __init__(self, fields: Dict[str, int], unknown_fields: List[str],
                 skipped: List[Tuple[int, str]]):
        self.fields = fields
        self.unknown_fields = unknown_fields
        self.skipped = skipped

    def get(self, key: str, default=None):
        return self.fields.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.fields

    def __getitem__(self, key: str) -> int:
        return self.fields[key]


def parse_meminfo(text: str) -> Meminfo:
    check_text(text)
    fields: Dict[str, int] = {}
    unknown: List[str] = []
    skipped: List[Tuple[int, str]] = []
    for lineno, line in enumerate(kernel_lines(text), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        known = m is not None and m.group(1) in KNOWN_FIELDS
        if m is None or (not known and (m.group(3) not in (None, "kB")
                                        or m.group(2).strip("0123456789") != "")):
            if m is None and line.split(":", 1)[0] in KNOWN_FIELDS:
                raise ParseError(f"{line.split(':', 1)[0]}: malformed line {line.strip()!r}",
                                 lineno)
            skipped.append((lineno, line))
            continue
        key, value, unit = m.group(1), m.group(2), m.group(3)
        if key in fields:
            raise ParseError(f"{key}: duplicate field", lineno)
        if known:
            if key in COUNT_FIELDS:
                if unit is not None:
                    raise ParseError(f"{key}: unexpected unit {unit!r}", lineno)
            elif unit != "kB":
                raise ParseError(f"{key}: expected a value in kB, got {line.strip()!r}", lineno)
        number = parse_int(value, key, lineno)
        if number < 0:
            raise ParseError(f"{key}: negative value {value!r}", lineno)
        fields[key] = number * 1024 if unit == "kB" else number
        if not known:
            unknown.append(key)
    if "MemTotal" not in fields:
        raise ParseError("no MemTotal line", None)
    if fields["MemTotal"] == 0:  # every share and verdict would divide by it
        raise ParseError("MemTotal is 0: not a running kernel's meminfo", None)
    return Meminfo(fields, unknown, skipped)
