"""One-value files: /proc/sys/vm/* sysctls and sysfs counters
(/sys/kernel/mm/hugepages/*/nr_hugepages). ``proc_dointvec`` and friends
(kernel/sysctl.c) print the values as decimal integers separated by tabs, then a newline.
"""

from __future__ import annotations

from typing import List

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int


def parse_numbers(text: str) -> List[int]:
    """Every integer on the file's one line (vm.lowmem_reserve_ratio: one per zone)."""
    check_text(text)
    lines = kernel_lines(text)
    if len(lines) != 1:
        raise ParseError(f"expected one line, got {len(lines)}", 2)
    return [parse_int(x, "value", 1) for x in lines[0].split()]


def parse_number(text: str) -> int:
    """The one integer of a single-value file (vm.min_free_kbytes)."""
    values = parse_numbers(text)
    if len(values) != 1:
        raise ParseError(f"expected one number, got {len(values)}", 1)
    return values[0]
