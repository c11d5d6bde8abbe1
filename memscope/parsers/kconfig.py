"""Kernel build configuration: /proc/config.gz (CONFIG_IKCONFIG_PROC) or /boot/config-*.

Sample::

    CONFIG_VMAP_STACK=y
    # CONFIG_HIGHMEM is not set

Only ``CONFIG_X=value`` lines are returned; ``# ... is not set`` lines are absent keys.
memscope asks it one question today: are kernel stacks vmalloc'ed (CONFIG_VMAP_STACK), so
that KernelStack is inside VmallocUsed (docs/kernel.md §1.1)?
"""

from __future__ import annotations

from typing import Dict

from memscope.parsers import check_text, kernel_lines


def parse_kconfig(text: str) -> Dict[str, str]:
    check_text(text)
    out: Dict[str, str] = {}
    for line in kernel_lines(text):
        if line.startswith("CONFIG_"):
            key, sep, value = line.partition("=")
            if sep:
                out[key] = value.strip()
    return out
