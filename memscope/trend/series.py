"""The figures ``trend`` follows in one report: pure functions of the document.

A series is named by (kind, name, metric):

| kind     | name                         | metric | from the report                        |
|----------|------------------------------|--------|----------------------------------------|
| system   | available, swap_used         | bytes  | summary.memory.available, swap.used    |
| category | free, lru, lru.active_anon...| bytes  | summary.breakdown (and lru's parts)    |
| program  | the program's name           | pss    | top.groups (PIDs folded: restarts kept)|
|          |                              | rss    | ... where some of its PSS is unreadable|
| user     | the user's name              | pss/rss| top.user_groups                        |
| cgroup   | the cgroup's path            | usage  | cgroups[].usage                        |
| slab     | the cache's name             | bytes  | slab.caches (when the report has them) |

A figure the report does not hold (null, absent) is no point of the series, never 0.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

Key = Tuple[str, str, str]
KINDS = ("system", "category", "program", "user", "cgroup", "slab")


LIMIT = 2 ** 64  # SPEC: every number at most 2^64


def _num(value: Any) -> Optional[float]:
    """A figure of the report, or None: not a number, NaN, infinite, beyond ±2^64."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return float(value) if -LIMIT <= value <= LIMIT else None
    if value != value or not -LIMIT <= value <= LIMIT:
        return None
    return value


def extract(doc: Dict[str, Any]) -> Tuple[Dict[Key, float], Dict[str, Any]]:
    """(values by series key, limits) of one report. Limits: ``low_watermark`` (Σ zone
    low), ``swap_total``, ``cgroup_limits`` {path: effective limit or None}."""
    values: Dict[Key, float] = {}
    summary = doc.get("summary") if isinstance(doc.get("summary"), dict) else {}
    memory = summary.get("memory") if isinstance(summary.get("memory"), dict) else {}
    swap = summary.get("swap") if isinstance(summary.get("swap"), dict) else {}

    def put(key: Key, value: Any) -> None:
        v = _num(value)
        if v is not None:
            values[key] = v

    put(("system", "available", "bytes"), memory.get("available"))
    if _num(swap.get("total")):  # no swap configured: nothing to follow
        put(("system", "swap_used", "bytes"), swap.get("used"))
    for cat in _list(summary.get("breakdown")):
        name = cat.get("category")
        if isinstance(name, str):
            put(("category", name, "bytes"), cat.get("bytes"))
            for part in _list(cat.get("parts")):
                if isinstance(part.get("category"), str):
                    put(("category", f"{name}.{part['category']}", "bytes"),
                        part.get("bytes"))
    top = doc.get("top") if isinstance(doc.get("top"), dict) else {}
    for kind, field in (("program", "groups"), ("user", "user_groups")):
        for g in _list(top.get(field)):
            key = g.get("key")
            if not isinstance(key, str):
                continue
            if g.get("pss_missing") in (0, None) and _num(g.get("pss")) is not None:
                put((kind, key, "pss"), g.get("pss"))
            else:  # some of its processes were unreadable: their PSS is unknown
                put((kind, key, "rss"), g.get("rss"))
    limits: Dict[str, Any] = {"low_watermark": None, "swap_total": _num(swap.get("total")),
                              "cgroup_limits": {}}
    cgroups = [c for c in _list(doc.get("cgroups")) if isinstance(c.get("path"), str)]
    own = {c["path"]: _num(c.get("limit")) for c in cgroups}
    for c in cgroups:
        put(("cgroup", c["path"], "usage"), c.get("usage"))
        limits["cgroup_limits"][c["path"]] = effective_limit(c["path"], own)
    slab = doc.get("slab") if isinstance(doc.get("slab"), dict) else {}
    for cache in _list(slab.get("caches")):
        if isinstance(cache.get("name"), str):
            put(("slab", cache["name"], "bytes"), cache.get("bytes"))
    zones = _list(summary.get("zones"))
    lows = [_num(z.get("low")) for z in zones]
    if zones and all(v is not None for v in lows):
        limits["low_watermark"] = sum(lows)
    return values, limits


def effective_limit(path: str, own: Dict[str, Optional[float]]) -> Optional[float]:
    """The smallest limit of the cgroup and of its ancestors the report holds (a child
    can't use more than its parent allows); None where none is set."""
    found = [own.get(path)]
    parent = path
    while parent.startswith("/") and parent != "/":  # a path not from a hierarchy: itself
        parent = parent.rsplit("/", 1)[0] or "/"
        found.append(own.get(parent))
    known = [v for v in found if v is not None]
    return min(known) if known else None


def _list(value: Any):
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
