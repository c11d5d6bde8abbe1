"""Golden outputs: the whole document for every fixture host, tables for a few.

Regenerate with ``python -m pytest tests/test_golden.py --update-golden`` and review the diff
like code: every changed figure must be explainable.
"""

from __future__ import annotations

import pytest

from conftest import FIXTURES, GOLDEN, fixture_hosts, run_memscope

TABLE_HOSTS = ["this-vm-6.18.44-live", "goclever-i5-android-arm32-3.4",
               "pcp-qa-meminfo-root-007-numa2", "kindle-arm-2.6.31"]


def check(path, text, update):
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"no golden file {path}: run with --update-golden"
    assert text == path.read_text()


@pytest.mark.parametrize("host", fixture_hosts())
def test_summary_json(host, update_golden):
    r = run_memscope("summary", "--root", FIXTURES / host, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    check(GOLDEN / "summary" / f"{host}.json", r.stdout.replace(str(FIXTURES), "FIXTURES"),
          update_golden)


@pytest.mark.parametrize("host", TABLE_HOSTS)
def test_summary_table(host, update_golden):
    r = run_memscope("summary", "--root", FIXTURES / host)
    assert r.returncode == 0, r.stderr
    check(GOLDEN / "summary" / f"{host}.txt", r.stdout.replace(str(FIXTURES), "FIXTURES"),
          update_golden)


def test_summary_table_bytes_wide(update_golden):
    r = run_memscope("summary", "--root", FIXTURES / "this-vm-6.18.44-live", "-b", "--wide")
    assert r.returncode == 0, r.stderr
    check(GOLDEN / "summary" / "this-vm-6.18.44-live.bytes-wide.txt",
          r.stdout.replace(str(FIXTURES), "FIXTURES"), update_golden)
