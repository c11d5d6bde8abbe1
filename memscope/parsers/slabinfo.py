"""/proc/slabinfo: slab caches (``slabinfo_show()``, mm/slab_common.c). Mode 0400: root only.

Sample (version 2.1)::

    slabinfo - version: 2.1
    # name  <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables ... : slabdata <active_slabs> <num_slabs> <sharedavail>
    kmalloc-64   3520   3520   64   64    1 : tunables    0    0    0 : slabdata     55     55      0

Units: objects, bytes (objsize), pages (pagesperslab), slabs.
"""

from __future__ import annotations

from typing import List, NamedTuple

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int


class Cache(NamedTuple):
    name: str
    active_objects: int
    total_objects: int
    object_size: int
    objects_per_slab: int
    pages_per_slab: int
    active_slabs: int
    total_slabs: int


def parse_slabinfo(text: str) -> List[Cache]:
    check_text(text)
    lines = kernel_lines(text)
    if not lines[0].startswith("slabinfo - version: 2."):
        raise ParseError(f"expected 'slabinfo - version: 2.x', got {lines[0][:40]!r}", 1)
    out = []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        head, sep, rest = line.partition(":")
        parts = head.split()
        slabdata = rest.rpartition("slabdata")[2].split()
        if not sep or len(parts) != 6 or len(slabdata) < 2:
            raise ParseError(f"expected a slab cache line, got {line[:60]!r}", lineno)
        nums = [parse_int(p, "slabinfo", lineno) for p in parts[1:]]
        slabs = [parse_int(p, "slabdata", lineno) for p in slabdata[:2]]
        out.append(Cache(parts[0], *nums, *slabs))
    return out
