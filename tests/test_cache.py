"""`memscope cache`: page-cache residency of files, against the construction and against
util-linux fincore on the same files, on this live kernel.

Residency is built, not hoped for: a file written then fsync'ed is wholly cached and clean;
POSIX_FADV_DONTNEED on a range drops those (clean) pages; a hole in a sparse file holds no
page. DAMON on this machine pages idle unmapped page cache out after about a minute, so each
test measures within seconds of building (and the --procs test keeps its file mapped).

The mincore fallback is forced with MEMSCOPE_CACHE_METHOD=mincore (an environment variable
read only by collect/pagecache.py, for tests).
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import socket
import stat
import subprocess

import pytest
import yaml

from conftest import run_memscope, unprivileged_runner

PAGE = mmap.PAGESIZE
MIB = 1024 * 1024
FINCORE = shutil.which("fincore")
needs_fincore = pytest.mark.skipif(FINCORE is None, reason="fincore (util-linux) missing")


def cachestat_available() -> bool:
    from memscope.collect.pagecache import Meter

    return Meter().method == "cachestat"


needs_cachestat = pytest.mark.skipif(not cachestat_available(),
                                     reason="this kernel has no cachestat (Linux 6.5+)")
METHODS = ["cachestat", "mincore"]


def method_env(method):
    return {"MEMSCOPE_CACHE_METHOD": method} if method == "mincore" else {}


def cache_json(*args, method="cachestat", **kw):
    r = run_memscope("cache", *args, "--format", "json", env=method_env(method), **kw)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["source"] == method
    return doc, r.stderr


def by_path(doc):
    return {f["path"]: f for f in doc["files"]}


def fincore(*paths):
    """{path: resident bytes} as fincore prints them (--bytes --raw)."""
    r = subprocess.run([FINCORE, "--bytes", "--raw", "--noheadings", "-o", "RES,FILE",
                        *map(str, paths)], capture_output=True, text=True, check=True)
    out = {}
    for line in r.stdout.splitlines():
        res, name = line.split(" ", 1)
        out[name] = int(res)
    return out


def write_clean(path, size, data=b"m"):
    """A file of ``size`` bytes, written and fsync'ed: every page cached, none dirty."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        chunk = data * (64 * 1024)
        left = size
        while left:
            left -= os.write(fd, chunk[:min(left, len(chunk))])
        os.fsync(fd)
    finally:
        os.close(fd)


class held:
    """Keep files resident while a test measures them: each mapped and every page read.
    Mapped page cache is not paged out by this machine's DAMON scheme, which reclaims idle
    *unmapped* cache (and any reclaim under load could take a page of a file merely written)."""

    def __init__(self, paths):
        self.maps = []
        for path in paths:
            with open(path, "rb") as f:
                m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ)
            for off in range(0, len(m), PAGE):
                m[off]
            self.maps.append(m)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for m in self.maps:
            m.close()


def drop(path, offset=0, length=0):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def pages(n_bytes):
    return -(-n_bytes // PAGE) * PAGE


# ---------------------------------------------------------------------------------------
# Known residency, to the byte, against the construction and fincore


@pytest.fixture
def known_files(tmp_path):
    """{path: expected cached bytes}: whole, partly dropped, wholly dropped, unaligned,
    sparse, empty."""
    expected = {}
    whole = tmp_path / "whole"
    write_clean(whole, 4 * MIB)
    expected[str(whole)] = 4 * MIB

    parts = tmp_path / "parts"
    write_clean(parts, 4 * MIB)
    drop(parts, 0, MIB)               # first MiB dropped
    drop(parts, 2 * MIB, 512 * 1024)  # and half a MiB in the middle
    expected[str(parts)] = 4 * MIB - MIB - 512 * 1024

    gone = tmp_path / "gone"
    write_clean(gone, MIB)
    drop(gone)
    expected[str(gone)] = 0

    odd = tmp_path / "odd"
    write_clean(odd, 3 * PAGE + 17)  # the last page, partly past the end, is cached whole
    expected[str(odd)] = 4 * PAGE

    sparse = tmp_path / "sparse"
    fd = os.open(sparse, os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, 64 * MIB)
    os.pwrite(fd, b"x" * PAGE, 0)
    os.pwrite(fd, b"y" * PAGE, 32 * MIB)
    os.fsync(fd)
    os.close(fd)
    expected[str(sparse)] = 2 * PAGE  # holes hold no page until read

    empty = tmp_path / "empty"
    empty.touch()
    expected[str(empty)] = 0

    # bigger than one mincore window (1 GiB): three mappings, pages in the second and third
    huge = tmp_path / "huge"
    fd = os.open(huge, os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, 3 * 1024 * MIB + 5)
    os.pwrite(fd, b"h" * PAGE, 1024 * MIB + 8 * PAGE)
    os.pwrite(fd, b"h", 3 * 1024 * MIB + 4)  # the last, partial page
    os.fsync(fd)
    os.close(fd)
    expected[str(huge)] = 2 * PAGE
    return expected


@needs_fincore
@pytest.mark.parametrize("method", METHODS)
def test_residency_equals_construction_and_fincore(known_files, method):
    if method == "cachestat" and not cachestat_available():
        pytest.skip("no cachestat on this kernel")
    doc, _ = cache_json(*known_files, "--top", "0", method=method)
    theirs = fincore(*known_files)
    got = by_path(doc)
    for path, expected in known_files.items():
        assert got[path]["cached"] == expected, path
        assert got[path]["cached"] == theirs[path], path
        assert got[path]["size"] == os.stat(path).st_size
    assert doc["totals"]["cached"] == sum(known_files.values())
    assert doc["totals"]["files"] == len(known_files)
    assert doc["skipped"] == []
    if method == "mincore":
        for f in doc["files"]:
            assert f["dirty"] is f["writeback"] is f["evicted"] is None
            assert f["recently_evicted"] is None
        assert doc["totals"]["dirty"] is None and "mincore" in \
            [n["code"] for n in doc["notes"]]
    else:
        assert all(f["dirty"] == 0 for f in doc["files"])  # fsync'ed


@needs_fincore
@pytest.mark.parametrize("method", METHODS)
def test_pages_read_back_match_fincore(tmp_path, method):
    """Pages brought in by reads (readahead off: POSIX_FADV_RANDOM), compared with fincore
    on the same files in the same second."""
    if method == "cachestat" and not cachestat_available():
        pytest.skip("no cachestat on this kernel")
    paths = []
    for i in range(4):
        p = tmp_path / f"read{i}"
        write_clean(p, 2 * MIB)
        drop(p)
        fd = os.open(p, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        for page in range(0, 512, 3 + i):
            os.pread(fd, PAGE, page * PAGE)
        os.close(fd)
        paths.append(str(p))
    doc, _ = cache_json("--recursive", tmp_path, "--top", "0", method=method)
    theirs = fincore(*paths)
    got = by_path(doc)
    for p in paths:
        assert got[p]["cached"] == theirs[p] > 0
    assert doc["totals"]["cached"] == sum(theirs.values())


@needs_cachestat
def test_fresh_writes_are_dirty(tmp_path):
    """Written, not yet synced: every cached page is dirty or already under writeback.
    (The flusher may write the file back before memscope looks, when other work on the
    machine crosses the dirty thresholds: then write it again, a few times at most.)"""
    path = tmp_path / "fresh"
    for _attempt in range(5):
        with open(path, "wb") as f:
            f.write(b"d" * (MIB + 100))
        doc, _ = cache_json(path)
        rec = doc["files"][0]
        assert rec["cached"] == pages(MIB + 100)
        assert rec["dirty"] + rec["writeback"] <= rec["cached"]
        if rec["dirty"] > 0 and rec["dirty"] + rec["writeback"] == rec["cached"]:
            break
    assert rec["dirty"] + rec["writeback"] == rec["cached"]
    assert rec["dirty"] > 0
    assert doc["totals"]["dirty"] == rec["dirty"]


@needs_cachestat
def test_dontneed_drops_without_a_trace_but_reclaim_leaves_evicted(tmp_path):
    """fadvise DONTNEED invalidates clean pages: they leave no shadow entry, so cachestat
    counts them neither cached nor evicted (mm/truncate.c: mapping_evict_folio ->
    remove_mapping, not reclaimed). Reclaim does leave one (mm/vmscan.c __remove_mapping,
    reclaimed: workingset_eviction): MADV_PAGEOUT over a mapping of the file reclaims its
    pages, and cachestat then counts them evicted, and recently evicted (just now). Dirty
    pages are not dropped by DONTNEED: it starts their writeback instead."""
    dropped = tmp_path / "dropped"
    write_clean(dropped, MIB)
    drop(dropped)
    reclaimed = tmp_path / "reclaimed"
    size = MIB
    fd = os.open(reclaimed, os.O_RDWR | os.O_CREAT, 0o644)
    for _ in range(size // PAGE):
        os.write(fd, b"r" * PAGE)
    os.fsync(fd)
    with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ) as m:
        sum(m[i] for i in range(0, size, PAGE))  # map every page, then page them out
        m.madvise(getattr(mmap, "MADV_PAGEOUT", 21), 0, size)
    os.close(fd)
    dirty = tmp_path / "dirty"
    with open(dirty, "wb") as f:
        f.write(b"w" * MIB)
    drop(dirty)
    doc, _ = cache_json(dropped, reclaimed, dirty)
    got = by_path(doc)
    assert got[str(dropped)]["cached"] == 0 and got[str(dropped)]["evicted"] == 0
    r = got[str(reclaimed)]
    if r["cached"] == size:
        pytest.skip("MADV_PAGEOUT reclaimed nothing here")
    assert r["evicted"] > 0
    assert r["cached"] + r["evicted"] == size
    assert 0 <= r["recently_evicted"] <= r["evicted"]
    d = got[str(dirty)]
    assert d["cached"] == MIB  # still there: DONTNEED does not drop dirty pages
    assert d["dirty"] + d["writeback"] <= d["cached"]
    assert d["evicted"] == 0


def test_mincore_path_directly(tmp_path):
    """The fallback, called as the command calls it: an empty file (no mapping can be
    made), a file with holes dropped, a file bigger than one mapping window is not needed."""
    from memscope.collect.pagecache import Meter, open_file

    meter = Meter("mincore")
    assert meter.method == "mincore"
    full = tmp_path / "full"
    write_clean(full, MIB)
    drop(full, 0, 256 * 1024)
    empty = tmp_path / "empty"
    empty.touch()
    for path, expected in ((full, MIB - 256 * 1024), (empty, 0)):
        fd = open_file(str(path))
        try:
            assert meter.measure(fd, os.fstat(fd)) == (expected, None, None, None, None)
        finally:
            os.close(fd)


def test_mincore_on_a_file_without_mmap_is_skipped_with_the_reason():
    """sysfs attributes have a size (a page) and no mmap: mincore can't be asked (ENODEV);
    skipped, named, not fatal. A procfs file has size 0: nothing to map, 0 cached."""
    sysfs = "/sys/kernel/mm/transparent_hugepage/enabled"
    if not os.path.exists(sysfs):
        pytest.skip(f"{sysfs} is missing")
    doc, err = cache_json(sysfs, "/proc/self/status", method="mincore")
    assert [(f["path"], f["size"], f["cached"]) for f in doc["files"]] == \
        [("/proc/self/status", 0, 0)]
    assert doc["skipped"] == [{"path": sysfs, "reason": "cannot be mapped to ask mincore "
                               "(no such device)"}]
    assert "1 file(s) could not be measured" in err


@needs_cachestat
def test_measuring_reads_nothing_and_leaves_atime(tmp_path):
    """Open, cachestat/mincore, close: no page comes in and atime does not move."""
    path = tmp_path / "cold"
    write_clean(path, MIB)
    drop(path)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    for method in METHODS:
        doc, _ = cache_json(path, method=method)
        assert doc["files"][0]["cached"] == 0
    assert os.stat(path).st_atime == 1_000_000_000


# ---------------------------------------------------------------------------------------
# Trees: special files, symlinks, loops, rankings and directory totals


@pytest.fixture
def hostile_tree(tmp_path):
    """A tree with every kind of entry, and a directory outside it that links point to."""
    tree = tmp_path / "tree"
    outside = tmp_path / "outside"
    (tree / "sub" / "deep").mkdir(parents=True)
    outside.mkdir()
    write_clean(outside / "secret", MIB)
    write_clean(tree / "a", 3 * PAGE)
    write_clean(tree / "sub" / "b", 5 * PAGE)
    write_clean(tree / "sub" / "deep" / "c", 7 * PAGE)
    (tree / "empty").touch()
    fd = os.open(tree / "sparse", os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, 16 * MIB)
    os.pwrite(fd, b"s", 8 * MIB)
    os.fsync(fd)
    os.close(fd)
    os.mkfifo(tree / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tree / "sock"))
    os.mknod(tree / "chardev", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.mknod(tree / "blockdev", stat.S_IFBLK | 0o600, os.makedev(7, 0))
    os.symlink("..", tree / "sub" / "deep" / "up")           # a loop to an ancestor
    os.symlink("self", tree / "self")                         # a link to itself
    os.symlink("ping", tree / "pong")
    os.symlink("pong", tree / "ping")                         # two links to each other
    os.symlink(outside, tree / "out")                         # a directory out of the tree
    os.symlink(outside / "secret", tree / "secret")           # a file out of the tree
    os.symlink("a", tree / "alias")                           # a file inside, again
    os.symlink("nowhere", tree / "dangling")
    os.link(tree / "a", tree / "sub" / "hardlink")            # one inode, two names
    yield tree, outside
    sock.close()


EXPECTED_FILES = {"a": 3 * PAGE, "sub/b": 5 * PAGE, "sub/deep/c": 7 * PAGE, "empty": 0,
                  "sparse": PAGE}
SPECIAL = {"fifo": "FIFO", "sock": "socket", "chardev": "character device",
           "blockdev": "block device"}


@pytest.mark.parametrize("method", METHODS)
def test_tree_without_follow(hostile_tree, method):
    if method == "cachestat" and not cachestat_available():
        pytest.skip("no cachestat on this kernel")
    tree, outside = hostile_tree
    doc, err = cache_json("-r", tree, "--top", "0", method=method)
    files = by_path(doc)
    # the hard link is one inode: counted once, under whichever name came first
    hard = {str(tree / "a"), str(tree / "sub" / "hardlink")}
    assert len(hard & set(files)) == 1
    got = {os.path.relpath(p, tree): f["cached"] for p, f in files.items()}
    got.pop("sub/hardlink", None)
    got.setdefault("a", 3 * PAGE)
    assert got == EXPECTED_FILES
    assert doc["totals"]["duplicates"] == 1
    assert doc["totals"]["cached"] == sum(EXPECTED_FILES.values())
    assert not any(str(outside) in p for p in files)
    skipped = {os.path.relpath(s["path"], tree): s["reason"] for s in doc["skipped"]}
    assert skipped == SPECIAL
    assert doc["totals"]["skipped"] == len(SPECIAL)
    assert doc["totals"]["symlinks_not_followed"] == 8
    # FIFOs, sockets and devices hold no page cache: named, counted, but no warning
    assert doc["totals"]["skipped_no_cache"] == len(SPECIAL) and "file(s)" not in err
    # per-directory totals: every file below each directory
    dirs = {os.path.relpath(d["path"], tree): d for d in doc["directories"]}
    assert set(dirs) == {".", "sub", "sub/deep"}
    assert dirs["sub/deep"]["cached"] == 7 * PAGE
    assert dirs["sub"]["cached"] == 12 * PAGE
    assert dirs["."]["cached"] == doc["totals"]["cached"]
    assert dirs["."]["files"] == doc["totals"]["files"] == 5


def test_tree_with_follow(hostile_tree):
    tree, outside = hostile_tree
    doc, _ = cache_json("-r", "--follow", tree, "--top", "0",
                        method="cachestat" if cachestat_available() else "mincore")
    files = by_path(doc)
    # followed out of the tree, because asked; path as reached, not resolved
    reached = [files[p]["cached"] for p in (str(tree / "out" / "secret"), str(tree / "secret"))
               if p in files]
    assert reached == [MIB]  # one file, two ways in: listed once
    skipped = {os.path.relpath(s["path"], tree): s["reason"] for s in doc["skipped"]}
    assert skipped["sub/deep/up"].startswith("symlink loop")
    assert skipped["self"] == skipped["ping"] == skipped["pong"] == "symlink loop"
    assert skipped["dangling"] == "dangling symlink"
    # a, alias and hardlink are one file; secret and out/secret another
    assert doc["totals"]["files"] == 6
    assert doc["totals"]["cached"] == sum(EXPECTED_FILES.values()) + MIB
    assert doc["totals"]["duplicates"] == 3


def test_special_files_given_as_paths_are_not_opened(hostile_tree):
    tree, _ = hostile_tree
    # a FIFO opened without O_NONBLOCK would block forever: the timeout would fail this
    doc, _ = cache_json(*(tree / name for name in SPECIAL), tree / "a",
                        method="cachestat" if cachestat_available() else "mincore")
    assert [f["path"] for f in doc["files"]] == [str(tree / "a")]
    assert {s["reason"] for s in doc["skipped"]} == set(SPECIAL.values())


def test_without_recursive_a_directory_is_one_level(hostile_tree):
    tree, _ = hostile_tree
    doc, _ = cache_json(tree, "--top", "0",
                        method="cachestat" if cachestat_available() else "mincore")
    assert {os.path.basename(p) for p in by_path(doc)} == {"a", "empty", "sparse"}
    assert doc["directories"] == []
    assert "not_recursive" in [n["code"] for n in doc["notes"]]


def test_top_and_sort_keep_the_largest_and_total_all(tmp_path):
    sizes = [(f"f{i}", (i + 1) * PAGE) for i in range(30)]
    for name, size in sizes:
        write_clean(tmp_path / name, size)
    drop(tmp_path / "f29")  # the largest file, not cached at all
    env_method = "cachestat" if cachestat_available() else "mincore"
    with held([tmp_path / name for name, _ in sizes[:29]]):
        doc, _ = cache_json("-r", tmp_path, "--top", "3", method=env_method)
    assert [os.path.basename(f["path"]) for f in doc["files"]] == ["f28", "f27", "f26"]
    assert doc["totals"]["files"] == 30
    assert doc["totals"]["cached"] == sum(s for _n, s in sizes[:29])
    doc, _ = cache_json("-r", tmp_path, "--top", "2", "--sort", "size", method=env_method)
    assert [os.path.basename(f["path"]) for f in doc["files"]] == ["f29", "f28"]
    assert doc["top"] == 2


def test_path_is_the_argument_as_given(tmp_path):
    (tmp_path / "d").mkdir()
    write_clean(tmp_path / "d" / "f", PAGE)
    os.symlink("d", tmp_path / "link")
    method = "cachestat" if cachestat_available() else "mincore"
    doc, _ = cache_json("-r", "link/", cwd=tmp_path, method=method)
    assert [f["path"] for f in doc["files"]] == ["link/f"]   # not resolved, as given
    assert [d["path"] for d in doc["directories"]] == ["link/"]


def test_hostile_names(tmp_path):
    """Names with newlines, escapes and bytes that are not UTF-8: every format carries
    them, the table shows no control character."""
    raw = os.fsencode(str(tmp_path)) + b"/bad\xff\n\x1b[31mname"
    fd = os.open(raw, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"x")
    os.close(fd)
    method = "cachestat" if cachestat_available() else "mincore"
    doc, _ = cache_json("-r", tmp_path, method=method)
    # lossless, as every name memscope writes: the byte 0xff as the surrogate escape \udcff
    assert os.fsencode(doc["files"][0]["path"]) == raw
    r = run_memscope("cache", "-r", tmp_path, "--format", "yaml", env=method_env(method))
    assert r.returncode == 0, r.stderr
    assert os.fsencode(yaml.safe_load(r.stdout)["files"][0]["path"]) == raw
    r = run_memscope("cache", "-r", tmp_path, env=method_env(method))
    assert r.returncode == 0 and "\x1b" not in r.stdout


# ---------------------------------------------------------------------------------------
# Unreadable files, as an unprivileged user


@pytest.mark.parametrize("method", METHODS)
def test_unreadable_files_are_named_not_silently_skipped(world_tmp, method):
    runner = unprivileged_runner()
    if isinstance(runner, str):
        pytest.skip(runner)
    uid, python, env = runner
    if method == "cachestat" and not cachestat_available():
        pytest.skip("no cachestat on this kernel")
    write_clean(world_tmp / "mine", 2 * PAGE)
    os.chown(world_tmp / "mine", uid, -1)          # owned by the user: measured
    write_clean(world_tmp / "readable", 3 * PAGE)   # 0644 root: readable, not writable
    write_clean(world_tmp / "closed", PAGE)
    os.chmod(world_tmp / "closed", 0o600)          # can't even be opened
    (world_tmp / "private").mkdir(mode=0o700)      # can't be entered
    write_clean(world_tmp / "private" / "inside", PAGE)
    env = dict(env, **method_env(method))
    r = subprocess.run([python, "-m", "memscope", "cache", "-r", str(world_tmp), "--format",
                        "json"], user=uid, env=env, capture_output=True, text=True,
                       timeout=120, cwd="/")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [f["path"] for f in doc["files"]] == [str(world_tmp / "mine")]
    assert doc["files"][0]["cached"] == 2 * PAGE
    skipped = {os.path.basename(s["path"]): s["reason"] for s in doc["skipped"]}
    # readable but not writable: the kernel will not tell (cachestat EPERM; mincore would
    # claim every page resident), so it is named, never measured as 100% or 0
    assert skipped["readable"].startswith("permission denied: the kernel reveals")
    assert skipped["closed"] == "permission denied"
    assert skipped["private"] == "permission denied (directory not examined)"
    assert doc["totals"]["skipped"] == 3
    assert "3 file(s) could not be measured" in r.stderr


# ---------------------------------------------------------------------------------------
# --procs: files that processes map and hold open


@needs_fincore
def test_procs_mapped_open_and_deleted_files(workers, world_tmp):
    mapped = world_tmp / "mapped.bin"
    write_clean(mapped, 3 * MIB)
    gone = world_tmp / "gone.bin"
    write_clean(gone, 2 * MIB)
    w1 = workers("file", mapped, 3 * MIB)
    w2 = workers("file", mapped, 3 * MIB)
    w3 = workers("file", gone, 2 * MIB)
    os.unlink(gone)  # mapped, deleted, still in the page cache
    held = world_tmp / "held.bin"
    write_clean(held, MIB)
    fd = os.open(held, os.O_RDONLY)   # held open by this test process, then deleted
    os.unlink(held)
    try:
        method = "cachestat" if cachestat_available() else "mincore"
        doc, _ = cache_json("--procs", "--pid", w1.pid, "--pid", w2.pid, "--pid", w3.pid,
                            "--pid", os.getpid(), "--top", "0", method=method)
        files = by_path(doc)
        m = files[str(mapped)]
        assert m["cached"] == 3 * MIB == fincore(mapped)[str(mapped)]
        assert m["pids"] == sorted([w1.pid, w2.pid]) and m["programs"] == ["worker"]
        assert m["mapped"] and not m["deleted"]
        g = files[str(gone)]
        assert g["deleted"] and g["cached"] == 2 * MIB and g["pids"] == [w3.pid]
        h = files[str(held)]
        assert h["deleted"] and h["open"] and not h["mapped"]
        assert h["pids"] == [os.getpid()]
        link = f"/proc/{os.getpid()}/fd/{fd}"
        assert h["cached"] == fincore(link)[link] == MIB
        # the static worker maps nothing else; one file per inode
        assert len({(f["path"]) for f in doc["files"]}) == len(doc["files"])
        assert doc["totals"]["processes"] == 4
    finally:
        os.close(fd)


def test_procs_on_this_machine_runs_and_totals_add_up():
    doc, _ = cache_json("--procs", "--top", "0",
                        method="cachestat" if cachestat_available() else "mincore")
    assert doc["files"], "every machine has processes that map files"
    assert sum(f["cached"] for f in doc["files"]) == doc["totals"]["cached"]
    assert doc["system_cached"] and doc["totals"]["cached"] <= doc["system_cached"] * 2


# ---------------------------------------------------------------------------------------
# The command line


def test_root_other_than_live_is_refused_in_one_line(tmp_path):
    r = run_memscope("cache", "/etc", "--root", tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1
    assert "page-cache residency is not in a snapshot" in r.stderr


@pytest.mark.parametrize("args", [(), ("--pid", "1"), ("--procs", "/etc")])
def test_usage_errors(args):
    r = run_memscope("cache", *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_no_such_process_is_one_line_exit_1():
    r = run_memscope("cache", "--procs", "--pid", "4194304")  # above pid_max's ceiling
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == "memscope: error: no such process: 4194304 (it has exited, or is " \
        "hidden by hidepid=; check with ps)\n"


def test_missing_path_is_one_line_exit_1(tmp_path):
    r = run_memscope("cache", tmp_path, tmp_path / "nope")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == f"memscope: error: {tmp_path / 'nope'}: no such file or directory " \
        "(check the PATH)\n"


def test_dangling_symlink_as_path_is_skipped_with_the_reason(tmp_path):
    os.symlink("nowhere", tmp_path / "dangling")
    method = "cachestat" if cachestat_available() else "mincore"
    os.symlink("loop", tmp_path / "loop")
    doc, err = cache_json(tmp_path / "dangling", tmp_path / "loop", method=method)
    assert doc["skipped"] == [{"path": str(tmp_path / "dangling"), "reason": "dangling symlink"},
                              {"path": str(tmp_path / "loop"), "reason": "symlink loop"}]
    assert "2 file(s) could not be measured" in err


def test_table(tmp_path):
    write_clean(tmp_path / "f", 2 * PAGE)
    r = run_memscope("cache", "-r", tmp_path, "-b")
    assert r.returncode == 0, r.stderr
    assert str(tmp_path / "f") in r.stdout and "8192" in r.stdout
    assert "The system's Cached (/proc/meminfo)" in r.stdout
    assert "Directories" in r.stdout


@pytest.mark.parametrize("machine, number", [("x86_64", 451), ("aarch64", 451),
                                             ("riscv64", 451), ("mips64", None),
                                             ("alpha", None), ("vax", None)])
def test_syscall_number_by_architecture(monkeypatch, machine, number):
    from memscope.collect import pagecache

    monkeypatch.setattr(pagecache.platform, "machine", lambda: machine)
    assert pagecache.cachestat_number() == number
    if number is None:
        assert pagecache.Meter().method == "mincore"  # unknown: the fallback, not a guess


def test_a_kernel_without_the_call_falls_back(monkeypatch):
    """ENOSYS from the probe (here: a syscall number no kernel has) means mincore."""
    from memscope.collect import pagecache

    monkeypatch.setattr(pagecache, "cachestat_number", lambda: 100000)
    assert pagecache.Meter().method == "mincore"


@needs_fincore
def test_tmpfs_files(tmp_path):
    """Shmem files (tmpfs): in the page cache by construction, as fincore sees them."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    import tempfile

    d = tempfile.mkdtemp(prefix="memscope-test-", dir="/dev/shm")
    try:
        path = os.path.join(d, "shm")
        write_clean(path, MIB + 1)
        doc, _ = cache_json(path, method="cachestat" if cachestat_available() else "mincore")
        assert doc["files"][0]["cached"] == pages(MIB + 1) == fincore(path)[path]
    finally:
        shutil.rmtree(d)


def test_skipped_files_are_all_counted_and_the_first_thousand_named(tmp_path):
    from memscope.model.cache import MAX_SKIPPED

    for i in range(MAX_SKIPPED + 50):
        os.mkfifo(tmp_path / f"p{i}")
    doc, err = cache_json(tmp_path, method="cachestat" if cachestat_available() else "mincore")
    assert doc["totals"]["skipped"] == MAX_SKIPPED + 50
    assert len(doc["skipped"]) == MAX_SKIPPED
    assert "skipped_truncated" in [n["code"] for n in doc["notes"]]
    assert doc["totals"]["skipped_no_cache"] == MAX_SKIPPED + 50 and err == ""


def test_ranking_keeps_only_the_top_and_ranks_unknown_last():
    from memscope.model.cache import Ranking, sort_key

    ranking = Ranking(5)
    for i in range(10000):
        value = None if i % 7 == 0 else (i * 7919) % 10007
        ranking.offer(sort_key(value), lambda i=i, v=value: {"path": f"f{i}", "dirty": v,
                                                             "cached": 0, "size": 0})
    assert len(ranking._heap) == 5
    top = ranking.sorted("dirty")
    values = sorted(((i * 7919) % 10007 for i in range(10000) if i % 7), reverse=True)
    assert [r["dirty"] for r in top] == values[:5]
    only_unknown = Ranking(3)
    for i in range(5):
        only_unknown.offer(sort_key(None), lambda i=i: {"path": f"u{i}", "dirty": None,
                                                        "cached": 0, "size": 0})
    only_unknown.offer(sort_key(0), lambda: {"path": "zero", "dirty": 0, "cached": 0,
                                             "size": 0})
    assert only_unknown.sorted("dirty")[0]["path"] == "zero"  # known 0 before unknown


def test_mincore_sort_by_a_figure_it_cannot_tell_ranks_by_cached(tmp_path):
    for i, size in enumerate((PAGE, 3 * PAGE, 2 * PAGE)):
        write_clean(tmp_path / f"f{i}", size)
    doc, _ = cache_json("-r", tmp_path, "--sort", "evicted", method="mincore")
    assert [os.path.basename(f["path"]) for f in doc["files"]] == ["f1", "f2", "f0"]
    assert "sort_unknown" in [n["code"] for n in doc["notes"]]
