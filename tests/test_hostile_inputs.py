"""Hostile inputs memscope reads (issue 10, input side): special files and symlinks under a
--root, decompression bombs, tar headers, archive listing cost, command-line memory, diff
documents and snapshot manifests, and the one integer validator. Each refusal is one line
on stderr, exit 1, and never a hang; memory is measured with getrusage in a subprocess,
never wall-clock time."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import zlib

import pytest

from conftest import FIXTURES, REPO

LIVE = FIXTURES / "this-vm-6.18.44-live"
V657 = FIXTURES / "this-vm-6.18.44-fc-v657"
MiB = 1 << 20
SECRET = "SECRET-CONTENT-4242"
ENV = dict(os.environ, PYTHONPATH=str(REPO))


def one_line_error(r, *says):
    assert r.returncode == 1, (r.returncode, r.stderr[-500:])
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("memscope: error: "), r.stderr[-500:]
    assert "Traceback" not in r.stderr
    for s in says:
        assert s in lines[0], lines[0]
    return lines[0]


def run(*args, timeout=30, cwd=None):
    """memscope in a subprocess with a short timeout: a blocked read fails the test."""
    return subprocess.run([sys.executable, "-m", "memscope", *map(str, args)], env=ENV,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO)


def peak_kib(*args):
    """memscope's peak RSS (KiB), from getrusage in a parent that does nothing else."""
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run([sys.executable, '-m', 'memscope'] + sys.argv[1:], "
            "capture_output=True, text=True)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "print(r.returncode)\n"
            "sys.stdout.write(r.stderr)")
    r = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=ENV,
                       capture_output=True, text=True, timeout=120)
    lines = r.stdout.splitlines()
    return int(lines[0]), int(lines[1]), "\n".join(lines[2:])


def baseline_kib():
    kib, code, _ = peak_kib("summary", "--root", LIVE, "--format", "json")
    assert code == 0
    return kib


@pytest.fixture
def host(tmp_path):
    dest = tmp_path / "host"
    shutil.copytree(LIVE, dest)
    (tmp_path / "outside").write_text(f"MemTotal: 1 kB\n{SECRET}: 1 kB\n")
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    (outdir / "meminfo").write_text(f"{SECRET}\n")
    return dest


# --- 1. special files under a root, and given to diff ------------------------------------


def _special(path, kind):
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        return s
    elif kind == "chr":
        os.mknod(path, 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero's numbers
    elif kind == "blk":
        os.mknod(path, 0o600 | 0o060000, os.makedev(7, 0))  # a loop device's numbers
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
@pytest.mark.parametrize("kind, word", [("fifo", "FIFO"), ("socket", "socket"),
                                        ("chr", "character device"),
                                        ("blk", "block device")])
@pytest.mark.parametrize("rel, command, required", [("proc/meminfo", ["summary"], True),
                                                    ("proc/zoneinfo", ["zones"], True),
                                                    ("proc/vmstat", ["summary"], False)])
def test_special_files_under_a_root_are_refused_unread(host, kind, word, rel, command,
                                                       required):
    (host / rel).unlink()
    keep = _special(host / rel, kind)
    try:
        if required:  # one error line, exit 1
            r = run(*command, "--root", host)
            one_line_error(r, f"{host}/{rel}", word, "not a regular file")
        else:  # an optional file (docs/contract.md "Bad files"): a note naming it, exit 0
            r = run(*command, "--root", host, "--format", "json")
            assert r.returncode == 0 and r.stderr == "", r.stderr
            notes = [n for n in json.loads(r.stdout)["notes"] if n["code"] == "file_unreadable"]
            assert notes and f"{host}/{rel}" in notes[0]["text"], notes
            assert word in notes[0]["text"] and "not a regular file" in notes[0]["text"]
    finally:
        if keep is not None:
            keep.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
@pytest.mark.parametrize("kind, word", [("fifo", "FIFO"), ("chr", "character device")])
def test_diff_refuses_a_fifo_or_a_device(tmp_path, kind, word):
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"schema_version": 1, "summary": {}}))
    special = tmp_path / "special"
    _special(special, kind)
    for args in ((special, report), (report, special)):
        r = run("diff", *args)
        one_line_error(r, str(special), word, "not a regular file")
    r = run("diff", "/dev/zero", report)
    one_line_error(r, "/dev/zero", "character device")


def test_a_fifo_archive_is_refused(tmp_path):
    fifo = tmp_path / "snap.tar.gz"
    os.mkfifo(fifo)
    r = run("summary", "--root", fifo)
    one_line_error(r, str(fifo))


# --- 2. symlinks that leave the root ------------------------------------------------------


@pytest.mark.parametrize("target", ["../../outside", "/etc/shadow", "../../../../../../etc/shadow",
                                    "../proc/../../outside", "./../../outside"])
def test_a_link_out_of_the_root_is_not_followed(host, target):
    (host / "proc/meminfo").unlink()
    os.symlink(target, host / "proc/meminfo")
    r = run("summary", "--root", host)
    line = one_line_error(r, f"{host}/proc/meminfo", "outside the --root tree")
    assert SECRET not in r.stdout + r.stderr and "root:" not in line


def test_a_linked_directory_out_of_the_root_is_not_followed(host):
    shutil.rmtree(host / "proc")
    os.symlink("../outdir", host / "proc")
    r = run("summary", "--root", host)
    one_line_error(r, "outside the --root tree")
    assert SECRET not in r.stdout + r.stderr
    (host / "proc").unlink()
    os.symlink(str(host.parent / "outdir"), host / "proc")  # absolute
    r = run("summary", "--root", host)
    one_line_error(r, "outside the --root tree")
    assert SECRET not in r.stdout + r.stderr


def test_links_inside_the_root_are_followed(host):
    (host / "proc/meminfo").rename(host / "meminfo.real")
    os.symlink("../meminfo.real", host / "proc/meminfo")
    (host / "proc/zoneinfo").rename(host / "proc/zoneinfo.real")
    os.symlink("./sub/../zoneinfo.real", host / "proc/zoneinfo")
    (host / "proc/sub").mkdir()
    r = run("summary", "--root", host, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["memory"]["total"] == 24684084 * 1024


def test_symlink_loops_are_one_line(host):
    (host / "proc/meminfo").unlink()
    os.symlink("meminfo", host / "proc/meminfo")
    one_line_error(run("summary", "--root", host), "symbolic links")
    (host / "proc/meminfo").unlink()
    os.symlink("a", host / "proc/meminfo")
    os.symlink("meminfo", host / "proc/a")
    one_line_error(run("summary", "--root", host), "symbolic links")


def test_a_cgroup_dir_linked_out_of_the_root_is_not_walked(tmp_path):
    host = tmp_path / "host"
    shutil.copytree(V657, host)
    outside = tmp_path / "elsewhere"
    shutil.copytree(host / "sys/fs/cgroup/memory/session.slice", outside)
    (outside / "build.scope/memory.stat").write_text(f"{SECRET} 1\n")
    os.symlink("../../../../../elsewhere", host / "sys/fs/cgroup/memory/evil.slice")
    r = run("cgroup", "/evil.slice", "--root", host)
    one_line_error(r)
    r = run("cgroup", "/", "--children", "--root", host, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert "/evil.slice" not in [c["path"] for c in json.loads(r.stdout)["cgroups"]]


# --- 3. decompression bombs ---------------------------------------------------------------


def _gzip_of_zeros(prefix_blocks, total_mib, members=None):
    """A gzip stream of tar headers and zeros built without inflating them: one deflated
    MiB of zeros after a full flush is repeated (each copy stands alone)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [c.compress(b"")]
    block = None
    for header, mib in prefix_blocks:
        if header:
            out.append(c.compress(header))
        out.append(c.flush(zlib.Z_FULL_FLUSH))
        if block is None:
            block = c.compress(b"\0" * MiB) + c.flush(zlib.Z_FULL_FLUSH)
        out.append(block * mib)
    out.append(c.flush())
    return b"".join(out)


def _header(name, size, kind=tarfile.REGTYPE, fmt=tarfile.USTAR_FORMAT):
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    return info.tobuf(format=fmt)


def test_a_2mib_archive_bomb_is_refused_with_bounded_memory(tmp_path):
    path = tmp_path / "bomb.tar.gz"
    parts = [(_header(f"proc/zeros{i}", 255 * MiB), 255) for i in range(8)]
    path.write_bytes(_gzip_of_zeros(parts, 0))
    assert path.stat().st_size < 3 * MiB  # 2 GiB inflated
    base = baseline_kib()
    kib, code, err = peak_kib("summary", "--root", path)
    assert code == 1 and "decompression bomb" in err, err
    assert kib < base + 64 * 1024, (base, kib)  # main: 2.4 GB


def test_a_config_gz_bomb_under_a_root_is_bounded(host):
    (host / "proc/config.gz").write_bytes(_gzip_of_zeros([(b"", 1024)], 0))  # 1 GiB
    assert (host / "proc/config.gz").stat().st_size < 2 * MiB
    base = baseline_kib()
    kib, code, err = peak_kib("summary", "--root", host, "--format", "json")
    assert code == 0, err
    assert kib < base + 40 * 1024, (base, kib)  # main: > 1 GB


def test_gunzip_capped():
    from memscope.collect.system import gunzip_capped

    good = zlib.compress(b"CONFIG_VMAP_STACK=y\n")
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    good = gz.compress(b"CONFIG_VMAP_STACK=y\n") + gz.flush()
    assert gunzip_capped(good, 100) == "CONFIG_VMAP_STACK=y\n"
    assert gunzip_capped(good, 5) is None          # past the cap: stopped, not inflated
    assert gunzip_capped(good[:10], 100) is None   # truncated
    assert gunzip_capped(b"\x1f\x8b\x08", 100) is None


# --- 4. tar headers -----------------------------------------------------------------------


def _manifest_member():
    data = b'{"hostname": "x"}'
    return _header("manifest.json", len(data)) + data + b"\0" * (-len(data) % 512)


def _write_tar_gz(path, raw):
    path.write_bytes(_gzip_of_zeros([(raw, 0)], 0) if False else
                     (lambda c: c.compress(raw) + c.flush())(zlib.compressobj(6, zlib.DEFLATED,
                                                                              31)))


@pytest.mark.parametrize("kind, says", [(tarfile.XHDTYPE, "PAX header"),
                                        (tarfile.GNUTYPE_LONGNAME, "GNU long-name"),
                                        (tarfile.GNUTYPE_LONGLINK, "GNU long-link"),
                                        (tarfile.XGLTYPE, "global PAX")])
def test_huge_extended_headers_are_refused_before_parsing(tmp_path, kind, says):
    path = tmp_path / "claims.tar.gz"
    raw = _manifest_member() + _header("././@LongHeader", 3 << 30, kind) + b"x" * 4096
    _write_tar_gz(path, raw)
    base = baseline_kib()
    kib, code, err = peak_kib("summary", "--root", path)
    assert code == 1 and says in err and "refused" in err, err
    assert len(err.splitlines()) == 1
    assert kib < base + 16 * 1024


def _pax(records: bytes):
    return _header("././@PaxHeader", len(records), tarfile.XHDTYPE) + records + \
        b"\0" * (-len(records) % 512)


def _record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n += 1
    return str(n).encode() + body


@pytest.mark.parametrize("records, says", [
    (_record(b"size", b"9" * 200_000), "PAX header"),               # CVE-2024-6232's shape
    (_record(b"size", b"9" * 30_000), "PAX size"),
    (b"0" * 50_000 + b"5 a=b\n", "PAX header record"),
    (_record(b"path", b"proc/mem\x00info"), "NUL byte"),
    (_record(b"path", b"/etc/passwd"), "absolute name"),
    (_record(b"path", b"proc/../../x"), "outside the archive"),
    (_record(b"GNU.sparse.map", b"0,1"), "sparse"),
    (b"12 path=a\n", "length does not match"),
])
def test_pax_records_are_bounded_and_checked(tmp_path, records, says):
    path = tmp_path / "pax.tar.gz"
    raw = _manifest_member() + _pax(records) + _header("proc/meminfo", 0) + b"\0" * 1024
    _write_tar_gz(path, raw)
    r = run("summary", "--root", path)
    one_line_error(r, says)


def test_pax_long_names_written_by_tarfile_are_read(tmp_path):
    """What memscope writes: PAX path records for names past 100 bytes."""
    path = tmp_path / "long.tar.gz"
    deep = "sys/fs/cgroup/memory/" + "/".join(["d" * 60] * 5)
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("manifest.json", b"{}"), ("proc/meminfo",
                                                     (LIVE / "proc/meminfo").read_bytes()),
                           (deep + "/memory.usage_in_bytes", b"4096\n"),
                           ("proc/\u00e9t\u00e9", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    from memscope.archive import ArchiveRoot

    root = ArchiveRoot(str(path))
    assert root.read_text(deep + "/memory.usage_in_bytes") == "4096\n"
    assert "\u00e9t\u00e9" in root.listdir("proc")


@pytest.mark.parametrize("content, says", [
    (b"\x1f\x8b\x08", "ends early"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", "ends early"),
    (b"\x1f\x8b\x08\x00garbage-after-the-gzip-magic-xxxxxxxxxxxxxxxx", "corrupt gzip"),
    (b"", "empty file"),
    (b"x" * 1024, "checksum"),
    (b"BZh91AY&SY" + b"\0" * 100, "bzip2"),
    (b"\xfd7zXZ\x00" + b"\0" * 100, "xz"),
])
def test_messages_say_what_happened(tmp_path, content, says):
    path = tmp_path / "s.tar.gz"
    path.write_bytes(content)
    one_line_error(run("summary", "--root", path), says)


def test_truncated_member_data_is_said(tmp_path):
    path = tmp_path / "t.tar.gz"
    raw = _manifest_member() + _header("proc/meminfo", 100_000) + b"M" * 1000
    _write_tar_gz(path, raw)
    one_line_error(run("summary", "--root", path), "truncated")


def test_member_size_caps_hold_whatever_the_header_says(tmp_path):
    path = tmp_path / "big.tar.gz"
    raw = _manifest_member() + _header("proc/meminfo", 300 * MiB) + b"M" * 1000
    _write_tar_gz(path, raw)
    one_line_error(run("summary", "--root", path), "more than", "refused")


# --- 5. listing an archive is linear --------------------------------------------------------


def _cgroup_snapshot(path, n):
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("manifest.json", b"{}")
        add("proc/meminfo", (LIVE / "proc/meminfo").read_bytes())
        for i in range(n):
            for leaf in ("memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat"):
                add(f"sys/fs/cgroup/memory/s/c{i}/{leaf}", b"0\n" if "stat" not in leaf
                    else b"cache 0\nrss 0\n")


def _walk_cost(path):
    """Line events run inside memscope while every directory of the archive is listed: an
    operation count, not a time."""
    from memscope.archive import ArchiveRoot

    root = ArchiveRoot(str(path))
    count = [0]

    def tracer(frame, event, arg):
        if frame.f_code.co_filename.startswith(str(REPO / "memscope")):
            count[0] += 1
            return tracer
        return None

    sys.settrace(tracer)
    try:
        stack = ["sys"]
        while stack:
            rel = stack.pop()
            root.listdir(rel)
            stack.extend(f"{rel}/{d}" for d in root.subdirs(rel))
    finally:
        sys.settrace(None)
    return count[0]


def test_listing_an_archive_is_linear(tmp_path):
    small, large = tmp_path / "small.tar.gz", tmp_path / "large.tar.gz"
    _cgroup_snapshot(small, 500)
    _cgroup_snapshot(large, 2000)
    a, b = _walk_cost(small), _walk_cost(large)
    assert b < 5 * a, (a, b)  # linear: ~4x; the quadratic listing of main: ~16x


# --- 6. command lines --------------------------------------------------------------------


def test_command_lines_are_capped_each_and_in_total(tmp_path):
    host = tmp_path / "host"
    shutil.copytree(LIVE, host)
    src = V657 / "proc/19124"
    big = tmp_path / "cmdline"
    big.write_bytes((b"A" * 1023 + b"\0") * (64 * 1024))  # 64 MiB
    pids = []
    for i in range(16):
        pid = 30000 + i
        shutil.copytree(src, host / f"proc/{pid}")
        (host / f"proc/{pid}/cmdline").unlink(missing_ok=True)
        os.link(big, host / f"proc/{pid}/cmdline")
        pids.append(pid)
    base = baseline_kib()
    kib, code, err = peak_kib("top", "--root", host, "--format", "json")
    assert code == 0, err
    assert kib < base + 64 * 1024, (base, kib)  # main: 1.2 GB
    r = run("top", "--root", host, "--format", "json")
    from memscope.collect.procs import CMDLINE_MAX

    for p in json.loads(r.stdout)["processes"]:
        assert p["cmdline"].endswith(" [cut]")
        assert len(p["cmdline"]) <= CMDLINE_MAX + len(" [cut]")


def test_the_total_cap_cuts_harder_past_it(tmp_path, monkeypatch):
    from memscope.collect import procs
    from memscope.sources import Root

    monkeypatch.setattr(procs, "CMDLINE_TOTAL", 300 << 10)
    host = tmp_path / "host"
    for pid in range(1, 6):
        (host / f"proc/{pid}").mkdir(parents=True)
        (host / f"proc/{pid}/cmdline").write_bytes(b"x" * (200 << 10))
    root = Root(str(host))
    sizes = [len(procs.read_cmdline(root, f"proc/{pid}")) for pid in range(1, 6)]
    cut = len(procs.CMDLINE_CUT)
    assert sizes == [procs.CMDLINE_MAX + cut] * 3 + [procs.CMDLINE_AFTER_TOTAL + cut] * 2


# --- 7. diff documents --------------------------------------------------------------------

REPORT = {"schema_version": 1, "source": {"taken_at": "2026-11-22T12:00:00Z"},
          "summary": {"memory": {"used": 100}}, "top": {"groups": [{"key": "a", "pss": 1}]},
          "cgroups": [{"path": "/", "usage": 5}]}


def _doc(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text) if isinstance(text, str) else p.write_bytes(text)
    return p


def test_yaml_alias_bomb_is_refused_with_bounded_memory(tmp_path):
    lines = ["schema_version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("summary: {memory: *a9}")
    bomb = _doc(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    good = _doc(tmp_path, "good.json", json.dumps(REPORT))
    base = baseline_kib()
    kib, code, err = peak_kib("diff", good, bomb)
    assert code == 1 and "anchors and aliases" in err, err
    assert kib < base + 16 * 1024


@pytest.mark.parametrize("name, text, says", [
    ("deep.yaml", "schema_version: 1\nsummary: " + "[" * 200 + "]" * 200 + "\n", "nested"),
    ("deeper.yaml", "schema_version: 1\nsummary: " + "[" * 5000 + "]" * 5000 + "\n", "YAML"),
    ("deepmap.yaml", "schema_version: 1\nsummary:\n" + "".join(
        " " * i + f"k{i}:\n" for i in range(60)) + " " * 60 + "x: 1\n", "nested"),
    ("deep.json", '{"schema_version": 1, "summary": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nested"),
    ("deep2.json", '{"schema_version": 1, "summary": ' + '{"a":' * 40 + "1" + "}" * 40 + "}",
     "nested"),
    ("nan.json", '{"schema_version": 1, "summary": {"memory": {"used": NaN}}}', "NaN"),
    ("inf.json", '{"schema_version": 1, "summary": {"memory": {"used": Infinity}}}',
     "Infinity"),
    ("bigf.json", '{"schema_version": 1, "summary": {"memory": {"used": 1e999}}}',
     "out of range"),
    ("nan.yaml", "schema_version: 1\nsummary: {memory: {used: .nan}}\n", "not a number"),
    ("inf.yaml", "schema_version: 1\nsummary: {memory: {used: -.inf}}\n", "not a number"),
    ("bigint.json", '{"schema_version": 1, "summary": {"memory": {"used": 1' + "0" * 30 + "}}}",
     "2^64"),
    ("bigint.yaml", "schema_version: 1\nsummary: {memory: {used: 1" + "0" * 30 + "}}\n", "2^64"),
    ("huge.json", '{"schema_version": 1, "x": 1' + "0" * 5000 + "}", "not valid JSON"),
    ("list.json", '{"schema_version": 1, "summary": []}', "summary: a list where an object"),
    ("str.json", '{"schema_version": 1, "summary": {"memory": {"used": "100"}}}',
     "summary.memory.used: a str where an integer"),
    ("bool.json", '{"schema_version": 1, "summary": {"memory": {"used": true}}}',
     "summary.memory.used: a bool"),
    ("groups.json", '{"schema_version": 1, "summary": {}, "top": {"groups": {"a": 1}}}',
     "top.groups: a dict where a list"),
    ("group.json", '{"schema_version": 1, "summary": {}, "top": {"groups": [{"key": [1]}]}}',
     "top.groups[0].key"),
    ("cg.json", '{"schema_version": 1, "summary": {}, "cgroups": [{"path": "/", "usage": "x"}]}',
     "cgroups[0].usage"),
    ("brk.json", '{"schema_version": 1, "summary": {"breakdown": [1]}}', "summary.breakdown[0]"),
    ("v999.json", '{"schema_version": 999, "summary": {}}', "newer memscope"),
    ("vabc.json", '{"schema_version": "abc", "summary": {}}', "schema_version 'abc' is not 1"),
    ("vbool.yaml", "schema_version: true\nsummary: {}\n", "schema_version True is not 1"),
    ("list.yaml", "- 1\n- 2\n", "no schema_version"),
    ("date.yaml", "schema_version: 1\nsummary: {}\nsource: {taken_at: 2026-01-01}\n", "date"),
    ("key.yaml", "schema_version: 1\nsummary: {1: 3}\n", "not a string"),
    ("unhashable.yaml", "schema_version: 1\nsummary: {[1, 2]: 3}\n", "key that is an object"),
    ("merge.yaml", "schema_version: 1\nsummary: {<<: {a: 1}}\n", "merge' is refused"),
    ("set.yaml", "schema_version: 1\nsummary: !!set {a: null}\n", "set' is refused"),
    # !!binary is how memscope writes a name that is not UTF-8: read back as that name (a
    # str), so where a number belongs it is a str, refused as any string is
    ("binary.yaml", "schema_version: 1\nsummary: {memory: {used: !!binary aGVsbG8=}}\n",
     "summary.memory.used: a str where an integer"),
    ("tag.yaml", "schema_version: 1\nsummary: !!python/object:os.system {}\n", "is refused"),
    ("tag2.yaml", "schema_version: 1\nsummary: !!python/name:os.system ''\n", "is refused"),
    ("bad.utf8", b"schema_version: 1\nsummary: {}\n\xff\n", "not UTF-8"),
])
def test_diff_documents_are_checked_before_use(tmp_path, name, text, says):
    bad = _doc(tmp_path, name, text)
    good = _doc(tmp_path, "good.json", json.dumps(REPORT))
    for args in ((bad, good), (good, bad)):
        one_line_error(run("diff", *args), str(bad), says)


@pytest.mark.parametrize("doc, kind", [
    ({"schema_version": 1, "memory": {}, "breakdown": []}, "a summary"),
    ({"schema_version": 1, "processes": [], "totals": {}}, "a top"),
    ({"schema_version": 1, "processes": []}, "a proc"),
    ({"schema_version": 1, "cgroups": []}, "a cgroup"),
    ({"schema_version": 1, "zones": [], "tunables": {}}, "a zones"),
    ({"schema_version": 1, "system": [], "programs": []}, "a diff"),
    ({"schema_version": 1, "other": 1}, "not a"),
])
def test_diff_refuses_a_document_that_is_not_a_report(tmp_path, doc, kind):
    bad = _doc(tmp_path, "doc.json", json.dumps(doc))
    good = _doc(tmp_path, "good.json", json.dumps(REPORT))
    one_line_error(run("diff", bad, good), f"is {kind} memscope document, not a report")


def test_diff_warns_when_the_second_report_is_older(tmp_path):
    later = dict(REPORT, source={"taken_at": "2026-11-22T13:00:00Z"})
    old = _doc(tmp_path, "old.json", json.dumps(REPORT))
    new = _doc(tmp_path, "new.json", json.dumps(later))
    r = run("diff", new, old)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("memscope: warning: ") and "is older than" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    r = run("diff", old, new)
    assert r.returncode == 0 and r.stderr == ""


def test_a_real_report_still_diffs(tmp_path):
    out = tmp_path / "r.yaml"
    r = run("report", "--root", V657, "--format", "yaml", "-o", out)
    assert r.returncode == 0, r.stderr
    r = run("diff", out, out, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["programs"] == []


# --- 8. snapshot manifests ----------------------------------------------------------------


def _snapshot(path, manifest: bytes):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("manifest.json", manifest),
                           ("proc/meminfo", (LIVE / "proc/meminfo").read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("manifest, says", [
    ({"page_size": 0}, "page_size: 0 is not a page size"),
    ({"page_size": -4096}, "page_size: -4096 is negative"),
    ({"page_size": 4095}, "not a page size"),
    ({"page_size": "4096"}, "page_size: '4096' is not an integer"),
    ({"page_size": 4096.0}, "is not an integer"),
    ({"page_size": True}, "is not an integer"),
    ({"page_size": 10 ** 30}, "larger than 2^64"),
    ({"users": []}, "users: a list where an object belongs"),
    ({"users": {"0": 0}}, "users: uid 0: a int where a user name"),
    ({"users": {"root": "root"}}, "users: uid: 'root' is not a number"),
    ({"users": {"\u00b2": "x"}}, "is not a number"),
    ({"users": {"-1": "x"}}, "is negative"),
    ({"exe": {"1": ["x"]}}, "exe: pid 1: a list"),
    ({"exe": "x"}, "exe: a str where an object"),
    ({"statfs": {"/dev/shm": "1"}}, "is not an integer"),
    ({"taken_at": 1700000000}, "taken_at: a int where a string"),
    ({"hostname": ["x"]}, "hostname: a list"),
    ({"schema_version": 999}, "schema_version"),
    ({"schema_version": "abc"}, "schema_version"),
    ({"format": "zip"}, "format"),
    ({"maps": "yes"}, "maps: not true or false"),
    ({"processes": -1}, "processes: -1 is negative"),
    ([1, 2], "not a JSON object"),
])
def test_manifests_are_checked_before_use(tmp_path, manifest, says):
    path = tmp_path / "m.tar.gz"
    _snapshot(path, json.dumps(manifest).encode())
    for command in (["summary"], ["top"]):
        one_line_error(run(*command, "--root", path), "manifest.json", says)


@pytest.mark.parametrize("raw, says", [
    (b'{"users": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    (b'{"page_size": NaN}', "NaN"),
    (b'{"page_size": 1' + b"0" * 5000 + b"}", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_manifest_json_is_bounded(tmp_path, raw, says):
    path = tmp_path / "m.tar.gz"
    _snapshot(path, raw)
    one_line_error(run("summary", "--root", path), "manifest.json", says)


# --- 9. the one integer validator ---------------------------------------------------------

NON_ASCII_DIGITS = ["\u00b2", "\u0661\u0662", "\uff11\uff12", "1\u0301", "\u2028", "\x85",
                    "\U0001d7d9", "\u2460", "\u00bd"]


@pytest.mark.parametrize("value", NON_ASCII_DIGITS + ["+1", " 1", "1_000", "0x10", "1e3",
                                                      "1.0", "", "-", "--1", "1-"])
def test_parse_int_takes_ascii_digits_only(value):
    from memscope.errors import ParseError
    from memscope.parsers import parse_int

    with pytest.raises(ParseError) as info:
        parse_int(value, "field", 7)
    assert info.value.line == 7 and "field" in info.value.message
    with pytest.raises(ParseError):
        parse_int(value, "field", 7, signed=True)


def test_parse_int_sign_and_magnitude():
    from memscope.errors import ParseError
    from memscope.parsers import parse_int

    assert parse_int("18446744073709551615", "f", 1) == 2 ** 64 - 1
    assert parse_int("-42", "f", 1, signed=True) == -42
    assert parse_int("00400000", "f", 1, base=16) == 0x400000
    for value, says in (("-1", "negative"), ("18446744073709551616", "2^64"),
                        ("1" * 400, "2^64"), ("9" * 5000, "2^64"),
                        ("0" * 30 + "1", None)):
        if says is None:
            assert parse_int(value, "f", 1) == 1
            continue
        with pytest.raises(ParseError) as info:
            parse_int(value, "f", 1)
        assert says in info.value.message and len(str(info.value)) < 300


def _put(host, rel, text):
    path = host / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def full_host(tmp_path):
    """The kernel-views capture with a process and a v1 cgroup tree."""
    dest = tmp_path / "host"
    shutil.copytree(FIXTURES / "this-vm-6.18.44-kernel-views", dest)
    for rel in ("proc/vmstat", "proc/pressure/memory"):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(LIVE / rel, dest / rel)
    shutil.copytree(V657 / "proc/19124", dest / "proc/19124")
    (dest / "proc/19124/cmdline").write_bytes(b"python3\x00-c\x00work\x00")
    (dest / "proc/19124/oom_score").write_text("667\n")
    shutil.copy(V657 / "proc/self/cgroup", dest / "proc/self/cgroup")
    shutil.copytree(V657 / "sys/fs/cgroup", dest / "sys/fs/cgroup")
    (dest / "sys/fs/cgroup/memory/session.slice/build.scope/cgroup.procs").write_text(
        "19124\n")
    for size in ("2048kB", "1048576kB"):
        _put(dest, f"sys/kernel/mm/hugepages/hugepages-{size}/nr_hugepages", "0\n")
    return dest


SCOPE = "sys/fs/cgroup/memory/session.slice/build.scope"
# (file, how to damage it, command): every numeric field memscope reads from a file
SITES = [
    ("proc/19124/oom_score", lambda t, d: d + "\n", ["proc", "19124"]),
    (f"{SCOPE}/cgroup.procs", lambda t, d: d + "\n", ["cgroup", "/session.slice/build.scope"]),
    (f"{SCOPE}/memory.usage_in_bytes", lambda t, d: d + "\n",
     ["cgroup", "/session.slice/build.scope"]),
    (f"{SCOPE}/memory.stat", lambda t, d: t.replace(" ", " " + d, 1),
     ["cgroup", "/session.slice/build.scope"]),
    ("proc/sys/vm/min_free_kbytes", lambda t, d: d + "\n", ["zones"]),
    ("proc/sys/vm/watermark_scale_factor", lambda t, d: d + "\n", ["zones"]),
    ("proc/sys/vm/lowmem_reserve_ratio", lambda t, d: "256 " + d + "\n", ["zones"]),
    ("proc/zoneinfo", lambda t, d: t.replace("Node 0", "Node " + d, 1), ["zones"]),
    ("proc/zoneinfo", lambda t, d: t.replace("nr_free_pages ", "nr_free_pages " + d, 1),
     ["zones"]),
    ("proc/buddyinfo", lambda t, d: t.replace("Node 0", "Node " + d, 1), ["zones"]),
    ("proc/meminfo", lambda t, d: t.replace("MemFree:", "MemFree: " + d, 1), ["summary"]),
    ("proc/vmallocinfo", lambda t, d: t.replace("pages=", "pages=" + d, 1), ["vmalloc"]),
    ("proc/vmallocinfo", lambda t, d: t.replace(" ", " " + d, 1), ["vmalloc"]),
    ("proc/19124/status", lambda t, d: t.replace("VmRSS:\t", "VmRSS:\t" + d, 1),
     ["proc", "19124"]),
    ("proc/19124/status", lambda t, d: t.replace("Uid:\t", "Uid:\t" + d, 1), ["proc", "19124"]),
    ("proc/19124/smaps_rollup", lambda t, d: t.replace("Rss:", "Rss: " + d, 1),
     ["proc", "19124"]),
    ("proc/19124/smaps", lambda t, d: t.replace(" ", " " + d, 1), ["proc", "19124", "--maps"]),
    ("proc/slabinfo", lambda t, d: t.replace(" : tunables", d + " : tunables", 1), ["slab"]),
    ("proc/sysvipc/shm", lambda t, d: t + "  " + d + " 1 600 1 1 1 1 0 0 0 0 0 0 0 0 0\n",
     ["shmem"]),
    ("proc/pressure/memory", lambda t, d: t.replace("total=", "total=" + d, 1), ["summary"]),
]
DAMAGE = NON_ASCII_DIGITS[:4] + ["9" * 310, "9" * 5000, "-7"]


@pytest.mark.parametrize("rel, damage, command", SITES,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(SITES)])
def test_every_numeric_field_is_validated(full_host, rel, damage, command):
    from test_hostile_matrix import invoke

    path = full_host / rel
    if not path.exists():
        pytest.skip(f"no {rel} in the fixture")
    original = path.read_text()
    for d in DAMAGE:
        path.write_text(damage(original, d))
        for fmt in ("json", "table"):
            code, out, err = invoke([*command, "--root", full_host, "--format", fmt])
            what = f"{rel} {d[:10]!r} {fmt}: {code} {err[-300:]}"
            assert code in (0, 1), what
            assert "Traceback" not in err and "internal error" not in err, what
            if code == 1:
                assert len(err.splitlines()) == 1, what
                assert str(full_host) in err or "cgroup" in err, what
            if d.startswith("9" * 300):
                assert "9" * 300 not in out  # never shown as a number
        path.write_text(original)


@pytest.mark.parametrize("name", ["\u00b2", "\u0661\u0662", "\uff11", "0123", "9" * 200, "-1"])
def test_odd_proc_entries_are_not_processes(full_host, name):
    from test_hostile_matrix import invoke

    try:
        shutil.copytree(full_host / "proc/19124", full_host / "proc" / name)
    except OSError:
        pytest.skip("name too long for this filesystem")
    code, out, err = invoke(["top", "--root", full_host, "--format", "json"])
    assert code == 0, err
    assert [p["pid"] for p in json.loads(out)["processes"]] == [19124]


def test_hugepage_directory_names_are_validated(full_host):
    from test_hostile_matrix import invoke

    _put(full_host, "sys/kernel/mm/hugepages/hugepages-\u00b2kB/nr_hugepages", "1\n")
    meminfo = full_host / "proc/meminfo"
    meminfo.write_text("".join(line for line in meminfo.read_text().splitlines(True)
                               if not line.startswith("Hugetlb:")))
    # sysfs hugepages are optional for summary: the figure is null with a note naming the
    # directory (docs/contract.md "Bad files"), never a sum that skipped a size
    code, out, err = invoke(["summary", "--root", full_host, "--format", "json"])
    assert code == 0, err
    doc = json.loads(out)
    notes = [n["text"] for n in doc["notes"] if n["code"] == "file_malformed"]
    assert notes and "hugepages-\u00b2kB" in notes[0] and "not a number" in notes[0], notes


def test_a_large_yaml_report_costs_a_small_multiple_of_its_size(tmp_path):
    import yaml

    doc = dict(REPORT, top={"groups": [{"key": f"prog{i}", "pss": i, "rss": i, "uss": i,
                                        "count": 1, "swap": 0} for i in range(20_000)]})
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(doc))
    size_kib = path.stat().st_size // 1024
    base = baseline_kib()
    kib, code, err = peak_kib("diff", path, path, "--format", "json")
    assert code == 0, err
    # built from parser events, not a composed node graph (main: ~85x the input)
    assert kib - base < 40 * size_kib, (base, kib, size_kib)


def _small_snapshot_bytes(compress):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if compress else "w",
                      format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("manifest.json", b'{"page_size": 4096, "users": {"0": "root"}}'),
                           ("proc/meminfo", (LIVE / "proc/meminfo").read_bytes()[:600]),
                           ("sys/fs/cgroup/" + "x" * 120 + "/memory.current", b"4096\n"),
                           ("proc/\u00e9", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("compress", [False, True])
def test_mutated_archives_raise_only_memscope_errors(tmp_path, compress):
    """Bit flips, truncations and spliced bytes anywhere in an archive (headers, PAX
    records, gzip framing): a memscope error or a readable root, nothing else."""
    import random

    from memscope.archive import ArchiveRoot
    from memscope.errors import MemscopeError

    original = _small_snapshot_bytes(compress)
    rng = random.Random(compress)
    path = tmp_path / "m.tar"
    for _ in range(400):
        data = bytearray(original)
        kind = rng.randrange(4)
        if kind == 0:
            for _ in range(rng.randrange(1, 6)):
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data = data[:rng.randrange(len(data))]
        elif kind == 2:
            i = rng.randrange(len(data))
            data[i:i] = bytes(rng.choice([b"\0" * 512, b"9" * 300, "\u00b2".encode(),
                                          b"\xff" * 7, b" "]))
        else:
            i = rng.randrange(len(data))
            data[i:i + 12] = b"77777777777\0"
        path.write_bytes(bytes(data))
        try:
            ArchiveRoot(str(path))
        except MemscopeError as exc:
            assert "\n" not in str(exc)
