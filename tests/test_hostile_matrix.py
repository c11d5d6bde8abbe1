"""The hostile-input matrix: every kernel file under --root, every mutation class, every
command that reads the file. Each run exits 0 (the damage tolerated, or skipped with a
note or warning) or 1 (one stderr line naming the file or object) — never a traceback,
never an internal error, never a hang."""

from __future__ import annotations

import contextlib
import io
import random
import signal

import pytest

from conftest import full_host
from memscope.cli import main
from test_hostile_parsers import MUTATION_CLASSES, mutations

# file (relative to the host) -> the commands that read it
MATRIX = {
    "proc/meminfo": [["summary"], ["zones"], ["shmem"], ["report"], ["explain"]],
    "proc/zoneinfo": [["summary"], ["zones"], ["explain"]],
    "proc/vmstat": [["summary"], ["explain"]],
    "proc/buddyinfo": [["zones"], ["report"], ["explain"]],
    "proc/sys/vm/min_free_kbytes": [["zones"]],
    "proc/sys/vm/lowmem_reserve_ratio": [["zones"]],
    "proc/sys/vm/overcommit_memory": [["explain"]],
    "proc/pressure/memory": [["summary"], ["explain"]],
    "proc/vmallocinfo": [["vmalloc"], ["report"], ["explain"]],
    "proc/slabinfo": [["slab"], ["explain"]],
    "proc/sysvipc/shm": [["shmem"]],
    "proc/self/mounts": [["shmem"], ["cgroup", "/session.slice/build.scope"]],
    "proc/self/cgroup": [["summary"]],
    "proc/19124/status": [["top"], ["proc", "19124"]],
    "proc/19124/smaps_rollup": [["top"], ["proc", "19124"], ["explain"]],
    "proc/19124/smaps": [["proc", "19124", "--maps"]],
    "proc/19124/cmdline": [["top"]],
    "sys/fs/cgroup/memory/session.slice/build.scope/memory.stat": [
        ["cgroup", "/session.slice/build.scope"],
        ["explain", "--cgroup", "/session.slice/build.scope"]],
    "sys/fs/cgroup/memory/session.slice/build.scope/memory.usage_in_bytes": [
        ["cgroup", "/session.slice/build.scope"], ["cgroup", "/", "--children"]],
    "sys/fs/cgroup/memory/session.slice/build.scope/memory.oom_control": [
        ["cgroup", "/session.slice/build.scope"]],
}


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    return full_host(tmp_path_factory.mktemp("hostile") / "host")


class Timeout(Exception):
    pass


def invoke(args):
    """memscope in this process (the matrix is hundreds of runs): (code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()

    def alarm(*_):
        raise Timeout(" ".join(map(str, args)))

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("rel", sorted(MATRIX))
def test_matrix(host, rel, tmp_path):
    path = host / rel
    original = path.read_bytes()
    rng = random.Random(rel)
    text = original.decode("utf-8", "replace")
    kinds = set()
    try:
        for kind, mutated in mutations(text, rng):
            kinds.add(kind)
            path.write_bytes(mutated.encode("utf-8", "surrogateescape"))
            for command in MATRIX[rel]:
                code, out, err = invoke([*command, "--root", host, "--format", "json"])
                what = f"{rel} {kind}: memscope {' '.join(command)} -> {code}: {err[-300:]}"
                assert code in (0, 1), what
                assert "Traceback" not in err and "internal error" not in err, what
                lines = err.splitlines()
                if code == 1:
                    assert len(lines) == 1 and lines[0].startswith("memscope: error: "), what
                    assert out == "", what
                else:
                    assert all(line.startswith("memscope: warning: ") for line in lines), what
    finally:
        path.write_bytes(original)
    assert len(kinds) == MUTATION_CLASSES


def test_matrix_errors_name_the_file_and_line(host):
    path = host / "proc/meminfo"
    original = path.read_bytes()
    try:
        path.write_bytes(original.replace(b"MemFree:", b"MemFree: x", 1))
        code, _out, err = invoke(["summary", "--root", host])
        assert code == 1
        assert f"{host}/proc/meminfo: line 2: MemFree" in err
    finally:
        path.write_bytes(original)


def test_a_broken_process_does_not_hide_the_others(host):
    path = host / "proc/19124/status"
    original = path.read_bytes()
    try:
        path.write_bytes(original.replace(b"VmRSS:", b"VmRSS:\tlots kB\nVmX:", 1))
        code, out, err = invoke(["top", "--root", host, "--format", "json"])
        assert code == 0 and "skipped" in out
        assert err.startswith("memscope: warning: 1 process(es) skipped") and "line" in err
    finally:
        path.write_bytes(original)
