"""What every benchmark runs as: memscope as pip installs it (the console script beside this
interpreter, bytecode cached)."""

from __future__ import annotations

import os
import sys


def memscope_cmd():
    script = os.path.join(os.path.dirname(sys.executable), "memscope")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "memscope"]


def bytecode_cached() -> None:
    """An installed memscope has its bytecode compiled (pip does it); with
    PYTHONDONTWRITEBYTECODE set (as in some sandboxes) every run would compile cli.py and
    friends again (+40 ms), which no user pays: unset it for the runs, and say so."""
    if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
        print("note: PYTHONDONTWRITEBYTECODE was set: unset for the runs (bytecode cached, "
              "as an installed memscope has it)", file=sys.stderr)
