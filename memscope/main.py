"""The console entry point: as little as possible before the real CLI.

``memscope top`` reads a few /proc files of every process; importing click and the rest
takes tens of milliseconds. So, for a live ``top``, forked children read and parse the
processes while the parent imports click (memscope.prefetch).
Every other command goes straight to the CLI.
"""

from __future__ import annotations

import os
import sys

# Options under which top must not read ahead: another root, fewer files (status only, no
# page-table walk), a few pids (one cgroup's), smaps instead of smaps_rollup, or no reading.
_NO_PREFETCH = ("--root", "--rss-only", "--walk-limit", "--pid", "--cgroup", "--by-mapping",
                "--help", "-h", "--version")


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["top"] and not any(a.split("=", 1)[0] in _NO_PREFETCH for a in args):
        from memscope.collect.procs import start_prefetch

        start_prefetch()
    from memscope.cli import main as cli_main

    try:
        cli_main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    # Leave without tearing the interpreter down object by object (thousands of process
    # records after top): flush what is ours to flush, then exit.
    if not isinstance(code, int):
        if code is not None:
            sys.stderr.write(f"{code}\n")
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
