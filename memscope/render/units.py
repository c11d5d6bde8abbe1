"""Sizes for tables: the unit flags of free(1) (-b -k -m -g, --si) and human-readable IEC."""

from __future__ import annotations

from typing import Optional

_IEC = ("B", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_SI = ("B", "k", "M", "G", "T", "P", "E")  # procps prints K for kilo; SI says k


class Units:
    """How a table shows a size. ``unit`` is None (human), "b", "k", "m" or "g"."""

    def __init__(self, unit: Optional[str] = None, si: bool = False):
        self.unit = unit
        self.si = si
        self.base = 1000 if si else 1024

    @property
    def label(self) -> str:
        """What a column of plain numbers is in, for headers."""
        if self.unit is None:
            return ""
        if self.unit == "b":
            return "bytes"
        power = "kmg".index(self.unit) + 1
        return ("kB", "MB", "GB")[power - 1] if self.si else ("KiB", "MiB", "GiB")[power - 1]

    def __call__(self, n: Optional[int]) -> str:
        if n is None:
            return "-"
        if self.unit == "b":
            return str(n)
        if self.unit is not None:
            div = self.base ** ("kmg".index(self.unit) + 1)
            # free(1) truncates; keep the sign of negative figures (headroom, remainders).
            return str(-((-n) // div) if n < 0 else n // div)
        return human(n, self.si)


def human(n: int, si: bool = False) -> str:
    """``free -h`` exactly: procps-ng's scale_size() (src/free.c). Bytes while they fit in
    three digits; then, per unit, one decimal rounded ("%.1f" of the value as a C float)
    when it fits in five characters with the suffix ("9.3Mi"), else the integer part
    truncated ("23Gi" for 23.54 GiB, where rounding would say 24Gi). SI fits in four
    ("9.9G", "25G"). Negative figures (headroom, remainders) keep their sign outside."""
    import struct

    base = 1000 if si else 1024
    suffixes = _SI if si else _IEC
    room = 4 if si else 5
    sign = "-" if n < 0 else ""
    n = abs(n)
    if len(str(n)) + 1 <= 4:
        return f"{sign}{n}B"
    text = ""
    for i in range(1, len(suffixes)):
        value = n / float(base) ** i
        as_float = struct.unpack("f", struct.pack("f", value))[0] if value < 3e38 else value
        text = f"{as_float:.1f}{suffixes[i]}"
        if len(text) <= room:
            return sign + text
        text = f"{int(value)}{suffixes[i]}"
        if len(text) <= room:
            return sign + text
    return sign + text


def parse_size(text: str) -> int:
    """A size from the command line: ``1048576``, ``512K``, ``64M``, ``4G``, ``1T``
    (powers of 1024; an optional ``i``/``iB``/``B`` suffix is accepted)."""
    t = text.strip()
    upper = t.upper()
    for suffix in ("IB", "B", "I"):
        if upper.endswith(suffix) and len(upper) > len(suffix) and not upper.isdigit():
            upper = upper[:-len(suffix)]
            break
    power = 0
    if upper and upper[-1] in "KMGTP":
        power = "KMGTP".index(upper[-1]) + 1
        upper = upper[:-1]
    try:
        value = float(upper)
    except ValueError:
        raise ValueError(f"{text!r} is not a size (try 1048576, 512K, 64M, 4G)") from None
    if value < 0 or value != value or value == float("inf"):
        raise ValueError(f"{text!r} is not a size (try 1048576, 512K, 64M, 4G)")
    return int(value * 1024 ** power)
