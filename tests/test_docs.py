"""Docs are part of the feature: every click command and option is in the man page and the
README."""

from __future__ import annotations

import shutil
import subprocess

import click
import pytest

from conftest import REPO
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
