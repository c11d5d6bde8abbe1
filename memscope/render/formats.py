"""The output formats, one row each: what a format takes and where its renderer lives.

- ``table``: the command's own view for a person (render/table.py and friends), units
  applied, fitted to the terminal;
- ``document``: the machine document as is (json, yaml): ``render(doc, stream)``;
- ``rows``: the document as render.rows' sections (csv): ``render(sections, stream)``, one
  function for every command;
- ``prom``: Prometheus text, only for the commands that have a form for it: the function
  the command's Plan names, in the module.

Adding a format is a module under render/ and a row here (docs/architecture.md).
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple


class Format(NamedTuple):
    takes: str
    renderer: Optional[str]  # "module" or "module:function"
    words: str  # how the --format help names it


FORMATS = {
    "table": Format("table", None, "table"),
    "yaml": Format("document", "memscope.render:to_yaml", "yaml"),
    "json": Format("document", "memscope.render:to_json", "json"),
    "csv": Format("rows", "memscope.render.csv:to_csv", "csv (one section a table)"),
    "prom": Format("prom", "memscope.render.prom", "prom (Prometheus text)"),
}

# the formats every command has; prom is added where a command has a Prometheus form
EVERY: Tuple[str, ...] = tuple(name for name, f in FORMATS.items() if f.takes != "prom")


def described(names: Tuple[str, ...]) -> str:
    """The --format help: which of ``names`` carry integer bytes whatever the unit flags."""
    machine = [FORMATS[n].words for n in names if FORMATS[n].takes != "table"]
    return ", ".join(machine[:-1]) + " and " + machine[-1] + " carry integer bytes."


def load(name: str):
    """The renderer of format ``name``: its function, or its module for prom."""
    import importlib

    module, _, function = FORMATS[name].renderer.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, function) if function else loaded
