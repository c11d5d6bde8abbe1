"""/proc/PID/smaps and /proc/PID/smaps_rollup: per-mapping (or summed) memory of a process.

Kernel: ``show_smap()``/``show_smaps_rollup()`` in fs/proc/task_mmu.c; documented in
Documentation/filesystems/proc.rst ("smaps"). docs/kernel.md §6.1. Sample::

    7f1c2a400000-7f1c2a600000 rw-p 00000000 00:00 0
    Size:               2048 kB
    Rss:                2048 kB
    ...
    VmFlags: rd wr mr mw me ac

smaps_rollup (4.14+) is one such record whose header path is ``[rollup]``, with the
counters summed in fixed point before truncation, plus Pss_Anon/Pss_File/Pss_Shmem (5.7+).

Units: kB (returned in bytes), except ``THPeligible`` and ``ProtectionKey`` (numbers).
Variants: the field set grows with releases (SwapPss 4.3, LazyFree 4.12, Pss_Dirty 6.0,
KSM 6.7, ...); 4.1 puts KernelPageSize after Swap; < 4.5 names thread stacks
``[stack:TID]``. Paths may hold spaces and end in `` (deleted)``.
"""

from __future__ import annotations

import re

from memscope.errors import ParseError
from memscope.parsers import check_text, kernel_lines, parse_int

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

KB_FIELDS = frozenset("""
Size KernelPageSize MMUPageSize Rss Pss Pss_Dirty Pss_Anon Pss_File Pss_Shmem Shared_Clean
Shared_Dirty Private_Clean Private_Dirty Referenced Anonymous KSM LazyFree AnonHugePages
ShmemPmdMapped FilePmdMapped ShmemHugePages Shared_Hugetlb Private_Hugetlb Swap SwapPss Locked
""".split())
NUMBER_FIELDS = frozenset(["THPeligible", "ProtectionKey"])
_HEX = frozenset("0123456789abcdef")


class Mapping:
    """One VMA: its header and its counters (bytes)."""

    __slots__ = ("start", "end", "perms", "offset", "dev", "inode", "path", "fields",
                 "vmflags", "line")

    def __init__(self, start: int, end: int, perms: str, offset: int, dev: str, inode: int,
                 path: str, line: int):
        self.start, self.end, self.perms, self.offset = start, end, perms, offset
        self.dev, self.inode, self.path, self.line = dev, inode, path, line
        self.fields: Dict[str, int] = {}
        self.vmflags: Tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Mapping({self.start:x}-{self.end:x} {self.perms} {self.path!r})"


def _header(line: str, lineno: int) -> Mapping:
    parts = line.split(None, 5)
    if len(parts) < 5:
        raise ParseError(f"malformed mapping header {line[:80]!r}", lineno)
    rng, perms, offset, dev, inode = parts[:5]
    start, sep, end = rng.partition("-")
    if not sep or len(perms) != 4 or (start + end + offset).strip("0123456789abcdefABCDEF") \
            or inode.strip("0123456789"):
        raise ParseError(f"malformed mapping header {line[:80]!r}", lineno)
    return Mapping(parse_int(start, "start", lineno, base=16),
                   parse_int(end, "end", lineno, base=16), perms,
                   parse_int(offset, "offset", lineno, base=16), dev,
                   parse_int(inode, "inode", lineno),
                   parts[5].rstrip("\n") if len(parts) > 5 else "", lineno)


def _value(key: str, rest: str, lineno: int) -> Optional[int]:
    """A counter's value in bytes (kB fields) or as is; None for an unknown shape."""
    parts = rest.split()
    known_kb = key in KB_FIELDS
    if known_kb:
        if len(parts) != 2 or parts[1] != "kB" or parts[0].strip("0123456789"):
            raise ParseError(f"{key}: expected 'N kB', got {rest.strip()[:60]!r}", lineno)
        return parse_int(parts[0], key, lineno) * 1024
    if key in NUMBER_FIELDS:
        if len(parts) != 1 or parts[0].strip("0123456789"):
            raise ParseError(f"{key}: expected a number, got {rest.strip()[:60]!r}", lineno)
        return parse_int(parts[0], key, lineno)
    if len(parts) == 2 and parts[1] == "kB" and not parts[0].strip("0123456789"):
        return parse_int(parts[0], key, lineno) * 1024  # a newer kernel's counter: kept
    return None


# The counters memscope sums or shows per mapping: the fast path extracts these.
SUMMED_FIELDS = ("Size", "Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty",
                 "Private_Clean", "Private_Dirty", "Anonymous", "LazyFree", "AnonHugePages",
                 "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb",
                 "Swap", "SwapPss", "Locked")
# (digits bounded: a longer number takes the strict path, which refuses it naming the line)
_HEADERS_RE = re.compile(r"[0-9a-f]{1,16}-[0-9a-f]{1,16} [rwxps-]{4} [0-9a-f]{1,16} \S+ "
                         r"[0-9]{1,20}(?: [^\n]*)?"
                         r"(?:\n[0-9a-f]{1,16}-[0-9a-f]{1,16} [rwxps-]{4} [0-9a-f]{1,16} \S+ "
                         r"[0-9]{1,20}"
                         r"(?: [^\n]*)?)*")
_ROLLUP_LINE = re.compile(r"\n([A-Za-z_]+):[ \t]+([0-9]+) kB(?=\n)")
_KB_VALUE_RE = re.compile(r":[ \t]+([0-9]+) kB(?:\n|\Z)")
_column_res: Dict[str, "re.Pattern[str]"] = {}


def _column_re(key: str, kb: bool) -> "re.Pattern[str]":
    """A column of one field, every line in the kernel's shape."""
    regex = _column_res.get((key, kb))
    if regex is None:
        line = re.escape(key) + (r":[ \t]+[0-9]{1,19} kB" if kb else r":[^\n]*")
        regex = re.compile(f"{line}(?:\n{line})*")
        _column_res[(key, kb)] = regex
    return regex


class Smaps:
    """A smaps file by columns: ``headers[i]`` is mapping i's header line, ``columns[key][i]``
    its counter **in kB** (as printed; totals() gives bytes), ``vmflags[i]`` its flags (None
    before 3.8).

    Columns because a process at vm.max_map_count has 65,530 mappings (1.6 million lines,
    ~48 MB): one regular-expression pass per counter runs in C, where a Python loop over
    lines or per-mapping objects would take seconds.
    """

    __slots__ = ("headers", "columns", "vmflags")

    def __init__(self, headers: List[str], columns: Dict[str, List[int]],
                 vmflags: Optional[List[str]]):
        self.headers = headers
        self.columns = columns
        self.vmflags = vmflags

    def __len__(self) -> int:
        return len(self.headers)

    def totals(self) -> Dict[str, int]:
        """Per-VMA counters summed. Pss is truncated per VMA, so it can read a few kB below
        what smaps_rollup says (docs/kernel.md §6.1)."""
        return {k: sum(v) << 10 for k, v in self.columns.items() if k != "Size"}


def parse_smaps(text: str) -> Smaps:
    """Every mapping of a smaps file, by columns (see Smaps).

    The fast path reads each counter with one regular expression; any doubt - a counter line
    the expression did not take (malformed), a count that differs from the number of
    mappings (a duplicate or a missing line), a header out of shape - falls back to the
    strict line-by-line parse, which tolerates what it should and names the line otherwise.
    """
    if text == "":
        return Smaps([], {}, None)  # kernel threads and exiting processes: no mappings
    check_text(text)
    fast = _parse_fast(text)
    if fast is not None:
        return fast
    return _to_columns(_parse_lines(text, 1))


def _parse_fast(text: str) -> Optional[Smaps]:
    """The kernel prints the same lines, in the same order, for every mapping: find that
    layout in the first record, then take each field as a column (a slice of the lines)
    and check it whole with one regular expression. None when the file does not fit."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if not lines or lines[0][:1] not in _HEX:
        return None
    width = 1
    while width < len(lines) and lines[width][:1] not in _HEX:
        width += 1
    if len(lines) % width:
        return None
    headers = lines[0::width]
    if not _HEADERS_RE.fullmatch("\n".join(headers)):
        return None
    columns: Dict[str, List[int]] = {}
    flags: Optional[List[str]] = None
    seen = set()
    for j in range(1, width):
        key = lines[j].partition(":")[0]
        if key in seen:
            return None
        seen.add(key)
        column = lines[j::width]
        if key == "VmFlags":
            if not _column_re(key, False).fullmatch("\n".join(column)):
                return None
            flags = [line[8:].strip() for line in column]
            continue
        kb = key in KB_FIELDS or lines[j].endswith(" kB")
        joined = "\n".join(column)
        if not _column_re(key, kb).fullmatch(joined):
            return None
        if key in SUMMED_FIELDS:
            columns[key] = list(map(int, _KB_VALUE_RE.findall(joined)))
    if "Rss" not in columns or any(k not in seen for k in ("Size", "Pss")):
        return None
    return Smaps(headers, columns, flags)


def _to_columns(mappings: List[Mapping]) -> Smaps:
    keys = [k for k in SUMMED_FIELDS if any(k in m.fields for m in mappings)]
    headers = []
    for m in mappings:
        tail = f" {m.path}" if m.path else ""
        headers.append(f"{m.start:x}-{m.end:x} {m.perms} {m.offset:08x} {m.dev} {m.inode}{tail}")
    columns = {k: [m.fields.get(k, 0) >> 10 for m in mappings] for k in keys}
    flags = [" ".join(m.vmflags) for m in mappings] if any(m.vmflags for m in mappings) \
        else None
    return Smaps(headers, columns, flags)


def _parse_lines(text: str, first_line: int) -> List[Mapping]:
    """The strict line-by-line parse: tolerate lines out of shape, name a malformed one."""
    mappings: List[Mapping] = []
    current: Optional[Mapping] = None
    fields: Dict[str, int] = {}
    for lineno, line in enumerate(kernel_lines(text), first_line):
        if not line:
            continue
        if line[0] in _HEX:
            current = _header(line, lineno)
            fields = current.fields
            mappings.append(current)
            continue
        key, sep, rest = line.partition(":")
        if not sep or current is None:
            if current is None:
                raise ParseError(f"expected a mapping header, got {line[:80]!r}", lineno)
            continue  # not in the kernel's shape: tolerated
        if key == "VmFlags":
            current.vmflags = tuple(rest.split())
            continue
        value = _value(key, rest, lineno)
        if value is None:
            continue
        if key in fields:
            raise ParseError(f"{key}: duplicate line in one mapping", lineno)
        fields[key] = value
    for m in mappings:
        if "Rss" not in m.fields and m.path != "[rollup]":
            raise ParseError(f"mapping {m.start:x}-{m.end:x} has no Rss line", m.line)
    return mappings


def parse_smaps_rollup(text: str) -> Optional[Dict[str, int]]:
    """The counters of smaps_rollup (bytes); None for an empty file (kernel thread, or a
    process that exited while being read)."""
    if text == "":
        return None
    check_text(text)
    # top reads one per process: the usual file is one header and "Key: N kB" lines
    pairs = _ROLLUP_LINE.findall(text)
    if pairs and text[:1] in _HEX and text.count("\n") == len(pairs) + 1 \
            and text.endswith("\n"):
        fields = {k: int(v) << 10 for k, v in pairs if len(v) < 20}
        if len(fields) == len(pairs) and "Rss" in fields and "Pss" in fields:
            return fields
    mappings = _parse_lines(text, 1)
    if len(mappings) != 1:
        raise ParseError(f"smaps_rollup has {len(mappings)} records, expected one",
                         mappings[1].line if len(mappings) > 1 else None)
    fields = mappings[0].fields
    for key in ("Rss", "Pss"):
        if key not in fields:
            raise ParseError(f"smaps_rollup has no {key} line", None)
    return fields
