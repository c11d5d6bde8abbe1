"""The model: pure builders from parsed records to machine documents in integer bytes.

Builders never read files (collect/ does) and never format for display (render/ does).
Their output is the contract of docs/contract.md "Machine output": plain dicts and lists with
snake_case keys, sizes in integer bytes, ``None`` where a source cannot provide a figure.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Dict, List


class Notes:
    """Everything a table says in words, with a stable code for scripts."""

    def __init__(self) -> None:
        self.items: List[Dict[str, str]] = []

    def add(self, code: str, text: str) -> None:
        item = {"code": code, "text": text}
        if item not in self.items:
            self.items.append(item)
