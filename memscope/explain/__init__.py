"""``memscope explain``: the figures in words. A diagnosis is a list of findings, each a pure
function of the documents memscope already builds (summary, zones, top, cgroups, shmem, slab,
vmalloc); none does I/O (collect/explain.py reads, once).

A finding is ``{code, severity, title, text, evidence: [{source, key, value}], why, next}``.
Severities, mildest first: info, attention, pressure, critical. The verdict is the worst
severity found (``ok`` when nothing rises above info); the headline is the sentence that
earns it. The rules are listed in memscope/explain/registry.py; adding one is one module in
memscope/explain/findings/ and one line there.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional

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


def worst(findings: Iterable[Dict[str, Any]]) -> str:
    top = 0
    for f in findings:
        top = max(top, RANK[f["severity"]])
    return VERDICTS[top]


def order(findings: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Most severe first; at the same severity, the container's findings before the
    system's (under a memory limit, the limit is what bites first); then the rules' order."""
    return sorted(findings, key=lambda f: (-RANK[f["severity"]],
                                           0 if f.get("scope") == "container" else 1))


def headline(verdict: str, findings: List[Dict[str, Any]], docs: Docs) -> str:
    """The one sentence that earns the verdict: the titles of the findings at the verdict's
    severity (at most three), the container's worst first when there is a memory limit, or a
    short reassurance."""
    if verdict == "ok":
        mem = docs.summary["memory"]
        box = docs.container()
        parts = []
        if box is not None and box.get("limit"):
            ws = box.get("working_set")
            parts.append(f"container {box['path']} uses {size(ws)} of its "
                         f"{size(box['limit'])} limit ({pct(ws, box['limit'])})")
        avail, how = mem["available"], "available"
        if not docs.meminfo.get("MemAvailable"):  # before 3.14: free(1) shows MemFree
            avail, how = mem.get("available_estimate"), "available (estimated from zoneinfo)"
        if avail is None:
            parts.append(f"{size(mem['free'])} free of {size(mem['total'])} (this kernel "
                         "has no MemAvailable)")
        else:
            parts.append(f"{size(avail)} {how} of {size(mem['total'])} "
                         f"({pct(avail, mem['total'])})")
        psi = docs.summary.get("pressure")
        quiet = "no memory pressure" if psi else "no sign of memory shortage"
        return "OK: " + "; ".join(parts) + f"; {quiet}."
    titles = [f["title"] for f in findings if RANK[f["severity"]] == RANK[verdict]][:3]
    # under a memory limit the container speaks first, even when the host is worse off
    box = [f["title"] for f in findings
           if f.get("scope") == "container" and RANK[f["severity"]] >= 1][:1]
    if box and box[0] not in titles:
        titles = box + titles[:2]
    return verdict.capitalize() + ": " + "; ".join(titles) + "."


def diagnose(docs: Docs, rules: Optional[List[Callable]] = None,
             extra: Iterable[Dict[str, Any]] = (), notes: Optional[List[Dict[str, str]]] = None,
             scope: str = "system") -> Dict[str, Any]:
    """The explain document. ``extra`` are findings computed elsewhere (history trends) and
    are ordered and judged like the rest."""
    from memscope import SCHEMA_VERSION
    from memscope.explain.registry import all_rules

    found: List[Dict[str, Any]] = []
    for rule in (all_rules() if rules is None else rules):
        found.extend(rule(docs) or ())
    found.extend(extra)
    root = (docs.summary.get("source") or {}).get("root")
    if root not in (None, "/"):
        for f in found:
            if f["next"].startswith("memscope ") and " --watch " in f["next"]:
                # a root does not change: watching it shows the same figures again
                import re

                f["next"] = re.sub(r" --watch \S+", "", f["next"])
            if f["next"].startswith("memscope ") and "--root" not in f["next"] and \
                    not f["next"].startswith("memscope trend "):  # trend reads reports
                f["next"] += f" --root {root}"
    found = order(found)
    verdict = worst(found)
    notes = list(notes or [])
    if docs.rates is None and docs.summary.get("activity"):
        notes.append({"code": "since_boot",
                      "text": "reclaim, swap and OOM counters are totals since boot: give "
                              "--interval SECONDS or --since REPORT for rates"})
    return {"schema_version": SCHEMA_VERSION, "source": docs.summary.get("source"),
            "scope": scope, "verdict": verdict, "headline": headline(verdict, found, docs),
            "findings": found, "notes": notes}


def summary_verdict(summary: Dict[str, Any]) -> Dict[str, str]:
    """summary's first line: the rules that need nothing but the summary document."""
    from memscope.explain.registry import SUMMARY_RULES

    docs = Docs(summary)
    found: List[Dict[str, Any]] = []
    for rule in SUMMARY_RULES:
        found.extend(rule(docs) or ())
    found = order(found)
    verdict = worst(found)
    return {"verdict": verdict, "headline": headline(verdict, found, docs)}


def with_verdict(summary: Dict[str, Any]) -> Dict[str, Any]:
    """The summary document with ``verdict`` and ``headline`` after ``source``."""
    out = {"schema_version": summary["schema_version"], "source": summary["source"]}
    out.update(summary_verdict(summary))
    out.update(summary)
    return out
