"""/proc/vmstat: global VM counters, one ``name value`` pair a line.

Kernel: ``vmstat_start()``/``vmstat_show()`` in mm/vmstat.c. Sample::

    nr_free_pages 6127452
    nr_zspages 0

Units: pages for ``nr_*`` state items (THP items in THP units), events are counts;
``nr_indirectly_reclaimable`` (4.17-4.19) is in bytes. Names come and go with kernel
versions and config: parse by name.
"""

from __future__ import annotations

from typing import Dict

from memscope.errors import ParseError
from memscope.parsers import check_text, parse_int


def parse_vmstat(text: str) -> Dict[str, int]:
    check_text(text)
    out: Dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ParseError(f"expected 'name value', got {line.strip()!r}", lineno)
        name, value = parts
        if name in out:
            raise ParseError(f"{name}: duplicate line", lineno)
        out[name] = parse_int(value, name, lineno)
    return out
