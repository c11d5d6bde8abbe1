"""Output formats as rows of render/formats.py, and the row format csv: every command's
document as sections (render/rows.py), every value once, names lossless and harmless.

Also the claim docs/architecture.md makes: a new format is a module and a row, a new command
a row and a function; the tests below add each and run them without touching anything else.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, run_memscope

CASES = [
    ("summary", "this-vm-6.18.44-live"),
    ("summary", "kindle-arm-2.6.31"),
    ("zones", "pcp-qa-meminfo-root-007-numa2"),
    ("top", "procfs-fixtures"),
    ("top --group-by program", "this-vm-6.18.44-fc-v657"),
    ("top --by-mapping", "this-vm-6.18.44-fc-v657"),
    ("proc 19124 --maps", "this-vm-6.18.44-fc-v657"),
    ("cgroup", "pcp-qa-cgroups-root-004-v2-fedora"),
    ("cgroup --tree", "pcp-qa-cgroups-root-003-docker"),
    ("explain", "constructed-pressure-6.18"),
    ("report", "this-vm-6.18.44-fc-v657"),
    ("vmalloc", "this-vm-6.18.44-fc-v657"),
    ("slab", "this-vm-6.18.44-kernel-views"),
    ("shmem", "constructed-cache-shmem-6.18"),
]


def uncell(text: str) -> str:
    """What docs/contract.md says undoes a csv cell's escapes."""
    text = text[1:] if text[:1] == "'" else text
    raw = text.encode("utf-8", "surrogateescape")
    raw = re.sub(rb"\\(\\|x([0-9a-f]{2}))",
                 lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(2), 16)]), raw)
    return raw.decode("utf-8", "surrogateescape")


def read_csv(text: str):
    """{section: (header, rows)}, checking the layout: a header whose first cell is
    ``section``, rows whose first cell is the section's name and as many cells as the
    header, a blank line after each section, and no section twice."""
    out = {}
    blocks = text.split("\n\n")
    assert blocks[-1] == "", "the output ends with a blank line"
    for block in blocks[:-1]:
        lines = list(csv.reader(io.StringIO(block + "\n")))
        assert lines and lines[0][0] == "section", block[:200]
        name = lines[1][0] if len(lines) > 1 else None
        assert name is not None, f"a section with no rows: {block[:200]}"
        assert name not in out
        for row in lines[1:]:
            assert row[0] == name and len(row) == len(lines[0]), (name, row)
        out[name] = (lines[0][1:], [row[1:] for row in lines[1:]])
    return out


def leaves(value, path=""):
    """Every plain value of a document with its key path."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}.{i}")
    else:
        yield path, value


def as_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


@pytest.mark.parametrize("args, host", CASES)
def test_csv_holds_every_value_of_the_document_once(args, host):
    """Each value the JSON document holds is in exactly one cell (a child section's first
    column repeats its parent's, and is left out of the count), and no cell holds anything
    else; the fields section's keys are the document's own paths."""
    argv = [*args.split(), "--root", FIXTURES / host]
    j = run_memscope(*argv, "--format", "json")
    c = run_memscope(*argv, "--format", "csv")
    assert j.returncode == c.returncode == 0, (j.stderr, c.stderr)
    assert c.stderr == j.stderr
    doc = json.loads(j.stdout)
    sections = read_csv(c.stdout)
    want = Counter(as_cell(v) for _p, v in leaves(doc) if v is not None)
    got = Counter()
    for name, (header, rows) in sections.items():
        parent = name.rsplit(".", 1)[0] + "."
        # the key column of fields; a child section's tie to its parent's row (the row
        # number, then a copy of the parent's first column)
        skip = {0} if name == "fields" else \
            {i for i, c in enumerate(header) if "." in name and c.startswith(parent)}
        for row in rows:
            got.update(uncell(v) for i, v in enumerate(row) if v != "" and i not in skip)
    # an empty string is a value that has no cell of its own, as null
    want.pop("", None)
    assert got == want, (set(got) ^ set(want))
    fields = dict((k, uncell(v)) for k, v in sections.get("fields", ([], []))[1])
    paths = dict(leaves(doc))
    for key, value in fields.items():
        assert as_cell(paths[key]) == value, key


def test_a_list_section_is_the_documents_list_in_order():
    r = run_memscope("top", "--root", FIXTURES / "this-vm-6.18.44-fc-v657", "--format", "json")
    c = run_memscope("top", "--root", FIXTURES / "this-vm-6.18.44-fc-v657", "--format", "csv")
    doc = json.loads(r.stdout)
    header, rows = read_csv(c.stdout)["processes"]
    assert header[:3] == ["pid", "name", "user"] or "pid" in header
    pid, pss = header.index("pid"), header.index("pss")
    assert [(int(row[pid]), int(row[pss]) if row[pss] else None) for row in rows] == \
        [(p["pid"], p["pss"]) for p in doc["processes"]]


def test_a_child_section_names_its_parent():
    c = run_memscope("proc", "19124", "--maps", "--root",
                     FIXTURES / "this-vm-6.18.44-fc-v657", "--format", "csv")
    assert c.returncode == 0, c.stderr
    sections = read_csv(c.stdout)
    children = [name for name in sections if name.startswith("processes.")]
    assert children, list(sections)
    for name in children:
        header, rows = sections[name]
        assert header[:2] == ["processes.row", "processes.pid"]
        assert {(row[0], row[1]) for row in rows} == {("0", "19124")}


def test_a_child_row_is_tied_to_its_parent_row_even_when_first_columns_repeat():
    """The same process twice: two processes rows with one pid; the mappings of each name
    their parent by its row number."""
    c = run_memscope("proc", "19124", "19124", "--maps", "--root",
                     FIXTURES / "this-vm-6.18.44-fc-v657", "--format", "csv")
    assert c.returncode == 0, c.stderr
    sections = read_csv(c.stdout)
    assert [row[0] for row in sections["processes"][1]] == ["19124", "19124"]
    header, rows = sections["processes.mappings"]
    first = [row for row in rows if row[0] == "0"]
    assert first and len(rows) == 2 * len(first)
    assert [row[2:] for row in rows if row[0] == "1"] == [row[2:] for row in first]


def test_csv_with_watch_is_one_document_a_tick():
    r = run_memscope("summary", "--watch", "0.1", "--count", "2", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("section,key,value\n") == 2


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF,
                                       blacklist_categories=())),
                 st.sampled_from(["\\", "\\x41", "a\\\\b", "\udcff", "\x1b[31m", "a,b", 'q"',
                                  "a\r\nb", "\u2028", "\ufeff", "\u202e", "\x85", "=1+2",
                                  "+x", "-bash", "@SUM(A1)", "'q", "''", "=\x1b"])))
def test_any_name_is_lossless_and_harmless_in_a_csv_cell(name):
    from memscope.render.csv import cell

    text = cell(name)
    assert text.isprintable(), repr(text)  # nothing a terminal takes as control
    assert text[:1] not in ("=", "+", "-", "@"), text  # nothing a spreadsheet runs
    readable = not any("\ud800" <= ch < "\udc80" or "\udd00" <= ch <= "\udfff"
                       for ch in name)
    if readable:  # every name a read gives: surrogates stand only for bytes 0x80-0xFF
        assert uncell(text) == name
    back = next(csv.reader(io.StringIO("".join(next(iter(_one_row(text)))))))
    assert back == [text]


def _one_row(text):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([text])
    yield buf.getvalue()


# -- extending memscope: the places docs/architecture.md names, and no others -----------

@pytest.fixture
def fresh_cli():
    """memscope.cli rebuilt after a test changes a table, and rebuilt again after it (ask
    for this fixture before monkeypatch, so that its changes are undone first)."""
    import memscope.cli

    yield lambda: importlib.reload(memscope.cli)
    importlib.reload(memscope.cli)


def test_a_new_format_is_a_module_and_a_row(fresh_cli, tmp_path, monkeypatch):
    """A tab-separated format: one module over render.rows' sections and one row in
    render/formats.py; every command that prints a document then has it."""
    from click.testing import CliRunner

    from memscope.render import formats

    (tmp_path / "tsv_format.py").write_text(
        "def to_tsv(sections, stream=False):\n"
        "    for s in sections:\n"
        "        yield '\\t'.join(['section', *s.columns]) + '\\n'\n"
        "        for row in s.rows:\n"
        "            yield '\\t'.join([s.name, *('' if v is None else str(v) for v in row)])"
        " + '\\n'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "x-test-tsv" not in formats.FORMATS
    monkeypatch.setitem(formats.FORMATS, "x-test-tsv",
                        formats.Format("rows", "tsv_format:to_tsv", "x-test-tsv"))
    monkeypatch.setattr(formats, "EVERY", formats.EVERY + ("x-test-tsv",))
    cli = fresh_cli().cli
    runner = CliRunner()
    for args, host in CASES:
        r = runner.invoke(cli, [*args.split(), "--root", str(FIXTURES / host), "--format",
                                "x-test-tsv"])
        assert r.exit_code == 0, (args, r.output)
        assert r.output.startswith("section\tkey\tvalue\n"), args
    r = runner.invoke(cli, ["cache", "--help"])
    assert "x-test-tsv" in r.output


def test_a_new_command_is_a_row_and_a_function(fresh_cli, monkeypatch):
    """A command that prints MemTotal: one row in cli.COMMANDS and one function in
    memscope.commands; it gets the shared options, every format, the runner's errors and
    a man page."""
    from click.testing import CliRunner

    import memscope.cli
    from memscope import commands

    def memtotal(a):
        src = __import__("memscope.sources", fromlist=["open_root"]).open_root(a.root)
        total = commands.mem_total(src)
        return commands.Plan(lambda: {"schema_version": 1, "memtotal": total},
                             lambda doc: f"MemTotal {doc['memtotal']}\n")

    monkeypatch.setattr(commands, "memtotal", memtotal, raising=False)
    row = memscope.cli.Command("memtotal", "Print MemTotal.", memscope.cli.output())
    monkeypatch.setattr(memscope.cli, "COMMANDS", memscope.cli.COMMANDS + (row,))
    cli = memscope.cli.cli
    cli.add_command(memscope.cli._click_command(row))
    try:
        host = FIXTURES / "this-vm-6.18.44-fc-v657"
        runner = CliRunner()
        r = runner.invoke(cli, ["memtotal", "--root", str(host)])
        assert r.exit_code == 0 and r.output.startswith("MemTotal "), r.output
        r = runner.invoke(cli, ["memtotal", "--root", str(host), "--format", "csv"])
        assert "fields,memtotal," in r.output
        r = runner.invoke(cli, ["memtotal", "--root", "/nonexistent"])
        assert r.exit_code == 1 and "no such directory" in str(r.exception)
        import sys

        sys.path.insert(0, str(FIXTURES.parent / "man"))
        try:
            generate = importlib.import_module("generate")
            assert "memscope\\-memtotal \\- print MemTotal" in \
                generate.pages()["memscope-memtotal.1"]
        finally:
            sys.path.remove(str(FIXTURES.parent / "man"))
    finally:
        cli.commands.pop("memtotal", None)
