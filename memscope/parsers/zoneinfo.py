"""/proc/zoneinfo: per-zone free pages, watermarks, sizes, protection and per-CPU lists.

Kernel: ``zoneinfo_show_print()`` in mm/vmstat.c (docs/kernel.md §4). Sample (6.12+)::

    Node 0, zone    DMA32
      pages free     772917
            boost    0
            min      7859
            low      9823
            high     11787
            promo    13751
            spanned  1044480
            present  782336
            managed  772917
            cma      0
            protection: (0, 0, 3456, 3456, 3456)
          nr_free_pages 772917
      pagesets
        cpu: 0
                  count:    0

Units: pages (the caller multiplies by the page size). Per-node stats print THP items in
THP units.

Variants: ``managed`` since ≈3.8; a ``per-node stats`` block in the first populated zone of
each node since 4.8; ``boost`` 5.16+; ``promo`` 6.12+; ``cma`` ≈5.x; before 4.8 the zone's
own counters come before ``protection:`` and a ``scanned`` line exists; before ≈4.12
unpopulated zones are left out, after it they are printed in a short form ending at
``protection:``. RHEL 8's 4.18 prints one per-node counter with an empty name (a line that
is only a number): skipped and reported.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int

_HEADER = re.compile(r"Node\s+(\d+),\s+zone\s+(\S+)\s*\Z")
# The zone's own size and watermark lines (pages).
_ZONE_FIELDS = ("boost", "min", "low", "high", "promo", "scanned", "spanned", "present",
                "managed", "cma")
_TRAILER = ("node_unreclaimable", "all_unreclaimable", "start_pfn", "inactive_ratio")
_REQUIRED = ("min", "low", "high", "spanned", "present")
_STAT_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
_INT = re.compile(r"-?[0-9]+\Z")


class Zone:
    """One zone as zoneinfo prints it; every figure in pages.

    Absent lines are None (``managed`` before 3.8, ``boost`` before 5.16, ``promo`` before
    6.12). ``pcp_count`` is the sum of the per-CPU free-list ``count:`` lines (None when the
    zone prints no pagesets: an unpopulated zone). ``stats`` holds the zone's counters,
    ``node_stats`` the per-node block when this zone carries it.
    """

    __slots__ = ("node", "name", "free", "boost", "min", "low", "high", "promo", "scanned",
                 "spanned", "present", "managed", "cma", "protection", "pcp_count",
                 "stats", "node_stats", "line")

    def __init__(self, node: int, name: str, line: int):
        self.node = node
        self.name = name
        self.line = line
        self.free: Optional[int] = None
        self.boost = self.min = self.low = self.high = self.promo = None
        self.scanned = self.spanned = self.present = self.managed = self.cma = None
        self.protection: List[int] = []
        self.pcp_count: Optional[int] = None
        self.stats: Dict[str, int] = {}
        self.node_stats: Optional[Dict[str, int]] = None

    def __repr__(self) -> str:
        return f"Zone(node={self.node}, name={self.name!r}, free={self.free})"


class Zoneinfo:
    __slots__ = ("zones", "skipped")

    def __init__(self, zones: List[Zone], skipped: List[Tuple[int, str]]):
        self.zones = zones
        self.skipped = skipped

    def node_stat(self, key: str) -> Optional[int]:
        """Σ of a node counter over the per-node blocks (4.8+), or of the zones' copies
        (older kernels keep the node counters in each zone). None when no block has it."""
        total = None
        for z in self.zones:
            if z.node_stats is not None and key in z.node_stats:
                total = (total or 0) + z.node_stats[key]
        if total is None:
            total = self.zone_stat(key)
        return total

    def zone_stat(self, key: str) -> Optional[int]:
        total = None
        for z in self.zones:
            if key in z.stats:
                total = (total or 0) + z.stats[key]
        return total


def _parse_protection(rest: str, lineno: int) -> List[int]:
    rest = rest.strip()
    if not (rest.startswith("(") and rest.endswith(")")):
        raise ParseError(f"protection: expected '(n, n, ...)', got {rest!r}", lineno)
    body = rest[1:-1].strip()
    if not body:
        return []
    return [parse_int(p.strip(), "protection", lineno) for p in body.split(",")]


def parse_zoneinfo(text: str) -> Zoneinfo:
    check_text(text)
    zones: List[Zone] = []
    skipped: List[Tuple[int, str]] = []
    zone: Optional[Zone] = None
    section = None  # "node" | "zone" | "pagesets"
    for lineno, raw in enumerate(kernel_lines(text), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Node"):
            m = _HEADER.match(line)
            if m is None:
                raise ParseError(f"malformed zone header {line!r}", lineno)
            if zone is not None:
                _finish(zone)
            zone = Zone(parse_int(m.group(1), "node", lineno), m.group(2), lineno)
            zones.append(zone)
            section = "zone"
            continue
        if zone is None:
            raise ParseError(f"expected a 'Node N, zone NAME' line, got {line!r}", lineno)
        if line == "per-node stats":
            zone.node_stats = {}
            section = "node"
            continue
        if line == "pagesets":
            zone.pcp_count = 0
            section = "pagesets"
            continue
        parts = line.split()
        key = parts[0]
        if key == "pages" and len(parts) >= 2 and parts[1] == "free":
            if len(parts) != 3:
                raise ParseError(f"malformed line {line!r}", lineno)
            zone.free = parse_int(parts[2], "pages free", lineno)
            section = "zone"
            continue
        if key == "protection:":
            zone.protection = _parse_protection(line[len("protection:"):], lineno)
            continue
        if section == "pagesets":
            if key in ("cpu:", "high:", "batch:", "high_min:", "high_max:"):
                continue
            if key == "count:":
                if len(parts) != 2:
                    raise ParseError(f"malformed line {line!r}", lineno)
                zone.pcp_count += parse_int(parts[1], "count", lineno)
                continue
            if line.startswith("vm stats threshold:"):
                continue
        if key.rstrip(":") in _TRAILER:
            continue
        if section == "zone" and key in _ZONE_FIELDS and zone.free is not None:
            if len(parts) != 2:
                raise ParseError(f"{key}: malformed line {line!r}", lineno)
            if getattr(zone, key) is not None:
                raise ParseError(f"{key}: duplicate line in zone {zone.name}", lineno)
            setattr(zone, key, parse_int(parts[1], key, lineno))
            continue
        if len(parts) == 2 and _STAT_NAME.match(key) and _INT.match(parts[1]):
            target = zone.node_stats if section == "node" else zone.stats
            # vm_stat counters are printed signed (%ld): per-cpu drift can show below 0
            target[key] = parse_int(parts[1], key, lineno, signed=True)
            continue
        skipped.append((lineno, raw))
    if zone is not None:
        _finish(zone)
    if not zones:
        raise ParseError("no 'Node N, zone NAME' line", None)
    return Zoneinfo(zones, skipped)


def _finish(zone: Zone) -> None:
    """A zone must carry its free count and watermarks: a zone without them is truncated."""
    if zone.free is None:
        raise ParseError(f"zone {zone.name} of node {zone.node} has no 'pages free' line",
                         zone.line)
    for key in _REQUIRED:
        if getattr(zone, key) is None:
            raise ParseError(f"zone {zone.name} of node {zone.node} has no {key!r} line",
                             zone.line)
