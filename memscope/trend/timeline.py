"""Placing reports in time, and where the history breaks: pure functions of the headers.

Time axis. ``taken_at`` has one-second resolution and follows the wall clock (NTP may step
it); ``uptime`` (CLOCK_BOOTTIME) is monotonic within a boot and finer. A report that carries
both gets the time ``boot start + uptime``, where a boot's start is the earliest
``taken_at - uptime`` among its reports: within a boot the order and the intervals are
uptime's; across boots the wall clock's. A report without them (older memscope) gets its
``taken_at``.

Breaks, between two reports next to each other in time:

- ``reboot``: the boot id changed, or uptime went backwards;
- ``gap``: more than GAP_INTERVALS times the usual (median) interval, and more than
  MIN_GAP_SECONDS;
- ``host_changed``, ``kernel_changed``: the hostname or kernel release differ;
- ``schema_changed``: the reports' schema_version differ.

Each break starts a new segment; every segment is analysed on its own.
"""

from __future__ import annotations

import calendar
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

GAP_INTERVALS = 5
MIN_GAP_SECONDS = 60.0


def parse_taken_at(value: Any) -> Optional[float]:
    """Seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ" (what memscope writes), or of
    any ISO 8601 time with a zone; None otherwise."""
    if not isinstance(value, str):
        return None
    try:
        return float(calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        pass
    return parse_iso(value)


def parse_iso(value: str) -> Optional[float]:
    from datetime import datetime, timezone

    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)  # reports are in UTC
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def format_time(seconds: Optional[float]) -> Optional[str]:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(round(seconds)))


class Entry:
    """One report's header, placed in time."""

    __slots__ = ("file", "schema", "taken_at", "epoch", "boot_id", "uptime", "hostname",
                 "kernel", "t", "segment")

    def __init__(self, file: str, header: Dict[str, Any]):
        source = header.get("source") if isinstance(header.get("source"), dict) else {}
        self.file = file
        self.schema = header.get("schema_version")
        self.taken_at = source.get("taken_at")
        self.epoch = parse_taken_at(self.taken_at)
        boot = source.get("boot_id")
        # the same few strings in thousands of headers: one copy each
        self.boot_id = sys.intern(boot) if isinstance(boot, str) and boot else None
        from memscope.trend.series import _num

        up = _num(source.get("uptime"))
        self.uptime = up if up is not None and up >= 0 else None
        host = source.get("hostname")
        self.hostname = sys.intern(host) if isinstance(host, str) else None
        kernel = source.get("kernel")
        self.kernel = sys.intern(kernel) if isinstance(kernel, str) else None
        self.t = self.epoch
        self.segment = 0

    def identity(self) -> Tuple:
        return (self.boot_id, self.uptime, self.taken_at, self.hostname)


def place(entries: List[Entry]) -> List[Entry]:
    """Give each entry its time and return them in time order (file name breaks ties)."""
    starts: Dict[str, float] = {}
    for e in entries:
        if e.boot_id and e.uptime is not None and e.epoch is not None:
            start = e.epoch - e.uptime
            if e.boot_id not in starts or start < starts[e.boot_id]:
                starts[e.boot_id] = start
    for e in entries:
        if e.boot_id in starts and e.uptime is not None:
            e.t = starts[e.boot_id] + e.uptime
        else:
            e.t = e.epoch
    return sorted(entries, key=lambda e: (e.t, e.uptime or 0.0, e.file))


def usual_interval(entries: List[Entry]) -> Optional[float]:
    steps = sorted(b.t - a.t for a, b in zip(entries, entries[1:])
                   if b.t > a.t and not _rebooted(a, b))
    return steps[len(steps) // 2] if steps else None


def _rebooted(a: Entry, b: Entry) -> bool:
    if a.boot_id and b.boot_id:
        return a.boot_id != b.boot_id
    return a.uptime is not None and b.uptime is not None and b.uptime < a.uptime


def find_breaks(entries: List[Entry]) -> Tuple[List[Dict[str, Any]], Optional[float]]:
    """Number the segments of ``entries`` (in time order, each entry's ``segment`` set) and
    return the breaks between them and the usual interval."""
    interval = usual_interval(entries)
    limit = None if interval is None else max(GAP_INTERVALS * interval, MIN_GAP_SECONDS)
    breaks: List[Dict[str, Any]] = []
    segment = 0
    for a, b in zip(entries, entries[1:]):
        kinds = []
        words = []
        if _rebooted(a, b):
            kinds.append("reboot")
            words.append("the boot id changed" if a.boot_id and b.boot_id
                         else "uptime went backwards")
        if a.hostname and b.hostname and a.hostname != b.hostname:
            kinds.append("host_changed")
            words.append(f"host {a.hostname} → {b.hostname}")
        if a.kernel and b.kernel and a.kernel != b.kernel:
            kinds.append("kernel_changed")
            words.append(f"kernel {a.kernel} → {b.kernel}")
        if a.schema != b.schema:
            kinds.append("schema_changed")
            words.append(f"schema_version {a.schema} → {b.schema}")
        if limit is not None and b.t - a.t > limit and not kinds:
            kinds.append("gap")
            words.append(f"no report for {human_duration(b.t - a.t)} (usually every "
                         f"{human_duration(interval)})")
        if kinds:
            segment += 1
            breaks.append({"kind": kinds[0], "kinds": kinds, "at": b.taken_at,
                           "after": a.file, "before": b.file, "segment": segment,
                           "seconds": round(b.t - a.t, 3),
                           "text": "; ".join(words)})
        b.segment = segment
    if entries:
        entries[0].segment = 0
    return breaks, interval


def human_duration(seconds: Optional[float]) -> str:
    """'45 s', '12 min', '3.5 h', '2.1 d', '25 d', '13 weeks', '1.5 years'."""
    if seconds is None:
        return "?"
    s = abs(seconds)
    if s < 120:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h" if s < 36000 else f"{s / 3600:.0f} h"
    if s < 10 * 86400:
        return f"{s / 86400:.1f} d"
    if s < 60 * 86400:
        return f"{s / 86400:.0f} d"
    if s < 365 * 86400:
        return f"{s / 604800:.0f} weeks"
    return f"{s / 31557600:.1f} years"


def parse_when(value: str, newest: Optional[float]) -> float:
    """--since/--until: ISO 8601 (a date, or a date and time; UTC unless it says a zone),
    or a duration back from the newest report (30s, 90m, 24h, 7d, 2w). ValueError when it
    is neither."""
    text = value.strip()
    units = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            number = text[:-len(unit)].strip()
            try:
                amount = float(number)
            except ValueError:
                break
            if amount < 0 or amount != amount or amount == float("inf"):
                break
            if newest is None:
                return float("-inf")
            return newest - amount * units[unit]
    moment = parse_iso(text)
    if moment is None:
        raise ValueError(f"{value!r} is neither an ISO 8601 time (2026-12-01T08:00Z, "
                         "2026-12-01) nor a duration back from the newest report (24h, "
                         "90m, 7d)")
    return moment
