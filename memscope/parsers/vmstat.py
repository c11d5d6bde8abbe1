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

from memscope.parsers import parse_key_values


def parse_vmstat(text: str) -> Dict[str, int]:
    return parse_key_values(text)
