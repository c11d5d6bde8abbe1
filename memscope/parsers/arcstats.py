"""/proc/spl/kstat/zfs/arcstats (OpenZFS kstat): the ZFS ARC, memory that already sits in
another category (slab, vmalloc or unaccounted; never page cache: not in Cached).

A two-line header, then ``name type data``::

    13 1 0x01 123 33456 1234567 7654321
    name                            type data
    size                            4    1073741824
    c_min                           4    33554432

Units: bytes for size, c, c_min, c_max.
"""

from __future__ import annotations

from typing import Dict

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int


def parse_arcstats(text: str) -> Dict[str, int]:
    check_text(text)
    lines = kernel_lines(text)
    out: Dict[str, int] = {}
    start = next((i for i, line in enumerate(lines) if line.split()[:1] == ["name"]), None)
    if start is None:
        raise ParseError("no 'name type data' header", None)
    for lineno, line in enumerate(lines[start + 1:], start + 2):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise ParseError(f"expected 'name type data', got {line.strip()[:60]!r}", lineno)
        # kstat data type 3 is KSTAT_DATA_INT64 (memory_available_bytes goes below 0)
        out[parts[0]] = parse_int(parts[2], parts[0], lineno, signed=parts[1] == "3")
    return out
