"""One module per kernel file, each a pure ``parse_<file>(text) -> record``.

Parsers never open files and never decide policy. They are strict about what they know (a
known field with a malformed value raises ParseError naming the line) and tolerant of what
they don't (a line outside the file's known shape is skipped and reported in the record, so
the caller can say so in a note).
"""

from __future__ import annotations

from typing import List

from memscope.errors import ParseError


def kernel_lines(text: str) -> List[str]:
    """A kernel file's lines, cut at "\\n" only. ``str.splitlines()`` also cuts at \\r, \\v,
    \\f, \\x1c-\\x1e, \\x85, U+2028 and U+2029, which the kernel prints unescaped inside
    names (a mapped file's path in maps and smaps escapes only the newline; a cgroup's name in
    /proc/PID/cgroup nothing): one such name would cut its line in two."""
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
    return out


def check_text(text: str) -> None:
    """Refuse input that cannot be a kernel text file at all (before line parsing)."""
    if not text.strip():
        raise ParseError("the file is empty", 1)
    nul = text.find("\x00")
    if nul >= 0:
        raise ParseError("binary data (NUL byte)", text.count("\n", 0, nul) + 1)


# Every kernel counter fits in 64 bits (u64 at most); a longer number is damage, and refusing
# it early keeps Python's int-string limit (4300 digits) and float overflow out of reach.
INT_LIMIT = 1 << 64
_DIGITS = {10: "0123456789", 16: "0123456789abcdefABCDEF", 8: "01234567"}


def show(value: str, width: int = 40) -> str:
    """A value for a message: repr'd, and cut where it is long."""
    return repr(value) if len(value) <= width else repr(value[:width]) + f"... ({len(value)} chars)"


def parse_int(value: str, field: str, lineno: int, signed: bool = False, base: int = 10) -> int:
    """An integer as the kernel prints it; anything else is a ParseError naming the line.

    The one validator for numbers from every file, manifest and document: ASCII digits only
    (``'²'.isdigit()`` is True in Python; the kernel prints ASCII), a ``-`` only where
    ``signed`` (fields the kernel prints with %d/%ld), and a magnitude below 2^64.
    """
    body = value[1:] if signed and value[:1] == "-" else value
    if not body or body.strip(_DIGITS[base]):
        if body[:1] == "-" and body[1:] and not body[1:].strip(_DIGITS[base]):
            raise ParseError(f"{field}: {show(value)} is negative (the kernel prints this "
                             "field unsigned)", lineno)
        raise ParseError(f"{field}: {show(value)} is not a number", lineno)
    if len(body.lstrip("0")) > 22:
        raise ParseError(f"{field}: {show(value)} is larger than 2^64", lineno)
    number = int(body, base)
    if number >= INT_LIMIT:
        raise ParseError(f"{field}: {show(value)} is larger than 2^64", lineno)
    return -number if body is not value else number


def check_int(value, field: str, signed: bool = False, nullable: bool = False):
    """The same rule for a number already decoded (a JSON or YAML integer in a manifest or a
    document): an int, not a bool or float, within 2^64 (and >= 0 unless ``signed``).
    Returns the value, or raises ParseError (no line: the caller names the document)."""
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        what = type(value).__name__ if isinstance(value, (dict, list)) else show(str(value))
        raise ParseError(f"{field}: {what} is not an integer")
    if abs(value) >= INT_LIMIT:
        raise ParseError(f"{field}: larger than 2^64")
    if value < 0 and not signed:
        raise ParseError(f"{field}: {value} is negative")
    return value


def parse_key_values(text: str) -> "dict":
    """Files of ``name value`` lines (/proc/vmstat, cgroup memory.stat, memory.events):
    every value an integer, every name once."""
    check_text(text)
    out = {}
    for lineno, line in enumerate(kernel_lines(text), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ParseError(f"expected 'name value', got {line.strip()[:60]!r}", lineno)
        name, value = parts
        if name in out:
            raise ParseError(f"{name}: duplicate line", lineno)
        out[name] = parse_int(value, name, lineno)
    return out
