r"""``--format csv``: render.rows' sections as comma-separated values, for a spreadsheet,
``csvkit`` or ``pandas.read_csv`` (docs/contract.md "Row formats").

Each section is a header row and its rows; the first cell of every line is the section's
name (``section`` in the header), so ``grep '^processes,'`` takes one table and the
sections never mix; a blank line ends each section. Lines end in ``\n``; cells are quoted
as RFC 4180 says (a comma, quote or line break in a cell); integers are bytes, as in json;
null is an empty cell; true and false are ``true`` and ``false``.

Text is lossless, harmless in a terminal and inert in a spreadsheet: a backslash is
written ``\\``, any character that is not printable (controls, line breaks, U+2028, bidi
marks) and any byte of a name that is not UTF-8 is written ``\xHH`` per byte of its UTF-8
form (or the byte itself), and text that begins with ``= + - @`` or ``'`` gets a leading
``'`` (what spreadsheets take as "this is text"; numbers never have one). To read a cell
back: drop a leading ``'``, then ``re.sub(rb'\\(\\|x([0-9a-f]{2}))', ...)`` over the
bytes, and decode as UTF-8.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterator, List

from memscope.render.rows import Section
from memscope.text import byte_escaped

# what a spreadsheet takes for the start of a formula (OWASP's "CSV injection"), and the
# quote that marks text
FORMULA = ("=", "+", "-", "@", "'")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if not isinstance(value, str):
        return str(value)
    text = value
    if text[:1] in FORMULA:  # a spreadsheet would take it for a formula: text it stays
        text = "'" + text
    return byte_escaped(text.replace("\\", "\\\\"))


def to_csv(sections: List[Section], stream: bool = False) -> Iterator[str]:
    """One piece per section, so a large table is never all in memory twice."""
    for s in sections:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["section"] + [cell(c) for c in s.columns])
        for row in s.rows:
            w.writerow([s.name] + [cell(v) for v in row])
        yield buf.getvalue() + "\n"
