"""The output side of issue 10 (and --quiet, issue 11; per-run warnings, issue 12): where
memscope writes, how it ends, what it accepts as option values, and what names can do.

Every test runs memscope as a user does (a subprocess) on this real host, with real devices,
FIFOs, sockets, pipes, signals, locales and processes with hostile names.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, REPO, run_memscope, run_unprivileged
from test_cgroup import child_cgroups  # noqa: F401  (a fixture)

pytestmark = pytest.mark.skipif(not os.path.isfile("/proc/self/smaps_rollup"),
                                reason="needs a live Linux /proc")
ENV = dict(os.environ, PYTHONPATH=str(REPO))
MEMSCOPE = [sys.executable, "-m", "memscope"]
ROOT = os.geteuid() == 0


def popen(*args, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([*MEMSCOPE, *map(str, args)], env=kw.pop("env", ENV), **kw)


def one_line(err: str) -> str:
    """The one error line (warnings about the host, such as unreadable processes, aside)."""
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if not line.startswith("memscope: warning:")]
    assert len(lines) == 1, err
    return lines[0]


def temps(directory) -> list:
    return sorted(p.name for p in Path(directory).glob(".memscope-*.tmp"))


# --- -o onto what is not a regular file ---------------------------------------------------


@pytest.mark.skipif(not ROOT, reason="mknod needs root")
def test_o_onto_a_character_device_writes_into_it_and_never_replaces_it(tmp_path):
    # a private /dev/null (same major:minor): `-o /dev/null` replaced the real one as root
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    before = os.lstat(node)
    for args in (["summary"], ["top", "--format", "json"], ["report", "--format", "prom"]):
        r = run_memscope(*args, "-o", node)
        assert r.returncode == 0, r.stderr
        after = os.lstat(node)
        assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
        assert after.st_ino == before.st_ino and after.st_mode == before.st_mode
    r = run_memscope("snapshot", "-o", node)
    assert r.returncode == 0, r.stderr
    assert os.lstat(node).st_ino == before.st_ino and temps(tmp_path) == []
    # the real /dev/null too: it is a device, and under /dev (unless something else on
    # this shared machine has already replaced it)
    real = os.lstat("/dev/null")
    if not stat.S_ISCHR(real.st_mode):
        pytest.skip("/dev/null is not a device on this machine right now")
    r = run_memscope("summary", "-o", "/dev/null")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    now = os.lstat("/dev/null")
    assert stat.S_ISCHR(now.st_mode) and now.st_ino == real.st_ino


@pytest.mark.skipif(not ROOT, reason="mknod needs root")
def test_o_onto_dev_full_is_one_line_and_the_device_stays(tmp_path):
    node = tmp_path / "full"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    r = run_memscope("summary", "-o", node)
    assert r.returncode == 1
    assert "No space left on device" in one_line(r.stderr)
    assert stat.S_ISCHR(os.lstat(node).st_mode) and temps(tmp_path) == []


def _drain(path, got):
    with open(path, "rb") as f:
        got.append(f.read())


def test_o_onto_a_fifo_writes_into_it(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (["summary", "--format", "json"], ["snapshot"]):
        got = []
        reader = threading.Thread(target=_drain, args=(fifo, got))
        reader.start()
        r = run_memscope(*args, "-o", fifo)
        reader.join(30)
        assert r.returncode == 0, r.stderr
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and temps(tmp_path) == []
        if args[0] == "summary":
            assert json.loads(got[0])["memory"]["total"] > 0
        else:
            assert got[0][:2] == b"\x1f\x8b"  # the gzip tar


def test_o_onto_a_unix_socket_writes_into_it(tmp_path):
    path = str(tmp_path / "sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    got = []

    def serve():
        conn, _ = server.accept()
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        got.append(data)
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    r = run_memscope("summary", "--format", "json", "-o", path)
    t.join(30)
    server.close()
    assert r.returncode == 0, r.stderr
    assert json.loads(got[0])["memory"]["total"] > 0
    assert stat.S_ISSOCK(os.lstat(path).st_mode) and temps(tmp_path) == []


def test_o_onto_our_own_descriptors_writes_through_them(tmp_path):
    # /proc/self/fd/1 and /dev/stdout with stdout a pipe; /dev/fd/N as bash's >(gzip) gives
    for name in ("/proc/self/fd/1", "/dev/stdout", "/dev/fd/1"):
        r = run_memscope("summary", "--format", "json", "-o", name)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["memory"]["total"] > 0
    assert os.path.islink("/dev/stdout")
    # stdout a regular file (the case where /dev/stdout resolves to a regular file)
    out = tmp_path / "out.json"
    with open(out, "w") as f:
        r = subprocess.run([*MEMSCOPE, "summary", "--format", "json", "-o", "/dev/stdout"],
                           stdout=f, stderr=subprocess.PIPE, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["memory"]["total"] > 0
    assert os.path.islink("/dev/stdout") and temps("/dev") == []
    # a process substitution: bash's >(gzip -c > FILE)
    if shutil.which("bash") and shutil.which("gzip"):
        gz = tmp_path / "s.json.gz"
        cmd = (f"{sys.executable} -m memscope summary --format json "
               f"-o >(gzip -c > {gz}); wait")
        r = subprocess.run(["bash", "-c", cmd], env=ENV, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                import gzip

                assert json.loads(gzip.decompress(gz.read_bytes()))["memory"]["total"] > 0
                break
            except (EOFError, OSError, ValueError):
                time.sleep(0.05)
        else:
            pytest.fail("nothing reached gzip")


def test_o_under_dev_shm_is_a_file_like_any_other():
    # /dev/shm is a tmpfs of its own, not /dev's filesystem: a new file is made atomically
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat("/dev").st_dev:
        pytest.skip("no separate /dev/shm")
    out = Path("/dev/shm") / f"memscope-test-{os.getpid()}.json"
    try:
        r = run_memscope("summary", "--format", "json", "-o", out)
        assert r.returncode == 0, r.stderr
        assert stat.S_ISREG(os.lstat(out).st_mode) and json.loads(out.read_text())["memory"]
        assert temps("/dev/shm") == []
    finally:
        out.unlink(missing_ok=True)


def test_o_closed_descriptor_is_one_line(tmp_path):
    r = run_memscope("summary", "-o", "/proc/self/fd/9")
    assert r.returncode == 1 and "descriptor 9 is not open" in one_line(r.stderr)


@pytest.mark.skipif(not ROOT, reason="mknod needs root")
def test_symlinks_to_a_device_write_there_and_to_a_file_are_replaced(tmp_path):
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    link = tmp_path / "to-device"
    link.symlink_to(node)
    r = run_memscope("summary", "-o", link)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and stat.S_ISCHR(os.lstat(node).st_mode)
    # a symlink to a regular file: replaced, not followed (docs/contract.md), the target untouched
    target = tmp_path / "target"
    target.write_text("keep")
    flink = tmp_path / "to-file"
    flink.symlink_to(target)
    r = run_memscope("summary", "--format", "json", "-o", flink)
    assert r.returncode == 0, r.stderr
    assert not flink.is_symlink() and json.loads(flink.read_text())["memory"]
    assert target.read_text() == "keep"
    # a dangling symlink: replaced
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert run_memscope("summary", "-o", dangling).returncode == 0
    assert not dangling.is_symlink() and not (tmp_path / "nowhere").exists()


def test_o_a_directory_names_the_problem(tmp_path):
    for target in (tmp_path, f"{tmp_path}/", tmp_path / "new" / "", f"{tmp_path}/file/"):
        r = run_memscope("summary", "-o", str(target) + ("/" if str(target).endswith("new")
                                                          else ""))
        assert r.returncode == 1
        assert "directory" in one_line(r.stderr)
    r = run_memscope("snapshot", "-o", tmp_path)
    assert r.returncode == 1 and "is a directory" in one_line(r.stderr)
    assert temps(tmp_path) == []


def test_relative_o_in_a_deleted_working_directory_is_one_line(tmp_path):
    gone = tmp_path / "gone"
    cmd = f'mkdir "{gone}" && cd "{gone}" && rmdir "{gone}" && exec "$@"'
    for args in (["summary", "-o", "out.json"], ["snapshot", "-o", "s.tar.gz"]):
        r = subprocess.run(["sh", "-c", cmd, "sh", *MEMSCOPE, *args], env=ENV,
                           capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 1
        assert "working directory no longer exists" in one_line(r.stderr)


def test_a_replaced_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path):
    old = tmp_path / "old.json"
    old.write_text("x")
    os.chmod(old, 0o640)
    if ROOT:
        os.chown(old, 65534, 65534)
    r = run_memscope("summary", "--format", "json", "-o", old)
    assert r.returncode == 0, r.stderr
    st = os.stat(old)
    assert stat.S_IMODE(st.st_mode) == 0o640 and json.loads(old.read_text())["memory"]
    if ROOT:
        assert (st.st_uid, st.st_gid) == (65534, 65534)
    for umask, mode in ((0o077, 0o600), (0o022, 0o644), (0o002, 0o664)):
        new = tmp_path / f"new-{umask:o}"
        r = subprocess.run([*MEMSCOPE, "summary", "-o", new], env=ENV, umask=umask,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(os.stat(new).st_mode) == mode, (oct(umask), oct(os.stat(new).st_mode))
    assert temps(tmp_path) == []


# --- signals during -o ------------------------------------------------------------------


def _signal_mid_write(tmp_path, args, sig, name):
    """Start memscope writing ``-o``, freeze it (SIGSTOP) once its temp file exists, send
    ``sig``, let it go on: it must end with 128+sig, remove the temp file, and leave the
    previous file whole."""
    out = tmp_path / name
    out.write_bytes(b"previous")
    for _attempt in range(20):
        p = popen(*args, "-o", out)
        seen = False
        while p.poll() is None:
            if temps(tmp_path):
                p.send_signal(signal.SIGSTOP)
                if temps(tmp_path):
                    seen = True
                    p.send_signal(sig)
                p.send_signal(signal.SIGCONT)
                break
        _, err = p.communicate(timeout=60)
        if not seen:
            assert out.read_bytes() != b"previous" or p.returncode != 0
            out.write_bytes(b"previous")
            continue  # finished before we caught it mid-write: again
        assert p.returncode == 128 + sig, (p.returncode, err)
        assert b"Traceback" not in err
        assert temps(tmp_path) == [], "a signal left a temp file behind"
        assert out.read_bytes() == b"previous"
        return
    pytest.skip("never caught the write in progress")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_snapshot_leaves_no_temp_file(tmp_path, sig):
    _signal_mid_write(tmp_path, ["snapshot", "--maps"], sig, "snap.tar.gz")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_report_leaves_no_temp_file(tmp_path, sig):
    _signal_mid_write(tmp_path, ["report", "--format", "json"], sig, "report.json")


def test_sighup_ignored_under_nohup_is_still_ignored(tmp_path):
    out = tmp_path / "r.json"
    p = subprocess.Popen([*MEMSCOPE, "summary", "--watch", "0.2", "--count", "3",
                          "--format", "json", "-o", str(out)], env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    time.sleep(0.3)
    p.send_signal(signal.SIGHUP)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert json.loads(out.read_text())["memory"]


# --- standard output closed, full, or gone --------------------------------------------------


def test_closed_stdout_is_one_line_exit_1():
    cmd = 'exec "$@" >&-'
    for args in (["summary"], ["top", "--limit", "1"], ["summary", "--help"]):
        r = subprocess.run(["sh", "-c", cmd, "sh", *MEMSCOPE, *args], env=ENV,
                           capture_output=True, text=True)
        assert r.returncode == 1
        assert "standard output" in one_line(r.stderr) and "closed" in r.stderr


@pytest.mark.parametrize("args", [
    ["check"], ["check", "--root", "/nonexistent"], ["check", "--bogus"],
    ["check", "-w", "nan"], ["check", "--interval", "inf"], ["check", "-c", "0"],
    ["check", "--interval", "86401"],
])
def test_check_failures_are_unknown_whatever_stdout_is(args):
    """check follows the plugin conventions for every failure: a bad value (nan, inf, past
    a day) is UNKNOWN, exit 3, never an internal error; with stdout closed the one line goes
    to stderr, still exit 3 (a healthy check with stdout closed says so as UNKNOWN too)."""
    r = run_memscope(*args)
    if args != ["check"]:
        assert r.returncode == 3 and r.stdout.startswith("MEMORY UNKNOWN - "), r.stdout
        assert "internal error" not in r.stdout
    r = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *MEMSCOPE, *args], env=ENV,
                       capture_output=True, text=True)
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert one_line(r.stderr).startswith("MEMORY UNKNOWN - ")


def test_closed_stdout_with_o_still_writes_the_file(tmp_path):
    out = tmp_path / "s.json"
    r = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *MEMSCOPE, "summary", "--format",
                        "json", "-o", str(out)], env=ENV, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["memory"]["total"] > 0


def test_closed_stderr_and_an_error_is_still_exit_1():
    r = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", *MEMSCOPE, "proc", "999999999"],
                       env=ENV, capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""


def test_stdout_on_dev_full_is_one_line_exit_1():
    for args in (["summary"], ["top", "--format", "json"], ["summary", "--watch", "0.1"]):
        with open("/dev/full", "w") as full:
            r = subprocess.run([*MEMSCOPE, *args], stdout=full, stderr=subprocess.PIPE,
                               text=True, env=ENV, timeout=60)
        assert r.returncode == 1
        assert "No space left on device" in one_line(r.stderr)


@pytest.mark.parametrize("args", [["summary", "--watch", "0.1"],
                                  ["top", "--watch", "0.1", "--format", "json"],
                                  ["report", "--format", "yaml"]])
def test_reader_going_away_is_a_quiet_exit_0(args):
    # `memscope summary --watch 0.1 | head -c 10`
    p = popen(*args)
    assert len(p.stdout.read(10)) == 10
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=60) == 0
    assert b"Traceback" not in err and b"error" not in err


def test_head_in_a_shell_pipeline():
    r = subprocess.run(["bash", "-c", "set -o pipefail; \"$@\" | head -c 10 >/dev/null",
                        "bash", *MEMSCOPE, "summary", "--watch", "0.1"],
                       env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == ""


# --- Ctrl-C at any moment --------------------------------------------------------------


def _site_packages():
    return [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]


def test_ctrl_c_at_any_moment_is_exit_130_without_a_traceback(tmp_path):
    """SIGINT at a spread of delays from the start: during the imports, the prefetch fork
    (top), the reading, the rendering, a snapshot being written.

    memscope is started as its console script starts it (import memscope.main, call main)
    without site's .pth processing, which runs before any memscope code: a SIGINT there is
    the interpreter's own start-up (Python then dies of SIGINT, -2, or prints its own
    traceback), so only a traceback through memscope's files counts against it."""
    boot = ("import sys; sys.path[:0] = %r; from memscope.main import main; main()"
            % ([str(REPO)] + _site_packages()))
    ours = f'File "{REPO}/memscope/'
    delays = [0.0, 0.005, 0.01, 0.02, 0.03, 0.045, 0.06, 0.08, 0.1, 0.13, 0.17, 0.22, 0.3]
    got = []
    for args in (["summary", "--watch", "1"], ["top", "--watch", "1"],
                 ["snapshot", "--maps", "-o", str(tmp_path / "s.tar.gz")]):
        for delay in delays:
            p = subprocess.Popen([sys.executable, "-S", "-c", boot, *args], env=ENV,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(delay)
            p.send_signal(signal.SIGINT)
            try:
                out, err = p.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                # Python raised KeyboardInterrupt inside one of its own import-lock weakref
                # callbacks ("Exception ignored in: ...") before memscope.main was loaded
                p.kill()
                out, err = p.communicate()
                text = err.decode("utf-8", "replace")
                assert text.startswith("Exception ignored in") and ours not in text, text
                continue
            text = err.decode("utf-8", "replace")
            assert ours not in text, (args, delay, text)
            if "Traceback" in text or "Fatal Python error" in text:
                continue  # the interpreter's own start-up, before any memscope code
            if p.returncode == 0 and args[0] == "snapshot":
                continue  # done before the signal
            assert p.returncode in (130, -signal.SIGINT), (args, delay, p.returncode, text)
            assert text == "" or text.startswith("memscope: warning:"), text
            got.append(p.returncode)
            assert temps(tmp_path) == []
    # most deliveries land in memscope's own code, and end with 130
    assert got.count(130) >= len(got) // 2, got


# --- prefetch children ---------------------------------------------------------------------


def _session_members(sid):
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rfind(b")") + 2:].split()
        if int(fields[3]) == sid:
            members.append(int(name))
    return members


@pytest.mark.parametrize("args, code", [
    (["top", "--sort", "bogus"], 2),                 # a usage error
    (["top", "--user", "root", "--limit", "-1"], 2),  # another, after the fork
    (["top", "--watch", "0.1", "--count", "1", "--format", "json"], 0),
    (["top", "--format", "json"], 0),
])
def test_prefetch_children_never_outlive_the_command(args, code):
    # many processes, so the children have a good deal to read when the parent exits
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(300)]
    try:
        p = subprocess.Popen([*MEMSCOPE, *args], env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        # drain stdout until the parent exits, without waiting for EOF
        fd = p.stdout.fileno()
        while p.poll() is None:
            if select.select([fd], [], [], 0.05)[0]:
                if not os.read(fd, 1 << 16):
                    break
        p.wait(timeout=60)
        assert p.returncode == code, p.stderr.read()
        # the moment the parent is gone: no child left, and the pipe is released
        assert _session_members(p.pid) == []
        os.set_blocking(fd, False)
        try:
            while os.read(fd, 1 << 16):
                pass
        except BlockingIOError:
            pytest.fail("the pipe is still held after memscope exited")
    finally:
        for s in sleepers:
            s.kill()
            s.wait()


def test_prefetch_children_die_with_a_signal():
    p = subprocess.Popen([*MEMSCOPE, "top", "--watch", "5"], env=ENV, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode in (128 + signal.SIGTERM, -signal.SIGTERM), err
    assert _session_members(p.pid) == []


# --- option values -----------------------------------------------------------------------

HUGE = "99999999999999999999999T"


@pytest.mark.parametrize("args", [
    ["summary", "--watch", v] for v in ("inf", "-inf", "nan", "1e10", "1e400", "0", "-1",
                                        "0.01", "abc", "")
] + [
    ["summary", "--watch", "1", "--count", v] for v in ("0", "-1", "x", "1.5")
] + [
    ["top", "--walk-limit", v] for v in (HUGE, "-1", "nan", "inf", "1e400", "16385P")
] + [
    ["diff", "a.json", "b.json", "--min-change", v] for v in (HUGE, "-5", "nan", "16385P")
] + [
    ["top", "--limit", v] for v in ("-1", "x")  # (0 is all: top -n 0)
] + [
    ["vmalloc", "--limit", "0"], ["slab", "--limit", "-3"], ["cgroup", "--pid", "0"],
    ["top", "--pid", "-1"], ["proc", "0"], ["proc", "-5"], ["top", "--match", "("],
    ["top", "--match", "a{99999999999}"], ["top", "--match", "(?P<x"],
    ["cgroup", "--watch", "nan"], ["top", "--watch", "inf"],
] + [
    ["explain", "--interval", v] for v in ("nan", "inf", "-inf", "1e400", "0", "-1",
                                           "86401", "abc")
])
def test_bad_option_values_are_usage_errors(args):
    r = run_memscope(*args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    # one line, as every error: the message and where to read more
    assert r.stderr.startswith("memscope: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.endswith(f"(see 'memscope {args[0]} --help')\n"), r.stderr


@pytest.mark.parametrize("args", [
    ["top", "--limit", "99999999999999999999999", "--format", "json"],
    ["top", "--walk-limit", "16384P", "--format", "json"],
    ["summary", "--watch", "86400", "--count", "1"],
    ["summary", "--watch", "0.1", "--count", "99999999999999999999999", "-o", "/dev/null"],
])
def test_huge_but_valid_values_are_a_bounded_run(args):
    p = popen(*args)
    endless = args[:3] == ["summary", "--watch", "0.1"]  # runs until stopped: 3 s shows it
    try:
        out, err = p.communicate(timeout=3 if endless else 20)
    except subprocess.TimeoutExpired:  # the --count one repeats until stopped: stop it
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 128 + signal.SIGTERM
        return
    assert p.returncode == 0 and b"Traceback" not in err, err


def test_pids_past_the_kernel_limit_are_no_such_process():
    for args in (["proc", "99999999999999999999"], ["cgroup", "--pid", "99999999999999999999"]):
        r = run_memscope(*args)
        assert r.returncode == 1 and "no such process" in one_line(r.stderr)


def test_a_backtracking_match_is_bounded(workers):
    # (a+)+$ against a run of 'a' ending in something else takes 2^n steps; any user can
    # give their process such a command line
    w = workers("none", argv0="a" * 40 + "!")
    for regex in (r"(a+)+$", r"(a|a)+$", r"(a*)*b"):
        started = time.monotonic()
        r = run_memscope("top", "--match", regex)
        assert r.returncode == 2, (regex, r.returncode, r.stderr)
        assert "backtracks" in r.stderr and "Traceback" not in r.stderr
        assert time.monotonic() - started < 100  # bounded, whatever the machine's speed
    # a sound expression still finds the process, in a long command line too
    r = run_memscope("top", "--match", r"^a{40}!", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert [p["pid"] for p in json.loads(r.stdout)["processes"]] == [w.pid]


# --- names are data ------------------------------------------------------------------------

HOSTILE_COMMS = ["yes", "null", ": x", "- x", "~", "0o17", "a\x85b", "a\u2028b", "\ufeffbom",
                 "\udcff\udcfe", "\x1b]0;pwn\x07", "\u202eevil", "a\x9b31mb", "\x08\x08\r",
                 "x\ty"]


def _comm(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")[:15]


def _as_bytes(v) -> bytes:
    return v if isinstance(v, bytes) else v.encode("utf-8", "surrogateescape")


BAD_IN_TERMINAL = ["\x1b", "\x07", "\x08", "\r", "\x9b", "\x9d", "\x85", "\u2028", "\u202e",
                   "\ufeff", "\t"]


def _harmless(text: str):
    for ch in BAD_IN_TERMINAL:
        assert ch not in text, (ch, text[:200])


def test_hostile_process_names_round_trip_in_json_and_yaml_and_are_harmless_in_tables(workers):
    started = {}
    for comm in HOSTILE_COMMS:
        w = workers("none", env={"WORKER_COMM": comm})
        with open(f"/proc/{w.pid}/comm", "rb") as f:
            started[w.pid] = f.read().rstrip(b"\n")
        assert started[w.pid] == _comm(comm)
    pids = [a for pid in started for a in ("--pid", pid)]
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        r = run_memscope("top", *pids, "--format", fmt)
        assert r.returncode == 0, r.stderr
        doc = load(r.stdout)
        names = {p["pid"]: _as_bytes(p["name"]) for p in doc["processes"]}
        assert names == started, fmt
        for pid in started:  # proc too
            r = run_memscope("proc", pid, "--format", fmt)
            assert _as_bytes(load(r.stdout)["processes"][0]["name"]) == started[pid]
    from test_formats import read_csv, uncell

    r = run_memscope("top", *pids, "--format", "csv")
    assert r.returncode == 0, r.stderr
    header, rows = read_csv(r.stdout)["processes"]
    pid, name = header.index("pid"), header.index("name")
    assert {int(row[pid]): _as_bytes(uncell(row[name])) for row in rows} == started
    for args in (["top", *pids], ["top", *pids, "--group-by", "program"],
                 ["proc", *started], ["top", *pids, "--format", "csv"]):
        r = run_memscope(*args)
        assert r.returncode == 0, r.stderr
        _harmless(r.stdout)
        assert "\udcff" not in r.stdout


def test_a_hostile_executable_name_through_every_renderer(worker_bin, tmp_path):
    name = b"evil\xff\xfe\x1b[31m\xc2\x9b"
    exe = os.path.join(os.fsencode(tmp_path), name)
    shutil.copy(worker_bin, exe)
    os.chmod(exe, 0o755)
    proc = subprocess.Popen([exe, "none", b"arg\xff\x1b]0;x\x07"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        pid = proc.pid
        r = run_memscope("top", "--pid", pid, "--group-by", "program", "--format", "json")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert [_as_bytes(g["key"]) for g in doc["groups"]] == [name]
        assert name + b" none" in _as_bytes(doc["processes"][0]["cmdline"])
        assert b"arg\xff\x1b]0;x\x07" in _as_bytes(doc["processes"][0]["cmdline"])
        r = run_memscope("top", "--pid", pid, "--group-by", "program", "--format", "yaml")
        doc = yaml.safe_load(r.stdout)
        assert [_as_bytes(g["key"]) for g in doc["groups"]] == [name]
        table = run_memscope("top", "--pid", pid, "--group-by", "program").stdout
        _harmless(table)
        assert "evil??" in table
        # report: yaml round trip through diff, and Prometheus labels valid UTF-8
        for fmt in ("yaml", "json"):
            a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
            for out in (a, b):
                r = run_memscope("report", "--format", fmt, "-o", out)
                assert r.returncode == 0, r.stderr
            r = run_memscope("diff", a, b, "--format", "json")
            assert r.returncode == 0, r.stderr
            r = run_memscope("diff", a, b)
            assert r.returncode == 0, r.stderr
            _harmless(r.stdout)
        r = subprocess.run([*MEMSCOPE, "report", "--format", "prom"], env=ENV,
                           capture_output=True)
        assert r.returncode == 0, r.stderr
        text = r.stdout.decode("utf-8")  # strict: valid UTF-8
        # bytes that are not UTF-8 and control characters alike as the text \\xHH: never
        # raw in a file a scraper reads
        # (one \\xHH per byte of the UTF-8 form: U+009B is \\xc2\\x9b, a lone 0x9b \\x9b)
        assert 'program="evil\\\\xff\\\\xfe\\\\x1b[31m\\\\xc2\\\\x9b"' in text
        assert "\x1b" not in text
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            pass
        else:
            families = list(text_string_to_metric_families(text))
            labels = [s.labels.get("program") for f in families for s in f.samples]
            assert "evil\\xff\\xfe\\x1b[31m\\xc2\\x9b" in labels
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_names_in_warnings_and_errors_are_neutralised(workers):
    # an error naming what the user typed
    for args in (["cgroup", "/\x1b[2J\x9b31m\u202ex"], ["top", "--sort", "\x1b[31mX"],
                 ["diff", "/nonexistent/\x1b]0;t\x07", "b"]):
        r = run_memscope(*args)
        assert r.returncode in (1, 2)
        _harmless(r.stderr)
    # a warning naming another user's process: run unprivileged, a root worker named badly
    w = workers("none", env={"WORKER_COMM": "\x1b]0;owned\x07\x9b"})
    r = run_unprivileged("top", "--pid", w.pid, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "listed from status only" in r.stderr
    _harmless(r.stderr)
    assert "?]0;owned??" in r.stderr


# --- locales -------------------------------------------------------------------------------

COMMANDS = ["summary", "top", "cgroup", "zones", "vmalloc", "slab", "shmem", "report"]


def _latin1_locale(tmp):
    if not shutil.which("localedef"):
        return None
    r = subprocess.run(["localedef", "-i", "en_US", "-f", "ISO-8859-1",
                        str(tmp / "en_US.ISO-8859-1")], capture_output=True)
    if not (tmp / "en_US.ISO-8859-1").exists():
        return None
    del r
    return {"LOCPATH": str(tmp), "LC_ALL": "en_US.ISO-8859-1", "LANG": "en_US.ISO-8859-1"}


def _locales(tmp_path):
    found = [{"LANG": "C", "LC_ALL": ""}, {"LC_ALL": "C"}, {"LC_ALL": "POSIX"},
             {"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"},
             {"PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0", "LC_ALL": "C"}]
    latin1 = _latin1_locale(tmp_path)
    if latin1:
        found.append(latin1)
    return found


def test_every_command_and_its_help_in_a_non_utf8_locale(tmp_path, workers):
    w = workers("none", env={"WORKER_COMM": "caf\u00e9\u2026\u03a3"})
    for env in _locales(tmp_path):
        full = dict(ENV, **env)
        for args in [[c] for c in COMMANDS] + [["--help"]] + [[c, "--help"] for c in COMMANDS] \
                + [["proc", str(w.pid)], ["top", "--pid", str(w.pid), "--format", "yaml"],
                   ["diff", "--help"], ["snapshot", "--help"]]:
            r = subprocess.run([*MEMSCOPE, *args], env=full, capture_output=True)
            err = r.stderr.decode("utf-8", "replace")
            assert r.returncode == 0, (env, args, err)
            assert "Traceback" not in err and "internal error" not in err
        # machine output stays UTF-8 whatever the locale: the name intact
        r = subprocess.run([*MEMSCOPE, "top", "--pid", str(w.pid), "--format", "yaml"],
                           env=full, capture_output=True)
        name = yaml.safe_load(r.stdout.decode("utf-8"))["processes"][0]["name"]
        assert _as_bytes(name) == _comm("caf\u00e9\u2026\u03a3"), env
    # what the stand-ins look like on an ASCII terminal
    r = subprocess.run([*MEMSCOPE, "summary"], env=dict(ENV, PYTHONIOENCODING="ascii"),
                       capture_output=True)
    r.stdout.decode("ascii")  # pure ASCII


# --- --quiet, and warnings per run ------------------------------------------------------------


def test_quiet_silences_warnings_on_every_command_and_keeps_errors(workers):
    from memscope.cli import cli

    for name, command in cli.commands.items():
        opts = {o for p in command.params for o in getattr(p, "opts", ())}
        assert {"-q", "--quiet"} <= opts, name
    # a command that warns (unprivileged top names the processes it cannot read)
    workers("none")
    loud = run_unprivileged("top", "--format", "json")
    assert loud.returncode == 0 and "warning" in loud.stderr
    quiet = run_unprivileged("top", "--format", "json", "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert run_unprivileged("snapshot", "-q", "-o", "/dev/null").stderr == ""
    # errors stay one line
    r = run_memscope("proc", "999999999", "--quiet")
    assert r.returncode == 1 and "no such process" in one_line(r.stderr)


def test_warnings_are_per_run_not_per_process():
    from click.testing import CliRunner

    from memscope import cli as cli_module

    assert not hasattr(cli_module, "_WARNED")
    runner = CliRunner()
    seen = []

    @cli_module.cli.command("_warns_twice", hidden=True)
    @cli_module.quiet_option
    def _warns_twice():
        cli_module.warn(["same"])
        cli_module.warn(["same", "other"])

    try:
        for _ in range(2):
            r = runner.invoke(cli_module.cli, ["_warns_twice"])
            seen.append(r.output.count("memscope: warning: same"))
        r = runner.invoke(cli_module.cli, ["_warns_twice", "--quiet"])
        assert "warning" not in r.output
    finally:
        cli_module.cli.commands.pop("_warns_twice", None)
    assert seen == [1, 1]  # once per run, and again in the next run


HOSTILE = "\x1b]0;t\x07\x1b[2J\x9b31m\u202e"


def test_kernel_names_are_neutralised_in_every_table(tmp_path):
    """Zone, vmalloc caller and slab cache names (a --root tree is anyone's) reach no
    terminal as control, in tables or in stderr, and stay whole in JSON."""
    host = tmp_path / "host"
    shutil.copytree(REPO / "fixtures" / "this-vm-6.18.44-fc-v657", host, symlinks=True)
    zi = host / "proc" / "zoneinfo"
    zi.write_text(zi.read_text().replace("zone   Normal", f"zone   Nor{HOSTILE}mal"))
    bi = host / "proc" / "buddyinfo"
    bi.write_text(bi.read_text().replace("Normal", f"Nor{HOSTILE}mal"))
    vi = host / "proc" / "vmallocinfo"
    vi.write_text(vi.read_text().replace("irq_init_percpu_irqstack", f"irq{HOSTILE}stack"))
    try:
        slab = Path("/proc/slabinfo").read_text().splitlines()
    except OSError:
        slab = None
    if slab and len(slab) > 3:
        first = slab[2].split()[0]
        slab[2] = slab[2].replace(first, f"c{HOSTILE}x", 1)
        (host / "proc" / "slabinfo").write_text("\n".join(slab) + "\n")
    for args in (["zones"], ["zones", "--explain"], ["summary"], ["vmalloc"],
                 ["vmalloc", "--by", "type"], ["slab"], ["report"]):
        if args[0] == "slab" and not slab:
            continue
        r = run_memscope(*args, "--root", host)
        assert r.returncode in (0, 1), (args, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr
        _harmless(r.stdout)
        _harmless(r.stderr)
    r = run_memscope("zones", "--root", host, "--format", "json")
    if r.returncode == 0:
        assert f"Nor{HOSTILE}mal" in [z["zone"] for z in json.loads(r.stdout)["zones"]]
        text = run_memscope("zones", "--root", host, "--format", "prom").stdout
        # a label value: controls as the text \\xHH, never raw in a file a scraper reads
        assert "\x1b" not in text and 'zone="Nor\\\\x1b]0;t' in text


def test_diff_categories_and_names_are_neutralised(tmp_path):
    r = run_memscope("report", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    doc["summary"]["breakdown"][0]["category"] = f"free{HOSTILE}"
    doc["top"]["groups"].append({"key": f"prog{HOSTILE}", "count": 1, "rss": 1 << 30,
                                 "pss": 1 << 30, "uss": 1 << 30, "swap": 0,
                                 "pss_missing": 0})
    doc["source"]["hostname"] = f"host{HOSTILE}"
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(r.stdout)
    b.write_text(json.dumps(doc))
    r = run_memscope("diff", a, b)
    assert r.returncode in (0, 1), r.stderr
    _harmless(r.stdout)
    _harmless(r.stderr)


@pytest.mark.skipif(not ROOT, reason="mounting a tmpfs needs root")
def test_a_hostile_mount_point_in_shmem(tmp_path):
    point = tmp_path / f"m{HOSTILE}\nx"
    point.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", str(point)],
                       capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr[-200:]!r}")
    try:
        (point / "f").write_bytes(b"x" * 65536)
        r = run_memscope("shmem")
        assert r.returncode == 0, r.stderr
        _harmless(r.stdout)
        r = run_memscope("shmem", "--format", "json")
        points = [m["mountpoint"] for m in json.loads(r.stdout)["mounts"]]
        assert str(point) in points
    finally:
        subprocess.run(["umount", str(point)])


def test_a_hostile_cgroup_name(child_cgroups):  # noqa: F811
    make, parent = child_cgroups
    try:
        [(path, _d)] = make(f"c{HOSTILE}")
    except OSError as exc:
        pytest.skip(f"cgroupfs refuses the name: {exc}")
    for args in (["cgroup", parent, "--children"], ["cgroup", path], ["report"]):
        r = run_memscope(*args)
        assert r.returncode == 0, r.stderr
        _harmless(r.stdout)
        _harmless(r.stderr)
    r = run_memscope("cgroup", parent, "--children", "--format", "json")
    assert path in [c["path"] for c in json.loads(r.stdout)["cgroups"]]
    r = run_memscope("cgroup", path + "\x1b[31mgone")
    assert r.returncode == 1
    _harmless(r.stderr)


def test_cgroup_pid_finds_a_cgroup_whose_name_is_not_utf8(child_cgroups, workers):  # noqa: F811
    make, parent = child_cgroups
    name = "bad\udcff\udcfe" + HOSTILE  # bytes b"bad\xff\xfe..." on disk
    try:
        [(path, d)] = make(name)
    except OSError as exc:
        pytest.skip(f"cgroupfs refuses the name: {exc}")
    w = workers("none")
    with open(os.path.join(d, "cgroup.procs"), "w") as f:
        f.write(str(w.pid))
    r = run_memscope("cgroup", "--pid", w.pid, "--format", "json")
    assert r.returncode == 0, r.stderr
    [cg] = json.loads(r.stdout)["cgroups"]
    assert cg["path"] == path and cg["pids"] == [w.pid]
    r = run_memscope("cgroup", "--pid", w.pid, "--format", "yaml")
    assert _as_bytes(yaml.safe_load(r.stdout)["cgroups"][0]["path"]) == _as_bytes(path)
    r = run_memscope("cgroup", "--pid", w.pid, "--format", "prom")
    r.stdout.encode("utf-8")
    assert "bad\\\\xff\\\\xfe" in r.stdout
    r = run_memscope("cgroup", "--pid", w.pid)
    _harmless(r.stdout)
    with open(os.path.join(parent_dir(d), "cgroup.procs"), "w") as f:
        f.write(str(w.pid))  # back, so the cgroup can be removed


def parent_dir(d):
    return os.path.dirname(d)


# --- the renderers on any text at all (hypothesis) -------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# any code point, lone surrogates (bytes that are not UTF-8) and YAML's troublemakers included
NAMES = st.one_of(st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                        blacklist_categories=())),
                  st.sampled_from(["yes", "no", "null", "~", ": x", "- x", "? x", "&a", "*a",
                                   "!t", "#c", "'q", '"q', "0x1F", "1e3", ".inf", "\x85",
                                   "\u2028", "\u2029", "\ufeff", "\udcff", "\ud800",
                                   " lead", "trail ", "a\r\nb", "%TAG"]))


@settings(max_examples=400, deadline=None)
@given(NAMES)
def test_any_name_round_trips_in_json_and_yaml(name):
    from memscope.collect.documents import _load_yaml
    from memscope.render import to_json, to_yaml

    from conftest import yaml_names as _names  # !!binary bytes made names again

    doc = {"schema_version": 1, "processes": [{"name": name, "cmdline": name + " x"}],
           "groups": {"k": name}}
    back = json.loads("".join(to_json(doc)))
    assert back["processes"][0]["name"] == name and back["groups"]["k"] == name
    text = to_yaml(doc)
    text.encode("utf-8")  # valid UTF-8: no lone surrogate reaches the stream
    # lossless for every name a read can give: surrogates only stand for bytes 0x80-0xFF
    readable = not any("\ud800" <= ch < "\udc80" or "\udd00" <= ch <= "\udfff"
                       for ch in name)
    loads = [lambda t, lo=lo: _names(yaml.load(t, Loader=lo))
             for lo in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))]
    loads.append(lambda t: _load_yaml("doc.yaml", t))  # memscope's own reader (diff, trend)
    for load in loads:
        loaded = load(text)
        if readable:
            assert loaded["processes"][0]["name"] == name, text
            assert loaded["groups"]["k"] == name


@settings(max_examples=400, deadline=None)
@given(NAMES)
def test_any_name_is_harmless_in_a_terminal_and_valid_in_a_label(name):
    from memscope.render.prom import escape
    from memscope.text import safe, safe_lines

    shown = safe(name)
    assert shown.isprintable() and len(shown) == len(name)
    lines = safe_lines(name + "\n" + name)
    assert lines.count("\n") == (name + "\n" + name).count("\n")
    assert all(line.isprintable() for line in lines.split("\n"))
    label = escape(name)
    label.encode("utf-8")  # valid UTF-8
    assert "\n" not in label and '"' not in label.replace('\\"', "")


def test_names_read_from_files_work_under_an_ascii_filesystem_encoding(tmp_path):
    """Under a C locale without UTF-8 (no locale coercion: a host without C.UTF-8), Python's
    filesystem encoding is ASCII. Names memscope reads from the kernel's files (a cgroup path
    in /proc/PID/cgroup) still reach the system calls, and names it lists come back as the
    same strings as under UTF-8."""
    host = tmp_path / "host"
    shutil.copytree(FIXTURES / "this-vm-6.18.44-fc-v657", host)
    odd = "/session.slice/b\u2028d\u00e9.scope"
    cgroups = host / "sys/fs/cgroup/memory"
    (cgroups / "session.slice/build.scope").rename(cgroups / odd.lstrip("/"))
    (cgroups / odd.lstrip("/") / "cgroup.procs").write_text("19124\n")
    (host / "proc/19124/cgroup").write_text(f"4:memory:{odd}\n")
    ascii_env = dict(ENV, LC_ALL="C", LANG="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")
    for env in (ENV, ascii_env):
        for args in (["cgroup", "--pid", "19124"], ["cgroup", "--tree"],
                     ["top", "--group-by", "cgroup"]):
            r = subprocess.run([*MEMSCOPE, *args, "--root", str(host), "--format", "json"],
                               env=env, capture_output=True)
            err = r.stderr.decode("utf-8", "replace")
            assert r.returncode == 0 and "internal error" not in err, (args, err)
            doc = json.loads(r.stdout)
            found = [c["path"] for c in doc["cgroups"]] if "cgroups" in doc else \
                [g["key"] for g in doc["groups"]]
            assert odd in found, (args, found)


@settings(max_examples=400, deadline=None)
@given(NAMES)
def test_a_label_gives_the_name_back_where_it_has_no_backslash(name):
    """Two names are two labels (U+0085 and the byte 0x85 were one): the label, unescaped
    as the exposition format says and then its \\xHH read as bytes, is the name, for every
    name without a backslash of its own (docs/contract.md: a backslash is kept as is)."""
    import re

    from memscope.render.prom import escape

    if "\\" in name or any("\ud800" <= ch < "\udc80" or "\udd00" <= ch <= "\udfff"
                           for ch in name):
        return
    text = re.sub(r'\\(\\|"|n)', lambda m: {"\\": "\\", '"': '"', "n": "\n"}[m.group(1)],
                  escape(name))
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                 text.encode("utf-8", "surrogateescape"))
    assert raw.decode("utf-8", "surrogateescape") == name
