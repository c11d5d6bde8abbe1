"""At home in a terminal: width, procps rounding, pictures and colour only on a tty (tested
with a real pseudo-terminal), the live view, and the flags users of free, ps_mem, smem,
slabtop and atop expect."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time

import pytest

from conftest import FIXTURES, GOLDEN, MiB, REPO, run_memscope
from test_golden import check

TOP_HOST = FIXTURES / "this-vm-6.18.44-top-workers"
TREE_HOST = FIXTURES / "ubuntu-vm-cgroup2-6.14"
SLAB_HOST = FIXTURES / "this-vm-6.18.44-kernel-views"
SMAPS_HOST = FIXTURES / "this-vm-6.18.44-fc-v657"
pytest_plugins = ["test_cgroup"]  # its child_cgroups fixture: a child of our own cgroup
ESC = "\x1b["


def run_pty(*args, env=None, cols=80, rows=24, timeout=60):
    """Run memscope with stdout and stderr on a real pseudo-terminal of cols x rows; return
    (exit status, everything it wrote)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    for name in ("COLUMNS", "LINES", "NO_COLOR", "LC_ALL", "LC_CTYPE"):
        full_env.pop(name, None)
    full_env.update({"TERM": "xterm-256color", "LANG": "C.UTF-8"})
    full_env.update(env or {})
    proc = subprocess.Popen([sys.executable, "-m", "memscope", *map(str, args)],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            env=full_env, cwd=REPO, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError as exc:  # EIO: the child closed the terminal
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    status = proc.wait(timeout=10)
    return status, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


# ---------------------------------------------------------------------------------------
# Human units: procps-ng's scale_size(), exactly


@pytest.mark.parametrize("n, si, text", [
    (0, False, "0B"), (999, False, "999B"), (1000, False, "1.0Ki"), (1023, False, "1.0Ki"),
    (1024, False, "1.0Ki"), (10189, False, "9Ki"),          # 9.95: "%.1f" is 10.0, too wide
    (10137, False, "9.9Ki"), (10240, False, "10Ki"), (999 * 1024, False, "999Ki"),
    (1000 * 1024, False, "1.0Mi"),                            # 1000Ki is six characters
    (24683664 * 1024, False, "23Gi"),                         # free -h: 23Gi, not 24Gi
    (int(9.3 * MiB), False, "9.3Mi"), (180 * MiB - 1, False, "179Mi"),
    (-128 * 1024, False, "-128Ki"), (25276071936, True, "25G"), (9_900_000, True, "9.9M"),
    (999, True, "999B"), (1000, True, "1.0k"),
])
def test_human_is_procps_scale_size(n, si, text):
    from memscope.render.units import human

    assert human(n, si) == text


@pytest.mark.skipif(shutil.which("free") is None, reason="procps free is not installed")
def test_total_and_committed_rows_match_procps_free():
    """free -b -t -v against summary -b -t -v on the live host: the columns that do not move
    between two reads (totals, CommitLimit) agree to the byte, and human units agree."""
    free = subprocess.run(["free", "-b", "-t", "-v"], capture_output=True, text=True).stdout
    ours = run_memscope("summary", "-b", "-t", "-v").stdout

    def row(text, label):
        return next(line.split()[1:] for line in text.splitlines() if line.startswith(label))

    for label in ("Mem:", "Swap:", "Total:", "Comm:"):
        assert row(ours, label)[0] == row(free, label)[0], label
    with open("/proc/meminfo") as f:
        mi = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
    assert int(row(ours, "Total:")[0]) == mi["MemTotal"] + mi["SwapTotal"]
    assert int(row(ours, "Comm:")[0]) == mi["CommitLimit"]
    free_h = subprocess.run(["free", "-h", "-t", "-v"], capture_output=True, text=True).stdout
    ours_h = run_memscope("summary", "-t", "-v").stdout
    for label in ("Mem:", "Total:", "Comm:"):
        assert row(ours_h, label)[0] == row(free_h, label)[0], label


def test_line_is_free_line():
    r = run_memscope("summary", "--root", TOP_HOST, "--line")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("SwapUse          0B CachUse       1.3Gi  MemUse       865Mi "
                        "MemFree        21Gi\n")
    r = run_memscope("summary", "--root", TOP_HOST, "--line", "-b", "-s", "0.1", "-c", "3")
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and lines[0] == lines[2]
    doc = json.loads(run_memscope("summary", "--root", TOP_HOST, "--format", "json").stdout)
    m = doc["memory"]
    assert lines[0].split() == ["SwapUse", "0", "CachUse", str(m["buff_cache"]), "MemUse",
                                str(m["used"]), "MemFree", str(m["free"])]
    assert run_memscope("summary", "--line", "--format", "json").returncode == 2


def test_watch_aliases_and_count_without_watch():
    r = run_memscope("summary", "--root", TOP_HOST, "-s", "0.1", "-c", "2", "--format", "json")
    assert len(r.stdout.splitlines()) == 2
    assert run_memscope("summary", "-c", "2").returncode == 2


# ---------------------------------------------------------------------------------------
# Width


WIDTH_CASES = [
    ("top", ["top", "--root", TOP_HOST]),
    ("summary", ["summary", "--root", TOP_HOST]),
    ("cgroup-tree", ["cgroup", "--tree", "--root", TREE_HOST]),
    ("slab", ["slab", "--root", SLAB_HOST, "-n", "12"]),
]


@pytest.mark.parametrize("name, args", WIDTH_CASES)
@pytest.mark.parametrize("cols", [80, 120, 200])
def test_width_goldens(name, args, cols, update_golden):
    r = run_memscope(*args, env={"COLUMNS": str(cols)})
    assert r.returncode == 0, r.stderr
    text = r.stdout.replace(str(FIXTURES), "FIXTURES")
    check(GOLDEN / "width" / f"{name}-{cols}.txt", text, update_golden)
    assert ESC not in text  # piped: no colour
    assert "█" not in text and "#" * 3 not in text  # piped: no bars
    if name != "summary" or cols >= 80:
        too_wide = [line for line in r.stdout.splitlines() if len(line) > cols]
        assert not too_wide, too_wide


def test_piped_is_unlimited_and_command_whole():
    r = run_memscope("top", "--root", TOP_HOST)
    assert ("/tmp/i14cap/worker anon 67108864 --role=cache-warmer "
            "--config=/etc/memscope-demo/cache-warmer.toml --verbose\n") in r.stdout
    r80 = run_memscope("top", "--root", TOP_HOST, env={"COLUMNS": "80"})
    assert "…" in r80.stdout and "--verbose" not in r80.stdout
    # the same processes, in the same order, whatever the width
    assert [line.split()[0] for line in r.stdout.splitlines()[1:10]] == \
        [line.split()[0] for line in r80.stdout.splitlines()[1:10]]


def test_very_narrow_keeps_the_figures():
    r = run_memscope("top", "--root", TOP_HOST, env={"COLUMNS": "40"})
    assert r.returncode == 0
    head = r.stdout.splitlines()[0].split()
    assert head[:2] == ["pid", "pss"] and "rss" in head and "command" in head
    assert "name" not in head and "user" not in head  # dropped first: the command says it
    assert all(len(line) <= 40 for line in r.stdout.split("\n\n")[0].splitlines())


def test_fit_drops_and_cuts():
    from memscope.render.term import Column, fit

    cols = [Column("a"), Column("name", "left", least=4, drop=1),
            Column("cmd", "left", least=5, flex=True)]
    rows = [["1", "abcdefgh", "x" * 30]]
    assert fit(cols, rows, None) == "a  name      cmd\n1  abcdefgh  " + "x" * 30
    out = fit(cols, rows, 20).splitlines()
    # the name shrinks to its least before the command gives up more
    assert all(len(line) <= 20 for line in out) and out[1] == "1  abc…  " + "x" * 10 + "…"
    out = fit(cols, rows, 12).splitlines()
    assert out[0].split() == ["a", "cmd"] and len(out[1]) <= 12 and out[1].endswith("…")


# ---------------------------------------------------------------------------------------
# top's flags


def top_json(*args):
    r = run_memscope("top", "--root", TOP_HOST, "--format", "json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def table_pids(text):
    """The pids of a process table: its rows up to the first blank line."""
    rows = text.split("\n\n")[0].splitlines()
    return [int(line.split()[0]) for line in rows if line.split()[0].isdigit()]


def test_top_limit_reverse_columns_no_header():
    everything = [p["pid"] for p in top_json()["processes"]]
    assert len(everything) == 9
    r = run_memscope("top", "--root", TOP_HOST, "-n", "3")
    assert table_pids(r.stdout) == everything[:3]
    assert "9 processes:" in r.stdout and "6 more not shown (--limit)" in r.stdout
    r = run_memscope("top", "--root", TOP_HOST, "-n", "3", "-r")
    assert table_pids(r.stdout) == everything[:3][::-1]
    assert [p["pid"] for p in top_json("-r")["processes"]] == everything[::-1]
    assert table_pids(run_memscope("top", "--root", TOP_HOST, "--limit", "0").stdout) == \
        everything
    r = run_memscope("top", "--root", TOP_HOST, "--columns", "command,pid,%", "--no-header")
    lines = r.stdout.splitlines()
    assert len(lines) == 9 and "pid" not in r.stdout and "processes:" not in r.stdout
    assert lines[0].split()[-2:] == ["17833", "0.3"]
    r = run_memscope("top", "--root", TOP_HOST, "--group-by", "program", "--no-header")
    assert r.stdout.splitlines()[0].split()[:2] == ["worker", "4"]
    assert "group" not in r.stdout and "processes:" not in r.stdout
    for bad in ("abc", "0", "-5", ""):  # a COLUMNS that is not a width: as if unset
        assert run_memscope("top", "--root", TOP_HOST, env={"COLUMNS": bad}).stdout == \
            run_memscope("top", "--root", TOP_HOST).stdout
    r = run_memscope("top", "--root", TOP_HOST, "--columns", "pid,bogus")
    assert r.returncode == 2 and "bogus" in r.stderr


def test_top_percent_is_of_memtotal():
    doc = top_json()
    mem_total = 24683664 * 1024
    r = run_memscope("top", "--root", TOP_HOST, "-b", "--columns", "pid,pss,%")
    rows = {int(line.split()[0]): line.split()[1:] for line in r.stdout.splitlines()[1:10]}
    for p in doc["processes"]:
        assert rows[p["pid"]] == [str(p["pss"]), f"{100 * p['pss'] / mem_total:.1f}"]
    assert "% of MemTotal 23Gi" in run_memscope("top", "--root", TOP_HOST).stdout


def test_top_by_mapping_sums_to_the_processes():
    r = run_memscope("top", "--root", SMAPS_HOST, "--by-mapping", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    proc = json.loads(run_memscope("proc", "19124", "--maps", "--root", SMAPS_HOST,
                                   "--format", "json").stdout)["processes"][0]
    maps = proc["mappings"]
    assert doc["totals"]["processes"] == 1
    for key in ("pss", "rss", "uss", "swap", "size"):
        assert doc["totals"][key] == sum(m[key] for m in maps)
    assert {(m["category"], m["path"]) for m in doc["mappings"]} == \
        {(m["category"], m["path"]) for m in maps}
    table = run_memscope("top", "--root", SMAPS_HOST, "--by-mapping", "-n", "3").stdout
    assert table.splitlines()[0].split() == ["category", "procs", "maps", "size", "rss", "pss",
                                             "uss", "swap", "path"]
    assert "more not shown (--limit)" in table


def test_top_by_mapping_live_shared_file(workers, tmp_path):
    """Two workers map one 8 MiB /dev/shm file: one row, two processes, PSS the file's size
    (each pays half), RSS twice it."""
    path = f"/dev/shm/memscope-i14-{os.getpid()}"
    with open(path, "wb") as f:
        f.truncate(8 * MiB)
    try:
        a = workers("shm", path, 8 * MiB)
        b = workers("shm", path, 8 * MiB)
        r = run_memscope("top", "--by-mapping", "--pid", a.pid, "--pid", b.pid,
                         "--format", "json")
        doc = json.loads(r.stdout)
        row = next(m for m in doc["mappings"] if m["path"] == path)
        assert row["category"] == "shmem" and row["procs"] == 2 and row["count"] == 2
        assert row["rss"] == 16 * MiB and row["pss"] == 8 * MiB and row["uss"] == 0
        pss = sum(w.rollup()["Pss"] for w in (a, b))
        assert doc["totals"]["pss"] == pss
    finally:
        os.unlink(path)


# ---------------------------------------------------------------------------------------
# slab: slabtop's header and sort keys


def slabinfo_rows():
    lines = (SLAB_HOST / "proc" / "slabinfo").read_text().splitlines()[2:]
    return [line.split() for line in lines]


def test_slab_header_is_slabtops():
    rows = slabinfo_rows()
    active = sum(int(r[1]) for r in rows)
    objs = sum(int(r[2]) for r in rows)
    aslabs = sum(int(r[13]) for r in rows)
    slabs = sum(int(r[14]) for r in rows)
    asize = sum(int(r[1]) * int(r[3]) for r in rows)
    size = sum(int(r[2]) * int(r[3]) for r in rows)
    live = sum(1 for r in rows if int(r[1]))
    out = run_memscope("slab", "--root", SLAB_HOST).stdout.splitlines()
    assert out[0] == (f" Active / Total Objects (% used)    : {active} / {objs} "
                      f"({100 * active / objs:.1f}%)")
    assert out[1] == (f" Active / Total Slabs (% used)      : {aslabs} / {slabs} "
                      f"({100 * aslabs / slabs:.1f}%)")
    assert out[2] == (f" Active / Total Caches (% used)     : {live} / {len(rows)} "
                      f"({100 * live / len(rows):.1f}%)")
    assert out[3] == (f" Active / Total Size (% used)       : {asize / 1024:.2f}K / "
                      f"{size / 1024:.2f}K ({100 * asize / size:.1f}%)")
    sizes = [int(r[3]) for r in rows]
    assert out[4] == (f" Minimum / Average / Maximum Object : {min(sizes) / 1024:.2f}K / "
                      f"{size / objs / 1024:.2f}K / {max(sizes) / 1024:.2f}K")


@pytest.mark.skipif(shutil.which("slabtop") is None or os.geteuid() != 0,
                    reason="needs slabtop and root")
def test_slab_header_against_slabtop_live():
    """The lines that do not move between two reads agree with slabtop's own."""
    theirs = subprocess.run(["slabtop", "-o"], capture_output=True, text=True).stdout
    ours = run_memscope("slab").stdout
    for prefix in (" Active / Total Caches", " Minimum / Average / Maximum"):
        t = next(line for line in theirs.splitlines() if line.startswith(prefix))
        o = next(line for line in ours.splitlines() if line.startswith(prefix))
        assert o.split(":")[0] == t.split(":")[0]
        if "Caches" in prefix:
            assert o == t


SORTS = [("a", "active", 1, False), ("o", "objects", 2, False), ("s", "object-size", 3, False),
         ("b", "objs-per-slab", 4, False), ("p", "pages-per-slab", 5, False),
         ("v", "active-slabs", 13, False), ("l", "slabs", 14, False), ("n", "name", 0, True)]


@pytest.mark.parametrize("letter, name, column, ascending", SORTS)
def test_slab_sort_keys(letter, name, column, ascending):
    rows = slabinfo_rows()
    key = (lambda r: r[0]) if ascending else (lambda r: (-int(r[column]), r[0]))
    expected = [r[0] for r in sorted(rows, key=key)][:10]
    for k in (letter, name):
        out = run_memscope("slab", "--root", SLAB_HOST, "-n", "10", "-s", k).stdout
        table = out.split("\n\n")[1].splitlines()[1:]
        assert [line.split()[0] for line in table] == expected, k


def test_slab_sort_cache_size_and_use():
    doc = json.loads(run_memscope("slab", "--root", SLAB_HOST, "--format", "json").stdout)
    out = run_memscope("slab", "--root", SLAB_HOST, "-s", "c", "-n", "5").stdout
    assert [line.split()[0] for line in out.split("\n\n")[1].splitlines()[1:]] == \
        [c["name"] for c in doc["caches"][:5]]
    out = run_memscope("slab", "--root", SLAB_HOST, "-s", "u").stdout
    uses = [int(line.split()[4].rstrip("%").replace("-", "0"))
            for line in out.split("\n\n")[1].splitlines()[1:]]
    assert uses == sorted(uses, reverse=True)
    assert run_memscope("slab", "--root", SLAB_HOST, "-s", "x").returncode == 2


# ---------------------------------------------------------------------------------------
# cgroup --tree, proc --maps totals


def test_cgroup_tree_fixture():
    doc = json.loads(run_memscope("cgroup", "--tree", "--root", TREE_HOST,
                                  "--format", "json").stdout)
    paths = [(c["path"], c["depth"]) for c in doc["cgroups"]]
    assert paths[0] == ("/", 0) and len(paths) == 8
    gnome = doc["cgroups"][-1]
    assert gnome["path"].endswith("org.gnome.Shell@wayland.service") and gnome["depth"] == 5
    assert gnome["own_usage"] == gnome["usage"]  # a leaf owns all of it
    assert doc["cgroups"][0]["own_usage"] is None  # the root's usage is a rule, not charges
    d = json.loads(run_memscope("cgroup", "--tree", "--depth", "1", "--root", TREE_HOST,
                                "--format", "json").stdout)
    assert [c["depth"] for c in d["cgroups"]] == [0, 1, 1]
    assert run_memscope("cgroup", "--depth", "1", "--root", TREE_HOST).returncode == 2
    assert run_memscope("cgroup", "--tree", "--children").returncode == 2


def test_cgroup_tree_live(child_cgroups, workers, tmp_path):
    from test_cgroup import read_int

    make, parent = child_cgroups
    (a_path, a_dir), (b_path, b_dir) = make("a", "b")
    for d, n in ((a_dir, 16 * MiB), (b_dir, 32 * MiB)):
        w = workers("charge", n, tmp_path / f"f-{os.path.basename(d)}", MiB)
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(w.pid))
        w.go()
    doc = json.loads(run_memscope("cgroup", "--tree", parent, "--format", "json").stdout)
    tree = doc["cgroups"]
    assert [(c["path"], c["depth"]) for c in tree] == [(parent, 0), (b_path, 1), (a_path, 1)]
    assert tree[1]["usage"] == read_int(b_dir, "memory.usage_in_bytes")
    assert tree[0]["own_usage"] == tree[0]["usage"] - tree[1]["usage"] - tree[2]["usage"]
    assert tree[1]["own_usage"] == tree[1]["usage"]
    r = run_memscope("cgroup", "--tree", parent, env={"COLUMNS": "80"})
    lines = r.stdout.split("\n\n")[1].splitlines()
    assert lines[0].split()[:3] == ["cgroup", "usage", "own"]
    assert lines[1].split()[0].endswith(parent.rsplit("/", 1)[-1])  # a path keeps its end
    assert lines[2].startswith("  b ") and lines[3].startswith("  a ")
    assert all(len(line) <= 80 for line in lines)


def test_top_cgroup_lists_its_processes_and_uses_its_limit(child_cgroups, workers, tmp_path):
    make, _parent = child_cgroups
    ((path, d),) = make("boxed")
    limit = 256 * MiB
    with open(os.path.join(d, "memory.limit_in_bytes"), "w") as f:
        f.write(str(limit))
    w = workers("charge", 16 * MiB, tmp_path / "f", MiB)
    other = workers("anon", MiB)
    with open(os.path.join(d, "cgroup.procs"), "w") as f:
        f.write(str(w.pid))
    w.go()
    doc = json.loads(run_memscope("top", "--cgroup", path, "--format", "json").stdout)
    assert [p["pid"] for p in doc["processes"]] == [w.pid] and other.pid != w.pid
    r = run_memscope("top", "--cgroup", path, "-b", "--columns", "pid,pss,%")
    pid, pss, pct = r.stdout.splitlines()[1].split()
    assert int(pid) == w.pid and pct == f"{100 * int(pss) / limit:.1f}"
    assert f"% of the limit of {path} {limit}" in r.stdout
    r = run_memscope("top", "--cgroup", "/no/such/cgroup")
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1


def test_proc_maps_totals_row():
    doc = json.loads(run_memscope("proc", "19124", "--maps", "--root", SMAPS_HOST, "-b",
                                  "--format", "json").stdout)["processes"][0]
    out = run_memscope("proc", "19124", "--maps", "--root", SMAPS_HOST, "-b").stdout
    total = next(line for line in out.splitlines() if line.startswith("= total")).split()[2:]
    maps = doc["mappings"]
    assert total == [str(sum(m[k] for m in maps)) for k in ("count", "size", "rss", "pss",
                                                           "uss", "swap")]
    assert int(total[3]) == sum(m["pss"] for m in maps)


# ---------------------------------------------------------------------------------------
# help and version


def test_bare_help_and_short_help_and_command_version():
    from memscope import __version__

    r = run_memscope()
    assert r.returncode == 0 and r.stdout.startswith("Usage: memscope") and r.stderr == ""
    assert "summary" in r.stdout and "top" in r.stdout
    assert run_memscope("-h").stdout == r.stdout
    for command in ("summary", "top", "cgroup", "slab", "proc", "snapshot", "diff"):
        h = run_memscope(command, "-h")
        assert h.returncode == 0 and h.stdout.startswith(f"Usage: memscope {command}")
        v = run_memscope(command, "--version")
        assert v.returncode == 0 and v.stdout == f"memscope, version {__version__}\n"


# ---------------------------------------------------------------------------------------
# On a real terminal: pictures, colour, a screenful, the live view


def test_colour_and_bars_only_on_a_tty():
    status, out = run_pty("summary", "--root", TOP_HOST, cols=100)
    assert status == 0
    assert f"{ESC}32mok{ESC}0m" in out  # zone states in their severity's colour
    assert "█" in out  # the breakdown's bars
    free_line = next(line for line in out.splitlines() if line.startswith("free "))
    # a full bar (30 cells at this width) is all of MemTotal: 92.09 % is 27 cells and 5/8
    assert len(free_line) <= 100 and free_line.split()[-1] == "█" * 27 + "▋"
    piped = run_memscope("summary", "--root", TOP_HOST).stdout
    assert ESC not in piped and "█" not in piped
    # the figures are the same with or without pictures
    strip = re.compile(r"\x1b\[[0-9;]*m")
    tty_rows = [strip.sub("", line).split()[:3] for line in out.splitlines()
                if line.startswith("free ")]
    assert tty_rows == [line.split()[:3] for line in piped.splitlines()
                        if line.startswith("free ")]


@pytest.mark.parametrize("env, args", [({"NO_COLOR": "1"}, []), ({"TERM": "dumb"}, []),
                                       ({}, ["--color", "never"])])
def test_no_colour_when_asked(env, args):
    status, out = run_pty("summary", "--root", TOP_HOST, *args, env=env)
    assert status == 0 and ESC not in out
    assert "█" in out  # bars are not colour


def test_no_color_empty_means_colour_and_always_wins():
    status, out = run_pty("summary", "--root", TOP_HOST, env={"NO_COLOR": ""})
    assert ESC in out
    status, out = run_pty("summary", "--root", TOP_HOST, "--color", "always",
                          env={"NO_COLOR": "1"})
    assert ESC in out
    piped = run_memscope("summary", "--root", TOP_HOST, "--color", "always").stdout
    assert f"{ESC}32mok{ESC}0m" in piped and "█" not in piped


def test_zone_states_coloured_by_severity():
    status, out = run_pty("zones", "--root", FIXTURES / "zte-f680-ont-armv7-4.1", cols=160)
    assert status == 0 and f"{ESC}33mbelow_high{ESC}0m" in out  # a warning: yellow
    assert ESC not in run_memscope("zones", "--root", FIXTURES / "zte-f680-ont-armv7-4.1").stdout


def test_machine_formats_never_decorated_on_a_tty():
    for fmt in ("json", "yaml", "prom"):
        status, out = run_pty("summary", "--root", TOP_HOST, "--format", fmt,
                              "--color", "always")
        assert status == 0 and ESC not in out and "█" not in out, fmt


def test_ascii_bars_under_a_non_utf8_locale():
    status, out = run_pty("summary", "--root", TOP_HOST, env={"LC_ALL": "C"})
    assert status == 0 and "█" not in out
    free_line = next(line for line in out.splitlines() if line.startswith("free "))
    assert free_line.rstrip().endswith("#")


def test_output_file_gets_no_decoration(tmp_path):
    target = tmp_path / "out.txt"
    status, out = run_pty("summary", "--root", TOP_HOST, "-o", target)
    assert status == 0
    text = target.read_text()
    assert ESC not in text and "█" not in text
    # a file is unlimited in width, whatever COLUMNS says
    status, out = run_pty("top", "--root", TOP_HOST, "-o", target, env={"COLUMNS": "80"})
    assert target.read_text() == run_memscope("top", "--root", TOP_HOST).stdout


def test_top_on_a_tty_is_a_screenful():
    status, out = run_pty("top", "--root", TOP_HOST, rows=12, cols=80)
    assert status == 0
    shown = table_pids(out)
    # the prompt and two lines of warnings stay free; the footer says what is not shown
    assert len(out.rstrip("\n").splitlines()) <= 12 - 3 and len(shown) == 5
    assert f"{9 - len(shown)} more not shown" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    status, out = run_pty("top", "--root", TOP_HOST, "-r", rows=12, cols=80)
    assert table_pids(out)[-1] == 17833 and len(table_pids(out)) == 5  # largest last, kept
    status, out = run_pty("top", "--root", TOP_HOST, "--limit", "0", rows=12)
    assert len(table_pids(out)) == 9


def test_cgroup_limit_bars_on_a_tty():
    status, out = run_pty("cgroup", "--root", FIXTURES / "container-cgroup1-256m", "/")
    assert status == 0
    assert "How close is each cgroup to its limit?" in out and "█" in out
    piped = run_memscope("cgroup", "--root", FIXTURES / "container-cgroup1-256m", "/").stdout
    assert "How close" not in piped


def test_live_top_redraws_in_place_for_two_ticks():
    status, out = run_pty("top", "--root", TOP_HOST, "--watch", "0.2", "--count", "2",
                          rows=30, cols=100)
    assert status == 0
    frames = out.split(f"{ESC}H{ESC}2J")
    assert frames[0] == "" and len(frames) == 3
    for frame in frames[1:]:
        assert re.match(r"memscope \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, every 0.2s", frame)
        header = frame.splitlines()[2].split()
        assert header[:6] == ["pid", "user", "pss", "Δpss", "rss", "Δrss"]
    first = [line.split() for line in frames[1].splitlines()[3:12]]
    second = [line.split() for line in frames[2].splitlines()[3:12]]
    assert all(row[3] == "-" and row[5] == "-" for row in first)  # nothing to compare with
    assert all(row[3] == "0B" and row[5] == "0B" for row in second)  # a capture: no growth


def test_live_cgroup_redraws_with_growth():
    status, out = run_pty("cgroup", "--tree", "--root", TREE_HOST, "--watch", "0.2",
                          "--count", "2", cols=120)
    assert status == 0
    frames = out.split(f"{ESC}H{ESC}2J")[1:]
    assert len(frames) == 2 and all("Δusage" in f for f in frames)
    leaf = [line for line in frames[1].splitlines() if "org.gnome.Shell" in line][0]
    assert leaf.split()[2] == "0B"


def test_piped_watch_streams_without_escapes():
    r = run_memscope("top", "--root", TOP_HOST, "--watch", "0.1", "--count", "2")
    assert ESC not in r.stdout and r.stdout.count("pid  user") == 2
    assert "Δpss" not in r.stdout  # the default columns when not live


def test_growth_between_ticks():
    from memscope.commands import growth

    previous = {}
    assert growth(previous, [{"pid": 1, "pss": 10, "rss": 20}]) == {}
    out = growth(previous, [{"pid": 1, "pss": 15, "rss": 18}, {"pid": 2, "pss": 1, "rss": 1}])
    assert out == {1: (5, -2)}
    assert growth(previous, [{"pid": 1, "pss": None, "rss": 18}]) == {1: (None, 0)}


def test_severity_colour_helper():
    from memscope.render.term import severity_color

    assert severity_color("ok") == "32" and severity_color("warning") == "33"
    assert severity_color("critical") == "1;31" and severity_color("nonsense") == ""
    assert severity_color(None) == ""
