"""Docs are part of the feature: every click command and option is in the man page and the
README."""

from __future__ import annotations

import shutil
import subprocess

import click
import pytest

from conftest import FIXTURES, REPO
from memscope.cli import cli


def all_options():
    for name, command in sorted(cli.commands.items()):
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for opt in list(param.opts) + list(param.secondary_opts):
                yield name, opt


def man_text():
    return (REPO / "man" / "memscope.1").read_text().replace("\\-", "-")


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_in_man_page_and_readme(command):
    assert f".B {command}" in man_text() or f"memscope {command}" in man_text()
    assert f"memscope {command}" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("command, option", list(all_options()))
def test_every_option_in_man_page(command, option):
    assert option in man_text(), f"{command} {option} is not in man/memscope.1"


@pytest.mark.parametrize("command, option", list(all_options()))
def test_every_option_in_readme(command, option):
    assert f"`{option}" in (REPO / "README.md").read_text() or \
        f" {option}" in (REPO / "README.md").read_text()


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_man_page_renders_cleanly():
    r = subprocess.run(["groff", "-man", "-ww", "-z", str(REPO / "man" / "memscope.1")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (REPO / "README.md").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```sh\n")[1:]]
    assert len(blocks) >= 2, "the quick start has two commands"
    install_and_run, test_command = blocks[0], blocks[1]
    assert install_and_run.endswith("memscope summary")
    assert test_command in (REPO / ".ci" / "run").read_text().splitlines()


def test_command_pages_are_in_step_with_the_commands():
    """man/memscope-COMMAND.1 are generated from the click commands (man/generate.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("man_generate", REPO / "man" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    pages = generate.pages()
    assert set(pages) == {f"memscope-{name}.1" for name in cli.commands}
    for filename, text in pages.items():
        path = REPO / "man" / filename
        assert path.is_file() and path.read_text() == text, \
            f"man/{filename} is stale: run .venv/bin/python man/generate.py"


@pytest.mark.parametrize("command, option", list(all_options()))
def test_every_option_in_its_command_page(command, option):
    text = (REPO / "man" / f"memscope-{command}.1").read_text().replace("\\-", "-")
    assert option in text


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
@pytest.mark.parametrize("page", sorted(p.name for p in (REPO / "man").glob("*.1")))
def test_every_page_renders_cleanly(page):
    r = subprocess.run(["groff", "-man", "-ww", "-z", str(REPO / "man" / page)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_shell_completion():
    import os
    import sys

    r = subprocess.run([sys.executable, "-m", "memscope"], capture_output=True, text=True,
                       env=dict(os.environ, _MEMSCOPE_COMPLETE="bash_source",
                                PYTHONPATH=str(REPO)))
    assert r.returncode == 0 and "_MEMSCOPE_COMPLETE" in r.stdout


# --- docs/: the repository explains itself ------------------------------------------------

def note_codes_in_code():
    """Every note code the code can emit: Notes.add / add_note / {"code": ...} literals, the
    policy's codes, and the codes a report section is renamed to."""
    import ast

    codes = set()
    for path in sorted((REPO / "memscope").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else \
                    getattr(func, "id", None)
                args = list(node.args)
                if name == "add" and isinstance(func, ast.Attribute) and \
                        "notes" in ast.unparse(func.value) and args:
                    codes.add(args[0])
                elif name == "add_note" and len(args) > 1:
                    codes.add(args[1])
                elif name == "section" and len(args) > 3 and isinstance(args[3], ast.Dict):
                    codes.update(args[3].values)
                for kw in node.keywords:
                    if kw.arg == "missing":
                        codes.add(kw.value)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values):
                    if isinstance(key, ast.Constant) and key.value == "code":
                        codes.add(value)
    from memscope.collect.policy import CODES

    found = {c.value for c in codes if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return found | set(CODES)


def test_every_note_code_is_in_the_contract():
    codes = note_codes_in_code()
    assert len(codes) > 35  # the scan finds them (the contract lists 40)
    contract = (REPO / "docs" / "contract.md").read_text()
    missing = sorted(c for c in codes if f"`{c}`" not in contract)
    assert not missing, f"note codes not in docs/contract.md: {missing}"


def test_kernel_doc_keeps_the_cited_section_numbers():
    """The code cites kernel semantics by section (docs/kernel.md §2.4): each cited section is
    a heading of docs/kernel.md, and nothing cites the files outside the repository."""
    import re

    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", (REPO / "docs" / "kernel.md")
                              .read_text(), re.M))
    cited = set()
    for path in sorted((REPO / "memscope").rglob("*.py")):
        text = path.read_text()
        assert not re.search(r"(?<!docs/)(KERNEL|SPEC|DESIGN)\.md", text), path
        for refs in re.findall(r"kernel\.md ((?:§[\d.]+(?:, )?)+)", text):
            cited.update(n.rstrip(".") for n in re.findall(r"§([\d.]+)", refs))
    assert cited and cited <= headings, sorted(cited - headings)


def test_readme_links_the_docs():
    readme = (REPO / "README.md").read_text()
    for name in ("contract", "kernel", "architecture"):
        assert f"docs/{name}.md" in readme
        assert (REPO / "docs" / f"{name}.md").is_file()


# -- every key a command writes is in its section of docs/contract.md ---------------------

def _contract_section(command: str) -> str:
    import re

    text = (REPO / "docs" / "contract.md").read_text()
    m = re.search(r"^### " + re.escape(command) + r"\b.*?$(.*?)(?=^### |^## )", text,
                  re.M | re.S)
    assert m, f"no section for {command} in docs/contract.md"
    return m.group(1)


def _keys(doc, depth):
    """The keys of a document down to ``depth`` levels of objects (lists looked through);
    the kernel's own spellings (meminfo{}, stat{}: capitalised, or under meminfo/stat)
    are the kernel's, not memscope's."""
    out = set()

    def walk(value, level):
        if level > depth:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                out.add(k)
                if k not in ("meminfo", "stat"):
                    walk(v, level + 1)
        elif isinstance(value, list):
            for v in value:
                walk(v, level)

    walk(doc, 0)
    return {k for k in out if not k[:1].isupper()}


def _trend_reports(tmp_path):
    import json

    base = json.loads((FIXTURES / "trend" / "report-this-vm.json").read_text())
    for i in range(4):
        doc = json.loads(json.dumps(base))
        doc["source"]["taken_at"] = f"2026-12-01T0{i}:00:00Z"
        doc["source"]["uptime"] = 1000.0 + 3600 * i
        for g in doc["top"]["groups"]:
            g["pss"] = (g["pss"] or 0) + i * (64 << 20)
        (tmp_path / f"r{i}.json").write_text(json.dumps(doc))
    return tmp_path


KEY_CASES = [
    ("summary", ["summary", "--root", "this-vm-6.18.44-live"]),
    ("summary", ["summary", "--root", "constructed-zfs-arc-6.18"]),
    ("zones", ["zones", "--root", "this-vm-6.18.44-kernel-views"]),
    ("vmalloc", ["vmalloc", "--root", "this-vm-6.18.44-kernel-views"]),
    ("slab", ["slab", "--root", "this-vm-6.18.44-kernel-views"]),
    ("shmem", ["shmem", "--root", "this-vm-6.18.44-hugetlb-shm"]),
    ("proc", ["proc", "19124", "--maps", "--root", "this-vm-6.18.44-fc-v657"]),
    ("top", ["top", "--group-by", "program", "--root", "this-vm-6.18.44-fc-v657"]),
    ("top", ["top", "--by-mapping", "--root", "this-vm-6.18.44-fc-v657"]),
    ("cgroup", ["cgroup", "--children", "--root", "pcp-qa-cgroups-root-004-v2-fedora"]),
    ("cgroup", ["cgroup", "--tree", "--root", "pcp-qa-cgroups-root-003-docker"]),
    ("report", ["report", "--root", "this-vm-6.18.44-fc-v657"]),
    ("explain", ["explain", "--root", "constructed-pressure-6.18"]),
    ("diff", ["diff", "TREND/r0.json", "TREND/r3.json"]),
    ("trend", ["trend", "TREND"]),
    ("cache", ["cache", "--procs", "--pid", "1"]),
    ("cache", ["cache", "-r", "TREND"]),
]


@pytest.mark.parametrize("command, args", KEY_CASES, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else v)
def test_every_key_is_in_the_contract(command, args, tmp_path):
    """Scripts depend on the keys docs/contract.md lists: every key a command writes, down
    to the objects inside its top-level ones, is named in the command's section (report's
    sections are the other commands' documents: its own keys only)."""
    import json

    from conftest import run_memscope

    trend = _trend_reports(tmp_path) if any("TREND" in a for a in args) else None
    argv = [str(FIXTURES / a) if i and args[i - 1] == "--root" else
            a.replace("TREND", str(trend)) for i, a in enumerate(args)]
    r = run_memscope(*argv, "--format", "json")
    assert r.returncode == 0, r.stderr
    section = _contract_section(command)
    import re

    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", section))
    missing = sorted(_keys(json.loads(r.stdout), 0 if command == "report" else 1) - words)
    assert not missing, f"docs/contract.md '### {command}' does not name {missing}"
