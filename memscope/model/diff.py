"""``memscope diff OLD NEW``: two reports compared — how a leak shows up in a directory of
cron reports (docs/contract.md "diff")."""

from __future__ import annotations

from typing import Any, Dict, List, Optional


SYSTEM_FIELDS = ("total", "used", "free", "shared", "buff_cache", "available")


def _get(d: Any, *keys: str) -> Optional[int]:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d if isinstance(d, int) and not isinstance(d, bool) else None


def _system(old: Dict[str, Any], new: Dict[str, Any]) -> List[Dict[str, Any]]:
    rows = []
    for f in SYSTEM_FIELDS:
        rows.append((f"memory.{f}", _get(old, "summary", "memory", f),
                     _get(new, "summary", "memory", f)))
    rows.append(("swap.used", _get(old, "summary", "swap", "used"),
                 _get(new, "summary", "swap", "used")))

    def cats(doc):
        return {c.get("category"): c.get("bytes") for c in
                (doc.get("summary", {}).get("breakdown") or []) if isinstance(c, dict)}

    a, b = cats(old), cats(new)
    for cat in list(a) + [c for c in b if c not in a]:
        rows.append((f"breakdown.{cat}", a.get(cat), b.get(cat)))
    return [{"field": f, "old": o, "new": n,
             "delta": None if o is None or n is None else n - o} for f, o, n in rows]


def _programs(old: Dict[str, Any], new: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Programs by PSS. A group whose PSS is unknown (null: unreadable members) has a null
    delta and status ``unknown``, never a change computed from 0."""
    def groups(doc):
        top = doc.get("top") or {}
        return {g.get("key"): g.get("pss") for g in (top.get("groups") or [])
                if isinstance(g, dict)}

    a, b = groups(old), groups(new)
    out = []
    for key in list(a) + [k for k in b if k not in a]:
        o, n = a.get(key), b.get(key)
        if key not in a:
            status, delta = "new", n
        elif key not in b:
            status, delta = "gone", None if o is None else -o
        elif o is None or n is None:
            status, delta = "unknown", None
        else:
            delta = n - o
            if delta == 0:
                continue
            status = "grown" if delta > 0 else "shrunk"
        out.append({"key": key, "old_pss": o, "new_pss": n, "delta": delta, "status": status})
    return out


def _cgroups(old: Dict[str, Any], new: Dict[str, Any]) -> List[Dict[str, Any]]:
    def usage(doc):
        return {c.get("path"): c.get("usage") for c in (doc.get("cgroups") or [])
                if isinstance(c, dict)}

    a, b = usage(old), usage(new)
    out = []
    for path in list(a) + [p for p in b if p not in a]:
        o, n = a.get(path), b.get(path)
        out.append({"path": path, "old_usage": o, "new_usage": n,
                    "delta": None if o is None or n is None else n - o})
    return out


def build_diff(old: Dict[str, Any], new: Dict[str, Any], min_change: int = 0) -> Dict[str, Any]:
    from memscope import SCHEMA_VERSION

    def keep(rows):
        rows = [r for r in rows if r["delta"] is None or abs(r["delta"]) >= min_change]
        return sorted(rows, key=lambda r: -abs(r["delta"] or 0))

    return {
        "schema_version": SCHEMA_VERSION,
        "old": {"source": old.get("source")},
        "new": {"source": new.get("source")},
        "system": keep(_system(old, new)),
        "programs": keep(_programs(old, new)),
        "cgroups": keep(_cgroups(old, new)),
    }
