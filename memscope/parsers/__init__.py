"""One module per kernel file, each a pure ``parse_<file>(text) -> record``.

Parsers never open files and never decide policy. They are strict about what they know (a
known field with a malformed value raises ParseError naming the line) and tolerant of what
they don't (a line outside the file's known shape is skipped and reported in the record, so
the caller can say so in a note).
"""

from __future__ import annotations

from memscope.errors import ParseError


def check_text(text: str) -> None:
    """Refuse input that cannot be a kernel text file at all (before line parsing)."""
    if not text.strip():
        raise ParseError("the file is empty", 1)
    nul = text.find("\x00")
    if nul >= 0:
        raise ParseError("binary data (NUL byte)", text.count("\n", 0, nul) + 1)


def parse_int(value: str, field: str, lineno: int) -> int:
    """A decimal integer as the kernel prints it; anything else is a ParseError."""
    # str.isdigit accepts non-ASCII digits ('²'); the kernel prints ASCII only.
    body = value[1:] if value[:1] == "-" else value
    if not body or not body.isascii() or not body.isdigit():
        raise ParseError(f"{field}: {value!r} is not a number", lineno)
    return int(value)


def parse_key_values(text: str) -> "dict":
    """Files of ``name value`` lines (/proc/vmstat, cgroup memory.stat, memory.events):
    every value an integer, every name once."""
    check_text(text)
    out = {}
    for lineno, line in enumerate(text.splitlines(), 1):
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
