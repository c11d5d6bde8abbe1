"""The console entry point: as little as possible before the real CLI.

``memscope top`` reads a few /proc files of every process; importing click and the rest
takes tens of milliseconds. So, for a live ``top``, forked children read and parse the
processes while the parent imports click (memscope.prefetch).
Every other command goes straight to the CLI.

Before anything else, and so from the first milliseconds on:

- SIGINT, SIGTERM and SIGHUP (unless inherited as ignored, as under nohup) end memscope at
  once with the conventional status 128 + signal number (130 for Ctrl-C) and no traceback,
  after removing any ``-o`` temp file being written (memscope.output) and killing the
  prefetch children. Nothing memscope does needs unwinding: its only side effects are those
  temp files and those children.
- A standard descriptor that is closed (``>&-``) is pointed at /dev/null, so that no file
  memscope opens lands on descriptor 1 or 2; Python then leaves sys.stdout None and
  memscope.output says "standard output is closed" if the command needs it.
"""

# Only built-in modules before the handlers are in place (os may not be loaded yet).
import _signal
import posix
import sys


def _on_signal(signum, frame) -> None:
    _leave()
    posix._exit(128 + signum)


def _leave() -> None:
    """What must not outlive memscope: temp files being written, prefetch children. Either
    module may be half imported when a signal lands, or not imported at all."""
    for module, call in (("memscope.output", "cleanup"), ("memscope.prefetch", "stop")):
        try:
            getattr(sys.modules[module], call)()
        except (KeyError, AttributeError):
            pass


def _install_signals() -> None:
    # _signal, not signal: the signal module imports enum, milliseconds without a handler
    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        if _signal.getsignal(sig) != _signal.SIG_IGN:
            _signal.signal(sig, _on_signal)


def _guard_descriptors() -> None:
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


# At import, not in main(): the console script imports this module, then calls main().
_install_signals()

import os  # noqa: E402  (after the handlers: see above)

# Options under which top must not read ahead: another root, fewer files (status only, no
# page-table walk), a few pids (one cgroup's), smaps instead of smaps_rollup, or no reading.
_NO_PREFETCH = ("--root", "--rss-only", "--walk-limit", "--pid", "--cgroup", "--by-mapping",
                "--help", "-h", "--version")


def main() -> None:
    _guard_descriptors()
    args = sys.argv[1:]
    try:
        if args[:1] == ["top"] and not any(a.split("=", 1)[0] in _NO_PREFETCH for a in args):
            from memscope.collect.procs import start_prefetch

            start_prefetch()
        from memscope.cli import main as cli_main

        cli_main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:  # a SIGINT handled by Python's own handler (not ours)
        code = 130
    _leave()
    # Leave without tearing the interpreter down object by object (thousands of process
    # records after top): flush what is ours to flush, then exit.
    if not isinstance(code, int):
        if code is not None:
            sys.stderr.write(f"{code}\n")
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
