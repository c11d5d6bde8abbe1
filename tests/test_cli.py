"""The CLI contract: exit codes, one-line errors, output files, unit flags, --watch, pipes."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest
import yaml

from conftest import FIXTURES, REPO, run_memscope, run_unprivileged

LIVE_HOST = FIXTURES / "this-vm-6.18.44-live"


def one_error_line(r, *fragments):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("memscope: error: ")
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.fixture
def host(tmp_path):
    """A writable copy of the live-capture fixture host."""
    dest = tmp_path / "host"
    shutil.copytree(LIVE_HOST, dest)
    return dest


def test_missing_root():
    one_error_line(run_memscope("summary", "--root", "/nonexistent/memscope"),
                   "--root /nonexistent/memscope: no such directory")


def test_root_without_meminfo(tmp_path):
    line = one_error_line(run_memscope("summary", "--root", tmp_path))
    assert f"{tmp_path}/proc/meminfo: no such file" in line


@pytest.mark.parametrize("content, where", [
    ("MemTotal:       1000 kB\nMemFree:        abc kB\n", "proc/meminfo: line 2: MemFree"),
    ("", "proc/meminfo: line 1: the file is empty"),
    ("\x00\x01binary", "proc/meminfo: line 1: binary data"),
    ("MemFree:        1000 kB\n", "proc/meminfo: no MemTotal line"),
])
def test_malformed_meminfo_names_file_and_line(host, content, where):
    (host / "proc" / "meminfo").write_bytes(content.encode("latin-1"))
    one_error_line(run_memscope("summary", "--root", host), f"{host}/{where}")


def test_malformed_zoneinfo_names_file_and_line(host):
    path = host / "proc" / "zoneinfo"
    text = path.read_text()
    first_min = text.index("        min ")
    path.write_text(text[:first_min] + "        min      3x9" +
                    text[text.index("\n", first_min):])
    # zoneinfo is required by zones: one error line naming file and line, exit 1
    one_error_line(run_memscope("zones", "--root", host, "--format", "json"),
                   f"{path}: line ", "'3x9' is not a number")
    # ... and optional for summary: zones empty, a file_malformed note naming file and line
    r = run_memscope("summary", "--root", host, "--format", "json")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    doc = json.loads(r.stdout)
    assert doc["zones"] == [] and doc["physical"] is None
    assert {"code": "file_malformed", "text": f"{path}: line {text[:first_min].count(chr(10)) + 1}"
            ": min: '3x9' is not a number: zones, physical and the MemAvailable rebuild "
            "unknown"} in doc["notes"]


def test_optional_files_may_be_absent(host):
    for rel in ("zoneinfo", "vmstat", "pressure/memory", "config.gz", "buddyinfo"):
        (host / "proc" / rel).unlink()
    r = run_memscope("summary", "--root", host, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["zones"] == [] and doc["physical"] is None and doc["pressure"] is None
    assert doc["available_explained"] is None
    assert sum(c["bytes"] for c in doc["breakdown"]) == doc["memory"]["total"]


@pytest.mark.parametrize("args", [
    ["summary", "--format", "xml"],
    ["summary", "--bogus"],
    ["nosuchcommand"],
    ["summary", "--count", "2"],
    ["summary", "--watch", "0"],
])
def test_usage_errors_exit_2(args):
    r = run_memscope(*args)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr


def test_head_exits_quietly():
    cmd = (f"{sys.executable} -m memscope summary --root {LIVE_HOST} -b | head -1; "
           "echo \"status=${PIPESTATUS[0]}\"")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert r.stderr == ""
    assert r.stdout.splitlines()[-1] == "status=0"


def test_output_file_is_atomic_follows_the_umask_and_replaces_a_symlink(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("must survive")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    old_umask = os.umask(0o077)
    try:
        r = run_memscope("summary", "--root", LIVE_HOST, "--format", "json", "-o", link)
    finally:
        os.umask(old_umask)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert not link.is_symlink()
    assert target.read_text() == "must survive"
    assert json.loads(link.read_text())["schema_version"] == 1
    # a new file (the symlink is not a regular file to keep the mode of) follows the umask
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.txt", "out.json"]


def test_output_into_missing_directory(tmp_path):
    one_error_line(run_memscope("summary", "--root", LIVE_HOST, "-o",
                                tmp_path / "no" / "such" / "out.txt"),
                   "cannot write")


def test_nothing_written_but_the_output(tmp_path):
    r = run_memscope("summary", "--root", LIVE_HOST, cwd=tmp_path)
    assert r.returncode == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag, total", [
    ("-b", "25276502016"), ("-k", "24684084"), ("-m", "24105"), ("-g", "23"),
    ("--si", "25G"), ("-k --si", "25276502"),
])
def test_unit_flags(flag, total):
    r = run_memscope("summary", "--root", LIVE_HOST, *flag.split())
    assert r.returncode == 0
    mem = next(line for line in r.stdout.splitlines() if line.startswith("Mem:"))
    assert mem.split()[1] == total


def test_machine_formats_ignore_unit_flags():
    a = run_memscope("summary", "--root", LIVE_HOST, "--format", "json", "-g").stdout
    b = run_memscope("summary", "--root", LIVE_HOST, "--format", "json").stdout
    assert a == b
    assert json.loads(a)["memory"]["total"] == 24684084 * 1024


def test_yaml_equals_json():
    j = json.loads(run_memscope("summary", "--root", LIVE_HOST, "--format", "json").stdout)
    y = yaml.safe_load(run_memscope("summary", "--root", LIVE_HOST, "--format", "yaml").stdout)
    assert j == y


def test_watch_streams():
    r = run_memscope("summary", "--root", LIVE_HOST, "--format", "json", "--watch", "0.1",
                     "--count", "3")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and all(json.loads(x)["schema_version"] == 1 for x in lines)
    r = run_memscope("summary", "--root", LIVE_HOST, "--format", "yaml", "--watch", "0.1",
                     "--count", "2")
    docs = list(yaml.safe_load_all(r.stdout))
    assert len(docs) == 2 and docs[0]["memory"] == docs[1]["memory"]
    r = run_memscope("summary", "--root", LIVE_HOST, "--watch", "0.1", "--count", "2")
    assert r.stdout.count("Where MemTotal goes") == 2


def test_permission_denied_names_the_file(world_tmp):
    host = world_tmp / "host"
    shutil.copytree(LIVE_HOST, host)
    for dirpath, _dirnames, filenames in os.walk(host):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    os.chmod(host / "proc" / "meminfo", 0o600)
    r = run_unprivileged("summary", "--root", host)
    one_error_line(r, f"{host}/proc/meminfo: permission denied (run as root)")


def test_live_summary_as_unprivileged_user():
    r = run_unprivileged("summary", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    doc = json.loads(r.stdout)
    assert sum(c["bytes"] for c in doc["breakdown"]) == doc["memory"]["total"]


def test_debug_shows_a_traceback(tmp_path):
    r = run_memscope("summary", "--root", tmp_path, "--debug")
    assert r.returncode == 1
    assert "Traceback" in r.stderr and "NotFound" in r.stderr


def test_version_and_help():
    r = run_memscope("--version")
    assert r.returncode == 0 and "memscope" in r.stdout
    r = run_memscope("summary", "--help")
    assert r.returncode == 0 and "--watch" in r.stdout


def test_installed_console_script_works_outside_the_checkout():
    """What `pip install .` put in the environment, run from elsewhere: catches packaging
    mistakes (a subpackage left out) that tests importing the checkout would not see."""
    script = os.path.join(os.path.dirname(sys.executable), "memscope")
    if not os.path.exists(script):
        pytest.skip("no memscope console script beside this interpreter (not pip-installed)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([script, "summary", "--root", str(LIVE_HOST), "--format", "json"],
                       capture_output=True, text=True, cwd="/", env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["schema_version"] == 1


def test_stdout_write_error_is_one_line():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "memscope", "summary", "--root",
                            str(LIVE_HOST)], stdout=full, stderr=subprocess.PIPE, text=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "memscope: error: standard output: cannot write (No space left on device; check "
        "where it is redirected)"]
