"""The ``explain`` document, and summary's verdict line: the rules' findings (memscope/explain/)
ordered most severe first, the verdict (the worst severity found) and the headline that
earns it. Pure: the documents in, the document out; collect/explain.py did the reading.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional

from memscope.explain import RANK, VERDICTS, Docs, pct, size


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
