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
    """Tables byte-exact; JSON by value (loaded and compared), so a change of formatting
    never rewrites a golden: only a changed figure or key does."""
    import json

    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json" and path.is_file():
            try:
                same = json.loads(text) == json.loads(path.read_text())
            except ValueError:
                same = False
            if same:
                return  # the same document: leave the file as it is
        path.write_text(text)
    assert path.is_file(), f"no golden file {path}: run with --update-golden"
    if path.suffix == ".json":
        assert json.loads(text) == json.loads(path.read_text())
    else:
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


def process_hosts():
    return sorted(p.name for p in FIXTURES.iterdir()
                  if (p / "proc").is_dir() and any(c.name.isdigit()
                                                   for c in (p / "proc").iterdir()))


@pytest.mark.parametrize("host", process_hosts())
def test_top_json(host, update_golden):
    r = run_memscope("top", "--root", FIXTURES / host, "--format", "json")
    assert r.returncode == 0, r.stderr
    check(GOLDEN / "top" / f"{host}.json", r.stdout, update_golden)


PROC_CASES = [
    ("procfs-fixtures", "26231", []),                             # 4.14-5.6 rollup
    ("this-vm-6.18.44-fc-v657", "19124", ["--maps"]),             # 6.18 rollup + smaps
    ("ubuntu1404-proc-snapshot-3.13", "16235", ["--maps"]),       # 3.13: smaps summed
    ("pcp-qa-procpid-2.6.32", "2887", []),                        # status only
    ("zte-f680-ont-armv7-4.1", "606", ["--maps", "--sort", "path"]),  # smaps only, SysV
]


@pytest.mark.parametrize("host, pid, extra", PROC_CASES)
def test_proc_table_and_json(host, pid, extra, update_golden):
    for fmt, suffix in (("table", "txt"), ("json", "json")):
        r = run_memscope("proc", pid, "--root", FIXTURES / host, "--format", fmt, *extra)
        assert r.returncode == 0, r.stderr
        check(GOLDEN / "proc" / f"{host}-{pid}.{suffix}", r.stdout, update_golden)


def test_golden_json_compares_by_value(tmp_path):
    """A reformatted JSON document with the same values passes, and --update-golden leaves
    the file alone; a changed value fails."""
    import json

    doc = {"schema_version": 1, "a": [1, 2, {"b": None}]}
    golden = tmp_path / "g.json"
    golden.write_text(json.dumps(doc, indent=2) + "\n")
    before = golden.read_text()
    check(golden, json.dumps(doc, separators=(",", ":")), False)
    check(golden, json.dumps(doc), True)
    assert golden.read_text() == before
    with pytest.raises(AssertionError):
        check(golden, json.dumps(dict(doc, a=[1, 2, {"b": 0}])), False)
