"""Shared test helpers: paths, fixture hosts, running memscope as a user does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"
CORPUS = REPO.parent / "shared" / "corpus"


def fixture_hosts(kind: str = "proc/meminfo"):
    """Every fixture host directory that holds ``kind``."""
    return sorted(p.name for p in FIXTURES.iterdir() if (p / kind).is_file())


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/ from the current output (review the diff)")


@pytest.fixture
def update_golden(request):
    return request.config.getoption("--update-golden")


HOST_PID = 19124
HOST_CGROUP = "/session.slice/build.scope"


def full_host(dest):
    """A host with every kind of file, for the bad-file and hostile-matrix tests: the
    kernel-views capture (every system file), the live capture's vmstat and pressure, an
    overcommit_memory, one process (HOST_PID) and a v1 cgroup tree holding it
    (HOST_CGROUP). A file those tests damage must be here (docs/architecture.md)."""
    shutil.copytree(FIXTURES / "this-vm-6.18.44-kernel-views", dest)
    for rel in ("proc/vmstat", "proc/pressure/memory"):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "this-vm-6.18.44-live" / rel, dest / rel)
    shutil.copy(FIXTURES / "constructed-kernel-memory-6.18/proc/sys/vm/overcommit_memory",
                dest / "proc/sys/vm/overcommit_memory")
    v657 = FIXTURES / "this-vm-6.18.44-fc-v657"
    shutil.copytree(v657 / f"proc/{HOST_PID}", dest / f"proc/{HOST_PID}")
    (dest / f"proc/{HOST_PID}/cmdline").write_bytes(b"python3\x00-c\x00work\x00")
    (dest / f"proc/{HOST_PID}/cgroup").write_text(f"4:memory:{HOST_CGROUP}\n")
    shutil.copy(v657 / "proc/self/cgroup", dest / "proc/self/cgroup")
    shutil.copytree(v657 / "sys/fs/cgroup", dest / "sys/fs/cgroup")
    (dest / f"sys/fs/cgroup/memory{HOST_CGROUP}/cgroup.procs").write_text(f"{HOST_PID}\n")
    return dest


def yaml_names(value):
    """A loaded YAML document as JSON has it: a name that is not UTF-8 is !!binary in YAML
    (bytes once loaded) and surrogate escapes in JSON (any live process may have one)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, dict):
        return {k: yaml_names(v) for k, v in value.items()}
    if isinstance(value, list):
        return [yaml_names(v) for v in value]
    return value


def run_memscope(*args, input=None, env=None, user=None, cwd=None):
    """Run memscope in a subprocess, exactly as a user does; stdout and stderr apart."""
    cmd = [sys.executable, "-m", "memscope", *map(str, args)]
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    for name in ("COLUMNS", "LINES", "NO_COLOR"):  # tables as piped: unlimited width
        full_env.pop(name, None)
    if env:
        full_env.update(env)
    return subprocess.run(cmd, capture_output=True, text=True, input=input, env=full_env,
                          cwd=cwd or REPO, timeout=120, user=user)


def _unprivileged_uid():
    import pwd

    for name in ("nobody", "daemon"):
        try:
            return pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
    return None


_UNPRIV = {}


def unprivileged_runner():
    """(uid, interpreter, env) to run memscope as an unprivileged user, or a skip reason.

    The test interpreter often lives where other users can't reach it (pyenv under a 0700
    /root); an interpreter of the same version elsewhere (Debian's /usr/bin/python3.X) runs
    the same code with this environment's site-packages on PYTHONPATH. Checked by running
    it, not assumed.
    """
    if "result" in _UNPRIV:
        return _UNPRIV["result"]
    import sysconfig

    result = None
    uid = _unprivileged_uid()
    if os.geteuid() != 0:
        result = "needs root to start a process as another user"
    elif uid is None:
        result = "no unprivileged user (nobody, daemon) on this machine"
    else:
        version = "python{}.{}".format(*sys.version_info[:2])
        paths = sysconfig.get_paths()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), paths["purelib"], paths["platlib"]])
        env.pop("HOME", None)
        for python in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
            try:
                probe = subprocess.run(
                    [python, "-c", "import memscope.cli, tabulate, yaml"], user=uid,
                    env=env, capture_output=True, timeout=60, cwd="/")
            except OSError:
                continue
            if probe.returncode == 0:
                result = (uid, python, env)
                break
        else:
            result = ("no Python {}.{} interpreter with memscope importable is reachable by "
                      "an unprivileged user".format(*sys.version_info[:2]))
    _UNPRIV["result"] = result
    return result


def run_unprivileged(*args, cwd="/"):
    runner = unprivileged_runner()
    if isinstance(runner, str):
        pytest.skip(runner)
    uid, python, env = runner
    return subprocess.run([python, "-m", "memscope", *map(str, args)], user=uid, env=env,
                          capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture
def world_tmp():
    """A temporary directory every user can traverse (pytest's tmp_path is 0700)."""
    import tempfile

    path = tempfile.mkdtemp(prefix="memscope-test-")
    os.chmod(path, 0o755)
    yield Path(path)
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Processes whose memory is known by construction (tests/workers/worker.c)

MiB = 1024 * 1024
DRIFT = 64 * 1024  # Pss of shared file pages moves as other processes map them
PAD = 1024


def build_worker(tmp_path_factory, source: str, name: str) -> str:
    """tests/workers/SOURCE compiled (static where the toolchain can) as NAME; the test is
    skipped without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the test worker")
    out = tmp_path_factory.mktemp("worker") / name
    src = REPO / "tests" / "workers" / source
    for flags in (["-static"], []):
        r = subprocess.run([cc, "-O1", *flags, "-o", str(out), str(src)], capture_output=True)
        if r.returncode == 0:
            return str(out)
    pytest.skip(f"cannot build {source}: {r.stderr.decode()[-200:]}")


@pytest.fixture(scope="session")
def worker_bin(tmp_path_factory):
    return build_worker(tmp_path_factory, "worker.c", "worker")


class Worker:
    def __init__(self, binary, *args, user=None, argv0=None, env=None):
        argv = [argv0 if argv0 is not None else binary, *map(str, args)]
        # Same-length command lines for every worker: argv is copied onto the new stack,
        # and a few bytes more can cross a page boundary and make one stack page more.
        used = sum(len(a) + 1 for a in argv if isinstance(a, str))
        argv.append("=" * (PAD - used))
        self.proc = subprocess.Popen(argv, executable=binary, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, user=user,
                                     env=dict(os.environ, **env) if env else None)
        line = self.proc.stdout.readline()
        assert line in (b"ready\n", b"waiting\n"), (args, line, self.proc.poll())
        self.pid = self.proc.pid

    def go(self):
        """'charge' mode: let the worker allocate (after the test moved it)."""
        self.proc.stdin.write(b"g")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line == b"ready\n", line

    def rollup(self):
        fields = {}
        with open(f"/proc/{self.pid}/smaps_rollup") as f:
            for line in f.read().splitlines()[1:]:
                key, _, rest = line.partition(":")
                fields[key] = int(rest.split()[0]) * 1024
        return fields

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture
def workers(worker_bin):
    started = []

    def start(*args, **kw):
        w = Worker(worker_bin, *args, **kw)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()




@pytest.fixture
def hugepages():
    """``hugepages(n)``: make n more 2 MiB hugetlb pages available (vm.nr_hugepages), and
    put the pool back as it was after the test."""
    path = "/proc/sys/vm/nr_hugepages"
    if os.geteuid() != 0:
        pytest.skip("needs root to size the hugetlb pool")
    with open(path) as f:
        before = int(f.read())
    grown = []

    def grow(n):
        with open(path) as f:
            now = int(f.read())
        with open(path, "w") as f:
            f.write(str(now + n))
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            if int(f.read()) < n:
                pytest.skip(f"the kernel could not find {n} free 2 MiB pages")
        grown.append(n)

    yield grow
    if grown:
        with open(path, "w") as f:
            f.write(str(before))
