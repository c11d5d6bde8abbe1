"""The bad-file policy, defined once (docs/contract.md "Bad files"; docs/architecture.md).

Every file a command reads is either *required* (the document cannot be built without it) or
*optional* (a section, or a figure, is null without it). For a missing, unreadable or
malformed file:

- required: the error propagates: one stderr line naming the file (and line) and what to
  do, exit 1 (``cli.main``);
- optional: the section or figure is null and a note says which file and why, with one of
  three stable codes:

  ``file_missing``     the file is absent (or the kernel refuses it: EOPNOTSUPP/EINVAL)
  ``file_unreadable``  the file exists but could not be read (permission denied, I/O error)
  ``file_malformed``   the file is not in the kernel's format (a ParseError: file and line)

Where absence is a normal state of a kernel (no PSI before 4.20, no ZFS, a cgroup file a
release does not have) and the document already says so with its null, the caller passes
``missing=None`` (no note), or the code of the established note that says it
(``buddyinfo_missing``). A malformed or unreadable file always gets its note.

Notes go to a ``memscope.model.Notes`` or to a list of ``{code, text}`` (the cgroup
documents' notes).
"""

from __future__ import annotations

from memscope.errors import NotFound, ParseError, SourceError, Unsupported

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Tuple

    from memscope.sources import Root

FILE_MISSING = "file_missing"
FILE_UNREADABLE = "file_unreadable"
FILE_MALFORMED = "file_malformed"
CODES = (FILE_MISSING, FILE_UNREADABLE, FILE_MALFORMED)


def describe(exc: Exception) -> Tuple[str, str]:
    """(code, "file[: line N]: why") for a read or parse failure."""
    if isinstance(exc, ParseError):
        where = exc.path or "<input>"
        if exc.line is not None:
            where += f": line {exc.line}"
        return FILE_MALFORMED, f"{where}: {exc.message}"
    if isinstance(exc, (NotFound, Unsupported)):
        return FILE_MISSING, f"{exc.path}: {exc.reason}"
    if isinstance(exc, SourceError):
        return FILE_UNREADABLE, f"{exc.path}: {exc.reason}"
    return FILE_UNREADABLE, str(exc)


def add_note(notes, code: str, text: str) -> None:
    """Add to a Notes or to a list of {code, text}, once."""
    if hasattr(notes, "add"):
        notes.add(code, text)
        return
    item = {"code": code, "text": text}
    if item not in notes:
        notes.append(item)


def required(root: Root, rel: str, parser: Callable[[str], Any]) -> Any:
    """A file the command cannot do without: any failure is the command's error (exit 1)."""
    return root.parse(rel, parser)


def optional(root: Root, rel: str, parser: Callable[[str], Any], notes, consequence: str,
             missing: Optional[str] = FILE_MISSING) -> Any:
    """The parsed file, or None with a note saying which file, why, and ``consequence``
    (what is null for it: "free blocks per order unknown")."""
    try:
        return root.parse(rel, parser)
    except (NotFound, Unsupported) as exc:
        if missing is not None:
            _, why = describe(exc)
            add_note(notes, missing, f"{why}: {consequence}")
        return None
    except (SourceError, ParseError) as exc:
        code, why = describe(exc)
        add_note(notes, code, f"{why}: {consequence}")
        return None


def optional_text(root: Root, rel: str, notes, consequence: str,
                  missing: Optional[str] = FILE_MISSING) -> Optional[str]:
    """The file's text under the same policy (for files read without a parser)."""
    return optional(root, rel, _text, notes, consequence, missing)


def section(build: Callable[[], Any], notes, name: str,
            codes: Optional[Dict[str, str]] = None, consequence: Optional[str] = None) -> Any:
    """A whole section of a composite document (``report``, explain's views): built, or
    null with a note naming the file that stopped it and ``consequence`` (default: "no
    <name> section"). ``codes`` renames a policy code for this section (where a section
    had its own code before the policy)."""
    try:
        return build()
    except (SourceError, ParseError) as exc:
        code, why = describe(exc)
        add_note(notes, (codes or {}).get(code, code),
                 f"{why}: {consequence or f'no {name} section'}")
        return None


def _text(text: str) -> str:
    return text
