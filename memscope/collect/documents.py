"""Reading documents memscope wrote earlier (a ``report`` or ``summary`` in yaml or json): the
inputs of ``diff`` (and of history over reports). I/O lives here, not in model/."""

from __future__ import annotations

from typing import Any, Dict

from memscope.errors import MemscopeError


def load_report(path: str) -> Dict[str, Any]:
    """A report written by ``memscope report --format yaml|json`` (or a summary)."""
    try:
        with open(path, "rb") as f:
            data = f.read(512 << 20)
    except OSError as exc:
        raise MemscopeError(f"{path}: {exc.strerror} (give a report written by memscope "
                            "report --format yaml or json)") from None
    text = data.decode("utf-8", "replace")
    doc = None
    if text.lstrip().startswith("{"):
        import json

        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise MemscopeError(f"{path}: not valid JSON ({exc})") from None
    else:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            docs = [d for d in yaml.load_all(text, Loader=loader) if d is not None]
        except yaml.YAMLError as exc:
            raise MemscopeError(f"{path}: not valid YAML or JSON "
                                f"({str(exc).splitlines()[0]})") from None
        doc = _names(docs[-1]) if docs else None  # a --watch stream: its last document
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise MemscopeError(f"{path}: not a memscope report (no schema_version 1)")
    if "summary" not in doc and "memory" in doc:
        doc = {"schema_version": 1, "source": doc.get("source"), "summary": doc}
    if not isinstance(doc.get("summary"), dict):
        raise MemscopeError(f"{path}: not a memscope report (no summary)")
    return doc


def _names(value: Any) -> Any:
    """A name that is not UTF-8 is written to YAML as !!binary (memscope.render): read it
    back as the same str, its bytes as surrogate escapes, as JSON gives it."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, dict):
        return {k: _names(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_names(v) for v in value]
    return value
