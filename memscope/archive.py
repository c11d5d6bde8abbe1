"""Snapshot archives as a root: ``--root FILE.tar.gz`` (docs/contract.md "Snapshots").

Opening an archive never extracts it. Members are read in memory by a small bounded reader of
our own (ustar with PAX ``path``/``size`` records: what memscope writes), not by Python's
tarfile: tarfile parses PAX and GNU long-name headers of any claimed size before a caller can
look (a header claiming gigabytes; CVE-2024-6232, a quadratic PAX header parse, on releases
before 3.12.6/3.11.10/3.10.15/3.9.20), and its data filter has known bypasses on releases
before 3.9.23/3.10.18/3.11.13/3.12.11. Every header is capped before it is parsed.

Only regular files whose names lie under ``proc/``, ``sys/`` or are the manifest are
accepted. Absolute names, ``..``, NUL bytes in names, duplicates, links (symbolic and hard),
devices, fifos, sparse files, GNU long-name headers and global PAX headers are refused, not
skipped: a snapshot memscope wrote holds none, so one that does was made by something else.
Member size, total decompressed bytes, member count and the compression ratio are capped on
the decompressed stream (a small .tar.gz can inflate to gigabytes; real snapshots compress
at most ~150:1, a zero-filled bomb ~1000:1).
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
from typing import Dict, List, Optional

from memscope.errors import MemscopeError, ParseError
from memscope.parsers import parse_int
from memscope.sources import Root

MANIFEST = "manifest.json"
MAX_MEMBER_BYTES = 256 << 20
MAX_TOTAL_BYTES = 2 << 30
MAX_MEMBERS = 500_000
MAX_PAX_BYTES = 64 << 10     # a PAX header: a path (PATH_MAX is 4096) and a few records
MAX_RATIO = 400              # decompressed : compressed, checked past RATIO_FLOOR
RATIO_FLOOR = 16 << 20
BLOCK = 512


class ArchiveError(MemscopeError):
    pass


def _refuse(path: str, why: str) -> ArchiveError:
    return ArchiveError(f"{path}: {why} (refused: not a snapshot memscope wrote; nothing "
                        "was extracted)")


class _Broken(Exception):
    """The archive's bytes are not a readable gzip tar: ``str`` says what happened."""


class _Stream:
    """The decompressed bytes of the archive, read in bounded steps: the total and the
    ratio to the compressed bytes consumed are checked as the data comes."""

    def __init__(self, path: str, fd: int):
        import zlib

        self.path = path
        self.fd = fd
        self.buf = bytearray()
        self.pos = 0
        self.eof = False
        self.consumed = 0
        self.produced = 0
        head = os.read(fd, 2)
        self.consumed = len(head)
        if not head:
            raise _Broken("an empty file")
        if head in (b"BZ", b"\xfd7", b"(\xb5", b"]\x00"):
            raise _Broken("compressed with bzip2, xz or zstd: memscope snapshots are gzip "
                          "(gunzip-compatible) tar")
        self.z = zlib.decompressobj(16 + zlib.MAX_WBITS) if head == b"\x1f\x8b" else None
        self.pending = head  # compressed bytes not yet given to zlib
        self.zlib_error = zlib.error

    def _more(self) -> None:
        if self.eof:
            return
        if self.z is not None and self.z.unconsumed_tail:
            data = self.z.unconsumed_tail
        elif self.pending:
            data, self.pending = self.pending, b""
        else:
            data = os.read(self.fd, 64 << 10)
            self.consumed += len(data)
        if self.z is None:
            if not data:
                self.eof = True
                return
            out = data
        else:
            if not data:
                self.eof = True
                if not self.z.eof:
                    raise _Broken("the gzip stream ends early (a truncated file)")
                return
            try:
                out = self.z.decompress(data, 1 << 20)
            except self.zlib_error as exc:
                raise _Broken(f"corrupt gzip data ({str(exc).split(': ', 1)[-1]})") from None
            if self.z.eof:
                self.eof = True  # a second gzip member or trailing bytes: past the tar's end
        self.produced += len(out)
        if self.produced > MAX_TOTAL_BYTES:
            raise _refuse(self.path, f"it decompresses to more than {MAX_TOTAL_BYTES} bytes")
        if self.produced > RATIO_FLOOR and self.produced > MAX_RATIO * max(self.consumed, 1):
            raise _refuse(self.path, f"it decompresses more than {MAX_RATIO} times its size "
                          "(a decompression bomb)")
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += out

    def read(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n and not self.eof:
            self._more()
        if len(self.buf) - self.pos < n:
            got = len(self.buf) - self.pos
            if got == 0 and self.produced == 0:
                raise _Broken("no tar data" if self.z is not None else "an empty file")
            raise _Broken("the archive ends in the middle of a member (a truncated file)")
        with memoryview(self.buf) as view:  # one copy of a large member, not two
            out = bytes(view[self.pos:self.pos + n])
        self.pos += n
        return out

    def at_end(self) -> bool:
        while len(self.buf) - self.pos == 0 and not self.eof:
            self._more()
        return len(self.buf) - self.pos == 0


def _octal(field: bytes, what: str) -> int:
    """A ustar numeric field: octal ASCII digits, NUL- or space-terminated. Base-256 (GNU
    binary) numbers are refused: memscope never writes them."""
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return parse_int(text.decode("ascii", "replace"), what, 1, base=8)
    except ParseError:
        raise _Broken(f"a tar header's {what} is not an octal number") from None


TYPES = {b"1": "a hard link", b"2": "a symbolic link", b"3": "a character device",
         b"4": "a block device", b"6": "a fifo", b"7": "a contiguous file",
         b"S": "a sparse file", b"V": "a volume label", b"M": "a multi-volume part",
         b"L": "a GNU long-name header", b"K": "a GNU long-link header",
         b"g": "a global PAX header", b"N": "an old GNU long-name header"}


def _pax(data: bytes, path: str) -> Dict[str, bytes]:
    """PAX records: ``LEN key=value\n``, LEN counting the whole record, in ASCII digits."""
    records: Dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos:].strip(b"\0") == b"":
            break
        space = data.find(b" ", pos, pos + 8)  # MAX_PAX_BYTES has 5 digits
        digits = data[pos:space] if space > 0 else b""
        try:
            length = parse_int(digits.decode("ascii", "replace"), "PAX record length", 1)
        except ParseError:
            raise _Broken("a PAX header record has no valid length") from None
        end = pos + length
        if length <= len(digits) + 1 or end > len(data) or data[end - 1:end] != b"\n":
            raise _Broken("a PAX header record's length does not match its data")
        key, eq, value = data[space + 1:end - 1].partition(b"=")
        if not eq:
            raise _Broken("a PAX header record without '='")
        records[key.decode("ascii", "replace")] = value
        pos = end
    return records


def _check_name(path: str, name: str) -> str:
    if "\x00" in name:
        raise _refuse(path, f"member {name!r} has a NUL byte in its name")
    if not name:
        raise _refuse(path, "a member has an empty name")
    if name.startswith("/"):
        raise _refuse(path, f"member {name!r} has an absolute name")
    if ".." in name.split("/"):
        raise _refuse(path, f"member {name!r} leads outside the archive ('..')")
    return posixpath.normpath(name)


def _members(path: str, stream: _Stream):
    """(name, kind, data) for every member, every header checked before it is used."""
    count = 0
    while True:
        header = stream.read(BLOCK) if not stream.at_end() else b""
        if not header.strip(b"\0"):
            return  # an end-of-archive block (or a bare end: GNU tar accepts it too)
        stored = _octal(header[148:156], "checksum")
        blank = header[:148] + b" " * 8 + header[156:]
        if stored not in (sum(blank), sum(b - 256 if b > 127 else b for b in blank)):
            raise _Broken("a tar header's checksum is wrong (not a tar archive, or corrupt)")
        if header[257:262] != b"ustar":
            raise _Broken("not a ustar/PAX tar header")
        kind = header[156:157]
        size = _octal(header[124:136], "size")
        pax: Dict[str, bytes] = {}
        if kind == b"x":
            if size > MAX_PAX_BYTES:
                raise _refuse(path, f"a PAX header of {size} bytes (more than "
                              f"{MAX_PAX_BYTES})")
            data = stream.read(size)
            stream.read(-size % BLOCK)
            pax = _pax(data, path)
            if any(k.startswith("GNU.sparse") for k in pax):
                raise _refuse(path, "a member is a sparse file")
            header = stream.read(BLOCK)
            stored = _octal(header[148:156], "checksum")
            blank = header[:148] + b" " * 8 + header[156:]
            if stored not in (sum(blank), sum(b - 256 if b > 127 else b for b in blank)):
                raise _Broken("a tar header's checksum is wrong (corrupt archive)")
            kind = header[156:157]
            size = _octal(header[124:136], "size")
        if "path" in pax:
            name = pax["path"].decode("utf-8", "surrogateescape")
        else:
            field = header[:100].split(b"\0", 1)[0]
            prefix = header[345:500].split(b"\0", 1)[0] if header[257:263] == b"ustar\0" \
                else b""
            name = ((prefix + b"/" if prefix else b"") + field).decode("utf-8",
                                                                      "surrogateescape")
        if "size" in pax:
            try:
                size = parse_int(pax["size"].decode("ascii", "replace"), "size", 1)
            except ParseError:
                raise _refuse(path, f"member {name!r} has a PAX size that is not a "
                              "number") from None
        count += 1
        if count > MAX_MEMBERS:
            raise _refuse(path, f"more than {MAX_MEMBERS} members")
        name = _check_name(path, name)
        if kind in (b"x",):
            raise _refuse(path, "two PAX headers in a row")
        if kind == b"5":
            if size:
                raise _refuse(path, f"directory {name!r} has data")
            yield name, "dir", b""
            continue
        if kind in (b"1", b"2"):
            raise _refuse(path, f"member {name!r} is a link")
        if kind in (b"3", b"4", b"6"):
            raise _refuse(path, f"member {name!r} is a device, fifo or other special file")
        if kind not in (b"0", b"\0"):
            what = TYPES.get(kind, f"of tar type {kind!r}")
            raise _refuse(path, f"member {name!r} is {what}")
        if size > MAX_MEMBER_BYTES:
            raise _refuse(path, f"member {name!r} is {size} bytes (more than "
                          f"{MAX_MEMBER_BYTES})")
        data = stream.read(size)
        stream.read(-size % BLOCK)
        yield name, "file", data


def load_members(path: str) -> Dict[str, bytes]:
    """Every member's bytes, by normalised name, after every check."""
    members: Dict[str, bytes] = {}
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise MemscopeError(f"--root {path}: {os.strerror(exc.errno)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise MemscopeError(f"--root {path}: not a regular file or directory (refused, "
                                "not read)")
        stream = _Stream(path, fd)
        for name, kind, data in _members(path, stream):
            if kind == "dir":
                continue
            if not (name == MANIFEST or name.startswith(("proc/", "sys/"))):
                raise _refuse(path, f"member {name!r} is not under proc/ or sys/")
            if name in members:
                raise _refuse(path, f"member {name!r} appears twice")
            members[name] = data
    except _Broken as exc:
        raise MemscopeError(f"{path}: not a readable memscope snapshot (gzip tar): "
                            f"{exc}") from None
    except OSError as exc:
        raise MemscopeError(f"--root {path}: {os.strerror(exc.errno)}") from None
    finally:
        os.close(fd)
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
            manifest = json.loads(self.members[MANIFEST].decode("utf-8"),
                                  parse_constant=_no_constant)
        except RecursionError:
            raise MemscopeError(f"{path}:{MANIFEST}: nested too deeply (not a manifest "
                                "memscope wrote)") from None
        except ValueError as exc:
            raise MemscopeError(f"{path}:{MANIFEST}: not valid JSON ({str(exc)[:120]})") \
                from None
        self.manifest = validate_manifest(manifest, f"{path}:{MANIFEST}")
        # every directory's entries, built once: listing is linear in the members
        children: Dict[str, set] = {}
        for name in self.members:
            parts = name.split("/")
            for i in range(len(parts) - 1, 0, -1):
                parent = "/".join(parts[:i])
                entries = children.get(parent)
                known = entries is not None
                if not known:
                    entries = children[parent] = set()
                entries.add(parts[i])
                if known:
                    break  # the ancestors are known already
        self.children = children
        self.dirs = children  # a name is a directory when it has entries

    def display(self, rel: str) -> str:
        return f"{self.path}:{rel}"

    def recorded(self, key: str):
        return self.manifest.get(key)  # the host facts of Root answer from it

    def read_bytes(self, rel: str, limit: Optional[int] = None) -> bytes:
        from memscope.errors import NotFound

        data = self.members.get(posixpath.normpath(rel))
        if data is None:
            raise NotFound(self.display(rel), "not in the snapshot",
                           "the snapshot was taken without it")
        return data if limit is None else data[:limit + 1]

    def exists(self, rel: str) -> bool:
        rel = posixpath.normpath(rel)
        return rel in self.members or rel in self.children

    def isdir(self, rel: str) -> bool:
        return posixpath.normpath(rel) in self.children

    def inside(self, rel: str, base: str) -> bool:
        return True  # no links in a snapshot: names are all there is

    def listdir(self, rel: str) -> List[str]:
        from memscope.errors import NotFound

        rel = posixpath.normpath(rel)
        entries = self.children.get(rel)
        if entries is None:
            raise NotFound(self.display(rel), "not in the snapshot")
        return sorted(entries)

    def subdirs(self, rel: str) -> List[str]:
        rel = posixpath.normpath(rel)
        return [n for n in self.listdir(rel) if f"{rel}/{n}" in self.children]

    def readlink(self, rel: str) -> Optional[str]:
        from memscope.sources import recorded_link

        return recorded_link(self, rel)  # links are not archived: the manifest has them


def validate_manifest(manifest, where: str) -> Dict[str, object]:
    """The manifest, every key memscope uses checked by type before use (docs/contract.md
    "Snapshots"): one line naming the key on the first that is wrong. Keys memscope does not
    know are kept unread (a newer memscope's manifest)."""
    from memscope.parsers import check_int

    def bad(key: str, why: str) -> MemscopeError:
        return MemscopeError(f"{where}: {key}: {why} (not a manifest memscope wrote)")

    if not isinstance(manifest, dict):
        raise MemscopeError(f"{where}: not a JSON object (not a manifest memscope wrote)")

    def text(key, nullable=True):
        value = manifest.get(key)
        if value is None and nullable:
            return
        if not isinstance(value, str):
            raise bad(key, f"a {type(value).__name__} where a string belongs")

    def mapping(key, check_value):
        value = manifest.get(key)
        if value is None:
            return
        if not isinstance(value, dict):
            raise bad(key, f"a {type(value).__name__} where an object belongs")
        for k, v in value.items():
            check_value(k, v)

    try:
        if "schema_version" in manifest and manifest["schema_version"] != 1:
            raise bad("schema_version", f"{str(manifest['schema_version'])[:20]!r} is not 1 "
                      "(written by another memscope?)")
        if "format" in manifest and manifest["format"] != "memscope-snapshot":
            raise bad("format", "not 'memscope-snapshot'")
        for key in ("hostname", "kernel", "taken_at", "memscope_version"):
            text(key)
        page = manifest.get("page_size")
        if page is not None:
            check_int(page, "page_size")
            if page < 512 or page > 1 << 30 or page & (page - 1):
                raise bad("page_size", f"{page} is not a page size (a power of two from "
                          "512 bytes to 1 GiB)")
        if "maps" in manifest and not isinstance(manifest["maps"], bool):
            raise bad("maps", "not true or false")
        for key in ("processes", "files"):
            check_int(manifest.get(key), key, nullable=True)

        def uid_name(k, v):
            parse_int(k, "users: uid", 1)
            if not isinstance(v, str):
                raise bad("users", f"uid {k}: a {type(v).__name__} where a user name belongs")

        def gid_name(k, v):
            parse_int(k, "groups: gid", 1)
            if not isinstance(v, str):
                raise bad("groups", f"gid {k}: a {type(v).__name__} where a group name belongs")

        def pid_exe(k, v):
            parse_int(k, "exe: pid", 1)
            if not isinstance(v, str):
                raise bad("exe", f"pid {k}: a {type(v).__name__} where a path belongs")

        def count(k, v):
            check_int(v, f"{k}")

        mapping("users", uid_name)
        mapping("exe", pid_exe)
        mapping("groups", gid_name)
        mapping("statfs", lambda k, v: check_int(v, k, nullable=True))  # null: tmpfs size=0
        mapping("statfs_dev", count)
        mapping("skipped", count)

        def path_text(k, v):
            if not isinstance(v, str):
                raise bad("skipped_first", f"{k}: a {type(v).__name__} where a path belongs")

        mapping("skipped_first", path_text)
    except ParseError as exc:
        raise MemscopeError(f"{where}: {exc.message} (not a manifest memscope wrote)") from None
    return manifest


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number memscope writes")
