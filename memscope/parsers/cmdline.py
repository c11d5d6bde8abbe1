"""/proc/PID/cmdline: the process's argv, NUL-separated (``proc_pid_cmdline_read()``,
fs/proc/base.c; proc(5)). Set by the process itself: untrusted text, decoded with
replacement; tables strip control characters, Prometheus labels escape them."""

from __future__ import annotations


def parse_cmdline(data: bytes) -> str:
    """argv joined by spaces, decoded with replacement (any user sets it)."""
    return data.rstrip(b"\x00").replace(b"\x00", b" ").decode("utf-8", "replace")
