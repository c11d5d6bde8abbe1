"""The terminal: its width, whether pictures and colour belong in the output, and fitting a
table into the width.

Width comes from ``COLUMNS``, then the terminal on stdout, else none (piped: unlimited).
Pictures (proportional bars) and colour are for a person at a terminal: a table written to
a tty. Colour follows ``--color auto|always|never``, then ``NO_COLOR`` (https://no-color.org:
set and not empty means no colour) and ``TERM=dumb``; ``--color always`` also colours a
table that is piped (for ``less -R``). Machine formats never get either: the CLI tells this
module what is being written (``direct``) before it renders.

Only os and sys are imported: this is on the start-up path of ``summary`` and ``top``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Sequence, Tuple

_STATE = {"color": "auto", "table_to_stdout": True}


def set_color(mode: str) -> None:
    """``--color auto|always|never``."""
    _STATE["color"] = mode


def direct(table_to_stdout: bool) -> None:
    """What the command writes: a table to stdout (pictures and colour allowed on a tty),
    or anything else (a machine format, or a file given with --output)."""
    _STATE["table_to_stdout"] = table_to_stdout


def _stdout_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def interactive() -> bool:
    """A table going to a terminal: where bars, a screenful and a live view belong."""
    return bool(_STATE["table_to_stdout"]) and _stdout_tty()


def width() -> Optional[int]:
    """Columns a table on stdout fits in: ``COLUMNS``, then the terminal's, else None
    (unlimited: piped without COLUMNS, or written to a file with --output)."""
    if not _STATE["table_to_stdout"]:
        return None
    env = os.environ.get("COLUMNS", "")
    if env.isascii() and env.isdigit() and 0 < int(env) < 1 << 20:
        return int(env)
    if not _stdout_tty():
        return None
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns or None
    except (OSError, ValueError, AttributeError):
        return None


def height() -> Optional[int]:
    """Lines of the terminal on stdout (``LINES`` first), or None when not a terminal."""
    if not interactive():
        return None
    env = os.environ.get("LINES", "")
    if env.isascii() and env.isdigit() and 0 < int(env) < 1 << 20:
        return int(env)
    try:
        return os.get_terminal_size(sys.stdout.fileno()).lines or None
    except (OSError, ValueError, AttributeError):
        return None


def color() -> bool:
    """Whether tables carry ANSI colour."""
    mode = _STATE["color"]
    if mode == "never" or not _STATE["table_to_stdout"]:
        return False
    if mode == "always":
        return True
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM", "") == "dumb":
        return False
    return _stdout_tty()


def _utf8_stdout() -> bool:
    enc = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return enc.startswith("utf")


def unicode() -> bool:
    """Whether block characters (bars) and Δ can be shown: stdout encodes UTF-8 and the
    locale, where one is set (LC_ALL, then LC_CTYPE, then LANG), names UTF-8. Python runs
    in UTF-8 mode under the C locale, but the terminal behind it does not."""
    if not _utf8_stdout():
        return False
    for var in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(var)
        if value:
            v = value.lower().replace("-", "")
            return "utf8" in v
    return True


# Severity names used across memscope (zone states, limits, explain's findings) and the SGR
# colour each is shown in. ``severity_color`` is the one place that decides.
SEVERITY_SGR = {
    "ok": "32",          # green
    "info": "36",        # cyan
    "notice": "36",
    "warning": "33",     # yellow
    "high": "33",
    "critical": "1;31",  # bold red
    "error": "1;31",
}

ZONE_SEVERITY = {"ok": "ok", "below_high": "warning", "below_low": "warning",
                 "below_min": "critical", "empty": None}


def severity_color(severity: Optional[str]) -> str:
    """The SGR parameters for a severity name (``"33"``), or "" for none/unknown."""
    return SEVERITY_SGR.get(severity or "", "")


def painted_sequences() -> Tuple[str, ...]:
    """The escape sequences paint() writes (kept by the table safety net, memscope.text)."""
    if not color():
        return ()
    return ("\x1b[0m",) + tuple(f"\x1b[{sgr}m" for sgr in SEVERITY_SGR.values() if sgr)


class Painted(str):
    """Text memscope coloured itself (made only by paint(), its text made safe first):
    the one kind of cell the tables' safety net lets an escape sequence through in."""


def paint(text: str, severity: Optional[str]) -> str:
    """``text`` in its severity's colour when colour is on; unchanged otherwise."""
    sgr = severity_color(severity)
    if not sgr or not color() or not text:
        return text
    from memscope.text import safe_lines

    return Painted(f"\x1b[{sgr}m{safe_lines(text)}\x1b[0m")


def share_severity(fraction: Optional[float]) -> Optional[str]:
    """Usage against a limit: ok below 80 %, warning to 95 %, critical above."""
    if fraction is None:
        return None
    return "ok" if fraction < 0.8 else "warning" if fraction < 0.95 else "critical"


_BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(fraction: Optional[float], cells: int) -> str:
    """A proportional bar ``cells`` wide: Unicode eighth blocks, or ``#`` under a locale
    that can't show them. None (unknown) is an empty bar; more than 1 is a full bar."""
    if fraction is None or cells <= 0:
        return " " * max(cells, 0)
    f = min(max(fraction, 0.0), 1.0)
    if unicode():
        eighths = int(round(f * cells * 8))
        full, part = divmod(eighths, 8)
        text = "█" * full + (_BLOCKS[part] if part else "")
    else:
        full = int(round(f * cells))
        text = "#" * full
    return text.ljust(cells)


def visible_len(text: str) -> int:
    """Length on screen: ANSI colour codes take no room."""
    if "\x1b" not in text:
        return len(text)
    out, i = 0, 0
    while i < len(text):
        if text[i] == "\x1b":
            j = text.find("m", i)
            i = len(text) if j < 0 else j + 1
            continue
        out += 1
        i += 1
    return out


def cut(text: Any, cells: int, keep_end: bool = False) -> str:
    """``text`` in at most ``cells`` characters, the cut marked with an ellipsis (ASCII
    ``~`` under a non-UTF-8 locale); ``keep_end`` keeps the end (paths)."""
    s = "" if text is None else str(text)
    if cells <= 0:
        return ""
    if len(s) <= cells:
        return s
    mark = "…" if unicode() else "~"  # (under LANG=C Python writes UTF-8; the terminal can't)
    if cells == 1:
        return mark
    if keep_end:  # a path: keep its end, and the indentation of a tree
        lead = len(s) - len(s.lstrip(" "))
        lead = lead if lead + 2 <= cells else 0
        return " " * lead + mark + s[-(cells - 1 - lead):]
    return s[:cells - 1] + mark


class Column:
    """A table column for ``fit``: how it is aligned, how far it may shrink (``least``),
    whether it takes spare width (``flex``), and when it is dropped if even the least
    widths don't fit (``drop``: lower numbers go first; None: never)."""

    __slots__ = ("header", "align", "least", "most", "flex", "drop", "keep_end")

    def __init__(self, header: str, align: str = "right", least: Optional[int] = None,
                 most: Optional[int] = None, flex: bool = False, drop: Optional[int] = None,
                 keep_end: bool = False):
        self.header = header
        self.align = align
        self.least = least
        self.most = most
        self.flex = flex
        self.drop = drop
        self.keep_end = keep_end


GAP = 2  # spaces between columns, as tabulate's plain format


def fit(columns: Sequence[Column], rows: Sequence[Sequence[Any]], cells: Optional[int],
        header: bool = True) -> str:
    """Rows laid out in ``cells`` columns of screen (None: unlimited, only ``most`` caps):
    natural widths first; when too wide, the flexible column shrinks to its least, then the
    other shrinkable ones, then columns are dropped by their ``drop`` order; what is left
    of a cut cell ends in an ellipsis. Headers are right- or left-aligned with their
    column."""
    cols = list(columns)
    data = [["" if v is None else str(v) for v in r] for r in rows]
    natural = []
    for i, c in enumerate(cols):
        w = max([visible_len(r[i]) for r in data] + [len(c.header) if header else 0])
        if c.most is not None:
            w = min(w, max(c.most, len(c.header) if header else 1))
        natural.append(w)
    keep = list(range(len(cols)))
    widths = list(natural)
    if cells is not None:
        droppable = [i for _, i in sorted((cols[i].drop, i) for i in keep
                                          if cols[i].drop is not None)]
        while True:
            widths = _shrink(cols, natural, keep, cells)
            if _total(widths, keep) <= cells or not droppable:
                break
            keep.remove(droppable.pop(0))
        for i in keep:  # last resort: the flexible column below its least, to 6
            if _total(widths, keep) > cells and cols[i].flex:
                widths[i] = max(6, widths[i] - (_total(widths, keep) - cells))
    lines = []
    if header:
        lines.append(_line([cols[i].header for i in keep], [widths[i] for i in keep],
                           [cols[i] for i in keep]))
    for r in data:
        lines.append(_line([r[i] for i in keep], [widths[i] for i in keep],
                           [cols[i] for i in keep]))
    return "\n".join(lines)


def _total(widths: List[int], keep: List[int]) -> int:
    return sum(widths[i] for i in keep) + GAP * (len(keep) - 1)


def _shrink(cols: Sequence[Column], natural: List[int], keep: List[int],
            cells: int) -> List[int]:
    """Natural widths, the flexible column cut to its least, then the other shrinkable
    ones, until the kept columns fit in ``cells`` (or can't shrink further)."""
    widths = list(natural)
    # the flexible column gives up its spare width first, down to AMPLE; then the others
    # shrink to their least; then the flexible column to its least
    for flex, ample in ((True, AMPLE), (False, 0), (True, 0)):
        for i in keep:
            over = _total(widths, keep) - cells
            if over <= 0:
                return widths
            c = cols[i]
            if c.least is not None and c.flex == flex:
                floor = max(c.least, ample)
                if widths[i] > floor:
                    widths[i] = max(floor, widths[i] - over)
    return widths


AMPLE = 32  # what a command or path column keeps before other columns shrink


def _line(values: List[str], widths: List[int], cols: List[Column]) -> str:
    parts = []
    last = len(values) - 1
    for k, (v, w, c) in enumerate(zip(values, widths, cols)):
        if visible_len(v) > w:
            v = cut(v, w, c.keep_end)
        pad = w - visible_len(v)
        if c.align == "left":
            parts.append(v if k == last else v + " " * pad)
        else:
            parts.append(" " * pad + v)
    return (" " * GAP).join(parts).rstrip()


def wrap(text: str, indent: str = "") -> str:
    """A sentence (a footer, a note) wrapped to the width; unchanged when unlimited."""
    cells = width()
    if cells is None or len(text) <= cells:
        return text
    import textwrap

    return textwrap.fill(text, cells, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def frame(text: str, stamp: str) -> str:
    """One frame of a live view: home, clear, a timestamp line, the table."""
    return "\x1b[H\x1b[2J" + stamp + "\n\n" + text
