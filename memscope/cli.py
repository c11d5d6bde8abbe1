"""The click commands: options -> collect -> model -> render. Thin by design; the only module
that imports click.

Exit status (SPEC.md "Errors"): 0 success (warnings on stderr), 1 the request can't be met
(one stderr line naming the file or object and what to do), 2 usage. Never a traceback,
unless ``--debug``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Dict, Optional

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
                     help="Write to FILE atomically (temp file, fsync, rename) instead of "
                          "stdout."),
        click.option("-b", "--bytes", "unit", flag_value="b", help="Table sizes in bytes."),
        click.option("-k", "--kibi", "unit", flag_value="k",
                     help="Table sizes in KiB (kB with --si)."),
        click.option("-m", "--mebi", "unit", flag_value="m",
                     help="Table sizes in MiB (MB with --si)."),
        click.option("-g", "--gibi", "unit", flag_value="g",
                     help="Table sizes in GiB (GB with --si)."),
        click.option("--si", is_flag=True, help="Powers of 1000 instead of 1024 in tables."),
        click.option("--debug", is_flag=True,
                     help="Show a traceback for errors (for bug reports)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


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
    return table(doc)


def run(build: Callable[[], Dict[str, Any]], table: Callable[[Dict[str, Any]], str],
        fmt: str, output: Optional[str], watch: Optional[float] = None,
        count: Optional[int] = None,
        prom: Optional[str] = None) -> None:
    """Build, render and emit a document once, or every ``watch`` seconds."""
    try:
        _run(build, table, fmt, output, watch, count, prom)
    except KeyboardInterrupt:
        raise Interrupted() from None


def _run(build, table, fmt, output, watch, count, prom) -> None:
    from memscope.output import emit

    if watch is None:
        emit(render(build(), fmt, table, prom=prom), output)
        return
    n = 0
    while True:
        doc = build()
        text = render(doc, fmt, table, stream=True, prom=prom)
        if fmt == "table" and output is None and n:
            emit("\n", output)
        emit(text, output)
        n += 1
        if count is not None and n >= count:
            return
        time.sleep(watch)


_WARNED: set = set()


def warn(lines) -> None:
    """Warnings to stderr, each once per run (a --watch loop repeats its reads, not them)."""
    for line in lines:
        if line not in _WARNED:
            _WARNED.add(line)
            _stderr(f"memscope: warning: {line}")


class Interrupted(Exception):
    """SIGINT, carried past click (which would print a blank line) to main: exit 130."""


def _size(ctx, param, value):
    if value is None:
        return None
    from memscope.render.units import parse_size

    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _regex(ctx, param, value):
    if value is None:
        return None
    import re

    try:
        re.compile(value)
    except re.error as exc:
        raise click.BadParameter(f"{value!r} is not a regular expression ({exc})") from None
    return value


def watch_options(f: Callable) -> Callable:
    f = click.option("--count", type=click.IntRange(min=1), metavar="N",
                     help="With --watch, stop after N repetitions.")(f)
    f = click.option("--watch", type=click.FloatRange(min=0.1), metavar="SECONDS",
                     help="Repeat every SECONDS (yaml: a document stream; json: an object "
                          "a line).")(f)
    return f


@click.group(context_settings={"help_option_names": ["--help"]})
@click.version_option(__version__, "--version", prog_name="memscope")
def cli() -> None:
    """Where did my memory go? memscope reads the kernel's own accounting and explains it."""


@cli.command()
@output_options(PROM)
@click.option("-w", "--wide", is_flag=True, help="Split buff/cache into buffers and cache.")
@watch_options
def summary(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
            debug: bool, wide: bool, watch: Optional[float], count: Optional[int]) -> None:
    """The system picture: free-compatible figures, where every byte of MemTotal goes,
    MemAvailable rebuilt, zones and pressure."""
    from memscope.collect.system import collect_system
    from memscope.model.system import build_summary
    from memscope.render.table import summary_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    if count is not None and watch is None:
        raise click.UsageError("--count needs --watch")
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
        return doc

    run(build, lambda doc: summary_table(doc, units, wide), fmt, output, watch, count,
        prom="summary_prom")


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


@cli.command()
@common_options
@click.option("--sort", type=click.Choice(("pss", "rss", "uss", "swap", "swap_pss", "shared",
                                           "vsz", "pid", "name", "user", "oom_score")),
              default="pss", show_default=True, help="Rank by this figure.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Show the first N processes (totals still cover all).")
@click.option("--user", "users", multiple=True, metavar="USER",
              help="Only processes of USER (name, or uid under --root); repeatable.")
@click.option("--pid", "pids", multiple=True, type=click.IntRange(min=1), metavar="PID",
              help="Only this process; repeatable.")
@click.option("--match", callback=_regex, metavar="REGEX",
              help="Only processes whose name or command line matches REGEX.")
@click.option("--group-by", type=click.Choice(("program", "user", "cgroup")),
              help="Fold processes into groups (program: by executable, like ps_mem).")
@click.option("--rss-only", is_flag=True,
              help="Read status only: no page-table walk, no mmap lock taken (pss/uss "
                   "null).")
@click.option("--walk-limit", callback=_size, metavar="SIZE",
              help="Processes with more RSS than SIZE (e.g. 8G) get status figures instead "
                   "of a page-table walk.")
@watch_options
def top(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
        debug: bool, sort: str, limit: Optional[int], users, pids, match: Optional[str],
        group_by: Optional[str], rss_only: bool, walk_limit: Optional[int],
        watch: Optional[float], count: Optional[int]) -> None:
    """Every process (kernel threads excluded), ranked by PSS."""
    from memscope.collect.procs import Options, Users, list_pids, scan
    from memscope.model.top import build_top
    from memscope.render.table import top_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    if count is not None and watch is None:
        raise click.UsageError("--count needs --watch")
    src = open_root(root)
    units = Units(unit, si)
    opts = Options(rss_only=rss_only, walk_limit=walk_limit,
                   program=group_by == "program", cgroup=group_by == "cgroup")
    names = Users(src)

    def build():
        wanted = sorted(set(pids)) if pids else list_pids(src)
        results = scan(src, wanted, opts, names)
        doc, warnings = build_top(results, sort, limit, users, match, group_by)
        warn(warnings)
        return doc

    run(build, lambda doc: top_table(doc, units), fmt, output, watch, count)


@cli.command()
@output_options(PROM)
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--pid", type=click.IntRange(min=1), metavar="PID",
              help="The memory cgroup of process PID.")
@click.option("--children", is_flag=True,
              help="Compare the direct children of PATH, largest usage first, with PATH's "
                   "own share.")
@watch_options
def cgroup(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
           debug: bool, paths, pid: Optional[int], children: bool, watch: Optional[float],
           count: Optional[int]) -> None:
    """Memory cgroups, v1 and v2 in one model, side by side and reconciled with their
    processes. PATH is relative to the memory hierarchy's mount (/system.slice/x.service)
    or a full /sys/fs/cgroup/... path; the default is the hierarchy's root."""
    from memscope.collect.cgroups import (cgroup_of_pid, find_hierarchy, own_share,
                                          read_cgroup, read_children, resolve)
    from memscope.render.table import cgroup_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    if count is not None and watch is None:
        raise click.UsageError("--count needs --watch")
    if pid is not None and paths:
        raise click.UsageError("give PATH or --pid, not both")
    if children and len(paths) > 1:
        raise click.UsageError("--children takes one PATH")
    src = open_root(root)
    units = Units(unit, si)

    def build():
        from memscope import SCHEMA_VERSION

        hier = find_hierarchy(src)
        if pid is not None:
            wanted = [resolve(src, hier, cgroup_of_pid(src, hier, pid))]
        else:
            wanted = [resolve(src, hier, p) for p in (paths or ("/",))]
        notes = []
        doc = {"schema_version": SCHEMA_VERSION}
        if children:
            parent, kids = read_children(src, hier, wanted[0], notes)
            doc["cgroups"] = kids
            doc["parent"] = {"path": parent["path"], "usage": parent["usage"],
                             "own_usage": own_share(parent, kids)}
        else:
            doc["cgroups"] = [read_cgroup(src, hier, p, notes) for p in wanted]
        unique = []
        for note in notes:
            if note not in unique:
                unique.append(note)
        doc["notes"] = unique
        return doc

    run(build, lambda doc: cgroup_table(doc, units), fmt, output, watch, count,
        prom="cgroup_prom")


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


@cli.command()
@common_options
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Only the N largest caches in the table (machine output has all).")
def slab(root: str, fmt: str, output: Optional[str], unit: Optional[str], si: bool,
         debug: bool, limit: Optional[int]) -> None:
    """Slab caches by memory against SReclaimable/SUnreclaim (root only: /proc/slabinfo is
    mode 0400)."""
    from memscope.collect.views import collect_slab
    from memscope.render.table import slab_table
    from memscope.render.units import Units
    from memscope.sources import open_root

    src = open_root(root)
    units = Units(unit, si)
    run(lambda: collect_slab(src), lambda doc: slab_table(doc, units, limit), fmt, output)


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
    from memscope.collect.documents import load_report
    from memscope.model.diff import build_diff
    from memscope.render.table import diff_table
    from memscope.render.units import Units

    units = Units(unit, si)
    run(lambda: build_diff(load_report(old), load_report(new), min_change),
        lambda doc: diff_table(doc, units), fmt, output)


@cli.command()
@click.option("-o", "--output", required=True, metavar="FILE.tar.gz",
              help="Where to write the snapshot (atomically).")
@click.option("--maps", is_flag=True,
              help="Also capture every process's smaps, maps and mounts (for proc --maps and "
                   "shmem; much larger).")
@click.option("--root", default="/", show_default=True, metavar="DIR",
              help="Only / (the live host) can be captured.")
@click.option("--debug", is_flag=True, help="Show a traceback for errors (for bug reports).")
def snapshot(output: str, maps: bool, root: str, debug: bool) -> None:
    """Capture the raw files for analysis elsewhere: every command then runs on the capture
    with --root FILE.tar.gz."""
    from memscope.snapshot import capture
    from memscope.sources import open_root

    manifest = capture(open_root(root), output, maps)
    skipped = manifest["skipped"]
    if skipped.get("PermissionDenied"):
        warn([f"{skipped['PermissionDenied']} file(s) could not be read and are not in the "
              "snapshot (permission denied; run as root for every process's smaps, "
              "vmallocinfo and slabinfo)"])



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
        if doc["totals"]["skipped"]:
            warn([f"{doc['totals']['skipped']} file(s) could not be measured: they are "
                  "named under 'skipped'"])
        return doc

    run(build, lambda doc: cache_table(doc, units), fmt, output)

def _quiet_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Optional[list] = None) -> None:
    from memscope.errors import MemscopeError

    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="memscope", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: click's message, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt, Interrupted):
        _quiet_stdout()
        sys.exit(130)
    except BrokenPipeError:
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


def _stderr(line: str) -> None:
    try:
        sys.stderr.write(line.replace("\n", " ") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
