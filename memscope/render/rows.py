"""The document as rows: sections of one header and many rows, chosen in the model's own
terms, the same way for every command. A row format (csv, render/formats.py) is one
function over these; it needs nothing per command.

How a document becomes sections (docs/contract.md "Row formats"):

- every value reached through objects only (``free.total``, ``schema_version``) is a row
  ``key, value`` of the first section, ``fields``;
- every list of objects (``processes``, ``zones``, ``summary.zones`` in a report) is a
  section of its own, named by its key path: one row per item, one column per key of any
  item, in the order first seen, with nested objects' keys joined by dots
  (``psi.some.avg10``) and a list of plain values spread over ``key.0``, ``key.1``, ...;
- a list of objects inside an item (a process's ``mappings``, a finding's ``evidence``) is
  a section named ``<section>.<key>`` whose first columns tie each row to its item: the
  item's row number in its section, from 0 (``findings.row``: unique), then the item's
  first column (``findings.code``: for a reader);
- a list of plain values outside an item is spread over ``key.0``, ... in ``fields``;
- an empty list has no section, and a null list no cells (beside its spread columns);
  null stays null (the format says how it writes it).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, NamedTuple, Tuple

from memscope.render import plain


class Section(NamedTuple):
    name: str
    columns: List[str]
    rows: List[List[Any]]


def sections(doc: Dict[str, Any]) -> List[Section]:
    fields: List[List[Any]] = []
    tables: Dict[str, Dict[str, Any]] = {}  # name -> {"columns": {...}, "rows": [dict]}
    _walk(plain(doc), "", lambda key, value: fields.append([key, value]),
          lambda key, items: _table(items, key, [], tables))
    out = [Section("fields", ["key", "value"], fields)] if fields else []
    for name, t in tables.items():
        columns = _columns(t["columns"], t["rows"])
        out.append(Section(name, columns, [[row.get(c) for c in columns] for row in t["rows"]]))
    return out


def _columns(seen: Dict[str, Any], rows: List[Dict[str, Any]]) -> List[str]:
    """The columns in the order first seen, less a list's own key when it is null wherever
    it is there (``free_blocks`` beside ``free_blocks.0``: a null list has no items)."""
    spread = {c.rsplit(".", 1)[0] for c in seen if c.rsplit(".", 1)[-1].isdigit()}
    return [c for c in seen
            if c not in spread or any(row.get(c) is not None for row in rows)]


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _walk(obj: Dict[str, Any], path: str, put: Callable[[str, Any], None],
          nested: Callable[[str, List[Dict[str, Any]]], None]) -> None:
    """Every plain value under ``obj`` to ``put(key path, value)``, lists of plain values
    spread over ``key.0``, ...; every list of objects to ``nested(key path, items)``."""
    for key, value in obj.items():
        name = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict):
            _walk(value, name, put, nested)
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                nested(name, value)
            else:
                for i, v in enumerate(value):
                    put(f"{name}.{i}", v if _scalar(v) else _compact(v))
        else:
            put(name, value)


def _table(items: List[Dict[str, Any]], name: str, parent: List[Tuple[str, Any]],
           tables) -> None:
    """``parent``: the (column, value) pairs that tie these items to the row they belong
    to (none at the top)."""
    t = tables.setdefault(name, {"columns": {}, "rows": []})
    for item in items:
        row: Dict[str, Any] = dict(parent)
        children: List[Any] = []
        _walk(item, "", row.__setitem__,
              lambda key, value, found=children: found.append((key, value)))
        for column in row:
            t["columns"].setdefault(column, None)
        index = len(t["rows"])
        t["rows"].append(row)
        if not children:
            continue
        # the row's number in its section (unique), then its first own column (readable)
        tie = [(f"{name}.row", index)]
        own = next(((k, v) for k, v in row.items() if k not in dict(parent)), None)
        if own is not None:
            tie.append((f"{name}.{own[0]}", own[1]))
        for key, value in children:
            _table(value, f"{name}.{key}", tie, tables)


def _compact(value: Any) -> str:
    """A list or object inside a list of plain values (no document has one today): JSON."""
    import json

    return json.dumps(value, separators=(",", ":"))
