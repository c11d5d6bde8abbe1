"""``memscope explain``: the figures in words. A diagnosis is a list of findings, each a pure
function of the documents memscope already builds (summary, zones, top, cgroups, shmem, slab,
vmalloc); none does I/O (collect/explain.py reads, once).

A finding is ``{code, severity, title, text, evidence: [{source, key, value}], why, next}``.
Severities, mildest first: info, attention, pressure, critical. The verdict is the worst
severity found (``ok`` when nothing rises above info); the headline is the sentence that
earns it. The rules are listed in memscope/explain/registry.py; adding one is one module in
memscope/explain/findings/ and one line there. The document itself (findings ordered, the
verdict and its headline) is built in memscope/model/explain.py.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

SEVERITIES = ("info", "attention", "pressure", "critical")
VERDICTS = ("ok", "attention", "pressure", "critical")
RANK = {"ok": 0, "info": 0, "attention": 1, "pressure": 2, "critical": 3}

MiB = 1 << 20
GiB = 1 << 30


def size(n: Optional[int]) -> str:
    """A size as an operator says it: 1.2 GiB, 340 MiB, 12 KiB."""
    if n is None:
        return "unknown"
    sign = "-" if n < 0 else ""
    v = float(abs(n))
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if v < 1024 or unit == "PiB":
            break
        v /= 1024
    if unit == "B":
        return f"{sign}{int(v)} B"
    # as free -h and memscope's tables (render/units.py human): one decimal below 10, else
    # the integer part, truncated: "23 GiB" for 23.5 GiB, never a figure the table beside
    # it contradicts
    return f"{sign}{v:.1f} {unit}" if v < 10 else f"{sign}{int(v)} {unit}"


def pct(part: Optional[float], whole: Optional[float]) -> str:
    if part is None or not whole:
        return "?"
    p = 100.0 * part / whole
    return f"{p:.1f} %" if p < 10 else f"{p:.0f} %"


def count(n: Optional[float]) -> str:
    """1,234 (integers) or 12.5 (rates)."""
    if n is None:
        return "?"
    if isinstance(n, float) and not n.is_integer():
        return f"{n:,.1f}"
    return f"{int(n):,}"


def ev(source: str, key: str, value: Any) -> Dict[str, Any]:
    """One piece of evidence: the counter, its value (bytes, pages or as the kernel prints
    it) and the file it came from."""
    return {"source": source, "key": key, "value": value}


def finding(code: str, severity: str, title: str, text: str, evidence: List[Dict[str, Any]],
            why: str, next: str, scope: str = "system") -> Dict[str, Any]:
    assert severity in SEVERITIES, severity
    return {"code": code, "severity": severity, "title": title, "text": text,
            "evidence": evidence, "why": why, "next": next, "scope": scope}


class Docs:
    """What the rules read: the documents memscope builds, any of them None where it was not
    (or could not be) read. ``rates`` is summary's ``activity_rates`` (per second) when two
    samples were taken, ``interval`` the seconds between them."""

    def __init__(self, summary: Dict[str, Any], zones: Optional[Dict[str, Any]] = None,
                 top: Optional[Dict[str, Any]] = None,
                 cgroups: Optional[List[Dict[str, Any]]] = None,
                 target: Optional[Dict[str, Any]] = None,
                 shmem: Optional[Dict[str, Any]] = None, slab: Optional[Dict[str, Any]] = None,
                 vmalloc: Optional[Dict[str, Any]] = None,
                 tunables: Optional[Dict[str, Any]] = None,
                 interval: Optional[float] = None,
                 thresholds: Optional[Dict[str, float]] = None):
        self.summary = summary
        self.zones = zones
        self.top = top
        self.cgroups = cgroups
        self.target = target          # the --cgroup PATH document, or None
        self.shmem = shmem
        self.slab = slab
        self.vmalloc = vmalloc
        self.tunables = tunables or {}
        self.interval = interval
        # check's -w/-c: percent of memory still available (of MemTotal, or of a cgroup's
        # limit) below which the verdict is attention / pressure
        self.thresholds = thresholds or {}

    def available_marks(self, cgroup: bool = False):
        """(attention, pressure) thresholds, percent available: 10/5 for the host, 20/10
        of a cgroup's limit, unless check's -w/-c set them."""
        warn, crit = (20.0, 10.0) if cgroup else (10.0, 5.0)
        return (self.thresholds.get("warning") or warn,
                self.thresholds.get("critical") or crit)

    @property
    def meminfo(self) -> Dict[str, int]:
        return self.summary.get("meminfo") or {}

    @property
    def total(self) -> int:
        return self.summary["memory"]["total"]

    @property
    def rates(self) -> Optional[Dict[str, Optional[float]]]:
        return self.summary.get("activity_rates")

    def activity(self, key: str):
        """(value, per_second): the rate when two samples were taken, else the count since
        boot."""
        rates = self.rates
        if rates is not None:
            return rates.get(key), True
        return (self.summary.get("activity") or {}).get(key), False

    def breakdown(self, category: str) -> Optional[int]:
        for c in self.summary.get("breakdown") or ():
            if c["category"] == category:
                return c["bytes"]
        return None

    def container(self) -> Optional[Dict[str, Any]]:
        """The memory limit that applies: --cgroup's document, else summary's container."""
        if self.target is not None:
            return self.target
        box = self.summary.get("container")
        if box is None:
            return None
        return {"path": box["path"], "version": box["version"], "limit": box["limit"],
                "usage": box["usage"], "working_set": box["working_set"], "high": None,
                "events": None, "pressure": None, "full_path": box["path"],
                "from_summary": True}


def per(value: Optional[float], per_second: bool, unit: str = "") -> str:
    """'12 /s' or '1,234 since boot'."""
    if per_second:
        return f"{count(value)}{unit}/s"
    return f"{count(value)}{unit} since boot"
