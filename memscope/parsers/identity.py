"""Identity files of a boot: /proc/sys/kernel/random/boot_id (random(4): "a random string
... that is unique per boot", a UUID) and /proc/uptime (proc(5): seconds since boot, then
idle seconds, two decimals each). Both are optional: anything not in the kernel's shape is
null, never a guess.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

_BOOT_ID = "0123456789abcdef-"


def parse_boot_id(text: Optional[str]) -> Optional[str]:
    """The kernel prints a UUID (36 characters, lowercase hex and dashes); anything else is
    not a boot id: null."""
    if text is None:
        return None
    value = text.strip()
    if len(value) != 36 or any(c not in _BOOT_ID for c in value):
        return None
    return value


def parse_uptime(text: Optional[str]) -> Optional[float]:
    """/proc/uptime's first field ("12345.67 23456.78": seconds since boot, two decimals);
    null when it is not in that shape."""
    if not text:
        return None
    first = text.split(None, 1)[0] if text.split() else ""
    whole, dot, frac = first.partition(".")
    if not (whole.isdigit() and whole.isascii() and len(whole) <= 20
            and (not dot or (frac.isdigit() and frac.isascii() and len(frac) <= 9))):
        return None
    return float(first)
