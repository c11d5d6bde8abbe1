"""The `memscope cache` table: files and directories by page-cache residency, totals against
the system's Cached, what was skipped and why."""

from __future__ import annotations

from typing import Any, Dict, List

from memscope.render.table import clean, grid, notes_block
from memscope.render.units import Units

# Skipped files named in the table (machine output names up to model.cache.MAX_SKIPPED).
TABLE_SKIPPED = 20


def _cut(text: str, width: int = 80) -> str:
    text = clean(text)
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _pct(part, whole) -> str:
    if part is None or not whole:
        return "-"
    return f"{100.0 * part / whole:.1f}"


def _figures(u: Units, rec: Dict[str, Any], page: int) -> List[str]:
    """% is of the file's pages (the last one partly past the end is cached whole)."""
    pages = -(-rec["size"] // page) * page if page else rec["size"]
    return [u(rec["size"]), u(rec["cached"]), _pct(rec["cached"], pages),
            u(rec["dirty"]), u(rec["writeback"]), u(rec["evicted"]),
            u(rec["recently_evicted"])]


HEAD = ["size", "cached", "%", "dirty", "writeback", "evicted", "recent_evict"]


# columns a narrow terminal drops first (the path keeps the spare width, its end kept)
_DROP = {"recent_evict": 1, "writeback": 2, "evicted": 3, "dirty": 4, "pids": 5, "%": 6}


def _fit_files(head: List[str], rows: List[List[str]]) -> str:
    """The file rows fitted to the terminal (render/term.fit), as every table is."""
    from memscope.render.term import Column, fit, width

    # the path keeps at least 36 columns: lesser columns go first
    cols = [Column(head[0], "left", least=36, most=240, flex=True, keep_end=True)]
    for h in head[1:]:
        if h == "programs":
            cols.append(Column(h, "left", least=8, most=24, drop=0))
        elif h == "pids":
            cols.append(Column(h, "left", least=6, most=16, drop=_DROP[h]))
        else:
            cols.append(Column(h, drop=_DROP.get(h)))
    return fit(cols, rows, width())


def cache_table(doc: Dict[str, Any], units: Units) -> str:
    u = units
    blocks: List[str] = []
    procs = doc.get("procs", False)
    page = doc.get("page_size") or 0
    totals = doc["totals"]
    shown = len(doc["files"])
    what = "files mapped or open" if procs else "files"
    title = f"Page cache by file ({doc['source']}; by {doc['sort']}"
    title += f", the {shown} largest of {totals['files']})" if shown < totals["files"] \
        else ")"
    rows = []
    for rec in doc["files"]:
        row = [clean(rec["path"]) + (" (deleted)" if rec.get("deleted") else "")]
        row += _figures(u, rec, page)
        if procs:
            users = ",".join(str(p) for p in rec["pids"][:4])
            if len(rec["pids"]) > 4:
                users += f",+{len(rec['pids']) - 4}"
            row += [users, clean(",".join(rec["programs"]))]
        rows.append(row)
    head = ["path"] + [h if h != "size" or not u.label else f"size ({u.label})" for h in HEAD]
    if procs:
        head += ["pids", "programs"]
    blocks.append(title + "\n" + (_fit_files(head, rows) if rows else f"  (no {what})"))
    if doc["directories"]:
        # No %: a directory's cached bytes count each file's last page whole.
        rows = [[_cut(d["path"]), str(d["files"])] + _figures(u, d, 0)[:2] +
                _figures(u, d, 0)[3:] for d in doc["directories"]]
        blocks.append("Directories (each with every file below it)\n" +
                      grid(rows, ["path", "files"] + HEAD[:2] + HEAD[3:]))
    system = doc["system_cached"]
    lines = [f"Totals: {totals['files']} {what}, {u(totals['size'])}; cached "
             f"{u(totals['cached'])}, dirty {u(totals['dirty'])}, writeback "
             f"{u(totals['writeback'])}, evicted {u(totals['evicted'])}, recently evicted "
             f"{u(totals['recently_evicted'])}"]
    if system is not None:
        lines.append(f"The system's Cached (/proc/meminfo): {u(system)}; these files hold "
                     f"{_pct(totals['cached'], system)}% of it.")
    extra = []
    if not procs:
        extra.append(f"{totals['directories']} directories")
    for key, label in (("symlinks_not_followed", "symlinks not followed"),
                       ("duplicates", "reached twice, counted once")):
        if totals.get(key):
            extra.append(f"{totals[key]} {label}")
    if extra:
        lines.append(", ".join(extra) + ".")
    blocks.append("\n".join(lines))
    if doc["skipped"]:
        # Unreadable files first: FIFOs, sockets and devices are skipped by design.
        from memscope.model.cache import NO_CACHE_KINDS

        ranked = sorted(doc["skipped"], key=lambda s: s["reason"] in NO_CACHE_KINDS)
        rows = [[_cut(s["path"]), clean(s["reason"])] for s in ranked[:TABLE_SKIPPED]]
        more = totals["skipped"] - len(rows)
        blocks.append(f"Skipped ({totals['skipped']})\n" +
                      grid(rows, ["path", "reason"], ["left", "left"]) +
                      (f"\n  ... and {more} more (all counted; machine output names up to "
                       "1000)" if more > 0 else ""))
    notes = notes_block(doc.get("notes", []))
    if notes:
        blocks.append(notes)
    return "\n\n".join(blocks) + "\n"
