"""/proc/pressure/memory (and cgroup v2 memory.pressure): pressure stall information.

Kernel: kernel/sched/psi.c, Documentation/accounting/psi.rst (4.20+). Sample::

    some avg10=0.00 avg60=0.00 avg300=0.00 total=0
    full avg10=0.00 avg60=0.00 avg300=0.00 total=0

Units: avg* are percentages of wall time (as printed, two decimals); total is µs.
Variants: /proc/pressure/cpu had no ``full`` line before 5.13; the file reads EOPNOTSUPP
when PSI is disabled (the caller treats that as absent).
"""

from __future__ import annotations

from typing import Dict, Optional

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int

_AVGS = ("avg10", "avg60", "avg300")


def _parse_float(value: str, field: str, lineno: int) -> float:
    body = value.replace(".", "", 1)
    if not body or len(body) > 20 or body.strip("0123456789"):
        raise ParseError(f"{field}: {value!r} is not a number", lineno)
    return float(value)


def parse_pressure(text: str) -> Dict[str, Optional[Dict[str, object]]]:
    check_text(text)
    out: Dict[str, Optional[Dict[str, object]]] = {"some": None, "full": None}
    for lineno, line in enumerate(kernel_lines(text), 1):
        parts = line.split()
        if not parts:
            continue
        kind = parts[0]
        if kind not in out:
            continue  # a newer kernel's line: tolerated
        if out[kind] is not None:
            raise ParseError(f"{kind}: duplicate line", lineno)
        values = {}
        for item in parts[1:]:
            name, sep, value = item.partition("=")
            if not sep:
                raise ParseError(f"{kind}: expected name=value, got {item!r}", lineno)
            values[name] = value
        record: Dict[str, object] = {}
        for name in _AVGS:
            if name not in values:
                raise ParseError(f"{kind}: no {name}=", lineno)
            record[name] = _parse_float(values[name], name, lineno)
        if "total" not in values:
            raise ParseError(f"{kind}: no total=", lineno)
        record["total_us"] = parse_int(values["total"], "total", lineno)
        out[kind] = record
    if out["some"] is None:
        raise ParseError("no 'some' line", None)
    return out
