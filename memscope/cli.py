"""The command line: a table of commands, and the one runner that executes a row.

Each row of COMMANDS names a command, its help and its options; ``runner`` parses them,
hands them to ``memscope.commands.<name>`` (which checks them and returns a Plan: how to
build the document, from collect/ through model/, and how to show it), and renders the
document in the format asked for (render/formats.py) to stdout or ``-o FILE``.
man/generate.py writes the man pages from the same table. This is the only module that
imports click.

Exit status (docs/contract.md "Errors"): 0 success (warnings on stderr), 1 the request can't be met
(one stderr line naming the file or object and what to do), 2 usage. Never a traceback,
unless ``--debug``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import click

from memscope import __version__
from memscope.render.formats import EVERY, described

FORMATS = EVERY  # every command: table, yaml, json, csv
PROM = EVERY + ("prom",)  # and Prometheus text, where a command has a form for it


# -- the options more than one command takes ----------------------------------------------

def _set_color(ctx, param, value):
    if value is not None:
        from memscope.render import term

        term.set_color(value)
    return value


def _set_quiet(ctx, param, value) -> None:
    if value:
        run_state(ctx).quiet = True


quiet_option = click.option("-q", "--quiet", is_flag=True, expose_value=False,
                            callback=_set_quiet,
                            help="No warnings on stderr (errors are still one line).")
debug_option = click.option("--debug", is_flag=True, expose_value=False,
                            help="Show a traceback for errors (for bug reports).")
version_option = click.version_option(__version__, "--version", prog_name="memscope",
                                      help="Show memscope's version and exit.")
color_option = click.option(
    "--color", type=click.Choice(("auto", "always", "never")), default="auto",
    show_default=True, expose_value=False, callback=_set_color,
    help="Colour in tables: auto (a terminal, unless NO_COLOR is set or TERM=dumb), "
         "always (also when piped), never. Never in the other formats.")


def root_option(help: str = "Read the host laid out under DIR (proc/, sys/), or a snapshot "
                            "archive, instead of the live one."):
    return click.option("--root", default="/", show_default=True, metavar="DIR", help=help)


def output(formats: Tuple[str, ...] = FORMATS, root: bool = True) -> Tuple[Callable, ...]:
    """The options every command that prints a document takes (sqlite-utils' shared
    output-options habit): ``formats`` with prom where a command has a Prometheus form;
    ``root`` is False for diff and trend, which read report files, not a host."""
    return ((root_option(),) if root else ()) + (
        click.option("--format", "fmt", type=click.Choice(formats), default="table",
                     show_default=True, help="Output format; " + described(formats)),
        click.option("-o", "--output", metavar="FILE",
                     help="Write to FILE instead of stdout: a regular file is replaced "
                          "atomically (temp file, fsync, rename); a device, FIFO, socket or "
                          "/dev/stdout is written in place."),
        click.option("-b", "--bytes", "unit", flag_value="b", help="Table sizes in bytes."),
        click.option("-k", "--kibi", "unit", flag_value="k",
                     help="Table sizes in KiB (kB with --si)."),
        click.option("-m", "--mebi", "unit", flag_value="m",
                     help="Table sizes in MiB (MB with --si)."),
        click.option("-g", "--gibi", "unit", flag_value="g",
                     help="Table sizes in GiB (GB with --si)."),
        click.option("--si", is_flag=True, help="Powers of 1000 instead of 1024 in tables."),
        quiet_option, debug_option, color_option, version_option)


def _size(ctx, param, value):
    if value is None:
        return None
    from memscope.render.units import parse_size

    try:
        size = parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if size > 1 << 64:  # docs/contract.md: no figure memscope reads is larger
        raise click.BadParameter(f"{value!r} is larger than 2^64 bytes (16384P)")
    return size


def _regex(ctx, param, value):
    if value is None:
        return None
    from memscope.match import BoundedPattern

    try:
        return BoundedPattern(value, f"--{param.name}")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


WATCH_MAX = 86400.0


def _watch(ctx, param, value):
    """0.1 <= SECONDS <= a day, a finite number (inf, nan and 1e400 are not)."""
    if value is None:
        return None
    if not (0.1 <= value <= WATCH_MAX):  # also false for nan
        raise click.BadParameter(f"{value!r} is not between 0.1 and {WATCH_MAX:.0f} seconds "
                                 "(a day; for longer, use cron or a timer)")
    return value


def _finite(ctx, param, value):
    """A percentage that is a number (click's FloatRange lets nan through)."""
    if value is not None and value != value:
        raise click.BadParameter("nan is not a percentage")
    return value


def _columns(ctx, param, value):
    if value is None:
        return None
    from memscope.render.table import TOP_COLUMNS

    keys = [k.strip() for k in value.split(",") if k.strip()]
    bad = [k for k in keys if k not in TOP_COLUMNS]
    if bad or not keys:
        raise click.BadParameter(f"{', '.join(bad) or repr(value)}: choose from "
                                 f"{','.join(TOP_COLUMNS)}")
    return keys


def watch(short: bool = False) -> Tuple[Callable, ...]:
    """--watch and --count; ``short`` adds free's -s and -c for them."""
    return (
        click.option(*(("-s",) if short else ()), "--watch", type=float, callback=_watch,
                     metavar="SECONDS",
                     help="Repeat every SECONDS, 0.1 to 86400 (yaml: a document stream; "
                          "json: an object a line; a table on a terminal is redrawn in "
                          "place)."),
        click.option(*(("-c",) if short else ()), "--count", type=click.IntRange(min=1),
                     metavar="N", help="With --watch, stop after N repetitions."))


def explaining() -> Tuple[Callable, ...]:
    """The options explain and check share."""
    return (
        click.option("--history", metavar="DIR",
                     help="Add the trend findings (leak suspects, exhaustion forecasts) of "
                          "the reports in DIR (the cron job's; as memscope trend DIR)."),
        click.option("--cgroup", "cgroup_path", metavar="PATH",
                     help="Judge this memory cgroup against its limit (relative to the "
                          "memory hierarchy's mount, or a full /sys/fs/cgroup path)."),
        click.option("--since", metavar="REPORT",
                     help="Rates since a saved `memscope report` (yaml or json) of the same "
                          "host, e.g. the cron job's last one."),
        click.option("--interval", type=float, callback=_watch, metavar="SECONDS",
                     help="Take a second sample SECONDS later (0.1 to 86400): reclaim, "
                          "swap and OOM findings use per-second rates (live host only)."))


option = click.option
argument = click.argument

SLAB_SORT_CHOICES = ("a", "b", "c", "l", "v", "n", "o", "p", "s", "u", "active",
                     "objs-per-slab", "cache-size", "slabs", "active-slabs", "name", "objects",
                     "pages-per-slab", "object-size", "use")


# -- the table of commands ----------------------------------------------------------------

class Command(NamedTuple):
    """One command: its name (and the function in memscope.commands that runs it), its
    help (the first sentence is the man page's NAME line) and its options and arguments,
    as click decorators in the order --help lists them."""

    name: str
    help: str
    params: Tuple[Callable, ...]


COMMANDS: Tuple[Command, ...] = (
    Command("summary", """The system picture: free-compatible figures, where every byte of
        MemTotal goes, MemAvailable rebuilt, zones and pressure.""", (
        *output(PROM),
        option("-w", "--wide", is_flag=True, help="Split buff/cache into buffers and cache."),
        option("-t", "--total", is_flag=True,
               help="Add free's Total: row (RAM + swap: total, used, free)."),
        option("-v", "--committed", is_flag=True,
               help="Add free's Comm: row: CommitLimit, Committed_AS, and the difference."),
        option("--line", is_flag=True,
               help="One line a sample, as free --line: SwapUse, CachUse, MemUse, MemFree."),
        *watch(short=True))),

    Command("explain", """The diagnosis in words: a verdict (ok, attention, pressure,
        critical) with the sentence that earns it, then findings, most severe first, each
        with its evidence, the kernel's reasons and the memscope command that shows more.""", (
        *output(PROM), *explaining())),

    Command("check", """The explain rules as a monitoring plugin (Nagios, Icinga, Sensu,
        Zabbix): one line `MEMORY OK|WARNING|CRITICAL|UNKNOWN - <sentence> | <perfdata>`;
        exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (memscope could not read what it needs,
        or bad arguments).""", (
        root_option(), version_option, *explaining(),
        option("-w", "--warning", type=click.FloatRange(0, 100, min_open=True),
               metavar="PCT", callback=_finite,
               help="WARNING when less than PCT % of memory is available (of MemTotal, or "
                    "of the cgroup's limit with --cgroup). Default 10 (host), 20 (cgroup)."),
        option("-c", "--critical", type=click.FloatRange(0, 100, min_open=True),
               metavar="PCT", callback=_finite,
               help="CRITICAL when less than PCT % is available. Default 5 (host), "
                    "10 (cgroup)."),
        quiet_option, debug_option)),

    Command("proc", """Per process: the RSS split, PSS and its parts, USS, swap, hugetlb, VSZ,
        OOM score; with --maps, where in the address space it is.""", (
        *output(),
        argument("pids", nargs=-1, required=True, type=click.IntRange(min=1),
                 metavar="PID..."),
        option("--maps", is_flag=True, help="Add the per-mapping table (pmap-like)."),
        option("--sort", "sort", type=click.Choice(("pss", "rss", "uss", "size", "swap",
                                                    "count", "path", "category")),
               default="pss", show_default=True, help="Order of the --maps rows."))),

    Command("top", "Every process (kernel threads excluded), ranked by PSS.", (
        *output(),
        option("--sort", type=click.Choice(("pss", "rss", "uss", "swap", "swap_pss", "shared",
                                            "vsz", "pid", "name", "user", "oom_score")),
               default="pss", show_default=True, help="Rank by this figure."),
        option("-n", "--limit", type=click.IntRange(min=0), metavar="N",
               help="Show the first N processes, or groups with --group-by (totals still "
                    "cover all); 0 for all. On a terminal the default is a screenful; "
                    "otherwise all."),
        option("-r", "--reverse", is_flag=True,
               help="Print the rows in reverse: the largest last, next to the prompt "
                    "(ps_mem's order); the same processes are chosen."),
        option("--columns", callback=_columns, metavar="LIST",
               help="Columns to show, in order, comma-separated: pid, user, pss, uss, rss, "
                    "swap, swap_pss, shared, vsz, % (of MemTotal, or of the cgroup's limit), "
                    "dpss and drss (growth since the previous --watch tick), oom_score, "
                    "name, command. Default pid,user,pss,uss,rss,swap,%,name,command."),
        option("--no-header", is_flag=True,
               help="The rows alone: no header line, no totals (for scripts)."),
        option("--user", "users", multiple=True, metavar="USER",
               help="Only processes of USER (a user name, or a uid; an unknown name is a "
                    "usage error); repeatable."),
        option("--pid", "pids", multiple=True, type=click.IntRange(min=1), metavar="PID",
               help="Only this process; repeatable."),
        option("--match", callback=_regex, metavar="REGEX",
               help="Only processes whose name or command line matches REGEX."),
        option("--cgroup", "cgroup_path", metavar="PATH",
               help="Only the processes of memory cgroup PATH and its descendants; % is of "
                    "its limit (of MemTotal when it has none)."),
        option("--group-by", type=click.Choice(("program", "user", "cgroup")),
               help="Fold processes into groups (program: by executable, like ps_mem)."),
        option("--by-mapping", is_flag=True,
               help="Per file, library and kind of anonymous memory, summed over every "
                    "process that maps it (like smem -m): what each costs in PSS."),
        option("--rss-only", is_flag=True,
               help="Read status only: no page-table walk, no mmap lock taken (pss/uss "
                    "null)."),
        option("--walk-limit", callback=_size, metavar="SIZE",
               help="Processes with more RSS than SIZE (e.g. 8G) get status figures instead "
                    "of a page-table walk."),
        *watch())),

    Command("cgroup", """Memory cgroups, v1 and v2 in one model, side by side and reconciled
        with their processes. PATH is relative to the memory hierarchy's mount
        (/system.slice/x.service) or a full /sys/fs/cgroup/... path; the default is the
        hierarchy's root.""", (
        *output(PROM),
        argument("paths", nargs=-1, metavar="[PATH]..."),
        option("--pid", type=click.IntRange(min=1), metavar="PID",
               help="The memory cgroup of process PID."),
        option("--children", is_flag=True,
               help="Compare the direct children of PATH, largest usage first, with PATH's "
                    "own share."),
        option("--tree", is_flag=True,
               help="The hierarchy under PATH indented, each cgroup with its usage, its own "
                    "share (less its children), its limit and working set; cgroup files "
                    "only, no process reading."),
        option("--depth", type=click.IntRange(min=0), metavar="N",
               help="With --tree, N levels below PATH at most."),
        *watch())),

    Command("zones", """Every zone: free against its watermarks, protection, state, headroom,
        and fragmentation (free blocks and the unusable free index per order).""", (
        *output(PROM),
        option("--explain", is_flag=True, help="Say in words what each watermark does."))),

    Command("vmalloc", """vmalloc areas by type and caller against VmallocUsed (root only:
        /proc/vmallocinfo is mode 0400).""", (
        *output(),
        option("--by", type=click.Choice(("caller", "type")), default="caller",
               show_default=True, help="Group the table by caller (offsets folded) or type."),
        option("--limit", type=click.IntRange(min=1), metavar="N",
               help="Only the N largest callers."))),

    Command("slab", """Slab caches by memory against SReclaimable/SUnreclaim (root only:
        /proc/slabinfo is mode 0400).""", (
        *output(),
        option("-n", "--limit", type=click.IntRange(min=1), metavar="N",
               help="Only the first N caches in the table (machine output has all)."),
        option("-s", "--sort", type=click.Choice(SLAB_SORT_CHOICES), metavar="KEY",
               help="Order of the table, with slabtop's letters or their names: a active, "
                    "b objs-per-slab, c cache-size (the default), l slabs, v active-slabs, "
                    "n name, o objects, p pages-per-slab, s object-size, u use."))),

    Command("shmem", """Who holds Shmem: tmpfs mounts, SysV segments, memfd and shm files
        mapped by processes, and what is left unattributed.""", output()),

    Command("report", """One document for a cron job: summary, zones, vmalloc (when
        readable), top with groups by program over all processes plus the top 20, and the
        top-level cgroups.""", output(PROM)),

    Command("diff", """Compare two reports (yaml or json): system figures and breakdown,
        programs (new, gone, grown, shrunk by PSS) and cgroups by usage, largest change
        first.""", (
        argument("old", metavar="OLD"), argument("new", metavar="NEW"),
        *output(root=False),
        option("--min-change", callback=_size, default="0", metavar="SIZE",
               help="Leave out changes smaller than SIZE (e.g. 1M)."))),

    Command("snapshot", """Capture the raw files for analysis elsewhere: every command then
        runs on the capture with --root FILE.tar.gz.""", (
        option("-o", "--output", required=True, metavar="FILE.tar.gz",
               help="Where to write the snapshot (atomically; a device, FIFO or pipe such "
                    "as /dev/stdout is written in place)."),
        option("--maps", is_flag=True,
               help="Also capture every process's smaps, maps and mounts (for proc --maps "
                    "and shmem; much larger)."),
        root_option("Only / (the live host) can be captured."),
        quiet_option, debug_option, version_option)),

    Command("trend", """A history of reports (the cron job's): every series' rate and
        steadiness, the leak suspects, when available memory, swap and each cgroup reach
        their limit, and where the history breaks (reboot, gap, another host or kernel).
        Reads REPORT files or every *.yaml, *.yml, *.json (and .gz) in DIR, in any
        order.""", (
        argument("paths", nargs=-1, required=True, metavar="REPORT...|DIR"),
        *output(root=False),
        option("--since", metavar="TIME",
               help="Only reports from TIME on: ISO 8601 (2026-12-01T08:00Z; UTC unless it "
                    "says a zone) or a duration back from the newest report (24h, 90m, 7d)."),
        option("--until", metavar="TIME", help="Only reports up to TIME (as --since)."),
        option("--by", type=click.Choice(("program", "cgroup", "category", "user", "slab")),
               help="Only these series (category includes available and swap used); "
                    "forecasts of available and swap are always made."),
        option("--limit", type=click.IntRange(min=1), metavar="N",
               help="Only the N most suspicious series in the table (machine output has "
                    "all)."))),

    Command("cache", """Which files are in the page cache: for each regular file its size and
        the bytes resident, dirty, under writeback, evicted and recently evicted (cachestat,
        Linux 6.5+; mincore tells resident bytes only), with totals against the system's
        Cached. Files are opened read-only and never read: measuring does not change what is
        measured.""", (
        *output(),
        argument("paths", nargs=-1, metavar="[PATH]..."),
        option("-r", "--recursive", is_flag=True,
               help="Walk directories to the bottom, with totals per directory."),
        option("--top", type=click.IntRange(min=0), default=20, show_default=True,
               metavar="N", help="List the N largest files (and directories) by --sort; "
                                 "totals cover every file. 0 lists all (memory then grows "
                                 "with the number of files)."),
        option("--sort", "sort", type=click.Choice(("cached", "size", "dirty", "evicted")),
               default="cached", show_default=True, help="Rank files by this figure."),
        option("--follow", is_flag=True,
               help="Follow symlinks found inside the trees (loops and second visits are "
                    "detected); without it they are counted, not followed."),
        option("--procs", is_flag=True,
               help="Instead of PATHs: the files that processes map or hold open, with who "
                    "uses them (deleted files included)."),
        option("--pid", "pids", multiple=True, type=click.IntRange(min=1), metavar="PID",
               help="With --procs, only this process; repeatable."))),
)


# -- the runner ---------------------------------------------------------------------------

def runner(name: str, values: Dict[str, Any]) -> None:
    """Run one command: its options (``values``) to memscope.commands.<name>, whose Plan
    is then carried out: built, rendered and written, once or every --watch seconds."""
    from memscope import commands
    from memscope.errors import UsageError

    if values.get("count") is not None and values.get("watch") is None:
        raise click.UsageError("--count needs --watch")
    try:
        plan = getattr(commands, name)(commands.Args(values, warn))
        if plan.act is not None:
            status = _guarded(plan.act)
            if status:
                raise click.exceptions.Exit(status)
            return
        run(plan, values["fmt"], values["output"], values.get("watch"), values.get("count"))
    except UsageError as exc:
        if exc.option:
            raise click.BadParameter(exc.message, param_hint=f"'{exc.option}'") from None
        raise click.UsageError(exc.message) from None


def _guarded(step: Callable[[], Any]) -> Any:
    """Ctrl-C and a reader gone (| head), carried past click to main."""
    try:
        return step()
    except KeyboardInterrupt:
        raise Interrupted() from None
    except BrokenPipeError:  # not an OSError past here: click makes EPIPE a silent exit 1
        raise ReaderGone() from None


def _click_command(row: Command) -> click.Command:
    def callback(**values: Any) -> None:
        runner(row.name, values)

    for param in reversed(row.params):
        callback = param(callback)
    return click.command(row.name, help=" ".join(row.help.split()))(callback)


def render(doc: Dict[str, Any], fmt: str, plan, stream: bool = False):
    """The document in format ``fmt`` (a row of render/formats.py): the table is the
    command's own view; the document formats render it whole; the row formats render
    render.rows' sections of it, the same for every command."""
    from memscope.render.formats import FORMATS, load

    kind = FORMATS[fmt].takes
    if kind == "table":
        from memscope.render.term import painted_sequences
        from memscope.text import safe_lines

        # names are data: nothing reaches the terminal as control but memscope's own colours
        return safe_lines(plan.table(doc), painted_sequences())
    if kind == "prom":
        return getattr(load(fmt), plan.prom)(doc)
    if kind == "rows":
        from memscope.render.rows import sections

        return load(fmt)(sections(doc), stream)
    return load(fmt)(doc, stream)


def run(plan, fmt: str, output: Optional[str], watch: Optional[float] = None,
        count: Optional[int] = None) -> None:
    """Build, render and emit a plan's document once, or every ``watch`` seconds."""
    from memscope.render import term

    term.direct(fmt == "table" and output is None)
    live = plan.redraw and watch is not None and term.interactive()
    _guarded(lambda: _run(plan, fmt, output, watch, count, live))


def _run(plan, fmt, output, watch, count, live) -> None:
    from memscope.output import emit

    utf8 = fmt != "table"  # machine formats are UTF-8 whatever the locale
    if watch is None:
        emit(render(plan.build(), fmt, plan), output, utf8)
        return
    n = 0
    while True:
        text = render(plan.build(), fmt, plan, stream=True)
        if live:
            text = live_frame(text, watch)
        elif fmt == "table" and output is None and n and plan.gap:
            emit("\n", output)
        emit(text, output, utf8)
        n += 1
        if count is not None and n >= count:
            return
        time.sleep(watch)


class RunState:
    """What one run of a command remembers: the warnings already printed (each once per run:
    a --watch loop repeats its reads, not them) and --quiet. Kept on the run's root click
    context, so two runs in one process (tests, a library caller) share nothing."""

    def __init__(self) -> None:
        self.quiet = False
        self.warned: set = set()

    def warn(self, lines) -> None:
        for line in lines:
            if line not in self.warned:
                self.warned.add(line)
                if not self.quiet:
                    _stderr(f"memscope: warning: {line}")


def run_state(ctx: Optional[click.Context] = None) -> RunState:
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return RunState()  # outside a command: nothing to remember
    return ctx.find_root().meta.setdefault("memscope.run", RunState())


def live_frame(text: str, watch: float) -> str:
    from memscope.render.term import frame

    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return frame(text, f"memscope {stamp}, every {watch:g}s (Ctrl-C to stop)")


def warn(lines) -> None:
    """Warnings to stderr, each once per run, none with --quiet."""
    run_state().warn(lines)


class Interrupted(Exception):
    """SIGINT, carried past click (which would print a blank line) to main: exit 130."""


class ReaderGone(Exception):
    """EPIPE on stdout (``| head``), carried past click to main: a quiet exit 0."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.version_option(__version__, "--version", prog_name="memscope")
@click.pass_context
def cli(ctx) -> None:
    """Where did my memory go? memscope reads the kernel's own accounting and explains it."""
    if ctx.invoked_subcommand is None:  # `memscope` alone: the help, and success
        click.echo(ctx.get_help())
        ctx.exit(0)


for _row in COMMANDS:
    cli.add_command(_click_command(_row))


def _quiet_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Optional[list] = None) -> None:
    from memscope.errors import MemscopeError
    from memscope.text import fit_streams

    fit_streams(sys.stdout, sys.stderr)
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    if sys.stdout is None and (not args or {"--help", "--version"} & set(args)):
        _stderr("memscope: error: standard output: cannot write (it is closed; redirect it)")
        sys.exit(1)  # click would print the help into nothing and exit 0
    if args[:1] == ["check"]:
        _main_check(args, debug)
    try:
        cli.main(args=args, prog_name="memscope", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: click's message, exit 2
        _show_usage_error(exc, args)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt, Interrupted):
        _quiet_stdout()
        sys.exit(130)
    except (BrokenPipeError, ReaderGone):  # the reader went away (| head): quietly
        _quiet_stdout()
        sys.exit(0)
    except MemscopeError as exc:
        if debug:
            raise
        _stderr(f"memscope: error: {exc}")
        sys.exit(1)
    except Exception as exc:  # a bug: still one line, and how to learn more
        if debug:
            raise
        _stderr(f"memscope: error: internal error ({type(exc).__name__}: {exc}); "
                "rerun with --debug and report it")
        sys.exit(1)
    sys.exit(0)


def _show_usage_error(exc: click.ClickException, args: list) -> None:
    """A usage error as every other error: one line on stderr, with where to read more
    (click's own is four: usage, a hint, a blank line, the message). What the user typed
    is made harmless for the terminal by _stderr."""
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        where = ctx.command_path
    else:  # an option missing its value: click gives no context; the command is in argv
        named = next((a for a in args if a in cli.commands), None)
        where = f"memscope {named}" if named else "memscope"
    _stderr(f"memscope: error: {exc.format_message()} (see '{where} --help')")


def _main_check(args: list, debug: bool) -> None:
    """``check`` follows the Monitoring Plugins guidelines, not memscope's exit codes: any
    failure — bad arguments included — is ``MEMORY UNKNOWN - <why>`` on stdout, exit 3
    (https://www.monitoring-plugins.org/doc/guidelines.html#AEN78)."""
    from memscope.errors import MemscopeError

    def unknown(why: str) -> None:
        from memscope.text import safe

        # one line, nothing a terminal or a monitoring UI takes as control; '|' would
        # start the perfdata
        line = "MEMORY UNKNOWN - " + safe(why).replace("|", "/")
        if sys.stdout is None:  # started with stdout closed: say it where it can be seen
            _stderr(line)
            sys.exit(3)
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            _quiet_stdout()
        sys.exit(3)

    try:
        # not standalone, click returns the status of click.exceptions.Exit
        status = cli.main(args=args, prog_name="memscope", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        unknown(f"usage: {exc.format_message()}")
    except (click.exceptions.Abort, KeyboardInterrupt, Interrupted):
        unknown("interrupted")
    except BrokenPipeError:
        _quiet_stdout()
        sys.exit(3)
    except MemscopeError as exc:
        if debug:
            raise
        unknown(str(exc))
    except Exception as exc:
        if debug:
            raise
        unknown(f"internal error ({type(exc).__name__}: {exc}); rerun with --debug")
    sys.exit(status if isinstance(status, int) else 0)


def _stderr(line: str) -> None:
    """One line on stderr: every character that is not printable (a newline in a name
    too) shown as ``?``, as in tables."""
    from memscope.text import safe

    _write_stderr(safe(line) + "\n")


def _write_stderr(text: str) -> None:
    if sys.stderr is None:  # started with stderr closed
        return
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
