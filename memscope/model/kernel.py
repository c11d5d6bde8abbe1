"""What kernel wrote these files, told from the fields present (docs/contract.md "Kernel version").

Captured trees rarely hold /proc/version, and vendors backport features, so memscope never
parses a version string to decide what a number means: each rule below is a field that
appeared or changed meaning in a known release (docs/kernel.md §1.1, §2.2, §4).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from memscope.parsers.meminfo import Meminfo
from memscope.parsers.zoneinfo import Zoneinfo

# vmalloc eras (docs/kernel.md §1.4): what VmallocUsed means.
VMALLOC_ADDRESS_SPACE = "before 4.4"   # VmallocChunk != 0: Σ sizes of all areas
VMALLOC_ZERO = "4.4-5.2"               # VmallocUsed = 0 and VmallocChunk = 0
VMALLOC_PAGES = "5.3+"                 # VmallocUsed = vmalloc pages (RAM)


def vmalloc_era(mi: Meminfo) -> Optional[str]:
    if "VmallocUsed" not in mi:
        return None
    if mi.get("VmallocChunk"):
        return VMALLOC_ADDRESS_SPACE
    if mi["VmallocUsed"] == 0:
        return VMALLOC_ZERO
    return VMALLOC_PAGES


def kernel_floor(mi: Meminfo, zi: Optional[Zoneinfo]) -> Tuple[Optional[str], List[str]]:
    """The oldest release these files can come from, and the fields that say so."""
    rules = [  # newest first: the first rule that holds is the floor
        ("6.12", "zoneinfo promo", zi is not None and any(z.promo is not None
                                                          for z in zi.zones)),
        ("5.16", "zoneinfo boost", zi is not None and any(z.boost is not None
                                                          for z in zi.zones)),
        ("5.3", "VmallocUsed counts pages", vmalloc_era(mi) == VMALLOC_PAGES),
        ("4.20", "KReclaimable", "KReclaimable" in mi),
        ("4.16", "Percpu", "Percpu" in mi),
        ("4.4", "VmallocChunk 0", vmalloc_era(mi) == VMALLOC_ZERO),
        ("3.14", "MemAvailable", "MemAvailable" in mi),
        ("2.6.32", "Shmem", "Shmem" in mi),
    ]
    for version, evidence, holds in rules:
        if holds:
            return version, [evidence]
    return None, []

