"""Tables: a view of the model's documents with units applied (tabulate)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from memscope.render.term import Painted, wrap
from memscope.render.units import Units
from memscope.text import safe


def grid(rows: Sequence[Sequence[Any]], headers: Sequence[str] = (),
         align: Optional[Sequence[str]] = None) -> str:
    """A plain, free(1)-like table: first column left, the rest right-aligned."""
    import tabulate as tabulate_module

    width = max(len(headers), max((len(r) for r in rows), default=0))
    colalign = list(align) if align else ["left"] + ["right"] * (width - 1)
    # every cell through clean(): a name's ESC would otherwise be measured as invisible
    kwargs = dict(headers=[clean(h) for h in headers], tablefmt="plain", colalign=colalign,
                  disable_numparse=True)
    # (a cell paint() coloured is memscope's own: its text was made safe when painted)
    data = [[clean(c) if isinstance(c, str) and not isinstance(c, Painted) else c for c in r]
            for r in rows]
    try:  # tabulate 0.10+: a parameter keeps the indent of sub-rows
        return tabulate_module.tabulate(data, preserve_whitespace=True, **kwargs)
    except TypeError:  # older releases: a module global
        tabulate_module.PRESERVE_WHITESPACE = True
        return tabulate_module.tabulate(data, **kwargs)

def clean(text: Any) -> str:
    """Text from processes and files is untrusted: no control characters in a terminal
    (memscope.text.safe: ESC, C1, bidi, surrogates... each shown as ?)."""
    return safe(text)


def notes_block(notes: List[Dict[str, str]]) -> str:
    if not notes:
        return ""
    return "Notes:\n" + "\n".join(wrap(f"  - [{n['code']}] {clean(n['text'])}", "    ")
                                   for n in notes)


def _pct(part: int, total: int) -> str:
    return f"{100.0 * part / total:.2f}" if total else "-"


def free_rows(doc: Dict[str, Any], u: Units, wide: bool = False, total: bool = False,
              committed: bool = False):
    """free(1)'s block: headers and rows, with free's -t (Total:) and -v (Comm:) rows."""
    mem, swap = doc["memory"], doc["swap"]
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
    if total:  # free -t: RAM + swap
        sw = swap or {"total": 0, "used": 0, "free": 0}
        rows.append(["Total:", u(mem["total"] + sw["total"]), u(mem["used"] + sw["used"]),
                     u(mem["free"] + sw["free"])])
    if committed:  # free -v: CommitLimit, Committed_AS, and what is left of the limit
        mi = doc.get("meminfo") or {}
        limit, done = mi.get("CommitLimit"), mi.get("Committed_AS")
        rows.append(["Comm:", u(limit), u(done),
                     u(None if limit is None or done is None else limit - done)])
    return headers, rows


def free_line(doc: Dict[str, Any], u: Units) -> str:
    """``free --line`` (procps-ng 4.0.3+): one line a sample, its field names 7 wide."""
    mem, swap = doc["memory"], doc["swap"]
    return (f"SwapUse {u(swap['used'] if swap else None):>11} "
            f"CachUse {u(mem['buff_cache']):>11}  MemUse {u(mem['used']):>11} "
            f"MemFree {u(mem['free']):>11}\n")


def _bar_column(fractions: List[Optional[float]], used: int,
                relative: bool = False) -> Optional[List[str]]:
    """Bars for a table's extra column when pictures belong (a table on a terminal): as
    wide as the terminal leaves beside ``used`` columns, at most 30; a full bar is 1.0, or
    with ``relative`` the largest fraction."""
    from memscope.render.term import bar, interactive, width

    if not interactive():
        return None
    room = min(30, (width() or 80) - used - 2)
    if room < 5:
        return None
    top = max([f for f in fractions if f is not None] + [0.0])
    scale = 1.0 / top if relative and top > 0 else 1.0
    return [bar(None if f is None else f * scale, room) for f in fractions]


def _with_bars(table: str, fractions: List[Optional[float]], header_lines: int = 1,
               relative: bool = False) -> str:
    from memscope.render.term import visible_len

    lines = table.split("\n")
    used = max(visible_len(line) for line in lines)
    bars = _bar_column(fractions, used, relative)
    if bars is None:
        return table
    out = lines[:header_lines]
    for line, b in zip(lines[header_lines:], bars):
        out.append(line + " " * (used - visible_len(line)) + "  " + b.rstrip())
    return "\n".join(out)


def summary_table(doc: Dict[str, Any], units: Units, wide: bool = False,
                  total: bool = False, committed: bool = False) -> str:
    from memscope.render.term import ZONE_SEVERITY, paint, share_severity

    u = units
    mem, swap = doc["memory"], doc["swap"]
    blocks: List[str] = verdict_line(doc)

    src = doc["source"]
    ident = [x for x in (src.get("hostname"), src.get("kernel"), src.get("taken_at")) if x]
    if src.get("root") not in (None, "/"):
        ident.insert(0, f"root {src['root']}")
    if ident:
        blocks.append(clean("  ".join(ident)))

    # Under a memory limit the container's figures come first: they are what runs out.
    box = doc.get("container")
    if box is not None:
        rows = [["limit", u(box["limit"])], ["usage", u(box["usage"])],
                ["working set", u(box["working_set"])],
                ["headroom", paint(u(box["headroom"]), share_severity(
                    None if box["working_set"] is None or not box["limit"]
                    else box["working_set"] / box["limit"]))]]
        limit = box["limit"] or 0
        table = _with_bars(grid(rows), [None if not limit or box[k] is None
                                        else box[k] / limit for k in
                                        ("limit", "usage", "working_set", "headroom")], 0)
        blocks.append(wrap(f"Container: how close is memscope's own cgroup {clean(box['path'])} "
                           f"(v{box['version']}) to its memory limit? (meminfo below shows the "
                           "host)") + "\n" + table)

    # free(1)'s block, same headers and columns.
    headers, rows = free_rows(doc, u, wide, total, committed)
    blocks.append("How much is used, and how much can still be had? (as free(1))\n"
                  + grid(rows, headers))

    # Where MemTotal goes.
    total_bytes = mem["total"]
    rows = []
    fractions: List[Optional[float]] = []
    for cat in doc["breakdown"]:
        rows.append([cat["category"], u(cat["bytes"]), _pct(cat["bytes"], total_bytes)])
        fractions.append(cat["bytes"] / total_bytes if total_bytes else None)
        for part in cat.get("parts", ()):
            rows.append(["  " + part["category"], u(part["bytes"]),
                         _pct(part["bytes"], total_bytes)])
            fractions.append(part["bytes"] / total_bytes if total_bytes else None)
    rows.append(["= MemTotal", u(total_bytes), "100.00"])
    fractions.append(None)
    title = "Where MemTotal goes (disjoint; sums exactly)"
    blocks.append(title + "\n" + _with_bars(grid(rows, ["category", u.label or "size", "%"]),
                                            fractions))

    lru = next((c for c in doc["breakdown"] if c["category"] == "lru"), None)
    if lru and lru.get("contents"):
        rows = [[c["category"], u(c["bytes"])] for c in lru["contents"]]
        blocks.append("What the LRU lists hold (overlapping: not part of the sum)\n"
                      + grid(rows, ["contents", u.label or "size"]))

    thp = doc.get("thp")
    if thp is not None:
        parts = [f"anon {u(thp['anon'])}"]
        if thp.get("shmem") is not None:
            parts.append(f"shmem {u(thp['shmem'])} (pmd-mapped {u(thp['shmem_pmd_mapped'])})")
        if thp.get("file") is not None:
            parts.append(f"file {u(thp['file'])} (pmd-mapped {u(thp['file_pmd_mapped'])})")
        blocks.append(wrap("Transparent huge pages in use (inside anon, shmem and page "
                           "cache): " + ", ".join(parts)))
    pools = doc.get("hugetlb_pools") or []
    if any(p["total"] or p["surplus"] or p["reserved"] for p in pools):
        rows = [[u(p["page_size"]), u(p["total"]), u(p["used"]), u(p["free"]),
                 u(p["reserved"]), u(p["surplus"])] for p in pools]
        blocks.append("hugetlb pools (reserved: free pages promised to mappings)\n" +
                      grid(rows, ["page size", "total", "used", "free", "reserved",
                                  "surplus"]))
    elif pools:
        blocks.append(wrap("hugetlb pools: none allocated (page sizes "
                           + ", ".join(u(p["page_size"]) for p in pools) + ")"))

    phys = doc["physical"]
    if phys is not None:
        blocks.append(wrap(f"Physical RAM: {u(phys['present'])} present in zones, "
                           f"{u(phys['reserved'])} of it reserved outside MemTotal "
                           "(kernel image, struct pages, firmware, crashkernel)"))

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
                 u(z["managed"]), paint(z["state"], ZONE_SEVERITY.get(z["state"])),
                 u(z["headroom"])] for z in doc["zones"]]
        blocks.append("Is any zone short of free pages? (free against its watermarks)\n" +
                      grid(rows, ["node", "zone", "free", "min", "low", "high", "managed",
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
        blocks.append("Are tasks waiting for memory? (PSI: share of time stalled)\n"
                      + grid(rows, ["", "avg10", "avg60", "avg300", "total"]))

    activity = activity_block(doc)
    if activity:
        blocks.append("Has the kernel had to reclaim, compact or kill?\n" + activity)

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
    from memscope.render.term import paint

    line = doc["headline"]
    if doc.get("verdict") not in (None, "ok"):
        line += "  (details: memscope explain)"
    return [paint(wrap(clean(line)), VERDICT_SEVERITY.get(doc.get("verdict")))]


# a verdict's colour (render/term.py SEVERITY_SGR): attention yellow, pressure and critical red
VERDICT_SEVERITY = {"ok": None, "attention": "warning", "pressure": "critical",
                    "critical": "critical"}


def _cut(text: Any, width: int, keep_end: bool = False) -> str:
    from memscope.render.term import cut

    return cut(clean(text if text is not None else ""), width, keep_end)


TOP_COLUMNS = ("pid", "user", "pss", "uss", "rss", "swap", "swap_pss", "shared", "vsz", "%",
               "dpss", "drss", "oom_score", "name", "command")
TOP_DEFAULT = ("pid", "user", "pss", "uss", "rss", "swap", "%", "name", "command")


class TopView:
    """How ``top`` lays out its table: which columns in which order, the header or not, the
    base of the ``%`` column (MemTotal, or a cgroup's limit) and per-process growth since the
    previous tick of a --watch ({pid: (Δpss, Δrss)})."""

    def __init__(self, columns=None, header: bool = True, share_base: Optional[int] = None,
                 share_of: str = "MemTotal", deltas: Optional[Dict[int, Any]] = None,
                 width: Optional[int] = None, title: Optional[str] = None,
                 height: Optional[int] = None, reverse: bool = False):
        self.columns = tuple(columns) if columns else TOP_DEFAULT
        self.height = height    # lines the whole output may take (a screenful), or None
        self.reverse = reverse  # rows printed largest last: a screenful keeps the end
        self.header = header
        self.share_base = share_base
        self.share_of = share_of
        self.deltas = deltas
        self.width = width
        self.title = title


def _top_column(key: str, units: Units):
    from memscope.render.term import Column, unicode

    delta = ("Δ" if unicode() else "d") + key[1:]
    spec = {
        "pid": Column("pid"),
        "user": Column("user", "left", least=5, most=12, drop=3),
        "pss": Column("pss"), "rss": Column("rss"),
        "uss": Column("uss", drop=5), "swap": Column("swap", drop=4),
        "swap_pss": Column("swap_pss", drop=4), "shared": Column("shared", drop=4),
        "vsz": Column("vsz", drop=4), "%": Column("%", drop=6),
        "dpss": Column(delta), "drss": Column(delta, drop=7),
        "oom_score": Column("oom", drop=4),
        "name": Column("name", "left", least=8, most=16, drop=2),
        "command": Column("command", "left", least=20, most=240, flex=True),
    }[key]
    return spec


def _signed(units: Units, n: Optional[int]) -> str:
    if n is None:
        return "-"
    return ("+" if n > 0 else "") + units(n)


def process_rows(doc: Dict[str, Any], units: Units, view: TopView) -> str:
    """The process table of ``top``, fitted to the terminal (render/term.fit)."""
    from memscope.render.term import fit, width

    u = units
    base = view.share_base

    def cell(p, key):
        if key in ("pss", "uss", "rss", "swap", "swap_pss", "shared", "vsz"):
            return u(p[key])
        if key == "%":
            v = p["pss"]
            return "-" if v is None or not base else f"{100.0 * v / base:.1f}"
        if key in ("dpss", "drss"):
            d = (view.deltas or {}).get(p["pid"])
            # as wide from the first tick as later ones ("+1.2Mi"): the layout holds still
            return _signed(u, None if d is None else d[0 if key == "dpss" else 1]).rjust(6)
        if key in ("user", "name", "command"):
            return clean(p["cmdline" if key == "command" else key] or "")
        v = p[key]
        return "-" if v is None else str(v)

    keys = [k for k in view.columns if k != "%" or base]
    cols = [_top_column(k, u) for k in keys]
    rows = [[cell(p, k) for k in keys] for p in doc["processes"]]
    cells = view.width if view.width is not None else width()
    return fit(cols, rows, cells, header=view.header)


def top_table(doc: Dict[str, Any], units: Units, view: Optional[TopView] = None) -> str:
    u = units
    view = view or TopView()
    blocks = []
    if view.title:
        blocks.append(view.title)
    if "groups" in doc:
        rows = [[_cut(g["key"], 40), g["count"],
                 u(g["pss"]) + ("+" if g["pss_missing"] and g["pss"] is not None else ""),
                 u(g["uss"]), u(g["rss"]), u(g["swap"])] for g in doc["groups"]]
        blocks.append(grid(rows, ["group", "procs", "pss", "uss", "rss", "swap"]
                           if view.header else ()))
        if view.header:
            blocks.extend(_top_footer(doc, u, view, len(doc["processes"])))
        return "\n\n".join(blocks) + "\n"
    procs = list(doc["processes"])
    footer = _top_footer(doc, u, view, len(procs)) if view.header else []
    if view.height is not None:  # a screenful: as many rows as leave the footer in view
        for _ in range(3):
            used = sum(b.count("\n") + 2 for b in blocks + footer) + 1
            room = max(3, view.height - used)
            if room >= len(procs):
                break
            procs = procs[-room:] if view.reverse else procs[:room]
            footer = _top_footer(doc, u, view, len(procs)) if view.header else []
    table = process_rows(dict(doc, processes=procs), u, view)
    if table:
        blocks.append(table)
    if not view.header:  # --no-header: the rows and nothing else, for scripts
        return "\n\n".join(blocks) + "\n" if blocks else ""
    return "\n\n".join(blocks + footer) + "\n"


def _top_footer(doc: Dict[str, Any], u: Units, view: TopView, shown: int) -> List[str]:
    blocks = []
    t = doc["totals"]
    figures = [f"{key} {u(t[key])}" for key in ("pss", "uss", "rss", "swap")
               if t.get(key) is not None]
    if t.get("hugetlb"):
        figures.append(f"hugetlb {u(t['hugetlb'])} (not in rss)")
    line = f"{t['processes']} processes: " + ", ".join(figures)
    if t["pss"] is None and t["processes"]:
        line += "; pss and uss not known (status figures only: ranked by rss)"
    elif t["pss_missing"]:
        line += (f"; pss and uss unknown for {t['pss_missing']} (marked -, ranked by rss; "
                 "their rss is counted, their pss is not)")
    if "groups" in doc:
        incomplete = sum(1 for g in doc["groups"] if g["pss_missing"] and g["pss"] is not None)
        if incomplete:
            line += (f"; {incomplete} group(s) marked + have members whose pss is unknown "
                     "(the sum of the known)")
    if "groups" not in doc and shown < t["processes"]:
        line += f"; {t['processes'] - shown} more not shown (--limit)"
    if "%" in view.columns and view.share_base and "groups" not in doc:
        line += f"; % of {view.share_of} {u(view.share_base)}"
    blocks.append(wrap(line))
    sk = doc["skipped"]
    every = t["processes"] and sk["capped"] == t["processes"]  # --rss-only: asked for
    said = [f"{v} {k.replace('_', ' ')}" for k, v in sk.items()
            if v and k not in ("kernel_threads", "memscope") and not (every and k == "capped")]
    if said:
        blocks.append(wrap("skipped or partial: " + ", ".join(said) +
                           (" (capped: status figures, no page-table walk)"
                            if sk["capped"] and not every else "")))
    return blocks


def mapping_table(doc: Dict[str, Any], units: Units, header: bool = True) -> str:
    """``top --by-mapping``: one row per file or kind of anonymous memory, summed over the
    processes mapping it, the path taking the spare width (its end kept)."""
    from memscope.render.term import Column, fit, width

    u = units
    cols = [Column("category", "left"), Column("procs"), Column("maps", drop=2),
            Column("size", drop=1), Column("rss"), Column("pss"), Column("uss", drop=3),
            Column("swap", drop=4),
            Column("path", "left", least=16, most=240, flex=True, keep_end=True)]
    rows = [[m["category"], m["procs"], m["count"], u(m["size"]), u(m["rss"]), u(m["pss"]),
             u(m["uss"]), u(m["swap"]), clean(m["path"] or "")] for m in doc["mappings"]]
    blocks = [fit(cols, rows, width(), header=header)]
    if not header:
        return blocks[0] + "\n"
    t = doc["totals"]
    line = (f"{t['mappings']} mapped objects in {t['processes']} processes: pss {u(t['pss'])}, "
            f"rss {u(t['rss'])}, uss {u(t['uss'])}, swap {u(t['swap'])}")
    if len(doc["mappings"]) < t["mappings"]:
        line += f"; {t['mappings'] - len(doc['mappings'])} more not shown (--limit)"
    blocks.append(wrap(line))
    said = [f"{v} {k.replace('_', ' ')}" for k, v in doc["skipped"].items() if v]
    if said:
        blocks.append("skipped: " + ", ".join(said))
    return "\n\n".join(blocks) + "\n"


PROC_ROWS = [("rss", "rss"), ("  anon", "rss_anon"), ("  file", "rss_file"),
             ("  shmem", "rss_shmem"), ("pss", "pss"), ("  anon", "pss_anon"),
             ("  file", "pss_file"), ("  shmem", "pss_shmem"),
             ("uss (private)", "uss"), ("shared", "shared"), ("swap", "swap"),
             ("  of it shmem (in every mapper)", "swap_shmem"), ("swap pss", "swap_pss"),
             ("locked (proportional, smaps)", "locked"),
             ("VmLck (mlock: RLIMIT_MEMLOCK)", "vm_locked"), ("anon THP", "anon_huge"),
             ("shmem THP pmd-mapped", "shmem_pmd_mapped"),
             ("file THP pmd-mapped", "file_pmd_mapped"),
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
            rows = [[m["category"], clean(m["path"] or ""), m["count"], u(m["size"]),
                     u(m["rss"]), u(m["pss"]), u(m["uss"]), u(m["swap"])]
                    for m in p["mappings"]]
            maps = p["mappings"]
            rows.append(["= total", "", sum(m["count"] for m in maps)] +
                        [u(sum(m[k] for m in maps)) for k in ("size", "rss", "pss", "uss",
                                                              "swap")])
            from memscope.render.term import Column, fit, width

            cols = [Column("category", "left"),
                    Column("path", "left", least=16, most=240, flex=True, keep_end=True),
                    Column("maps"), Column("size", drop=2), Column("rss"), Column("pss"),
                    Column("uss", drop=3), Column("swap", drop=1)]
            blocks.append(fit(cols, rows, width()))
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


def cgroup_table(doc: Dict[str, Any], units: Units,
                 deltas: Optional[Dict[str, Optional[int]]] = None) -> str:
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
    pad = [""] if parent is not None else []
    for label, key in CGROUP_ROWS:
        row = [label] + [cell(c, key) for c in cgs]
        if parent is not None:
            row.append(u(parent["own_usage"]) if key == "usage" else "")
        rows.append(row)
        if key == "usage" and any(c.get("comparable_usage") not in (None, c["usage"])
                                  for c in cgs):
            # a root's usage rule leaves kernel memory out; its children's usage has it
            rows.append(["  incl. kernel"] + [u(c.get("comparable_usage")) for c in cgs] +
                        pad)
        if key == "limit":
            rows.append(["  applies"] + [
                "max" if c.get("effective_limit") is None and c.get("unlimited")
                and c.get("limit_set_by") is None else u(c.get("effective_limit"))
                for c in cgs] + pad)
            rows.append(["  set by"] + [
                _cut(c["limit_set_by"], 28, keep_end=True) if c.get("limit_set_by")
                else "-" for c in cgs] + pad)
        if key == "usage" and deltas is not None:  # --watch: growth since the last tick
            rows.append(["  growth"] + [_signed(u, deltas.get(c["path"])) for c in cgs] +
                        pad)
    for ev in ("max", "oom", "oom_kill", "high", "low"):
        rows.append([f"events {ev}"] + [c["events"][ev] if c["events"][ev] is not None
                                        else "-" for c in cgs] + pad)
    if any(c.get("memsw_failcnt") is not None for c in cgs):
        rows.append(["memsw failcnt"] + [c["memsw_failcnt"] if c.get("memsw_failcnt")
                                         is not None else "-" for c in cgs] + pad)
    if any(c.get("under_oom") is not None for c in cgs):
        rows.append(["under oom"] + [{True: "yes", False: "no", None: "-"}[c.get("under_oom")]
                                     for c in cgs] + pad)
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
    bars = limit_bars(doc, u)
    if bars:
        blocks.insert(0, bars)
    blocks.append(wrap("usage = procs pss + unmapped file + kernel + swap cache + residual "
                       "(residual: pages charged here but mapped elsewhere, or mapped here "
                       "but charged elsewhere; per-CPU charge stock)"))
    notes = notes_block(doc.get("notes", []))
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"


def limit_bars(doc: Dict[str, Any], units: Units,
               deltas: Optional[Dict[str, Optional[int]]] = None) -> str:
    """On a terminal: each cgroup's usage against its limit as a bar, coloured by how near
    it is (render/term.share_severity); with --watch, the growth since the last tick."""
    from memscope.render.term import Column, fit, interactive, paint, share_severity, width

    cgs = [c for c in doc["cgroups"] if c.get("limit")]
    if not cgs or not interactive():
        return ""
    u = units
    rows = []
    for c in cgs:
        f = None if c["usage"] is None else c["usage"] / c["limit"]
        rows.append([clean(c["path"]), u(c["usage"]), u(c["limit"]),
                     paint("-" if f is None else f"{100 * f:.1f}%", share_severity(f))])
    cols = [Column("cgroup", "left", least=12, keep_end=True, flex=True), Column("usage"),
            Column("limit"), Column("used")]
    table = fit(cols, rows, width())
    return "How close is each cgroup to its limit?\n" + _with_bars(
        table, [None if c["usage"] is None else c["usage"] / c["limit"] for c in cgs], 1)


def cgroup_tree_table(doc: Dict[str, Any], units: Units,
                      deltas: Optional[Dict[str, Optional[int]]] = None) -> str:
    """``cgroup --tree``: the hierarchy indented, each cgroup's usage (its subtree's) and
    own share (less its children), limit, share of the limit, and on a terminal a bar of
    usage against the largest; with --watch, Δusage since the previous tick."""
    from memscope.render.term import (Column, fit, interactive, paint, share_severity,
                                      unicode, width)

    u = units
    cgs = doc["cgroups"]
    keys = ["cgroup", "usage", "own", "limit", "% limit", "working set"]
    if deltas is not None:
        keys.insert(2, ("Δ" if unicode() else "d") + "usage")
    rows = []
    for c in cgs:
        name = c["path"] if c["depth"] == 0 else c["path"].rsplit("/", 1)[-1]
        f = None if not c.get("limit") or c["usage"] is None else c["usage"] / c["limit"]
        limit = "max" if c["limit"] is None and c["unlimited"] else u(c["limit"])
        # the root's usage rule leaves kernel memory out; its children's usage has it: the
        # tree shows the root like with like (comparable_usage), never smaller than a child
        usage = c.get("comparable_usage") if c.get("comparable_usage") is not None \
            else c["usage"]
        row = ["  " * c["depth"] + clean(name), u(usage), u(c["own_usage"]), limit,
               paint("-" if f is None else f"{100 * f:.1f}", share_severity(f)),
               u(c["working_set"])]
        if deltas is not None:
            d = deltas.get(c["path"])
            row.insert(2, _signed(u, d))
        rows.append(row)
    cols = [Column(k, "left" if k == "cgroup" else "right",
                   least=12 if k == "cgroup" else None, flex=k == "cgroup",
                   keep_end=k == "cgroup",
                   drop={"working set": 1, "% limit": 2, "own": 3}.get(k)) for k in keys]
    cells = width()
    table = fit(cols, rows, cells)
    if interactive():
        top = max([c["usage"] for c in cgs if c["usage"] is not None] + [0])
        table = _with_bars(table, [None if c["usage"] is None or not top
                                   else c["usage"] / top for c in cgs], 1)
    blocks = [wrap("Which cgroups hold the memory? (usage includes descendants; own = "
                   "usage less the children's)"), table]
    notes = notes_block(doc.get("notes", []))
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"


def zones_table(doc: Dict[str, Any], units: Units, explain: bool = False) -> str:
    from memscope.render.term import ZONE_SEVERITY, paint

    u = units
    rows = []
    for z in doc["zones"]:
        rows.append([z["node"], z["zone"], u(z["free"]), u(z["min"]), u(z["low"]),
                     u(z["high"]), u(z["promo"]), u(z["boost"]), u(z["managed"]),
                     u(z["present"]), paint(z["state"], ZONE_SEVERITY.get(z["state"])),
                     u(z["headroom"]),
                     u(z["largest_free_block"])])
    from memscope.render.term import Column, fit, width

    cols = [Column("node"), Column("zone", "left"), Column("free"), Column("min"),
            Column("low"), Column("high"), Column("promo", drop=2), Column("boost", drop=1),
            Column("managed"), Column("present", drop=3), Column("state", "left"),
            Column("headroom"), Column("largest", drop=4)]
    blocks = [wrap("Is any zone short of free pages? (free against its min, low and high "
                   "watermarks)") + "\n" + fit(cols, rows, width())]
    blocks.extend(zone_class_tables(doc["zones"], u))
    blocks.extend(fragmentation_tables(doc["zones"]))
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


def _class_names(zones: List[Dict[str, Any]], node: Any, count: int) -> List[str]:
    """The class zones of a node, by name: its zones in zoneinfo's order (lowmem_reserve
    has one entry per zone of the node); indices where the count does not match."""
    names = [z["zone"] for z in zones if z["node"] == node]
    return names if len(names) == count else [str(i) for i in range(count)]


def zone_class_tables(zones: List[Dict[str, Any]], u: Units) -> List[str]:
    """Protection (lowmem_reserve) and headroom by class, one column per class zone: the
    zone a request may go no higher than. A pair of tables per node (nodes may hold
    different zones)."""
    out = []
    nodes = list(dict.fromkeys(z["node"] for z in zones))
    for node in nodes:
        mine = [z for z in zones if z["node"] == node and z["protection"]]
        if not mine:
            continue
        count = max(len(z["protection"]) for z in mine)
        names = _class_names(zones, node, count)
        where = f" (node {node})" if len(nodes) > 1 else ""
        for key, title in (
                ("protection", "Protection: what each zone keeps back from requests of "
                               "each class (lowmem_reserve)"),
                ("headroom_by_class", "Headroom for requests of each class: free - low - "
                                      "protection")):
            # (an empty zone has no headroom: null, shown as "-" in each class)
            rows = [[z["zone"], *(u(v) for v in (z[key] or [None] * count)),
                     *([""] * (count - len(z[key] or [None] * count)))] for z in mine]
            out.append(wrap(title + where) + "\n" + grid(rows, ["zone", *names]))
    return out


def fragmentation_tables(zones: List[Dict[str, Any]]) -> List[str]:
    """Free blocks and the unusable free index per order, one aligned column per order."""
    have = [z for z in zones if z["free_blocks"] is not None]
    if not have:
        return []
    orders = max(len(z["free_blocks"]) for z in have)
    headers = ["node", "zone", *[str(i) for i in range(orders)]]
    align = ["right", "left"] + ["right"] * orders
    blocks = [[z["node"], z["zone"], *z["free_blocks"]] for z in have]
    index = [[z["node"], z["zone"], *(f"{x:.2f}" for x in z["unusable_index"])] for z in have]
    return ["How fragmented is free memory? Free blocks of 2^order pages, per order\n"
            + grid(blocks, headers, align=align),
            wrap("Unusable free index per order: the share of free memory in blocks too small "
                 "for that order (1.00: no free block that large)") + "\n"
            + grid(index, headers, align=align)]


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


def slab_top(caches: List[Dict[str, Any]]) -> str:
    """slabtop's header lines, as slabtop prints them (K = 1024 bytes)."""
    from memscope.model.views import slab_header

    h = slab_header(caches)

    def pct(a, b):
        return f"{100.0 * a / b:.1f}%" if b else "-"

    return "\n".join([
        f" Active / Total Objects (% used)    : {h['active_objects']} / "
        f"{h['total_objects']} ({pct(h['active_objects'], h['total_objects'])})",
        f" Active / Total Slabs (% used)      : {h['active_slabs']} / {h['total_slabs']} "
        f"({pct(h['active_slabs'], h['total_slabs'])})",
        f" Active / Total Caches (% used)     : {h['active_caches']} / {h['total_caches']} "
        f"({pct(h['active_caches'], h['total_caches'])})",
        f" Active / Total Size (% used)       : {h['active_size'] / 1024:.2f}K / "
        f"{h['total_size'] / 1024:.2f}K ({pct(h['active_size'], h['total_size'])})",
        f" Minimum / Average / Maximum Object : {h['min_object'] / 1024:.2f}K / "
        f"{h['avg_object'] / 1024:.2f}K / {h['max_object'] / 1024:.2f}K"])


def slab_table(doc: Dict[str, Any], units: Units, limit: Optional[int] = None,
               sort: Optional[str] = None) -> str:
    from memscope.render.term import Column, fit, width

    u = units
    ranked = list(doc["caches"])
    if sort is not None:
        from memscope.model.views import slab_sort_key

        ranked.sort(key=slab_sort_key(sort))
    caches = ranked[:limit] if limit else ranked
    rows = [[c["name"], u(c["bytes"]), c["active_objects"], c["total_objects"],
             f"{100 * c['active_objects'] // c['total_objects']}%" if c["total_objects"]
             else "-", c["object_size"], c.get("total_slabs", "-"),
             c.get("objects_per_slab", "-"),
             {True: "yes", False: "no", None: "-"}[c["reclaimable"]]]
            for c in caches]
    cols = [Column("cache", "left", least=12, most=40), Column("memory"),
            Column("active"), Column("objs"), Column("use", drop=3),
            Column("obj size"), Column("slabs", drop=2), Column("obj/slab", drop=1),
            Column("reclaimable", "left", drop=4)]
    blocks = []
    if doc["caches"] and "total_slabs" in doc["caches"][0]:
        blocks.append(slab_top(doc["caches"]))
    blocks.append(fit(cols, rows, width()))
    m = doc["meminfo"]
    blocks.append(wrap(f"caches {u(doc['total_bytes'])}; meminfo Slab {u(m['Slab'])} = "
                       f"SReclaimable {u(m['SReclaimable'])} + SUnreclaim "
                       f"{u(m['SUnreclaim'])}"))
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
    if doc.get("hugetlb"):
        blocks.append("hugetlb (not Shmem: in Hugetlb and HugePages_*)\n" +
                      grid([[h["kind"], _cut(h["name"], 50, keep_end=True),
                             clean(h["owner"] or "-"), u(h["size"]), u(h["rss"]),
                             " ".join(map(str, h["pids"][:6])) +
                             (" ..." if len(h["pids"]) > 6 else "")]
                            for h in doc["hugetlb"]],
                           ["kind", "object", "owner", "size", "resident", "pids"],
                           align=["left", "left", "left", "right", "right", "left"]))
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
