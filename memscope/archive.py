"""Snapshot archives as a root: ``--root FILE.tar.gz`` (SPEC.md "Snapshots").

Opening an archive never extracts it. Members are read in memory, through tarfile's stream
mode, and only regular files whose names lie under ``proc/``, ``sys/`` or are the manifest
are accepted. Absolute names, ``..``, duplicates, links (symbolic and hard), devices and fifos
are refused, not skipped: a snapshot memscope wrote holds none, so one that does was made by
something else. Member size, total decompressed bytes and member count are capped on the
decompressed stream (a small .tar.gz can inflate to gigabytes). Python's tarfile data filter
is not relied on: releases before 3.9.23/3.10.18/3.11.13/3.12.11 have known bypasses.
"""

from __future__ import annotations

import json
import os
import posixpath
from typing import Dict, List, Optional

from memscope.errors import MemscopeError
from memscope.sources import Root

MANIFEST = "manifest.json"
MAX_MEMBER_BYTES = 256 << 20
MAX_TOTAL_BYTES = 2 << 30
MAX_MEMBERS = 500_000


class ArchiveError(MemscopeError):
    pass


def _refuse(path: str, why: str) -> ArchiveError:
    return ArchiveError(f"{path}: {why} (refused: not a snapshot memscope wrote; nothing "
                        "was extracted)")


def load_members(path: str) -> Dict[str, bytes]:
    """Every member's bytes, by normalised name, after every check."""
    import tarfile

    members: Dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for info in tar:
                name = info.name
                if len(members) >= MAX_MEMBERS:
                    raise _refuse(path, f"more than {MAX_MEMBERS} members")
                if name.startswith("/") or "\x00" in name:
                    raise _refuse(path, f"member {name!r} has an absolute name")
                norm = posixpath.normpath(name)
                if norm.startswith("../") or norm == ".." or "/../" in f"/{name}/":
                    raise _refuse(path, f"member {name!r} leads outside the archive ('..')")
                if info.isdir():
                    continue
                if info.issym() or info.islnk():
                    raise _refuse(path, f"member {name!r} is a link")
                if not info.isreg():
                    raise _refuse(path, f"member {name!r} is a device, fifo or other "
                                  "special file")
                if not (norm == MANIFEST or norm.startswith(("proc/", "sys/"))):
                    raise _refuse(path, f"member {name!r} is not under proc/ or sys/")
                if norm in members:
                    raise _refuse(path, f"member {name!r} appears twice")
                if info.size > MAX_MEMBER_BYTES:
                    raise _refuse(path, f"member {name!r} is {info.size} bytes (more than "
                                  f"{MAX_MEMBER_BYTES})")
                f = tar.extractfile(info)
                chunks: List[bytes] = []
                size = 0
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    size += len(chunk)
                    total += len(chunk)
                    if size > MAX_MEMBER_BYTES:
                        raise _refuse(path, f"member {name!r} is larger than "
                                      f"{MAX_MEMBER_BYTES} bytes")
                    if total > MAX_TOTAL_BYTES:
                        raise _refuse(path, f"it decompresses to more than {MAX_TOTAL_BYTES} "
                                      "bytes")
                    chunks.append(chunk)
                members[norm] = b"".join(chunks)
    except ArchiveError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError, UnicodeError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None and not os.path.isfile(path):
            raise MemscopeError(f"--root {path}: {os.strerror(exc.errno)}") from None
        raise MemscopeError(f"{path}: not a readable memscope snapshot (gzip tar): "
                            f"{exc or type(exc).__name__}") from None
    if MANIFEST not in members:
        raise MemscopeError(f"{path}: no {MANIFEST}: not a memscope snapshot")
    return members


class ArchiveRoot(Root):
    """A snapshot read as a host: the same interface as a directory root."""

    def __init__(self, path: str):
        self.path = path
        self.live = False
        self.members = load_members(path)
        try:
            self.manifest = json.loads(self.members[MANIFEST].decode("utf-8"))
            if not isinstance(self.manifest, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise MemscopeError(f"{path}: {MANIFEST} is not valid JSON ({exc})") from None
        dirs = set()
        for name in self.members:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        self.dirs = dirs

    def display(self, rel: str) -> str:
        return f"{self.path}:{rel}"

    def recorded(self, key: str):
        return self.manifest.get(key)  # the host facts of Root answer from it

    def read_bytes(self, rel: str) -> bytes:
        from memscope.errors import NotFound

        data = self.members.get(posixpath.normpath(rel))
        if data is None:
            raise NotFound(self.display(rel), "not in the snapshot",
                           "the snapshot was taken without it")
        return data

    def exists(self, rel: str) -> bool:
        rel = posixpath.normpath(rel)
        return rel in self.members or rel in self.dirs

    def isdir(self, rel: str) -> bool:
        return posixpath.normpath(rel) in self.dirs

    def inside(self, rel: str, base: str) -> bool:
        return True  # no links in a snapshot: names are all there is

    def listdir(self, rel: str) -> List[str]:
        from memscope.errors import NotFound

        rel = posixpath.normpath(rel)
        if rel not in self.dirs:
            raise NotFound(self.display(rel), "not in the snapshot")
        prefix = rel + "/"
        names = {n[len(prefix):].split("/", 1)[0] for n in list(self.members) + list(self.dirs)
                 if n.startswith(prefix)}
        return sorted(names)

    def subdirs(self, rel: str) -> List[str]:
        rel = posixpath.normpath(rel)
        return [n for n in self.listdir(rel) if f"{rel}/{n}" in self.dirs]

    def readlink(self, rel: str) -> Optional[str]:
        from memscope.sources import recorded_link

        return recorded_link(self, rel)  # links are not archived: the manifest has them
