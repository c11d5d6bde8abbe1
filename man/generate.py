#!/usr/bin/env python3
"""Write man/memscope-COMMAND.1 for every command, from memscope.cli's table of commands
(COMMANDS): the same rows the CLI is built from, so a page can't say what the command doesn't.

The pages say what ``memscope COMMAND --help`` says, as man pages: NAME, SYNOPSIS,
DESCRIPTION (the command's docstring), OPTIONS (every option with its help), SEE ALSO.
man/memscope.1 is the hand-written overview. tests/test_docs.py regenerates these pages in
memory and fails when a committed one differs: run this after changing a command.

    .venv/bin/python man/generate.py
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

DATE = "2026-11-22"


def roff(text: str) -> str:
    """Text for a man page: backslashes and hyphens escaped, no line starting with . or '."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.splitlines():
        if line[:1] in (".", "'"):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def page(row) -> str:
    """The page of one row of memscope.cli.COMMANDS."""
    import click

    from memscope import __version__
    from memscope.cli import cli

    name = row.name
    command = cli.commands[name]  # the click command built from this row
    ctx = click.Context(command, info_name=f"memscope {name}")
    doc = " ".join(row.help.split())
    summary = " ".join(doc.split("\n\n")[0].split())
    first = summary.split(". ")[0].rstrip(".")
    out = [f'.TH MEMSCOPE\\-{name.upper()} 1 "{DATE}" "memscope {__version__}" "User Commands"',
           ".SH NAME", f"memscope\\-{name} \\- {roff(first[0].lower() + first[1:])}",
           ".SH SYNOPSIS", f".B memscope {name}"]
    for param in command.params:
        if isinstance(param, click.Argument):
            out.append(f".I {roff(param.human_readable_name)}")
    out.append(".RI [ OPTIONS ]")
    out += [".SH DESCRIPTION", roff(" ".join(doc.split()))]
    out.append(".SH OPTIONS")
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        names = ", ".join(param.opts + param.secondary_opts)
        record = param.get_help_record(ctx)
        metavar = ""
        if record and not param.is_flag:
            last = record[0].split()[-1]
            metavar = "" if last.startswith("-") else last
        out.append(".TP")
        out.append(f".B {roff(names)}" + (f" \\fI{roff(metavar)}\\fR" if metavar else ""))
        out.append(roff(record[1] if record else ""))
    out += [".TP", ".B \\-\\-help", "Show the command's help and exit."]
    out += [".SH EXIT STATUS",
            "0 on success (warnings on standard error), 1 when the request can't be met (one "
            "line on standard error naming the file or object and what to do), 2 for usage "
            "errors.",
            ".SH SEE ALSO", ".BR memscope (1)"]
    return "\n".join(out) + "\n"


def pages():
    from memscope.cli import COMMANDS

    return {f"memscope-{row.name}.1": page(row)
            for row in sorted(COMMANDS, key=lambda row: row.name)}


def main() -> None:
    for filename, text in pages().items():
        with open(os.path.join(HERE, filename), "w") as f:
            f.write(text)
        print(f"man/{filename}")


if __name__ == "__main__":
    main()
