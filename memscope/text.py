"""Names are data, never control: text for a terminal, and text for a non-UTF-8 one.

Process names, command lines, cgroup paths, mount points, zone and slab cache names come
from the kernel and from any user (docs/contract.md "General rules"). In tables and in
stderr messages every character that is not printable — C0 controls (ESC, BEL, backspace,
CR, TAB), DEL, the C1 controls U+0080–U+009F (CSI U+009B, OSC U+009D), bidi overrides and
other format characters, line and paragraph separators, and the surrogates that stand for
bytes that are not UTF-8 — is shown as ``?``, one character for one, so columns stay aligned
and nothing reaches the terminal as a command. Machine formats carry the text whole
(memscope.render).

Imports nothing: used on the error path and by the tables.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

# What a terminal that can't show a character memscope itself prints gets instead
# (LANG=C with an ASCII terminal, ISO-8859-1, PYTHONIOENCODING=ascii).
ASCII_FALLBACK = {
    "\u2026": "...", "\u2264": "<=", "\u2265": ">=", "\u03a3": "sum ", "\u2212": "-",
    "\u2013": "-", "\u2014": "--", "\u00b5": "u", "\u00d7": "x", "\u2192": "->",
    "\u2190": "<-", "\u2248": "~", "\u00b1": "+-", "\u00b7": ".", "\u2018": "'",
    "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " ", "\ufffd": "?",
    "\u00b2": "2", "\u0394": "d",
}


def ascii_text(text: str) -> str:
    """``text`` with the stand-ins above for what memscope prints itself (a terminal under
    a non-UTF-8 locale, where Python still writes UTF-8: render.term.unicode())."""
    if text.isascii():
        return text
    return "".join(ASCII_FALLBACK.get(ch, ch) for ch in text)


def safe(text: object) -> str:
    """One line of untrusted text made harmless for a terminal (see the module)."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else "?" for ch in s)


def byte_escaped(text: str, keep: str = "") -> str:
    """Untrusted text for a machine format that must stay printable (csv cells, Prometheus
    labels): every character that is not printable (but those in ``keep``) as the text
    ``\\xHH``, one per byte of its UTF-8 form, and a surrogate escape as the byte it
    stands for; so U+0085 is ``\\xc2\\x85`` and a lone byte 0x85 ``\\x85``. A surrogate
    that stands for no byte (only a hand-edited JSON document has one) is ``\\udHHH``, as
    YAML writes it. Backslashes are the caller's: csv doubles them first, Prometheus not."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch in keep:
            out.append(ch)
            continue
        try:
            raw = ch.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            out.append(f"\\u{ord(ch):04x}")
            continue
        out.append("".join(f"\\x{b:02x}" for b in raw))
    return "".join(out)


def safe_lines(text: str, keep: Sequence[str] = ()) -> str:
    """Like safe(), line by line: newlines are kept, everything else that is not printable
    is replaced, except the exact escape sequences in ``keep`` (the colours memscope itself
    paints with, when colour is on: SGR only, nothing that moves the cursor or retitles)."""
    if text.replace("\n", "").isprintable():
        return text
    if keep and "\x1b" in text:
        import re

        pattern = "(" + "|".join(re.escape(k) for k in keep) + ")"
        pieces = re.split(pattern, text)
        return "".join(p if i % 2 else safe_lines(p) for i, p in enumerate(pieces))
    return "\n".join(safe(line) for line in text.split("\n"))


def _fallback(exc: UnicodeError):
    """Codec error handler ``memscope``: ASCII stand-ins for what the encoding lacks."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(ASCII_FALLBACK.get(ch, "?") for ch in bad), exc.end


def fit_streams(*streams) -> None:
    """Streams whose encoding can't hold every character (LANG=C on an ASCII terminal,
    ISO-8859-1, PYTHONIOENCODING=ascii) print ASCII stand-ins instead of failing."""
    import codecs

    try:
        codecs.lookup_error("memscope")
    except LookupError:
        codecs.register_error("memscope", _fallback)
    for stream in streams:
        encoding = getattr(stream, "encoding", None)
        if not encoding:
            continue
        try:
            if codecs.lookup(encoding).name == "utf-8":
                continue
            stream.reconfigure(errors="memscope")
        except (LookupError, AttributeError, ValueError, OSError):
            continue
