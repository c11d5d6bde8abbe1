"""Tables: a view of the model's documents with units applied (tabulate)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from memscope.render.units import Units


def grid(rows: Sequence[Sequence[Any]], headers: Sequence[str] = (),
         align: Optional[Sequence[str]] = None) -> str:
    """A plain, free(1)-like table: first column left, the rest right-aligned."""
    import tabulate as tabulate_module

    width = max(len(headers), max((len(r) for r in rows), default=0))
    colalign = list(align) if align else ["left"] + ["right"] * (width - 1)
    kwargs = dict(headers=list(headers), tablefmt="plain", colalign=colalign,
                  disable_numparse=True)
    data = [list(r) for r in rows]
    try:  # tabulate 0.10+: a parameter keeps the indent of sub-rows
        return tabulate_module.tabulate(data, preserve_whitespace=True, **kwargs)
    except TypeError:  # older releases: a module global
        tabulate_module.PRESERVE_WHITESPACE = True
        return tabulate_module.tabulate(data, **kwargs)

def clean(text: Any) -> str:
    """Text from processes and files is untrusted: no control characters in a terminal."""
    s = str(text)
    return "".join(ch if ch.isprintable() else "?" for ch in s)


def notes_block(notes: List[Dict[str, str]]) -> str:
    if not notes:
        return ""
    return "Notes:\n" + "\n".join(f"  - [{n['code']}] {clean(n['text'])}" for n in notes)


def _pct(part: int, total: int) -> str:
    return f"{100.0 * part / total:.2f}" if total else "-"


def summary_table(doc: Dict[str, Any], units: Units, wide: bool = False) -> str:
    u = units
    mem, swap = doc["memory"], doc["swap"]
    blocks: List[str] = []

    blocks.extend(verdict_line(doc))
    src = doc["source"]
    ident = [x for x in (src.get("hostname"), src.get("kernel"), src.get("taken_at")) if x]
    if src.get("root") not in (None, "/"):
        ident.insert(0, f"root {src['root']}")
    if ident:
        blocks.append(clean("  ".join(ident)))

    # free(1)'s block, same headers and columns.
    if wide:
        headers = ["", "total", "used", "free", "shared", "buffers", "cache", "available"]
        row = ["Mem:", u(mem["total"]), u(mem["used"]), u(mem["free"]), u(mem["shared"]),
               u(mem["buffers"]), u(mem["cache"]), u(mem["available"])]
    else:
        headers = ["", "total", "used", "free", "shared", "buff/cache", "available"]
        row = ["Mem:", u(mem["total"]), u(mem["used"]), u(mem["free"]), u(mem["shared"]),
               u(mem["buff_cache"]), u(mem["available"])]
    rows = [row]
    if swap is not None:
        rows.append(["Swap:", u(swap["total"]), u(swap["used"]), u(swap["free"])])
    blocks.append(grid(rows, headers))

    # Where MemTotal goes.
    total = mem["total"]
    rows = []
    for cat in doc["breakdown"]:
        rows.append([cat["category"], u(cat["bytes"]), _pct(cat["bytes"], total)])
        for part in cat.get("parts", ()):
            rows.append(["  " + part["category"], u(part["bytes"]), _pct(part["bytes"], total)])
    rows.append(["= MemTotal", u(total), "100.00"])
    title = "Where MemTotal goes (disjoint; sums exactly)"
    blocks.append(title + "\n" + grid(rows, ["category", u.label or "size", "%"]))

    lru = next((c for c in doc["breakdown"] if c["category"] == "lru"), None)
    if lru and lru.get("contents"):
        rows = [[c["category"], u(c["bytes"])] for c in lru["contents"]]
        blocks.append("What the LRU lists hold (overlapping: not part of the sum)\n"
                      + grid(rows, ["contents", u.label or "size"]))

    phys = doc["physical"]
    if phys is not None:
        blocks.append(f"Physical RAM: {u(phys['present'])} present in zones, "
                      f"{u(phys['reserved'])} of it reserved outside MemTotal "
                      "(kernel image, struct pages, firmware, crashkernel)")

    ex = doc["available_explained"]
    if ex is not None:
        formula = {"totalreserve": "totalreserve_pages, kernels 4.5+",
                   "sum_low": "sum of low watermarks, kernels 3.14-4.4"}[ex["formula"]]
        rows = [["  free (MemFree)", u(ex["free"])],
                [f"- reserve ({formula})", u(ex["reserve"])],
                ["+ page cache kept", u(ex["pagecache_kept"])],
                ["+ reclaimable kernel memory kept", u(ex["reclaimable_kept"])],
                ["= rebuilt", u(ex["estimate"])],
                ["  kernel's MemAvailable", u(ex["kernel"])]]
        verdict = ("matches the kernel exactly" if ex["kernel"] == ex["estimate"]
                   else "no kernel figure" if ex["kernel"] is None
                   else f"differs from the kernel by {ex['estimate'] - ex['kernel']:+d} bytes")
        blocks.append(f"MemAvailable explained ({verdict})\n" + grid(rows))

    if doc["zones"]:
        rows = [[z["node"], z["zone"], u(z["free"]), u(z["min"]), u(z["low"]), u(z["high"]),
                 u(z["managed"]), z["state"], u(z["headroom"])] for z in doc["zones"]]
        blocks.append(grid(rows, ["node", "zone", "free", "min", "low", "high", "managed",
                                  "state", "headroom"],
                           align=["right", "left"] + ["right"] * 5 + ["left", "right"]))

    psi = doc["pressure"]
    if psi is not None:
        rows = []
        for kind in ("some", "full"):
            p = psi.get(kind)
            if p:
                rows.append([kind, f"{p['avg10']:.2f}%", f"{p['avg60']:.2f}%",
                             f"{p['avg300']:.2f}%", f"{p['total_us'] / 1e6:.3f}s"])
        blocks.append("Memory pressure (PSI: share of time stalled on memory)\n"
                      + grid(rows, ["", "avg10", "avg60", "avg300", "total"]))

    activity = activity_block(doc)
    if activity:
        blocks.append(activity)

    box = doc.get("container")
    if box is not None:
        rows = [["limit", u(box["limit"])], ["usage", u(box["usage"])],
                ["working set", u(box["working_set"])], ["headroom", u(box["headroom"])]]
        blocks.append(f"Container: cgroup {clean(box['path'])} (v{box['version']}), "
                      "the limit that applies to memscope itself\n" + grid(rows))

    if swap is not None and swap["total"]:
        blocks.append(f"Swap: {u(swap['used'])} used of {u(swap['total'])}, "
                      f"{u(swap['cached'])} swap cache")

    notes = notes_block(doc["notes"])
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"


def verdict_line(doc: Dict[str, Any]) -> List[str]:
    """summary's first line: the verdict's sentence (memscope explain has the details)."""
    if not doc.get("headline"):
        return []
    line = clean(doc["headline"])
    if doc.get("verdict") not in (None, "ok"):
        line += "  (details: memscope explain)"
    return [line]


def _cut(text: Any, width: int, keep_end: bool = False) -> str:
    s = clean(text if text is not None else "")
    if len(s) <= width:
        return s
    return "…" + s[-(width - 1):] if keep_end else s[:width - 1] + "…"


def top_table(doc: Dict[str, Any], units: Units) -> str:
    u = units
    blocks = []
    if "groups" in doc:
        rows = [[_cut(g["key"], 40), g["count"], u(g["pss"]) + ("+" if g["pss_missing"] else ""),
                 u(g["uss"]), u(g["rss"]), u(g["swap"])] for g in doc["groups"]]
        blocks.append(grid(rows, ["group", "procs", "pss", "uss", "rss", "swap"]))
    else:
        rows = [[p["pid"], _cut(p["user"], 10), u(p["pss"]), u(p["uss"]), u(p["rss"]),
                 u(p["swap"]), _cut(p["name"], 16), _cut(p["cmdline"], 60)]
                for p in doc["processes"]]
        blocks.append(grid(rows, ["pid", "user", "pss", "uss", "rss", "swap", "name",
                                  "command"],
                           align=["right", "left"] + ["right"] * 4 + ["left", "left"]))
    t = doc["totals"]
    shown = len(doc["processes"])
    line = (f"{t['processes']} processes: pss {u(t['pss'])}, uss {u(t['uss'])}, "
            f"rss {u(t['rss'])}, swap {u(t['swap'])}")
    if t["pss_missing"]:
        line += (f"; pss and uss unknown for {t['pss_missing']} (unreadable: their rss "
                 "is counted, their pss is not)")
    if "groups" not in doc and shown < t["processes"]:
        line += f"; {t['processes'] - shown} more not shown (--limit)"
    blocks.append(line)
    sk = doc["skipped"]
    said = [f"{v} {k.replace('_', ' ')}" for k, v in sk.items() if v]
    if said:
        blocks.append("skipped or partial: " + ", ".join(said) +
                      (" (capped: status figures, no page-table walk)" if sk["capped"] else ""))
    return "\n\n".join(blocks) + "\n"


PROC_ROWS = [("rss", "rss"), ("  anon", "rss_anon"), ("  file", "rss_file"),
             ("  shmem", "rss_shmem"), ("pss", "pss"), ("  anon", "pss_anon"),
             ("  file", "pss_file"), ("  shmem", "pss_shmem"),
             ("uss (private)", "uss"), ("shared", "shared"), ("swap", "swap"),
             ("swap pss", "swap_pss"), ("locked", "locked"), ("anon THP", "anon_huge"),
             ("hugetlb (not in rss)", "hugetlb"), ("vsz", "vsz")]


def proc_table(doc: Dict[str, Any], units: Units) -> str:
    u = units
    blocks = []
    for p in doc["processes"]:
        head = (f"pid {p['pid']}  {clean(p['name'] or '-')}  user {clean(p['user'] or '-')}  "
                f"oom_score {p['oom_score'] if p['oom_score'] is not None else '-'}")
        cmd = f"command: {_cut(p['cmdline'] or '', 240)}"  # whole in --format json
        src = p.get("sources", {})
        rows = [[label, u(p[key]), src.get(key, "")] for label, key in PROC_ROWS]
        blocks.append(head + "\n" + cmd + "\n" + grid(rows, ["", u.label or "size", "from"],
                                                        align=["left", "right", "left"]))
        if "mappings" in p:
            rows = [[m["category"], _cut(m["path"] or "", 60, keep_end=True), m["count"],
                     u(m["size"]),
                     u(m["rss"]), u(m["pss"]), u(m["uss"]), u(m["swap"])]
                    for m in p["mappings"]]
            blocks.append(grid(rows, ["category", "path", "maps", "size", "rss", "pss", "uss",
                                      "swap"],
                               align=["left", "left"] + ["right"] * 6))
    notes = notes_block(doc.get("notes", []))
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"


def _pressure_cell(p: Optional[Dict[str, Any]], kind: str) -> str:
    if not p or not p.get(kind):
        return "-"
    return f"{p[kind]['avg10']:.2f}% / {p[kind]['avg60']:.2f}%"


CGROUP_ROWS = [
    ("usage", "usage"), ("limit", "limit"), ("high", "high"), ("peak", "peak"),
    ("swap", "swap"), ("working set", "working_set"), ("anon", "anon"), ("file", "file"),
    ("  active", "active_file"), ("  inactive", "inactive_file"), ("  mapped", "file_mapped"),
    ("  dirty", "file_dirty"), ("shmem", "shmem"), ("kernel", "kernel"), ("  slab", "slab"),
    ("  kernel stacks", "kernel_stack"), ("  page tables", "page_tables"), ("  sock", "sock"),
]


def cgroup_table(doc: Dict[str, Any], units: Units) -> str:
    u = units
    cgs = list(doc["cgroups"])
    parent = doc.get("parent")
    headers = ["", *[_cut(c["path"], 28, keep_end=True) for c in cgs]]
    if parent is not None:
        headers.append(_cut(f"{parent['path']} (own)", 28, keep_end=True))

    def cell(c: Dict[str, Any], key: str) -> str:
        value = c[key]
        if value is None and key == "limit" and c["unlimited"]:
            return "max"  # the kernel says: no limit
        if value is None and key == "high" and c["version"] == 2 and c["unlimited"] is not None:
            return "max"  # v1 has no memory.high at all: "-"
        return u(value)

    rows = []
    for label, key in CGROUP_ROWS:
        row = [label] + [cell(c, key) for c in cgs]
        if parent is not None:
            row.append(u(parent["own_usage"]) if key == "usage" else "")
        rows.append(row)
    for ev in ("max", "oom", "oom_kill", "high", "low"):
        rows.append([f"events {ev}"] + [c["events"][ev] if c["events"][ev] is not None
                                        else "-" for c in cgs] +
                    ([""] if parent is not None else []))
    for kind in ("some", "full"):
        rows.append([f"pressure {kind} 10s/60s"] + [_pressure_cell(c["pressure"], kind)
                                                    for c in cgs] +
                    ([""] if parent is not None else []))
    rows.append(["processes"] + [c["process_count"] for c in cgs] +
                ([""] if parent is not None else []))
    for label, key in (("procs rss", "procs_rss"), ("procs pss", "procs_pss"),
                       ("unmapped file", "unmapped_file"), ("swap cache", "swap_cache"),
                       ("residual", "residual")):
        rows.append([label] + [u(c["reconciliation"][key]) for c in cgs] +
                    ([""] if parent is not None else []))
    blocks = [grid(rows, headers)]
    blocks.append("usage = procs pss + unmapped file + kernel + swap cache + residual "
                  "(residual: pages charged here but mapped elsewhere, or mapped here but "
                  "charged elsewhere; per-CPU charge stock)")
    notes = notes_block(doc.get("notes", []))
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"


def zones_table(doc: Dict[str, Any], units: Units, explain: bool = False) -> str:
    u = units
    rows = []
    for z in doc["zones"]:
        rows.append([z["node"], z["zone"], u(z["free"]), u(z["min"]), u(z["low"]),
                     u(z["high"]), u(z["promo"]), u(z["boost"]), u(z["managed"]),
                     u(z["present"]), z["state"], u(z["headroom"]),
                     u(z["largest_free_block"])])
    blocks = [grid(rows, ["node", "zone", "free", "min", "low", "high", "promo", "boost",
                          "managed", "present", "state", "headroom", "largest"],
                   align=["right", "left"] + ["right"] * 8 + ["left", "right", "right"])]
    rows = []
    for z in doc["zones"]:
        prot = " ".join(u(p) for p in z["protection"]) or "-"
        by_class = " ".join(u(h) for h in z["headroom_by_class"]) or "-"
        rows.append([z["node"], z["zone"], prot, by_class])
    blocks.append("Protection (lowmem_reserve per class zone) and headroom for requests from "
                  "each class\n" + grid(rows, ["node", "zone", "protection", "headroom by class"],
                                       align=["right", "left", "left", "left"]))
    rows = []
    for z in doc["zones"]:
        if z["free_blocks"] is None:
            continue
        rows.append([z["node"], z["zone"], " ".join(str(c) for c in z["free_blocks"]),
                     " ".join(f"{x:.2f}" for x in z["unusable_index"])])
    if rows:
        blocks.append("Fragmentation: free blocks per order, and the unusable free index per "
                      "order (1.00: no free block that large)\n" +
                      grid(rows, ["node", "zone", "free blocks by order", "unusable index"],
                           align=["right", "left", "left", "left"]))
    t = doc["tunables"]
    wsf = t["watermark_scale_factor"]
    blocks.append(f"vm.min_free_kbytes {u(t['min_free_bytes'])}, vm.watermark_scale_factor "
                  f"{wsf if wsf is not None else '-'}, vm.lowmem_reserve_ratio "
                  f"{' '.join(map(str, t['lowmem_reserve_ratio'] or [])) or '-'}")
    if explain:
        from memscope.model.views import EXPLAIN

        blocks.append("\n".join(f"{name}: {text}" for name, text in EXPLAIN))
    notes = notes_block(doc.get("notes", []))
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"


def vmalloc_table(doc: Dict[str, Any], units: Units, by: str = "caller") -> str:
    u = units
    key = "type" if by == "type" else "caller"
    rows_src = doc["by_type"] if by == "type" else doc["top_callers"]
    rows = [[_cut(r[key], 60), r["count"], u(r["size"]), u(r["bytes"])] for r in rows_src]
    blocks = [grid(rows, [key, "areas", "address space", "pages"])]
    ks = doc["kernel_stacks"]
    line = (f"vmalloc pages {u(doc['vmalloc_bytes'])}; VmallocUsed {u(doc['vmalloc_used'])}; "
            f"of which vmap'd kernel stacks {u(ks['bytes'])} in {ks['count']} areas")
    blocks.append(line)
    notes = notes_block(doc.get("notes", []))
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"


def slab_table(doc: Dict[str, Any], units: Units, limit: Optional[int] = None) -> str:
    u = units
    caches = doc["caches"][:limit] if limit else doc["caches"]
    rows = [[c["name"], u(c["bytes"]), c["active_objects"], c["total_objects"],
             c["object_size"], {True: "yes", False: "no", None: "-"}[c["reclaimable"]]]
            for c in caches]
    blocks = [grid(rows, ["cache", "memory", "active objs", "objs", "obj size",
                          "reclaimable"])]
    m = doc["meminfo"]
    blocks.append(f"caches {u(doc['total_bytes'])}; meminfo Slab {u(m['Slab'])} = "
                  f"SReclaimable {u(m['SReclaimable'])} + SUnreclaim {u(m['SUnreclaim'])}")
    notes = notes_block(doc.get("notes", []))
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"


def shmem_table(doc: Dict[str, Any], units: Units) -> str:
    u = units
    blocks = [f"Shmem {u(doc['total'])}: tmpfs and shm files, SysV segments, memfd and shared "
              "anonymous memory"]
    if doc["mounts"]:
        blocks.append(grid([[clean(m["mountpoint"]), m["fstype"], u(m["used"])]
                            for m in doc["mounts"]], ["mount", "type", "used"],
                           align=["left", "left", "right"]))
    if doc["sysv"]:
        blocks.append(grid([[s["key"], s["shmid"], clean(s["owner"] or "-"), u(s["size"]),
                             u(s["rss"]), u(s["swap"]), s["attached"]] for s in doc["sysv"]],
                           ["SysV key", "shmid", "owner", "size", "rss", "swap", "attached"]))
    if doc["mapped"]:
        blocks.append(grid([[_cut(m["path"], 50, keep_end=True),
                             " ".join(map(str, m["pids"][:6])) +
                             (" ..." if len(m["pids"]) > 6 else ""), u(m["rss"])]
                            for m in doc["mapped"]], ["mapped object", "pids", "resident"],
                           align=["left", "left", "right"]))
    blocks.append(f"unattributed {u(doc['unattributed'])}")
    notes = notes_block(doc.get("notes", []))
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"


ACTIVITY_LABELS = [("pgscan_kswapd", "pages scanned by kswapd"),
                   ("pgscan_direct", "pages scanned in direct reclaim"),
                   ("pgsteal_kswapd", "pages reclaimed by kswapd"),
                   ("pgsteal_direct", "pages reclaimed in direct reclaim"),
                   ("allocstall", "direct reclaim stalls"),
                   ("compact_stall", "compaction stalls"), ("compact_fail", "compaction failures"),
                   ("oom_kill", "OOM kills"), ("workingset_refault", "refaults"),
                   ("thp_fault_fallback", "THP fault fallbacks"),
                   ("thp_file_fallback", "THP file fallbacks"),
                   ("pswpin", "pages swapped in"), ("pswpout", "pages swapped out")]


def activity_block(doc: Dict[str, Any]) -> str:
    act = doc.get("activity")
    if not act:
        return ""
    rates = doc.get("activity_rates")
    rows = []
    for key, label in ACTIVITY_LABELS:
        if act.get(key) is None:
            continue
        row = [label, act[key]]
        if rates is not None:
            r = rates.get(key)
            row.append("-" if r is None else f"{r:g}/s")
        rows.append(row)
    headers = ["reclaim and OOM activity", "since boot"] + (["rate"] if rates else [])
    return grid(rows, headers)


def report_table(doc: Dict[str, Any], units: Units) -> str:
    parts = [summary_table(doc["summary"], units)]
    top = dict(doc["top"])
    parts.append("Programs (all processes, folded by executable)\n" + top_table(top, units))
    procs = {k: v for k, v in top.items() if k != "groups"}
    parts.append("Largest processes\n" + top_table(procs, units))
    if doc.get("cgroups"):
        parts.append("Top-level cgroups\n" + cgroup_table({"cgroups": doc["cgroups"],
                                                            "notes": []}, units))
    if doc.get("vmalloc"):
        parts.append(vmalloc_table(dict(doc["vmalloc"], notes=[]), units))
    if doc.get("notes"):
        parts.append(notes_block(doc["notes"]) + "\n")
    return "\n".join(parts)


def diff_table(doc: Dict[str, Any], units: Units) -> str:
    u = units

    def signed(n):
        return "-" if n is None else ("+" if n > 0 else "") + u(n)

    def when(src):
        src = src or {}
        return " ".join(str(x) for x in (src.get("hostname"), src.get("taken_at")) if x) or "?"

    blocks = [f"old: {clean(when(doc['old']['source']))}\nnew: {clean(when(doc['new']['source']))}"]
    blocks.append(grid([[r["field"], u(r["old"]), u(r["new"]), signed(r["delta"])]
                        for r in doc["system"]], ["system", "old", "new", "change"]))
    if doc["programs"]:
        blocks.append(grid([[_cut(p["key"], 40), p["status"], u(p["old_pss"]), u(p["new_pss"]),
                             signed(p["delta"])] for p in doc["programs"]],
                           ["program", "", "old pss", "new pss", "change"],
                           align=["left", "left", "right", "right", "right"]))
    if doc["cgroups"]:
        blocks.append(grid([[_cut(c["path"], 50, keep_end=True), u(c["old_usage"]),
                             u(c["new_usage"]), signed(c["delta"])] for c in doc["cgroups"]],
                           ["cgroup", "old usage", "new usage", "change"]))
    return "\n\n".join(blocks) + "\n"
