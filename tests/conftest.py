"""Shared test helpers: paths, fixture hosts, running memscope as a user does."""

from __future__ import annotations

import os
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


def run_memscope(*args, input=None, env=None, user=None, cwd=None):
    """Run memscope in a subprocess, exactly as a user does; stdout and stderr apart."""
    cmd = [sys.executable, "-m", "memscope", *map(str, args)]
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    return subprocess.run(cmd, capture_output=True, text=True, input=input, env=full_env,
                          cwd=cwd or REPO, timeout=120, user=user)
