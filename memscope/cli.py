"""The click commands: options -> collect -> model -> render. Thin by design; the only module
that imports click.

Exit status (docs/contract.md "Errors"): 0 success (warnings on stderr), 1 the request can't be met
(one stderr line naming the file or object and what to do), 2 usage. Never a traceback,
unless ``--debug``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional

import click

from memscope import __version__

FORMATS = ("table", "yaml", "json")
PROM = FORMATS + ("prom",)


def output_options(formats=FORMATS, root: bool = True) -> Callable:
    """The options every command accepts (sqlite-utils' shared output-options habit);
    ``formats`` adds prom where a command has a Prometheus exposition; ``root`` is False
    for diff, which reads report files, not a host."""
    def decorate(f: Callable) -> Callable:
        return _common(f, formats, root)
    return decorate


def _set_color(ctx, param, value):
    if value is not None:
        from memscope.render import term

        term.set_color(value)
    return value


color_option = click.option(
    "--color", type=click.Choice(("auto", "always", "never")), default="auto",
    show_default=True, expose_value=False, callback=_set_color,
    help="Colour in tables: auto (a terminal, unless NO_COLOR is set or TERM=dumb), "
         "always (also when piped), never. Never in yaml, json or prom.")


def _common(f: Callable, formats, root: bool = True) -> Callable:
    options = [
        click.option("--root", default="/", show_default=True, metavar="DIR",
                     help="Read the host laid out under DIR (proc/, sys/), or a snapshot "
                          "archive, instead of the live one."),
    ] if root else []
    options += [
        click.option("--format", "fmt", type=click.Choice(formats), default="table",
                     show_default=True,
                     help="Output format; " + ("yaml, json and prom (Prometheus text)"
                                               if "prom" in formats else "yaml and json") +
                          " carry integer bytes."),
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
        quiet_option,
        click.option("--debug", is_flag=True,
                     help="Show a traceback for errors (for bug reports)."),
        color_option,
        click.version_option(__version__, "--version", prog_name="memscope",
                             help="Show memscope's version and exit."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _set_quiet(ctx, param, value) -> None:
    if value:
        run_state(ctx).quiet = True


quiet_option = click.option("-q", "--quiet", is_flag=True, expose_value=False,
                            callback=_set_quiet,
                            help="No warnings on stderr (errors are still one line).")

common_options = output_options()


def render(doc: Dict[str, Any], fmt: str, table: Callable[[Dict[str, Any]], str],
           stream: bool = False, prom: Optional[str] = None):
    """``prom`` names the command's renderer in memscope.render.prom, imported only when
    asked for."""
    from memscope import render as r

    if fmt == "prom" and prom is not None:
        from memscope.render import prom as exposition

        return getattr(exposition, prom)(doc)
    if fmt == "json":
        return r.to_json(doc, stream)
    if fmt == "yaml":
        return r.to_yaml(doc, stream)
    from memscope.render.term import painted_sequences
    from memscope.text import safe_lines

    # names are data: nothing reaches the terminal as control but memscope's own colours
    return safe_lines(table(doc), painted_sequences())


def run(build: Callable[[], Dict[str, Any]], table: Callable[[Dict[str, Any]], str],
        fmt: str, output: Optional[str], watch: Optional[float] = None,
        count: Optional[int] = None,
        prom: Optional[str] = None, live: bool = False, gap: bool = True) -> None:
    """Build, render and emit a document once, or every ``watch`` seconds. ``live``: a
    table on a terminal is redrawn in place under a timestamp (top, cgroup); ``gap``: a
    blank line between repeated tables (not for one-line samples)."""
    from memscope.render import term

    term.direct(fmt == "table" and output is None)
    live = live and watch is not None and term.interactive()
    try:
        _run(build, table, fmt, output, watch, count, prom, live, gap)
    except KeyboardInterrupt:
        raise Interrupted() from None
    except BrokenPipeError:  # not an OSError past here: click makes EPIPE a silent exit 1
        raise ReaderGone() from None


def _run(build, table, fmt, output, watch, count, prom, live=False, gap=True) -> None:
    from memscope.output import emit

    utf8 = fmt != "table"  # machine formats are UTF-8 whatever the locale
    if watch is None:
        emit(render(build(), fmt, table, prom=prom), output, utf8)
        return
    n = 0
    while True:
        doc = build()
        text = render(doc, fmt, table, stream=True, prom=prom)
        if live:
            text = live_frame(text, watch)
        elif fmt == "table" and output is None and n and gap:
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


def watch_options(f: Callable, short: bool = False) -> Callable:
    """--watch and --count; ``short`` adds free's -s and -c for them."""
    f = click.option(*(("-c",) if short else ()), "--count", type=click.IntRange(min=1),
                     metavar="N", help="With --watch, stop after N repetitions.")(f)
    f = click.option(*(("-s",) if short else ()), "--watch", type=float, callback=_watch,
                     metavar="SECONDS",
                     help="Repeat every SECONDS, 0.1 to 86400 (yaml: a document stream; "
                          "json: an object a line; a table on a terminal is redrawn in "
                          "place).")(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.version_option(__version__, "--version", prog_name="memscope")
@click.pass_context
def cli(ctx) -> None:
    """Where did my memory go? memscope reads the kernel's own accounting and explains it."""
    if ctx.invoked_subcommand is None:  # `memscope` alone: the help, and success
        click.echo(ctx.get_help())
        ctx.exit(0)


@cli.command()
@output_options(PROM)
@click.option("-w", "--wide", is_flag=True, help="Split buff/cache into buffers and cache.")
@click.option("-t", "--total", is_flag=True,
              help="Add free's Total: row (RAM + swap: total, used, free).")
@click.option("-v", "--committed", is_flag=True,
              help="Add free's Comm: row: CommitLimit, Committed_AS, and the difference.")
@click.option("--line", is_flag=True,
              help="One line a sample, as free --line: SwapUse, CachUse, MemUse, MemFree.")
@lambda f: watch_options(f, short=True)
def summary(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
            debug: bool, wide: bool, total: bool, committed: bool, line: bool,
            watch: Optional[float], count: Optional[int]) -> None:
    """The system picture: free-compatible figures, where every byte of MemTotal goes,
    MemAvailable rebuilt, zones and pressure."""
    from memscope.collect.system import collect_system
    from memscope.model.system import build_summary
    from memscope.render.table import free_line, summary_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    if count is not None and watch is None:
        raise click.UsageError("--count needs --watch")
    if line and fmt != "table":
        raise click.UsageError("--line is a table format; it does not go with --format")
    src = open_root(root)
    units = Units(unit, si)
    state: Dict[str, Any] = {}

    def build() -> Dict[str, Any]:
        doc = build_summary(collect_system(src))
        if watch is not None:  # rates of the reclaim counters since the previous sample
            from memscope.model.system import add_rates

            now = time.monotonic()
            add_rates(doc, state.get("activity"), now - state.get("at", now))
            state["activity"], state["at"] = doc["activity"], now
        return with_verdict(doc)

    if line:
        run(build, lambda doc: free_line(doc, units), fmt, output, watch, count, live=False,
            gap=False)
        return
    run(build, lambda doc: summary_table(doc, units, wide, total, committed), fmt, output,
        watch, count, prom="summary_prom")


def with_verdict(doc: Dict[str, Any]) -> Dict[str, Any]:
    from memscope.explain import with_verdict as add

    return add(doc)


def explain_options(f: Callable) -> Callable:
    f = click.option("--interval", type=float, callback=_watch, metavar="SECONDS",
                     help="Take a second sample SECONDS later (0.1 to 86400): reclaim, "
                          "swap and OOM findings use per-second rates (live host only).")(f)
    f = click.option("--since", metavar="REPORT",
                     help="Rates since a saved `memscope report` (yaml or json) of the same "
                          "host, e.g. the cron job's last one.")(f)
    f = click.option("--cgroup", "cgroup_path", metavar="PATH",
                     help="Judge this memory cgroup against its limit (relative to the "
                          "memory hierarchy's mount, or a full /sys/fs/cgroup path).")(f)
    f = click.option("--history", metavar="DIR",
                     help="Add the trend findings (leak suspects, exhaustion forecasts) of "
                          "the reports in DIR (the cron job's; as memscope trend DIR).")(f)
    return f


def history_findings(history: Optional[str]) -> List[Dict[str, Any]]:
    """explain/check --history DIR: the trend of the reports there, as findings (a file
    that is not a readable report is skipped with a warning, as trend does)."""
    if history is None:
        return []
    from memscope.errors import MemscopeError
    from memscope.trend.build import build_trend
    from memscope.trend.findings import trend_findings

    try:
        doc = build_trend([history], None, None, None)
    except MemscopeError as exc:  # no readable report: the diagnosis stands without them
        warn([f"--history: no trend findings: {exc}"])
        return []
    if doc["skipped"]:
        warn([f"--history: {len(doc['skipped'])} file(s) skipped: "
              f"{doc['skipped'][0]['file']}: {doc['skipped'][0]['reason']}"
              + (" (and more)" if len(doc["skipped"]) > 1 else "")])
    return trend_findings(doc, history)


def _explain_args(root: str, since: Optional[str], interval: Optional[float]):
    from memscope.sources import open_root

    if since is not None and interval is not None:
        raise click.UsageError("give --since or --interval, not both")
    src = open_root(root)
    if interval is not None and not src.live:
        raise click.UsageError("--interval takes a second sample of the live host; under "
                               "--root use --since REPORT")
    return src


@cli.command()
@output_options(PROM)
@explain_options
def explain(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
            debug: bool, history: Optional[str], cgroup_path: Optional[str],
            since: Optional[str], interval: Optional[float]) -> None:
    """The diagnosis in words: a verdict (ok, attention, pressure, critical) with the
    sentence that earns it, then findings, most severe first, each with its evidence, the
    kernel's reasons and the memscope command that shows more."""
    from memscope.collect.explain import collect_explain
    from memscope.explain import diagnose
    from memscope.render.explain import explain_table

    src = _explain_args(root, since, interval)

    def build():
        docs, notes, scope, warnings = collect_explain(src, cgroup_path, since, interval)
        warn(warnings)
        return diagnose(docs, extra=history_findings(history), notes=notes, scope=scope)

    run(build, explain_table, fmt, output, prom="explain_prom")


@cli.command()
@click.option("--root", default="/", show_default=True, metavar="DIR",
              help="Read the host laid out under DIR (proc/, sys/), or a snapshot archive, "
                   "instead of the live one.")
@click.version_option(__version__, "--version", prog_name="memscope",
                      help="Show memscope's version and exit.")
@explain_options
@click.option("-w", "--warning", type=click.FloatRange(0, 100, min_open=True),
              metavar="PCT", callback=_finite,
              help="WARNING when less than PCT % of memory is available (of MemTotal, or "
                   "of the cgroup's limit with --cgroup). Default 10 (host), 20 (cgroup).")
@click.option("-c", "--critical", type=click.FloatRange(0, 100, min_open=True),
              metavar="PCT", callback=_finite,
              help="CRITICAL when less than PCT % is available. Default 5 (host), "
                   "10 (cgroup).")
@quiet_option
@click.option("--debug", is_flag=True, help="Show a traceback for errors (for bug reports).")
def check(root: str, history: Optional[str], cgroup_path: Optional[str],
          since: Optional[str], interval: Optional[float], warning: Optional[float],
          critical: Optional[float], debug: bool) -> None:
    """The explain rules as a monitoring plugin (Nagios, Icinga, Sensu, Zabbix): one line
    `MEMORY OK|WARNING|CRITICAL|UNKNOWN - <sentence> | <perfdata>`; exit 0 OK, 1 WARNING,
    2 CRITICAL, 3 UNKNOWN (memscope could not read what it needs, or bad arguments)."""
    from memscope.collect.explain import collect_explain
    from memscope.explain import diagnose
    from memscope.render.explain import check_line

    if warning is not None and critical is not None and critical > warning:
        raise click.UsageError("-c/--critical must not exceed -w/--warning (both are "
                               "percentages still available)")
    src = _explain_args(root, since, interval)
    docs, notes, scope, _warnings = collect_explain(src, cgroup_path, since, interval,
                                                    light=True)
    docs.thresholds = {"warning": warning, "critical": critical}
    doc = diagnose(docs, extra=history_findings(history), notes=notes, scope=scope)
    line, status = check_line(doc, docs)
    from memscope.output import emit

    emit(line, None)
    raise click.exceptions.Exit(status)


@cli.command()
@common_options
@click.argument("pids", nargs=-1, required=True, type=click.IntRange(min=1), metavar="PID...")
@click.option("--maps", is_flag=True, help="Add the per-mapping table (pmap-like).")
@click.option("--sort", "sort", type=click.Choice(("pss", "rss", "uss", "size", "swap",
                                                     "count", "path", "category")),
              default="pss", show_default=True, help="Order of the --maps rows.")
def proc(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
         debug: bool, pids, maps: bool, sort: str) -> None:
    """Per process: the RSS split, PSS and its parts, USS, swap, hugetlb, VSZ, OOM score;
    with --maps, where in the address space it is."""
    from memscope.collect.procs import collect_proc
    from memscope.render.table import proc_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    src = open_root(root)
    units = Units(unit, si)

    def build():
        doc, warnings = collect_proc(src, list(pids), maps, sort)
        warn(warnings)
        return doc

    run(build, lambda doc: proc_table(doc, units), fmt, output)


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


def screenful(watching: bool) -> Optional[int]:
    """Lines a table may take on the terminal: its height less the prompt, two lines for
    warnings on stderr, and the live view's timestamp; None when not a terminal."""
    from memscope.render import term

    lines = term.height()
    if lines is None:
        return None
    return max(8, lines - 3 - (2 if watching else 0))


def mem_total(src) -> Optional[int]:
    from memscope.parsers.meminfo import parse_meminfo

    mi = src.parse("proc/meminfo", parse_meminfo, optional=True)
    return mi.fields.get("MemTotal") if mi is not None else None


def one_cgroup(src, path: str):
    """(path, pids, limit) of one memory cgroup, for ``top --cgroup``."""
    from memscope.collect.cgroups import find_hierarchy, member_pids, read_files, resolve
    from memscope.errors import MemscopeError
    from memscope.model.cgroup import build_cgroup

    hier = find_hierarchy(src)
    path = resolve(src, hier, path)
    pids = member_pids(src, hier, path)
    if pids is None:
        raise MemscopeError(f"cgroup {path}: no cgroup.procs under this root, so its "
                            "processes are not known")
    doc = build_cgroup(path, hier.version, read_files(src, hier, path), path == "/", [])
    return path, pids, doc["limit"]


@cli.command()
@common_options
@click.option("--sort", type=click.Choice(("pss", "rss", "uss", "swap", "swap_pss", "shared",
                                           "vsz", "pid", "name", "user", "oom_score")),
              default="pss", show_default=True, help="Rank by this figure.")
@click.option("-n", "--limit", type=click.IntRange(min=0), metavar="N",
              help="Show the first N processes, or groups with --group-by (totals still "
                   "cover all); 0 for all. On a terminal the default is a screenful; "
                   "otherwise all.")
@click.option("-r", "--reverse", is_flag=True,
              help="Print the rows in reverse: the largest last, next to the prompt "
                   "(ps_mem's order); the same processes are chosen.")
@click.option("--columns", callback=_columns, metavar="LIST",
              help="Columns to show, in order, comma-separated: pid, user, pss, uss, rss, "
                   "swap, swap_pss, shared, vsz, % (of MemTotal, or of the cgroup's limit), "
                   "dpss and drss (growth since the previous --watch tick), oom_score, name, "
                   "command. Default pid,user,pss,uss,rss,swap,%,name,command.")
@click.option("--no-header", is_flag=True,
              help="The rows alone: no header line, no totals (for scripts).")
@click.option("--user", "users", multiple=True, metavar="USER",
              help="Only processes of USER (a user name, or a uid; an unknown name is a "
                   "usage error); repeatable.")
@click.option("--pid", "pids", multiple=True, type=click.IntRange(min=1), metavar="PID",
              help="Only this process; repeatable.")
@click.option("--match", callback=_regex, metavar="REGEX",
              help="Only processes whose name or command line matches REGEX.")
@click.option("--cgroup", "cgroup_path", metavar="PATH",
              help="Only the processes of memory cgroup PATH and its descendants; % is of "
                   "its limit (of MemTotal when it has none).")
@click.option("--group-by", type=click.Choice(("program", "user", "cgroup")),
              help="Fold processes into groups (program: by executable, like ps_mem).")
@click.option("--by-mapping", is_flag=True,
              help="Per file, library and kind of anonymous memory, summed over every "
                   "process that maps it (like smem -m): what each costs in PSS.")
@click.option("--rss-only", is_flag=True,
              help="Read status only: no page-table walk, no mmap lock taken (pss/uss "
                   "null).")
@click.option("--walk-limit", callback=_size, metavar="SIZE",
              help="Processes with more RSS than SIZE (e.g. 8G) get status figures instead "
                   "of a page-table walk.")
@watch_options
def top(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
        debug: bool, sort: str, limit: Optional[int], reverse: bool, columns,
        no_header: bool, users, pids, match: Optional[str], cgroup_path: Optional[str],
        group_by: Optional[str], by_mapping: bool, rss_only: bool,
        walk_limit: Optional[int], watch: Optional[float], count: Optional[int]) -> None:
    """Every process (kernel threads excluded), ranked by PSS."""
    from memscope.collect.procs import Options, Users, list_pids, scan, shmem_swap
    from memscope.model.top import build_top
    from memscope.render import term
    from memscope.render.table import TOP_DEFAULT, TopView, top_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    if count is not None and watch is None:
        raise click.UsageError("--count needs --watch")
    if by_mapping and (group_by or rss_only or watch is not None):
        raise click.UsageError("--by-mapping does not go with --group-by, --rss-only or "
                               "--watch")
    term.direct(fmt == "table" and output is None)
    src = open_root(root)
    units = Units(unit, si)
    height = screenful(watch is not None) if limit is None else None
    limit = height if limit is None else (limit or None)  # 0: all; the table trims to fit
    member = None
    share_base, share_of = None, "MemTotal"
    if cgroup_path is not None:
        path, member, cg_limit = one_cgroup(src, cgroup_path)
        if cg_limit is not None:
            share_base, share_of = cg_limit, f"the limit of {path}"
    if by_mapping:
        return top_by_mapping(src, units, fmt, output, pids, member, limit, reverse,
                              no_header)
    if share_base is None and fmt == "table":
        share_base = mem_total(src)
    opts = Options(rss_only=rss_only, walk_limit=walk_limit,
                   program=group_by == "program", cgroup=group_by == "cgroup")
    names = Users(src)
    users = tuple(_user_name(src, names, u) for u in users)
    if columns is None and watch is not None and term.interactive():
        columns = ("pid", "user", "pss", "dpss", "rss", "drss", "swap", "%", "name",
                   "command")
    view = TopView(columns or TOP_DEFAULT, header=not no_header, share_base=share_base,
                   share_of=share_of, height=height, reverse=reverse)
    previous: Dict[int, Any] = {}

    def build():
        wanted = sorted(set(pids)) if pids else list_pids(src)
        if member is not None:
            wanted = sorted(set(wanted) & set(member))
        results = scan(src, wanted, opts, names)
        if member is not None:  # read ahead or not, only the cgroup's processes
            chosen = set(wanted)
            results = [(pid, res) for pid, res in results if pid in chosen]
        doc, warnings = build_top(results, sort, limit, users, match, group_by,
                                  shared_swap=shmem_swap(src, results))
        warn(warnings)
        if reverse:
            doc["processes"] = list(reversed(doc["processes"]))
        if watch is not None:  # growth since the previous tick (atop's VGROW/RGROW)
            view.deltas = growth(previous, doc["processes"])
        return doc

    run(build, lambda doc: top_table(doc, units, view), fmt, output, watch, count, live=True)


def growth(previous: Dict[int, Any], processes) -> Dict[int, Any]:
    """{pid: (Δpss, Δrss)} against the previous tick, which it then replaces; a process
    new since then has no growth (None), and so has every process on the first tick."""
    out: Dict[int, Any] = {}
    now: Dict[int, Any] = {}
    for p in processes:
        pid, pss, rss = p["pid"], p["pss"], p["rss"]
        now[pid] = (pss, rss)
        before = previous.get(pid)
        if before is not None:
            out[pid] = (None if pss is None or before[0] is None else pss - before[0],
                        None if rss is None or before[1] is None else rss - before[1])
    previous.clear()
    previous.update(now)
    return out


def top_by_mapping(src, units, fmt, output, pids, member, limit, reverse, no_header) -> None:
    from memscope.collect.procs import collect_mappings, list_pids
    from memscope.model.top import build_by_mapping
    from memscope.render.table import mapping_table

    def build():
        wanted = sorted(set(pids)) if pids else list_pids(src)
        if member is not None:
            wanted = sorted(set(wanted) & set(member))
        per_process, skipped = collect_mappings(src, wanted)
        doc = build_by_mapping(per_process, skipped, "pss", limit)
        if skipped["permission_denied"]:
            warn([f"{skipped['permission_denied']} process(es) left out, their smaps "
                  "unreadable (permission denied; run as root)"])
        if reverse:
            doc["mappings"].reverse()
        return doc

    run(build, lambda doc: mapping_table(doc, units, header=not no_header), fmt, output)


def _user_name(src, names, given: str) -> str:
    """--user: a name the host (or the snapshot's uid map) knows, or a uid; else a usage
    error, never a silently empty table."""
    if given.isdigit() and given.isascii():
        return names(int(given))
    if given in names.cache.values():
        return given
    uid = src.user_id(given)  # a host fact: the passwd database, or a snapshot's uid map
    if uid is not None:
        return names(uid)
    where = "known to this host or recorded in this snapshot (give a uid)"
    raise click.BadParameter(f"no such user {given!r}: not a user {where}",
                             param_hint="'--user'")


@cli.command()
@output_options(PROM)
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--pid", type=click.IntRange(min=1), metavar="PID",
              help="The memory cgroup of process PID.")
@click.option("--children", is_flag=True,
              help="Compare the direct children of PATH, largest usage first, with PATH's "
                   "own share.")
@click.option("--tree", is_flag=True,
              help="The hierarchy under PATH indented, each cgroup with its usage, its own "
                   "share (less its children), its limit and working set; cgroup files "
                   "only, no process reading.")
@click.option("--depth", type=click.IntRange(min=0), metavar="N",
              help="With --tree, N levels below PATH at most.")
@watch_options
def cgroup(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
           debug: bool, paths, pid: Optional[int], children: bool, tree: bool,
           depth: Optional[int], watch: Optional[float], count: Optional[int]) -> None:
    """Memory cgroups, v1 and v2 in one model, side by side and reconciled with their
    processes. PATH is relative to the memory hierarchy's mount (/system.slice/x.service)
    or a full /sys/fs/cgroup/... path; the default is the hierarchy's root."""
    from memscope.collect.cgroups import (cgroup_of_pid, find_hierarchy, read_cgroup,
                                          read_children, read_tree, resolve)
    from memscope.model.cgroup import build_cgroup_document
    from memscope.render.table import cgroup_table, cgroup_tree_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    if count is not None and watch is None:
        raise click.UsageError("--count needs --watch")
    if pid is not None and paths:
        raise click.UsageError("give PATH or --pid, not both")
    if children and len(paths) > 1:
        raise click.UsageError("--children takes one PATH")
    if tree and (children or len(paths) > 1):
        raise click.UsageError("--tree takes one PATH, and not --children")
    if depth is not None and not tree:
        raise click.UsageError("--depth needs --tree")
    src = open_root(root)
    units = Units(unit, si)
    previous: Dict[str, Any] = {}
    deltas: Dict[str, Any] = {}

    def build():
        hier = find_hierarchy(src)
        if pid is not None:
            wanted = [resolve(src, hier, cgroup_of_pid(src, hier, pid))]
        else:
            wanted = [resolve(src, hier, p) for p in (paths or ("/",))]
        notes: list = []
        if tree:
            doc = build_cgroup_document(read_tree(src, hier, wanted[0], notes, depth), notes)
        elif children:
            parent, kids = read_children(src, hier, wanted[0], notes)
            doc = build_cgroup_document(kids, notes, parent)
        else:
            doc = build_cgroup_document([read_cgroup(src, hier, p, notes) for p in wanted],
                                        notes)
        if watch is not None:  # growth of each cgroup's usage since the previous tick
            now = {c["path"]: c["usage"] for c in doc["cgroups"]}
            deltas.clear()
            deltas.update({p: None if u is None or previous.get(p) is None
                           else u - previous[p] for p, u in now.items()})
            previous.clear()
            previous.update(now)
        return doc

    shown = deltas if watch is not None else None
    if tree:
        table = lambda doc: cgroup_tree_table(doc, units, shown)  # noqa: E731
    else:
        table = lambda doc: cgroup_table(doc, units, shown)  # noqa: E731
    run(build, table, fmt, output, watch, count, prom="cgroup_prom", live=True)


@cli.command()
@output_options(PROM)
@click.option("--explain", is_flag=True, help="Say in words what each watermark does.")
def zones(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
          debug: bool, explain: bool) -> None:
    """Every zone: free against its watermarks, protection, state, headroom, and
    fragmentation (free blocks and the unusable free index per order)."""
    from memscope.collect.views import collect_zones
    from memscope.render.table import zones_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    src = open_root(root)
    units = Units(unit, si)
    run(lambda: collect_zones(src), lambda doc: zones_table(doc, units, explain), fmt, output,
        prom="zones_prom")


@cli.command()
@common_options
@click.option("--by", type=click.Choice(("caller", "type")), default="caller",
              show_default=True, help="Group the table by caller (offsets folded) or type.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Only the N largest callers.")
def vmalloc(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
            debug: bool, by: str, limit: Optional[int]) -> None:
    """vmalloc areas by type and caller against VmallocUsed (root only: /proc/vmallocinfo is
    mode 0400)."""
    from memscope.collect.views import collect_vmalloc
    from memscope.render.table import vmalloc_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    src = open_root(root)
    units = Units(unit, si)
    run(lambda: collect_vmalloc(src, by, limit), lambda doc: vmalloc_table(doc, units, by),
        fmt, output)


SLAB_SORT_CHOICES = ("a", "b", "c", "l", "v", "n", "o", "p", "s", "u", "active",
                     "objs-per-slab", "cache-size", "slabs", "active-slabs", "name", "objects",
                     "pages-per-slab", "object-size", "use")


@cli.command()
@common_options
@click.option("-n", "--limit", type=click.IntRange(min=1), metavar="N",
              help="Only the first N caches in the table (machine output has all).")
@click.option("-s", "--sort", type=click.Choice(SLAB_SORT_CHOICES), metavar="KEY",
              help="Order of the table, with slabtop's letters or their names: a active, "
                   "b objs-per-slab, c cache-size (the default), l slabs, v active-slabs, "
                   "n name, o objects, p pages-per-slab, s object-size, u use.")
def slab(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
         debug: bool, limit: Optional[int], sort: Optional[str]) -> None:
    """Slab caches by memory against SReclaimable/SUnreclaim (root only: /proc/slabinfo is
    mode 0400)."""
    from memscope.collect.views import collect_slab
    from memscope.render.table import slab_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    src = open_root(root)
    units = Units(unit, si)
    run(lambda: collect_slab(src), lambda doc: slab_table(doc, units, limit, sort), fmt,
        output)


@cli.command()
@common_options
def shmem(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
          debug: bool) -> None:
    """Who holds Shmem: tmpfs mounts, SysV segments, memfd and shm files mapped by
    processes, and what is left unattributed."""
    from memscope.collect.views import collect_shmem
    from memscope.render.table import shmem_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    src = open_root(root)
    units = Units(unit, si)
    run(lambda: collect_shmem(src), lambda doc: shmem_table(doc, units), fmt, output)


@cli.command()
@output_options(PROM)
def report(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
           debug: bool) -> None:
    """One document for a cron job: summary, zones, vmalloc (when readable), top with
    groups by program over all processes plus the top 20, and the top-level cgroups."""
    from memscope.collect.report import collect_report
    from memscope.render.table import report_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    src = open_root(root)
    units = Units(unit, si)

    def build():
        doc, warnings = collect_report(src)
        warn(warnings)
        return doc

    run(build, lambda doc: report_table(doc, units), fmt, output, prom="report_prom")


@cli.command()
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@output_options(root=False)
@click.option("--min-change", callback=_size, default="0", metavar="SIZE",
              help="Leave out changes smaller than SIZE (e.g. 1M).")
def diff(old: str, new: str, min_change: int, fmt: str, output: Optional[str],
         unit: Optional[str], si: bool, debug: bool) -> None:
    """Compare two reports (yaml or json): system figures and breakdown, programs (new,
    gone, grown, shrunk by PSS) and cgroups by usage, largest change first."""
    from memscope.collect.documents import load_pair
    from memscope.model.diff import build_diff
    from memscope.render.table import diff_table
    from memscope.render.units import Units

    def build():
        a, b, warnings = load_pair(old, new)
        warn(warnings)
        return build_diff(a, b, min_change)

    units = Units(unit, si)
    run(build, lambda doc: diff_table(doc, units), fmt, output)


@cli.command()
@click.option("-o", "--output", required=True, metavar="FILE.tar.gz",
              help="Where to write the snapshot (atomically; a device, FIFO or pipe such "
                   "as /dev/stdout is written in place).")
@click.option("--maps", is_flag=True,
              help="Also capture every process's smaps, maps and mounts (for proc --maps and "
                   "shmem; much larger).")
@click.option("--root", default="/", show_default=True, metavar="DIR",
              help="Only / (the live host) can be captured.")
@quiet_option
@click.option("--debug", is_flag=True, help="Show a traceback for errors (for bug reports).")
@click.version_option(__version__, "--version", prog_name="memscope",
                      help="Show memscope's version and exit.")
def snapshot(output: str, maps: bool, root: str, debug: bool) -> None:
    """Capture the raw files for analysis elsewhere: every command then runs on the capture
    with --root FILE.tar.gz."""
    from memscope.snapshot import capture
    from memscope.sources import open_root

    try:
        manifest = capture(open_root(root), output, maps)
    except BrokenPipeError:  # -o /dev/stdout | head: quietly, as for every command
        raise ReaderGone() from None
    skipped = manifest["skipped"]
    if skipped.get("PermissionDenied"):
        from memscope.errors import denied_hint

        first = (manifest.get("skipped_first") or {}).get("PermissionDenied")
        warn([f"{skipped['PermissionDenied']} file(s) could not be read and are not in the "
              f"snapshot (permission denied; {denied_hint()})"
              + (f", {first} first" if first else "")])


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="REPORT...|DIR")
@output_options(root=False)
@click.option("--since", metavar="TIME",
              help="Only reports from TIME on: ISO 8601 (2026-12-01T08:00Z; UTC unless it "
                   "says a zone) or a duration back from the newest report (24h, 90m, 7d).")
@click.option("--until", metavar="TIME", help="Only reports up to TIME (as --since).")
@click.option("--by", type=click.Choice(("program", "cgroup", "category", "user", "slab")),
              help="Only these series (category includes available and swap used); "
                   "forecasts of available and swap are always made.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Only the N most suspicious series in the table (machine output has all).")
def trend(paths, since: Optional[str], until: Optional[str], by: Optional[str],
          limit: Optional[int], fmt: str, output: Optional[str], unit: Optional[str],
          si: bool, debug: bool) -> None:
    """A history of reports (the cron job's): every series' rate and steadiness, the leak
    suspects, when available memory, swap and each cgroup reach their limit, and where the
    history breaks (reboot, gap, another host or kernel). Reads REPORT files or every
    *.yaml, *.yml, *.json (and .gz) in DIR, in any order."""
    from memscope.render.trend import trend_table
    from memscope.render.units import Units
    from memscope.trend.timeline import parse_when

    for name, value in (("--since", since), ("--until", until)):
        if value is not None:
            try:
                parse_when(value, 0.0)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint=name) from None
    units = Units(unit, si)

    def build():
        from memscope.trend.build import build_trend

        doc = build_trend(list(paths), since, until, by)
        if doc["skipped"]:
            shown = "; ".join(f"{s['file']}: {s['reason']}" for s in doc["skipped"][:3])
            more = f" (and {len(doc['skipped']) - 3} more)" if len(doc["skipped"]) > 3 else ""
            warn([f"{len(doc['skipped'])} file(s) skipped: {shown}{more}"])
        return doc

    run(build, lambda doc: trend_table(doc, units, limit), fmt, output)



# -- memscope cache (issue 16) -------------------------------------------------------------

@cli.command()
@common_options
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("-r", "--recursive", is_flag=True,
              help="Walk directories to the bottom, with totals per directory.")
@click.option("--top", type=click.IntRange(min=0), default=20, show_default=True,
              metavar="N", help="List the N largest files (and directories) by --sort; "
                                "totals cover every file. 0 lists all (memory then grows "
                                "with the number of files).")
@click.option("--sort", "sort", type=click.Choice(("cached", "size", "dirty", "evicted")),
              default="cached", show_default=True, help="Rank files by this figure.")
@click.option("--follow", is_flag=True,
              help="Follow symlinks found inside the trees (loops and second visits are "
                   "detected); without it they are counted, not followed.")
@click.option("--procs", is_flag=True,
              help="Instead of PATHs: the files that processes map or hold open, with who "
                   "uses them (deleted files included).")
@click.option("--pid", "pids", multiple=True, type=click.IntRange(min=1), metavar="PID",
              help="With --procs, only this process; repeatable.")
def cache(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
          debug: bool, paths, recursive: bool, top: int, sort: str, follow: bool,
          procs: bool, pids) -> None:
    """Which files are in the page cache: for each regular file its size and the bytes
    resident, dirty, under writeback, evicted and recently evicted (cachestat, Linux 6.5+;
    mincore tells resident bytes only), with totals against the system's Cached. Files
    are opened read-only and never read: measuring does not change what is measured."""
    if procs and paths:
        raise click.UsageError("give PATHs or --procs, not both")
    if pids and not procs:
        raise click.UsageError("--pid needs --procs")
    if not procs and not paths:
        raise click.UsageError("give at least one PATH, or --procs")
    if os.path.realpath(root) != "/":
        from memscope.errors import MemscopeError

        raise MemscopeError(f"--root {root}: page-cache residency is not in a snapshot or a "
                            "captured tree (run memscope cache on the live host)")
    from memscope.render.cache import cache_table
    from memscope.render.units import Units
    from memscope.sources import Root

    src = Root("/")
    units = Units(unit, si)

    def build():
        if procs:
            from memscope.collect.cache import collect_procs

            doc = collect_procs(src, sorted(set(pids)), sort, top)
        else:
            from memscope.collect.cache import collect_cache

            doc = collect_cache(src, paths, sort, top, recursive, follow)
        # FIFOs, sockets, devices and pseudo-filesystems hold no page cache: named under
        # skipped, but no failure to warn about
        failed = doc["totals"]["skipped"] - (doc["totals"].get("skipped_no_cache") or 0)
        if failed:
            warn([f"{failed} file(s) could not be measured: they are named under "
                  "'skipped'"])
        return doc

    run(build, lambda doc: cache_table(doc, units), fmt, output)

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
        _show_usage_error(exc)
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


def _show_usage_error(exc: click.ClickException) -> None:
    """click's usage message, with what the user typed made harmless for the terminal."""
    import io

    from memscope.text import safe_lines

    buf = io.StringIO()
    exc.show(file=buf)
    _write_stderr(safe_lines(buf.getvalue().rstrip("\n")) + "\n")


def _main_check(args: list, debug: bool) -> None:
    """``check`` follows the Monitoring Plugins guidelines, not memscope's exit codes: any
    failure — bad arguments included — is ``MEMORY UNKNOWN - <why>`` on stdout, exit 3
    (https://www.monitoring-plugins.org/doc/guidelines.html#AEN78)."""
    from memscope.errors import MemscopeError

    def unknown(why: str) -> None:
        line = "MEMORY UNKNOWN - " + why.replace("\n", " ").replace("|", "/")
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
    """One line on stderr: newlines folded, control characters (from names) neutralised."""
    from memscope.text import safe

    _write_stderr(safe(line.replace("\n", " ")) + "\n")


def _write_stderr(text: str) -> None:
    if sys.stderr is None:  # started with stderr closed
        return
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
