r"""Renderers: the model's documents to text. They know nothing about /proc.

Machine formats (json, yaml) render the document as is, integer bytes whatever the unit
flags say. Tables render a view of it with units applied (render/table.py).

Names are data (README "What memscope promises about bad input"): a name or command line
holding bytes that are not UTF-8 is carried as surrogate escapes (PEP 383) from the read to
here, and leaves losslessly:

- JSON writes each such byte 0xHH as the escape ``\udcHH`` (what Python's json does);
  ``json.loads`` gives the same string back and ``.encode("utf-8", "surrogateescape")`` the
  original bytes.
- YAML cannot hold a lone surrogate, so such a string is written as ``!!binary`` (base64 of
  the exact bytes), which every YAML safe loader reads back as those bytes. Any other string
  with a character that is not printable (controls, U+0085, U+2028, bidi marks) is written
  double-quoted, with YAML's escapes, so no YAML loader folds or drops it.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator


def plain(value: Any) -> Any:
    """The document with model objects (Process) turned into plain dicts."""
    if hasattr(value, "as_dict"):
        return plain(value.as_dict())
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def to_json(doc: Dict[str, Any], stream: bool = False) -> Iterator[str]:
    """JSON, in pieces to write one after the other: with ``stream`` (--watch) one object a
    line; otherwise two levels laid out, one key (or list item) a line, and everything deeper
    compact on that line.

    json's C encoder runs only without ``indent``: a thousand processes indented by the
    pure-Python encoder cost more than reading them. One process a line is also what grep
    and diff want, and written piece by piece the output is never all in memory at once.
    """
    import json

    dumps = json.dumps
    if stream:
        yield dumps(plain(doc), separators=(",", ":")) + "\n"
        return
    yield "{"
    first = True
    for key, value in doc.items():
        yield ("\n" if first else ",\n") + "  " + dumps(key) + ": "
        first = False
        if isinstance(value, list) and value:
            yield "["
            sep = "\n    "
            for item in value:
                yield sep + dumps(item.as_dict() if hasattr(item, "as_dict") else item)
                sep = ",\n    "
            yield "\n  ]"
        elif isinstance(value, dict) and value:
            yield "{" + ",".join("\n    " + dumps(k) + ": " + dumps(plain(v))
                                 for k, v in value.items()) + "\n  }"
        else:
            yield dumps(plain(value))
    yield "\n}\n"


_DUMPER = None


def _yaml_dumper():
    global _DUMPER
    if _DUMPER is None:
        import yaml

        class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
            pass

        def text(dumper, value: str):
            if value.isprintable():
                return dumper.represent_str(value)
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # bytes that are not UTF-8: the bytes themselves
                try:
                    return dumper.represent_binary(value.encode("utf-8", "surrogateescape"))
                except UnicodeEncodeError:
                    # a surrogate no read can give (only U+DC80-U+DCFF stand for bytes),
                    # from a JSON document's \ud800: written as that escape, as text
                    value = value.encode("utf-8", "backslashreplace").decode("utf-8")
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')

        Dumper.add_representer(str, text)
        _DUMPER = Dumper
    return _DUMPER


def to_yaml(doc: Dict[str, Any], stream: bool = False) -> str:
    import yaml

    dumper = _yaml_dumper()
    # --watch: a multi-document stream, each document opened with '---'.
    return yaml.dump(plain(doc), Dumper=dumper, sort_keys=False, default_flow_style=False,
                     explicit_start=stream, allow_unicode=True)
