"""Tables for ``explain``, the ``check`` plugin line, and summary's verdict line.

Kept apart from render/table.py (the views' tables) so the diagnosis renders on its own.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any, Dict, List

from memscope.render.table import clean, notes_block

WIDTH = 96  # at most: sentences read best short, whatever the terminal
_UNIT = re.compile(r"(\d) (B|KiB|MiB|GiB|TiB|PiB|kB|%|s|ms|h)\b")


def _width() -> int:
    """The terminal's width (COLUMNS, the tty; docs: "At home in a terminal"), at most
    WIDTH; WIDTH when unlimited (piped)."""
    from memscope.render.term import width

    cells = width()
    return WIDTH if cells is None else max(20, min(WIDTH, cells))


def _wrap(text: str, indent: str) -> str:
    # a figure is never split from its unit: "85 MiB" is one word for the wrapper
    text = _UNIT.sub("\\1\u00a0\\2", clean(text))
    return textwrap.fill(text, _width(), initial_indent=indent, subsequent_indent=indent,
                         break_on_hyphens=False, break_long_words=False).replace("\u00a0", " ")


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "[" + " ".join(str(x) for x in v) + "]"
    return "-" if v is None else str(v)


# a finding's severity as a colour (render/term.py SEVERITY_SGR), when colour is on
SEVERITY_COLOUR = {"info": "info", "attention": "warning", "pressure": "critical",
                   "critical": "critical"}


def finding_block(f: Dict[str, Any]) -> str:
    from memscope.render.term import paint

    tag = paint(f"[{f['severity']}]", SEVERITY_COLOUR.get(f["severity"]))
    lines = [tag + clean(f" {f['code']}: {f['title']}"), _wrap(f["text"], "    ")]
    if f.get("evidence"):
        ev = "; ".join(f"{e['source']} {e['key']} = {_value(e['value'])}"
                       for e in f["evidence"])
        lines.append(_wrap("evidence: " + ev, "    "))
    lines.append(_wrap("why: " + f["why"], "    "))
    lines.append(clean(f"    next: {f['next']}"))
    return "\n".join(lines)


def explain_table(doc: Dict[str, Any], units=None) -> str:
    """The verdict's sentence first, then the findings, most severe first."""
    blocks: List[str] = [_wrap(doc["headline"], "")]
    src = doc.get("source") or {}
    ident = [x for x in (src.get("hostname"), src.get("kernel"), src.get("taken_at")) if x]
    if src.get("root") not in (None, "/"):
        ident.insert(0, f"root {src['root']}")
    scope = doc.get("scope") or {}
    if scope.get("cgroup"):
        ident.append(f"{scope['kind']} {scope['cgroup']}")
    if ident:
        blocks.append(clean("  ".join(ident)))
    serious = [f for f in doc["findings"] if f["severity"] != "info"]
    info = [f for f in doc["findings"] if f["severity"] == "info"]
    if serious:
        blocks.append("\n\n".join(finding_block(f) for f in serious))
    if info:
        blocks.append(("Also worth knowing:\n\n" if serious else "Worth knowing:\n\n")
                      + "\n\n".join(finding_block(f) for f in info))
    if not doc["findings"]:
        blocks.append(_wrap("No findings: available memory, zones, reclaim, swap, kernel "
                            "memory and cgroup limits are all within their thresholds.", ""))
    notes = notes_block(doc.get("notes") or [])
    if notes:
        blocks.append(notes)
    text = "\n\n".join(blocks) + "\n"
    from memscope.render.term import unicode

    if unicode():
        return text
    from memscope.text import ascii_text  # LANG=C: ASCII stand-ins, as every table

    return ascii_text(text)


# ---------------------------------------------------------------------------------------
# check: the Monitoring Plugins line (https://www.monitoring-plugins.org/doc/guidelines.html)

STATUS = {"ok": ("OK", 0), "attention": ("WARNING", 1), "pressure": ("CRITICAL", 2),
          "critical": ("CRITICAL", 2)}


def _label(name: str) -> str:
    return "'" + name.replace("'", "") + "'"


def perfdata(doc: Dict[str, Any], docs) -> str:
    """'label'=value[UOM];[warn];[crit];[min];[max] for available, used, swap, PSI and the
    worst zone's headroom (and the cgroup's working set under --cgroup)."""
    s = docs.summary
    mem, total = s["memory"], s["memory"]["total"]
    warn_pct, crit_pct = docs.available_marks()
    out = [
        f"{_label('available')}=%dB;%d:;%d:;0;%d" % (mem["available"],
                                                     total * warn_pct / 100,
                                                     total * crit_pct / 100, total),
        f"{_label('used')}=%dB;;;0;%d" % (mem["used"], total),
    ]
    swap = s.get("swap")
    if swap and swap.get("total"):
        out.append(f"{_label('swap_used')}=%dB;;%d;0;%d" % (swap["used"],
                                                           swap["total"] * 0.9,
                                                           swap["total"]))
    psi = s.get("pressure")
    if psi:
        for kind in ("some", "full"):
            p = psi.get(kind)
            if p:
                crit = ";60" if kind == "full" else ";"
                out.append(f"{_label('psi_' + kind + '_avg10')}={p['avg10']:g}%;{crit};0;100")
    zones = [z for z in s.get("zones") or () if z.get("headroom") is not None
             and z["state"] != "empty"]
    if zones:
        z = min(zones, key=lambda z: z["headroom"])
        out.append(f"{_label('zone_headroom')}=%dB;0:;;;" % z["headroom"])
    box = docs.container()
    if box is not None:
        limit = box.get("effective_limit") or box.get("limit")
        ws = box.get("working_set")
        if limit and ws is not None:
            warn_pct, crit_pct = docs.available_marks(cgroup=True)
            out.append(f"{_label('cgroup_working_set')}=%dB;%d;%d;0;%d" % (
                ws, limit * (100 - warn_pct) / 100, limit * (100 - crit_pct) / 100, limit))
    return " ".join(out)


def check_line(doc: Dict[str, Any], docs):
    """(the plugin's one line, its exit status)."""
    word, status = STATUS[doc["verdict"]]
    text = clean(doc["headline"]).replace("|", "/")
    head, sep, rest = text.partition(": ")
    if sep and head.lower() == doc["verdict"]:
        text = rest  # "MEMORY WARNING - Attention: ..." says it twice
    return f"MEMORY {word} - {text} | {perfdata(doc, docs)}\n", status
