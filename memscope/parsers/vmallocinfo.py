"""/proc/vmallocinfo: every vmalloc-space area (docs/kernel.md §5). Mode 0400: root only.

Kernel: ``vmalloc_info_show()`` in mm/vmalloc.c. Samples::

    0x...-0x...   20480 kernel_clone+0x94/0x3e0 pages=4 vmalloc N0=4
    0x...-0x...    8192 acpi_os_map_iomem+0x1bc/0x1e0 phys=0x00000000000a0000 ioremap
    0x...-0x...   12288 unpurged vm_area
    0x...-0x...    8192 vm_map_ram

Units: SIZE is bytes of address space including the guard page; pages= counts pages.
Addresses are hashed or zeroed (%pK) and never needed. Variants: old kernels print no
pages= on some lines and a ``vpages`` flag; ARM prints static ``lowmem`` mappings; the
caller is missing on unpurged and vm_map_ram lines.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional

from memscope.errors import ParseError
from memscope.parsers import check_text, parse_int

# The first of these found on a line is its type (docs/contract.md "vmalloc").
TYPES = ("ioremap", "sparse", "vmalloc", "vmap", "vm_map_ram", "unpurged")
MODIFIERS = frozenset(["user", "vpages", "dma-coherent"])


class Area(NamedTuple):
    size: int
    caller: Optional[str]
    pages: Optional[int]
    type: str


def fold_caller(caller: str) -> str:
    """``kernel_clone+0x94/0x3e0 [mod]`` -> ``kernel_clone [mod]``: offsets folded."""
    name, _, rest = caller.partition("+")
    module = ""
    if rest and " " in rest:
        module = rest[rest.index(" "):]
    return name + module


def parse_vmallocinfo(text: str) -> List[Area]:
    if text == "":
        return []
    check_text(text)
    out: List[Area] = []
    append = out.append
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or "-" not in parts[0]:
            raise ParseError(f"expected 'START-END SIZE ...', got {line[:60]!r}", lineno)
        size = parse_int(parts[1], "size", lineno)
        caller = None
        pages = None
        kind = None
        i = 2
        if len(parts) > 2 and parts[2] not in TYPES and "=" not in parts[2] and \
                parts[2] not in MODIFIERS:
            caller = parts[2]
            i = 3
            if i < len(parts) and parts[i].startswith("[") and parts[i].endswith("]"):
                caller += " " + parts[i]  # the module of the caller
                i += 1
        for token in parts[i:]:
            if token.startswith("pages="):
                pages = parse_int(token[6:], "pages", lineno)
            elif kind is None and token in TYPES:
                kind = token
        append(Area(size, caller, pages, kind or "other"))
    return out
