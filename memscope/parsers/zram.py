"""zram: memory that already sits in another category (the zsmalloc pool).

/sys/block/zramN/mm_stat (Documentation/admin-guide/blockdev/zram.rst), one line::

    orig_data_size compr_data_size mem_used_total mem_limit mem_used_max same_pages
    pages_compacted huge_pages [huge_pages_since]

Units: bytes, except same_pages, pages_compacted, huge_pages (pages). mem_used_total is the
zsmalloc pool's RAM: the zsmalloc category (nr_zspages), never a sibling of it.
"""

from __future__ import annotations

from typing import Dict

from memscope.errors import ParseError
from memscope.parsers import check_text, parse_int

MM_STAT = ("orig_data_size", "compr_data_size", "mem_used_total", "mem_limit",
           "mem_used_max", "same_pages", "pages_compacted", "huge_pages", "huge_pages_since")


def parse_mm_stat(text: str) -> Dict[str, int]:
    check_text(text)
    parts = text.split()
    if len(parts) < 3:
        raise ParseError(f"expected at least 3 numbers, got {len(parts)}", 1)
    return {name: parse_int(value, name, 1) for name, value in zip(MM_STAT, parts)}
