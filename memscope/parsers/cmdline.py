"""/proc/PID/cmdline: the process's argv, NUL-separated (``proc_pid_cmdline_read()``,
fs/proc/base.c; proc(5)). Set by the process itself: untrusted bytes. Bytes that are not
UTF-8 are kept as surrogate escapes (PEP 383), so machine output carries them losslessly
(memscope.text); tables show control characters as ``?``, Prometheus labels escape them."""

from __future__ import annotations


def parse_cmdline(data: bytes) -> str:
    """argv joined by spaces (any user sets it); bytes that are not UTF-8 are kept as
    surrogate escapes, so machine output carries them losslessly."""
    return data.rstrip(b"\x00").replace(b"\x00", b" ").decode("utf-8", "surrogateescape")
