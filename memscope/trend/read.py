"""Reading a history of reports for ``memscope trend``: files, decompression, parsing.

Two passes, so memory stays bounded by the number of series rather than the number of files:

1. ``probe``: every file's header (schema_version and ``source``: taken_at, boot_id, uptime,
   hostname, kernel), read from the first few KiB without parsing the rest. The headers
   give the order, the segments and the breaks before any figure is read.
2. ``read_report``: each file again, in time order, parsed for the figures trend needs and
   then dropped.

JSON is fast (the C decoder reads a 35 KB report in 0.2 ms); of the JSON memscope writes
(one top-level key a line), only the values trend reads are decoded (``json_subset``): most
of a report is the 20 largest processes, with their command lines. YAML is slow to parse
(5.9 ms for the same report with PyYAML's C loader, 44 ms without it), so the block-style
YAML memscope writes is first cut down to the sections trend reads (``yaml_subset``). Any
document that does not come out right that way is parsed whole.

Safety habits of ``collect.documents.load_report``: yaml's safe loader only, bytes capped
before parsing, and a gzip file decompressed under a hard cap counted on the decompressed
stream.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple

from memscope.errors import MemscopeError

SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 64 << 20      # a report is tens of KiB; a few MiB on a host of 10k processes
MAX_TEXT_BYTES = 256 << 20     # decompressed
PROBE_BYTES = 16 << 10         # the header lies in the first few hundred bytes


class Skip(Exception):
    """A file that is not a readable report: skipped and named, never fatal."""


def list_inputs(paths: List[str]) -> Tuple[List[str], List[Dict[str, str]]]:
    """The report files named by ``paths`` (files, or directories whose *.yaml, *.yml,
    *.json and their .gz are read; not recursively), and the paths skipped. In a directory,
    an entry with a report's name that is not a regular file (a FIFO, a device, a dangling
    link, a link loop, a subdirectory) is skipped and named, never opened."""
    files: List[str] = []
    skipped: List[Dict[str, str]] = []
    for path in paths:
        if os.path.isdir(path):
            try:
                with os.scandir(path) as it:
                    names = sorted(e.name for e in it if is_report_name(e.name))
            except OSError as exc:
                raise MemscopeError(f"{path}: cannot list ({exc.strerror})") from None
            for name in names:
                full = os.path.join(path, name)
                why = not_a_file(full)
                if why is None:
                    files.append(full)
                else:
                    skipped.append({"file": full, "reason": why})
        else:
            why = not_a_file(path)
            if why is None:
                files.append(path)
            else:
                skipped.append({"file": path, "reason": why})
    seen = set()
    unique = []
    for f in files:
        key = os.path.realpath(f)
        if key in seen:
            skipped.append({"file": f, "reason": "the same file as one given before"})
            continue
        seen.add(key)
        unique.append(f)
    return unique, skipped


def not_a_file(path: str) -> Optional[str]:
    """None for a regular file (links followed); else why it is not read."""
    import errno
    import stat as st

    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if exc.errno == errno.ENOENT:
            return "a dangling symlink" if os.path.islink(path) else "no such file"
        return exc.strerror or str(exc)
    except ValueError:
        return "a name with a NUL byte"
    if st.S_ISREG(mode):
        return None
    from memscope.sources import file_kind

    return f"{file_kind(mode)}, not a regular file (not read)"


def is_report_name(name: str) -> bool:
    base = name[:-3] if name.endswith(".gz") else name
    return base.endswith(SUFFIXES) and not name.startswith(".")


def read_bytes(path: str, limit: Optional[int] = None) -> bytes:
    """The file's text as bytes, gunzipped when it is gzip; ``limit`` stops early (the
    probe). Raises Skip with the reason."""
    import zlib

    want = MAX_TEXT_BYTES if limit is None else limit
    try:
        # non-blocking and checked after the open: a FIFO swapped in since the listing
        # must not hang the run
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        import stat as st

        if not st.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise Skip("not a regular file (not read)")
        with os.fdopen(fd, "rb") as f:
            magic = f.read(2)
            if magic != b"\x1f\x8b":
                data = magic + f.read((MAX_FILE_BYTES if limit is None else limit) + 1 - 2)
                if limit is None and len(data) > MAX_FILE_BYTES:
                    raise Skip(f"larger than {MAX_FILE_BYTES >> 20} MiB: not a report")
                return data[:want]
            out: List[bytes] = []
            size = 0
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            open_member = False  # data fed to a member that has not ended yet
            raw_read = 0
            chunk = magic
            while chunk:
                raw_read += len(chunk)
                if raw_read > MAX_FILE_BYTES:
                    raise Skip(f"larger than {MAX_FILE_BYTES >> 20} MiB: not a report")
                while chunk:
                    if not open_member and d.eof:
                        d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a concatenated member
                    open_member = True
                    piece = d.decompress(chunk, want + 1 - size)
                    out.append(piece)
                    size += len(piece)
                    if size > want:
                        if limit is not None:
                            return b"".join(out)[:want]
                        raise Skip(f"decompresses to more than {MAX_TEXT_BYTES >> 20} MiB: "
                                   "not a report")
                    if d.eof:
                        open_member = False
                        chunk = d.unused_data
                    else:
                        chunk = d.unconsumed_tail
                chunk = f.read(256 << 10)
            if open_member and limit is None:
                raise Skip("gzip stream truncated (the file was cut short)")
            return b"".join(out)
    except zlib.error as exc:
        raise Skip(f"not valid gzip ({exc})") from None
    except OSError as exc:
        raise Skip(exc.strerror or str(exc)) from None


# ---------------------------------------------------------------------------------------
# pass 1: the header


def probe(path: str) -> Dict[str, Any]:
    """{schema_version, source} of the report at ``path``, from its first few KiB where
    the document is laid out as memscope writes it; otherwise from the whole document."""
    head = read_bytes(path, PROBE_BYTES).decode("utf-8", "replace")
    header = probe_text(head)
    if header is None:
        header = header_of(parse_document(read_text(path)))
    return header


def probe_text(head: str) -> Optional[Dict[str, Any]]:
    stripped = head.lstrip()
    if stripped.startswith("{"):
        return _probe_json(stripped)
    return _probe_yaml(head)


def _probe_json(text: str) -> Optional[Dict[str, Any]]:
    import json
    import re

    m = re.match(r'\{\s*"schema_version"\s*:\s*(\d{1,18})\s*,\s*"source"\s*:\s*', text)
    if not m:
        return None
    try:
        source, _end = json.JSONDecoder().raw_decode(text, m.end())
    except (ValueError, RecursionError):
        return None
    if not isinstance(source, dict):
        return None
    return {"schema_version": int(m.group(1)), "source": source}


def _probe_yaml(text: str) -> Optional[Dict[str, Any]]:
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        lines = lines[1:]
    if len(lines) < 3 or not lines[0].startswith("schema_version:") \
            or lines[1] != "source:":
        return None
    block = [lines[0], lines[1]]
    for line in lines[2:-1]:  # the last line may be cut
        if not line.startswith("  "):
            break
        block.append(line)
    else:
        return None  # the source block did not end inside the head
    doc = _yaml_load("\n".join(block))
    if not isinstance(doc, dict) or not isinstance(doc.get("source"), dict):
        return None
    return {"schema_version": doc.get("schema_version"), "source": doc["source"]}


def header_of(doc: Dict[str, Any]) -> Dict[str, Any]:
    return {"schema_version": doc.get("schema_version"), "source": doc.get("source") or {}}


# ---------------------------------------------------------------------------------------
# pass 2: the document


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8", "replace")


def read_report(path: str) -> Dict[str, Any]:
    """The report at ``path``, cut to what trend reads where it is YAML. Raises Skip."""
    return parse_document(read_text(path), subset=True)


def parse_document(text: str, subset: bool = False) -> Dict[str, Any]:
    if not text.strip():
        raise Skip("empty file")
    if text.lstrip().startswith("{"):
        import json

        doc = json_subset(text) if subset else None
        if doc is not None:
            return doc
        try:
            doc = json.loads(text)
        except RecursionError:
            raise Skip("nested too deeply: not a report") from None
        except ValueError as exc:
            if "Extra data" in str(exc):
                raise Skip("holds more than one document (a --watch stream?): give one "
                           "report a file") from None
            raise Skip(f"not valid JSON ({exc})") from None
    else:
        doc = None
        if subset:
            try:
                doc = _yaml_load(yaml_subset(text))
            except _YamlError:
                doc = None
            if not _complete(doc):
                doc = None
        if doc is None:
            try:
                doc = _yaml_load(text, stream=True)
            except _YamlError as exc:
                raise Skip(f"not valid YAML or JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("schema_version"), int) \
            or isinstance(doc.get("schema_version"), bool):
        raise Skip("not a memscope report (no schema_version)")
    if "summary" not in doc and "memory" in doc:  # a summary document
        doc = {"schema_version": doc["schema_version"], "source": doc.get("source"),
               "summary": doc}
    if not isinstance(doc.get("summary"), dict):
        raise Skip("not a memscope report (no summary)")
    return doc


def _complete(doc: Any) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("schema_version"), int)
            and isinstance(doc.get("summary"), dict)
            and isinstance(doc["summary"].get("memory"), dict))


class _YamlError(Exception):
    pass


def _yaml_load(text: str, stream: bool = False) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if "!!binary" in text:  # a name that is not UTF-8, as memscope writes it: the same str
        return _names(_yaml_load_plain(yaml, loader, text, stream))
    return _yaml_load_plain(yaml, loader, text, stream)


def _names(value: Any) -> Any:
    """!!binary scalars (bytes) back to the surrogate-escaped names memscope wrote."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, dict):
        return {_names(k): _names(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_names(v) for v in value]
    return value


def _yaml_load_plain(yaml, loader, text: str, stream: bool) -> Any:
    try:
        if not stream:
            return yaml.load(text, Loader=loader)
        docs = [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except yaml.YAMLError as exc:
        raise _YamlError(str(exc).splitlines()[0] if str(exc) else "parse error") from None
    except (ValueError, RecursionError) as exc:
        raise _YamlError(str(exc)) from None
    if len(docs) > 1:
        raise _YamlError("holds more than one document (a --watch stream?): give one "
                         "report a file")
    return docs[0] if docs else None


# The sections trend reads: top-level keys, and the sub-keys (at indent 2, in a mapping or
# in the items of a list) to leave out of them.
KEEP = {"schema_version", "source", "summary", "top", "cgroups", "slab"}
DROP = {
    "summary": {"source", "available_explained", "physical", "pressure", "container",
                "activity", "activity_rates", "zfs_arc", "meminfo", "notes"},
    "top": {"processes", "totals", "skipped"},
    "cgroups": {"pids", "stat", "events", "pressure", "reconciliation"},
}


_TOP_KEY = re.compile(r"^([A-Za-z_][^:\n]*):", re.M)
_DROP_BLOCK = {
    section: re.compile(r"^(  |- )(?:" + "|".join(sorted(keys)) +
                        r"):[^\n]*\n(?:(?:  - |   )[^\n]*\n)*", re.M)
    for section, keys in DROP.items()
}


def _keep_item(m: "re.Match") -> str:
    # the first key of a list item: keep the item, so its other keys stay in it
    return "- _dropped: null\n" if m.group(1) == "- " else ""


def yaml_subset(text: str) -> str:
    """The block-style YAML memscope writes, with only the sections trend reads.

    Top-level keys start a line; a dropped key's block (at indent 2, in a mapping or in the
    items of a list) is its line and every line after it indented deeper, or at the same
    indent and starting with "- " (PyYAML writes a mapping's list items at the key's own
    indent). Regular expressions do the cutting (a report's cgroups hold thousands of
    one-line PIDs). Anything else in the text makes the result fail to parse or come out
    incomplete, and the caller then parses the whole text.
    """
    starts = [m.start() for m in _TOP_KEY.finditer(text)]
    if not starts:
        return text
    out: List[str] = [text[:starts[0]]]
    for begin, end in zip(starts, starts[1:] + [len(text)]):
        section = text[begin:end]
        key = section.split(":", 1)[0]
        if key not in KEEP:
            continue
        if key in _DROP_BLOCK:
            if not section.endswith("\n"):
                section += "\n"
            section = _DROP_BLOCK[key].sub(_keep_item, section)
        out.append(section)
    return "".join(out)


_CGROUP_BULK = re.compile(
    r'"(pids|stat)": (?:\[[0-9, ]*\]|\{(?:"[a-z0-9_]+": -?[0-9]+(?:, )?)*\})')


def json_subset(text: str) -> Optional[Dict[str, Any]]:
    """The values trend reads from JSON laid out as memscope writes it (each top-level key
    on a line of its own, indented by two spaces; a raw newline is never inside a JSON
    string, so such a line is structure): schema_version, source, summary, cgroups, slab
    whole, and of top only its groups. None where the text is not laid out so, or a value
    does not decode: the caller parses the whole document (which also rejects a stream)."""
    import json

    decoder = json.JSONDecoder()
    doc: Dict[str, Any] = {}
    starts = {}
    for key in ("schema_version", "source", "summary", "top", "cgroups", "slab"):
        at = text.find(f'\n  "{key}": ')
        if at >= 0:
            starts[key] = at + len(key) + 7
    if "schema_version" not in starts or "summary" not in starts:
        return None
    tail = text.rstrip()
    if not tail.endswith("}") or text.count('\n  "schema_version": ') != 1:
        return None
    try:
        for key, at in starts.items():
            if key not in ("top", "cgroups"):
                doc[key], _end = decoder.raw_decode(text, at)
                continue
            end = text.find('\n  "', at)
            section = text[at:end if end >= 0 else len(text)]
            if key == "cgroups":
                # Each cgroup's member PIDs and raw memory.stat are most of the section:
                # numbers only, so a pattern finds them whole (a quote inside a JSON
                # string is escaped, so no string can look like these keys).
                section = _CGROUP_BULK.sub(r'"\1": null', section)
                doc[key], _end = decoder.raw_decode(section)
                continue
            top: Dict[str, Any] = {}
            for sub in ("groups", "user_groups"):
                pos = section.find(f'\n    "{sub}": ')
                if pos >= 0:
                    top[sub], _end = decoder.raw_decode(section, pos + len(sub) + 9)
            doc["top"] = top
    except (ValueError, RecursionError):
        return None
    if not _complete(doc):
        return None
    return doc

