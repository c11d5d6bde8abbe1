"""Reading documents memscope wrote earlier (a ``report`` in yaml or json): the inputs of
``diff`` (and of history over reports). I/O lives here, not in model/.

A document is untrusted input. It is read only from a regular file (a FIFO or a device is
refused unread), at most MAX_DOCUMENT_BYTES; YAML only with the safe loader, and with no
anchors or aliases at all (memscope never writes them; an alias bomb expands a kilobyte into
gigabytes), nesting at most MAX_DEPTH deep; JSON without NaN or Infinity. Then every value
diff uses is checked by type, and every integer by the one validator (parsers.check_int),
before anything reads it: one line naming the file and the key, exit 1.
"""

from __future__ import annotations

import math
import os
import re
import stat
from typing import Any, Dict, List, Optional, Tuple

from memscope.errors import MemscopeError, ParseError

# A report of a large host (thousands of programs and cgroups) is a few MB; this is far past
# any, and keeps memory a small multiple of what a hostile file can make us hold.
MAX_DOCUMENT_BYTES = 64 << 20
# memscope's documents nest six deep (report > summary > breakdown > [] > parts > []).
MAX_DEPTH = 32
HINT = "give a report written by memscope report --format yaml or json"


class DocumentError(MemscopeError):
    pass


def _fail(path: str, why: str) -> DocumentError:
    return DocumentError(f"{path}: {why} ({HINT})")


def _read(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise _fail(path, exc.strerror or str(exc)) from None
    except ValueError:
        raise _fail(path, "a name with a NUL byte") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            from memscope.sources import file_kind

            raise DocumentError(f"{path}: is {file_kind(st.st_mode)}, not a regular file "
                                "(refused, not read; "
                                "save the report to a file first)")
        chunks: List[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_DOCUMENT_BYTES:
                raise _fail(path, f"larger than {MAX_DOCUMENT_BYTES} bytes: not a report")
            chunks.append(chunk)
    except OSError as exc:
        raise _fail(path, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number memscope writes")


def _load_json(path: str, text: str) -> Any:
    import json

    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise _fail(path, f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise _fail(path, f"not valid JSON ({str(exc)[:120]})") from None


def _load_yaml(path: str, text: str) -> Any:
    """The last document of the stream, built straight from the parser's events.

    Not yaml.load: PyYAML composes a node graph of the whole document first and constructs
    in Python (an 8.8 MB report took 7 s and 600 MB). Here each event becomes its value at
    once, so memory is the values themselves. Anchors and aliases are refused (nothing can
    expand: memscope never writes them), nesting is bounded, scalars are resolved and built by
    the safe loader's own resolver and constructors, and any other tag is refused.
    """
    import yaml
    from yaml.constructor import SafeConstructor
    from yaml.nodes import ScalarNode
    from yaml.resolver import Resolver

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    resolver, constructor = Resolver(), SafeConstructor()
    builders = constructor.yaml_constructors
    stack: List[Any] = []      # open containers: [container, pending key or _NO_KEY]
    last = None
    root: Any = None

    def add(value, line):
        nonlocal root
        if not stack:
            root = value
            return
        top = stack[-1]
        if isinstance(top[0], list):
            top[0].append(value)
        elif top[1] is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise _fail(path, f"a mapping key that is an object or list, line {line}")
            top[1] = value
        else:
            top[0][top[1]] = value
            top[1] = _NO_KEY

    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise _fail(path, "YAML anchors and aliases are refused (memscope never "
                            f"writes them), line {line}")
            if isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag in (None, "!"):
                    tag = resolver.resolve(ScalarNode, event.value, event.implicit)
                build = builders.get(tag)
                if build is None or tag == "tag:yaml.org,2002:merge":
                    raise _fail(path, f"the YAML tag {tag[:40]!r} is refused, line {line}")
                value = build(constructor, ScalarNode(tag, event.value, style=event.style))
                if isinstance(value, bytes):
                    # a name that is not UTF-8 is written to YAML as !!binary (memscope.text):
                    # read back as the same str, its bytes as surrogate escapes, as JSON gives
                    value = value.decode("utf-8", "surrogateescape")
                add(value, line)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if event.tag not in (None, "!", "tag:yaml.org,2002:map",
                                     "tag:yaml.org,2002:seq"):
                    raise _fail(path, f"the YAML tag {event.tag[:40]!r} is refused, line "
                                f"{line}")
                if len(stack) >= MAX_DEPTH:
                    raise _fail(path, f"nested more than {MAX_DEPTH} levels deep, line {line}")
                container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
                stack.append([container, _NO_KEY])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                add(stack.pop()[0], line)
            elif isinstance(event, yaml.DocumentEndEvent):
                if root is not None:
                    last = root  # a --watch stream: its last document
                root = None
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML or JSON ({str(exc).splitlines()[0][:120]})") from None
    except TypeError as exc:  # an unhashable or odd key the constructors let through
        raise _fail(path, f"not a document memscope wrote ({str(exc)[:80]})") from None
    return last


_NO_KEY = object()


def _check_values(path: str, doc: Any) -> None:
    """Every value: nesting within MAX_DEPTH, floats finite, integers within 2^64, keys
    strings (a YAML key can be a list or a date)."""
    from memscope.parsers import check_int

    stack = [(doc, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise _fail(path, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise _fail(path, f"{where or 'the document'}: a key that is not a string "
                                f"({type(k).__name__})")
                stack.append((v, depth + 1, f"{where}.{k}" if where else k))
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{where}[{i}]") for i, v in enumerate(value))
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _fail(path, f"{where}: {value} is not a number memscope writes")
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                check_int(value, where, signed=True)
            except ParseError as exc:
                raise _fail(path, exc.message) from None
        elif value is not None and not isinstance(value, (str, bool)):
            raise _fail(path, f"{where}: a {type(value).__name__} (a YAML date or other type "
                        "memscope never writes)")


# What each of memscope's documents holds at its top, to name a document that is not a report
KINDS = (
    ("a diff", ("system", "programs")),
    ("a summary", ("memory", "breakdown")),
    ("a top", ("processes", "totals")),
    ("a proc", ("processes",)),
    ("a cgroup", ("cgroups",)),
    ("a zones", ("zones", "tunables")),
    ("a vmalloc", ("vmalloc_used",)),
    ("a slab", ("caches",)),
    ("a shmem", ("mounts", "sysv")),
)


def _kind(doc: Dict[str, Any]) -> Optional[str]:
    for name, keys in KINDS:
        if all(k in doc for k in keys):
            return name
    return None


_WANT = {dict: "an object", list: "a list", int: "an integer", str: "a string"}


def _typed(path: str, value: Any, where: str, kind: type, nullable: bool = True):
    """``value`` if it is of ``kind`` (or None where ``nullable``), else one line naming
    ``where``."""
    if value is None and nullable:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _fail(path, f"{where}: a {type(value).__name__} where {_WANT[kind]} belongs")
    return value


def _at(path: str, doc: Dict[str, Any], where: str, kind: type, nullable: bool = True):
    value: Any = doc
    for key in where.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return _typed(path, value, where, kind, nullable)


def _check_report(path: str, doc: Dict[str, Any]) -> None:
    """The keys diff reads, by type (docs/contract.md "report")."""
    from memscope.model.diff import SYSTEM_FIELDS

    _at(path, doc, "source", dict)
    _at(path, doc, "source.taken_at", str)
    _at(path, doc, "summary", dict, nullable=False)
    _at(path, doc, "summary.memory", dict)
    for f in SYSTEM_FIELDS:
        _at(path, doc, f"summary.memory.{f}", int)
    _at(path, doc, "summary.swap", dict)
    _at(path, doc, "summary.swap.used", int)
    for i, c in enumerate(_at(path, doc, "summary.breakdown", list) or ()):
        where = f"summary.breakdown[{i}]"
        _typed(path, c, where, dict, nullable=False)
        _typed(path, c.get("category"), f"{where}.category", str, nullable=False)
        _typed(path, c.get("bytes"), f"{where}.bytes", int)
    _at(path, doc, "top", dict)
    for i, g in enumerate(_at(path, doc, "top.groups", list) or ()):
        where = f"top.groups[{i}]"
        _typed(path, g, where, dict, nullable=False)
        _typed(path, g.get("key"), f"{where}.key", str, nullable=False)
        _typed(path, g.get("pss"), f"{where}.pss", int)
    for i, c in enumerate(_at(path, doc, "cgroups", list) or ()):
        where = f"cgroups[{i}]"
        _typed(path, c, where, dict, nullable=False)
        _typed(path, c.get("path"), f"{where}.path", str, nullable=False)
        _typed(path, c.get("usage"), f"{where}.usage", int)


def load_report(path: str, summary_ok: bool = False,
                purpose: str = "diff compares two reports") -> Dict[str, Any]:
    """A report written by ``memscope report --format yaml|json``, checked before use. With
    ``summary_ok`` (explain --since: only the summary is used), a ``memscope summary``
    document is taken too, as the report holding it."""
    data = _read(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, f"not UTF-8 text (byte {exc.start}): not a report") from None
    if text.lstrip().startswith("{"):
        doc = _load_json(path, text)
    else:
        doc = _load_yaml(path, text)
    if not isinstance(doc, dict):
        raise _fail(path, "not a memscope document (no schema_version)")
    _check_values(path, doc)
    version = doc.get("schema_version")
    if version != 1 or isinstance(version, bool):
        if version is None:
            raise _fail(path, "not a memscope document (no schema_version)")
        shown = repr(version)[:20]
        newer = isinstance(version, int) and not isinstance(version, bool) and version > 1
        raise DocumentError(f"{path}: schema_version {shown} is not 1 (" + (
            "written by a newer memscope: diff it with that version)" if newer else
            f"not a document memscope wrote; {HINT})"))
    if "summary" not in doc:
        kind = _kind(doc)
        if summary_ok and kind == "a summary":
            doc = {"schema_version": 1, "summary": doc}
        else:
            raise DocumentError(f"{path}: is {kind or 'not a'} memscope document, not a "
                                f"report ({purpose}: write them with memscope report "
                                "--format yaml or json)")
    _check_report(path, doc)
    return doc


_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")


def taken_at(doc: Dict[str, Any]) -> Optional[str]:
    stamp = (doc.get("source") or {}).get("taken_at")
    return stamp if isinstance(stamp, str) and _STAMP.match(stamp) else None


def load_pair(old: str, new: str) -> Tuple[Dict[str, Any], Dict[str, Any], List[str]]:
    """diff's two reports, and the warnings about them (NEW taken before OLD)."""
    a, b = load_report(old), load_report(new)
    warnings = []
    ta, tb = taken_at(a), taken_at(b)
    if ta and tb and tb < ta:
        warnings.append(f"{new} (taken {tb}) is older than {old} (taken {ta}): the changes "
                        "shown run backwards in time (swap the two to see growth)")
    return a, b, warnings
