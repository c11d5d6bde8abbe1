"""/proc/buddyinfo: free blocks per order, per populated zone (docs/kernel.md §8).

Kernel: ``frag_show_print()`` in mm/vmstat.c. Sample::

    Node 0, zone   Normal    115    294   1087    762    326    184     66     46     25      8     43

Units: counts of free blocks of 2^order pages (all migrate types). The number of orders is
NR_PAGE_ORDERS (11 on x86_64 with 4 KiB pages; other configurations differ). Unpopulated
zones are not printed. Lines end in a space.
"""

from __future__ import annotations

import re
from typing import Dict, List, Tuple

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int

_LINE = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+)((?:\s+\S+)+)\s*\Z")


def parse_buddyinfo(text: str) -> Dict[Tuple[int, str], List[int]]:
    """{(node, zone): [free blocks of order 0, 1, ...]}."""
    check_text(text)
    out: Dict[Tuple[int, str], List[int]] = {}
    orders = None
    for lineno, line in enumerate(kernel_lines(text), 1):
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if m is None:
            raise ParseError(f"expected 'Node N, zone NAME counts...', got {line.strip()[:60]!r}",
                             lineno)
        counts = [parse_int(c, "free blocks", lineno) for c in m.group(3).split()]
        if orders is not None and len(counts) != orders:
            raise ParseError(f"{len(counts)} orders where earlier lines have {orders}", lineno)
        orders = len(counts)
        key = (parse_int(m.group(1), "node", lineno), m.group(2))
        if key in out:
            raise ParseError(f"zone {key[1]} of node {key[0]}: duplicate line", lineno)
        out[key] = counts
    if not out:
        raise ParseError("no 'Node N, zone NAME' line", None)
    return out


def unusable_index(counts: List[int]) -> List[float]:
    """The kernel's unusable free index for every order (``unusable_free_index()``,
    mm/vmstat.c): the share of free memory in blocks too small for an allocation of that
    order. 1 when the zone has no free pages."""
    free = sum(c << k for k, c in enumerate(counts))
    out = []
    for j in range(len(counts)):
        if free == 0:
            out.append(1.0)
            continue
        suitable = sum(c << (k - j) for k, c in enumerate(counts) if k >= j)
        out.append((free - (suitable << j)) / free)
    return out
