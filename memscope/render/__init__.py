"""Renderers: the model's documents to text. They know nothing about /proc.

Machine formats (json, yaml) render the document as is, integer bytes whatever the unit
flags say. Tables render a view of it with units applied (render/table.py).
"""

from __future__ import annotations

from typing import Any, Dict


def to_json(doc: Dict[str, Any], stream: bool = False) -> str:
    import json

    if stream:  # --watch: one object a line
        return json.dumps(doc, separators=(",", ":")) + "\n"
    return json.dumps(doc, indent=2) + "\n"


def to_yaml(doc: Dict[str, Any], stream: bool = False) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    # --watch: a multi-document stream, each document opened with '---'.
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, default_flow_style=False,
                     explicit_start=stream, allow_unicode=True)
