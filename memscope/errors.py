"""memscope's error hierarchy. Imports nothing of ours.

Every error is one line for stderr: it names the file or object it is about and says what to
do. The CLI turns MemscopeError into exit status 1 (docs/contract.md "Errors").
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported on `top`'s path before the fork
if TYPE_CHECKING:
    from typing import Optional


class MemscopeError(Exception):
    """A request that can't be met. ``str(e)`` is the whole one-line message."""


class SourceError(MemscopeError):
    """A file could not be read. ``path`` is the name the user knows it by."""

    hint = ""

    def __init__(self, path: str, reason: str, hint: Optional[str] = None):
        self.path = path
        self.reason = reason
        if hint is not None:
            self.hint = hint
        super().__init__(path, reason)

    def __str__(self) -> str:
        tail = f" ({self.hint})" if self.hint else ""
        return f"{self.path}: {self.reason}{tail}"


class NotFound(SourceError):
    """The file does not exist (a kernel without the feature, a root without the file)."""

    hint = "is this kernel's /proc complete, or the --root tree?"


class Unsupported(SourceError):
    """The file exists but the kernel refuses to read it (EOPNOTSUPP: PSI disabled, ...)."""

    hint = "the kernel has this feature disabled"


ROOT_DENIED = ("denied to root too: the process is in another user namespace or confined "
               "by a stricter LSM (SELinux, AppArmor, Yama ptrace_scope 3)")


CAP_SYS_PTRACE = 19


def denied_hint() -> str:
    """What to do about EACCES: "run as root" to a user, never to root, who was denied for
    a reason running as root cannot cure: ptrace_may_access() (kernel/ptrace.c) refuses a
    root without CAP_SYS_PTRACE (a container, a capability-dropping wrapper), a task in a
    user namespace root does not own, and an LSM may refuse root."""
    import os

    if os.geteuid() != 0:
        return "run as root"
    try:
        with open("/proc/self/status") as f:
            caps = next((line.split()[1] for line in f if line.startswith("CapEff:")), None)
        if caps is not None and not int(caps, 16) >> CAP_SYS_PTRACE & 1:
            return ("denied to root too: this root lacks CAP_SYS_PTRACE (a container, or "
                    "a wrapper that drops capabilities); grant it to read other users' "
                    "processes")
    except (OSError, ValueError):
        pass
    return ROOT_DENIED


class PermissionDenied(SourceError):
    @property  # type: ignore[override]
    def hint(self) -> str:
        return self.__dict__.get("_hint") or denied_hint()

    @hint.setter
    def hint(self, value: str) -> None:
        self.__dict__["_hint"] = value


class ParseError(MemscopeError):
    """A file whose content is not in the kernel's format.

    Parsers are pure text -> record functions and know no path: they raise with the line,
    and the one place that reads files (sources.Root.parse) attaches the path.
    """

    def __init__(self, message: str, line: Optional[int] = None, path: Optional[str] = None):
        self.message = message
        self.line = line
        self.path = path
        super().__init__(message, line, path)

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f": line {self.line}"
        return (f"{where}: {self.message} (the file is not in the kernel's format: "
                f"check the --root tree, or report it with the file attached)")


class UsageError(Exception):
    """Options that do not go together, or a value the command can't use: exit status 2,
    as click's own usage errors (docs/contract.md "Errors"). ``option`` names the one at
    fault, when there is one. Not a MemscopeError: the request was never attempted."""

    def __init__(self, message: str, option: Optional[str] = None):
        self.message = message
        self.option = option
        super().__init__(message, option)

    def __str__(self) -> str:
        return self.message
