"""What each command does, once its options are parsed: one function per command, named
after it, from the options to a Plan (how to build the document and how to show it).

cli.py holds the table of commands (names, help, options) and the one runner that executes
a row: options -> ``commands.<name>(args)`` -> ``Plan.build()`` (collect, then model) ->
render -> output. Nothing here imports click: a bad combination of options is a
``memscope.errors.UsageError`` (exit 2), a request that can't be met a ``MemscopeError``
(exit 1). Imports are inside the functions: a command loads only what it uses.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

from memscope.errors import UsageError

Doc = Dict[str, Any]


class Args:
    """The parsed options of one run, by their names in the command table, plus ``warn``
    (warnings to stderr, each once per run, none with --quiet)."""

    def __init__(self, values: Dict[str, Any], warn: Callable[[List[str]], None]):
        self.__dict__.update(values)
        self.warn = warn

    @property
    def units(self):
        from memscope.render.units import Units

        return Units(self.unit, self.si)


class Plan:
    """How the runner produces a command's output.

    ``build()`` reads and returns the document (called once, or every --watch tick);
    ``table(doc)`` is its table (the other formats need nothing of the command: they
    render the document, or render.rows' sections of it); ``prom`` names its
    renderer in render/prom.py when it has a Prometheus form. ``redraw``: a repeated table on
    a terminal is redrawn in place; ``gap``: a blank line between repeated tables.
    ``act()``, instead of all that, does the whole command and returns the exit status
    (check, snapshot).
    """

    def __init__(self, build: Optional[Callable[[], Doc]] = None,
                 table: Optional[Callable[[Doc], str]] = None,
                 prom: Optional[str] = None, redraw: bool = False, gap: bool = True,
                 act: Optional[Callable[[], int]] = None):
        self.build, self.table = build, table
        self.prom, self.redraw, self.gap, self.act = prom, redraw, gap, act


# -- summary, explain, check -------------------------------------------------------------

def summary(a: Args) -> Plan:
    from memscope.collect.system import collect_system
    from memscope.model.system import build_summary
    from memscope.render.table import free_line, summary_table
    from memscope.sources import open_root

    if a.line and a.fmt != "table":
        raise UsageError("--line is a table format; it does not go with --format")
    src = open_root(a.root)
    units = a.units
    state: Dict[str, Any] = {}

    def build() -> Doc:
        doc = build_summary(collect_system(src))
        if a.watch is not None:  # rates of the reclaim counters since the previous sample
            from memscope.model.system import add_rates

            now = time.monotonic()
            add_rates(doc, state.get("activity"), now - state.get("at", now))
            state["activity"], state["at"] = doc["activity"], now
        from memscope.model.explain import with_verdict

        return with_verdict(doc)

    if a.line:
        return Plan(build, lambda doc: free_line(doc, units), gap=False)
    return Plan(build, lambda doc: summary_table(doc, units, a.wide, a.total, a.committed),
                prom="summary_prom")


def history_findings(history: Optional[str], warn) -> List[Doc]:
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


def _explain_root(a: Args):
    from memscope.sources import open_root

    if a.since is not None and a.interval is not None:
        raise UsageError("give --since or --interval, not both")
    src = open_root(a.root)
    if a.interval is not None and not src.live:
        raise UsageError("--interval takes a second sample of the live host; under --root "
                         "use --since REPORT")
    return src


def explain(a: Args) -> Plan:
    from memscope.collect.explain import collect_explain
    from memscope.model.explain import diagnose
    from memscope.render.explain import explain_table

    src = _explain_root(a)

    def build() -> Doc:
        docs, notes, scope, warnings = collect_explain(src, a.cgroup_path, a.since,
                                                       a.interval)
        a.warn(warnings)
        return diagnose(docs, extra=history_findings(a.history, a.warn), notes=notes,
                        scope=scope)

    return Plan(build, explain_table, prom="explain_prom")


def check(a: Args) -> Plan:
    if a.warning is not None and a.critical is not None and a.critical > a.warning:
        raise UsageError("-c/--critical must not exceed -w/--warning (both are percentages "
                         "still available)")
    src = _explain_root(a)

    def act() -> int:
        from memscope.collect.explain import collect_explain
        from memscope.model.explain import diagnose
        from memscope.output import emit
        from memscope.render.explain import check_line

        docs, notes, scope, _warnings = collect_explain(src, a.cgroup_path, a.since,
                                                        a.interval, light=True)
        docs.thresholds = {"warning": a.warning, "critical": a.critical}
        doc = diagnose(docs, extra=history_findings(a.history, a.warn), notes=notes,
                       scope=scope)
        line, status = check_line(doc, docs)
        emit(line, None)
        return status

    return Plan(act=act)


# -- processes ---------------------------------------------------------------------------

def proc(a: Args) -> Plan:
    from memscope.collect.procs import collect_proc
    from memscope.render.table import proc_table
    from memscope.sources import open_root

    src = open_root(a.root)
    units = a.units

    def build() -> Doc:
        doc, warnings = collect_proc(src, list(a.pids), a.maps, a.sort)
        a.warn(warnings)
        return doc

    return Plan(build, lambda doc: proc_table(doc, units))


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


def user_name(src, names, given: str) -> str:
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
    raise UsageError(f"no such user {given!r}: not a user {where}", "--user")


def top(a: Args) -> Plan:
    from memscope.collect.procs import Options, Users, list_pids, scan, shmem_swap
    from memscope.model.top import build_top
    from memscope.render import term
    from memscope.render.table import TOP_DEFAULT, TopView, top_table
    from memscope.sources import open_root

    if a.by_mapping and (a.group_by or a.rss_only or a.watch is not None):
        raise UsageError("--by-mapping does not go with --group-by, --rss-only or --watch")
    term.direct(a.fmt == "table" and a.output is None)
    src = open_root(a.root)
    units = a.units
    height = screenful(a.watch is not None) if a.limit is None else None
    limit = height if a.limit is None else (a.limit or None)  # 0: all; the table trims
    member = None
    share_base, share_of = None, "MemTotal"
    if a.cgroup_path is not None:
        path, member, cg_limit = one_cgroup(src, a.cgroup_path)
        if cg_limit is not None:
            share_base, share_of = cg_limit, f"the limit of {path}"

    def wanted() -> List[int]:
        pids = sorted(set(a.pids)) if a.pids else list_pids(src)
        return sorted(set(pids) & set(member)) if member is not None else pids

    if a.by_mapping:
        return _top_by_mapping(a, src, wanted, limit)
    if share_base is None and a.fmt == "table":
        share_base = mem_total(src)
    opts = Options(rss_only=a.rss_only, walk_limit=a.walk_limit,
                   program=a.group_by == "program", cgroup=a.group_by == "cgroup")
    names = Users(src)
    users = tuple(user_name(src, names, u) for u in a.users)
    columns = a.columns
    if columns is None and a.watch is not None and term.interactive():
        columns = ("pid", "user", "pss", "dpss", "rss", "drss", "swap", "%", "name",
                   "command")
    view = TopView(columns or TOP_DEFAULT, header=not a.no_header, share_base=share_base,
                   share_of=share_of, height=height, reverse=a.reverse)
    previous: Dict[int, Any] = {}

    def build() -> Doc:
        chosen = wanted()
        results = scan(src, chosen, opts, names)
        if member is not None:  # read ahead or not, only the cgroup's processes
            keep = set(chosen)
            results = [(pid, res) for pid, res in results if pid in keep]
        doc, warnings = build_top(results, a.sort, limit, users, a.match, a.group_by,
                                  shared_swap=shmem_swap(src, results), reverse=a.reverse)
        a.warn(warnings)
        if a.watch is not None:  # growth since the previous tick (atop's VGROW/RGROW)
            view.deltas = growth(previous, doc["processes"])
        return doc

    return Plan(build, lambda doc: top_table(doc, units, view), redraw=True)


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


def _top_by_mapping(a: Args, src, wanted, limit) -> Plan:
    from memscope.collect.procs import collect_mappings
    from memscope.model.top import build_by_mapping
    from memscope.render.table import mapping_table

    units = a.units

    def build() -> Doc:
        per_process, skipped = collect_mappings(src, wanted())
        doc = build_by_mapping(per_process, skipped, "pss", limit, a.reverse)
        if skipped["permission_denied"]:
            from memscope.errors import denied_hint

            a.warn([f"{skipped['permission_denied']} process(es) left out, their smaps "
                    f"unreadable (permission denied; {denied_hint()})"])
        return doc

    return Plan(build, lambda doc: mapping_table(doc, units, header=not a.no_header))


# -- cgroups -----------------------------------------------------------------------------

def cgroup(a: Args) -> Plan:
    from memscope.collect.cgroups import (cgroup_of_pid, find_hierarchy, read_cgroup,
                                          read_children, read_tree, resolve)
    from memscope.model.cgroup import build_cgroup_document
    from memscope.render.table import cgroup_table, cgroup_tree_table
    from memscope.sources import open_root

    paths = a.paths
    if a.pid is not None and paths:
        raise UsageError("give PATH or --pid, not both")
    if a.children and len(paths) > 1:
        raise UsageError("--children takes one PATH")
    if a.tree and (a.children or len(paths) > 1):
        raise UsageError("--tree takes one PATH, and not --children")
    if a.depth is not None and not a.tree:
        raise UsageError("--depth needs --tree")
    src = open_root(a.root)
    units = a.units
    previous: Dict[str, Any] = {}
    deltas: Dict[str, Any] = {}

    def build() -> Doc:
        hier = find_hierarchy(src)
        if a.pid is not None:
            wanted = [resolve(src, hier, cgroup_of_pid(src, hier, a.pid))]
        else:
            wanted = [resolve(src, hier, p) for p in (paths or ("/",))]
        notes: list = []
        if a.tree:
            doc = build_cgroup_document(read_tree(src, hier, wanted[0], notes, a.depth),
                                        notes)
        elif a.children:
            parent, kids = read_children(src, hier, wanted[0], notes)
            doc = build_cgroup_document(kids, notes, parent)
        else:
            doc = build_cgroup_document([read_cgroup(src, hier, p, notes) for p in wanted],
                                        notes)
        if a.watch is not None:  # growth of each cgroup's usage since the previous tick
            now = {c["path"]: c["usage"] for c in doc["cgroups"]}
            deltas.clear()
            deltas.update({p: None if u is None or previous.get(p) is None
                           else u - previous[p] for p, u in now.items()})
            previous.clear()
            previous.update(now)
        return doc

    shown = deltas if a.watch is not None else None
    if a.tree:
        return Plan(build, lambda doc: cgroup_tree_table(doc, units, shown),
                    prom="cgroup_prom", redraw=True)
    return Plan(build, lambda doc: cgroup_table(doc, units, shown),
                prom="cgroup_prom", redraw=True)


# -- kernel views ------------------------------------------------------------------------

def zones(a: Args) -> Plan:
    from memscope.collect.views import collect_zones
    from memscope.render.table import zones_table
    from memscope.sources import open_root

    src = open_root(a.root)
    units = a.units
    return Plan(lambda: collect_zones(src), lambda doc: zones_table(doc, units, a.explain),
                prom="zones_prom")


def vmalloc(a: Args) -> Plan:
    from memscope.collect.views import collect_vmalloc
    from memscope.render.table import vmalloc_table
    from memscope.sources import open_root

    src = open_root(a.root)
    units = a.units
    return Plan(lambda: collect_vmalloc(src, a.by, a.limit),
                lambda doc: vmalloc_table(doc, units, a.by))


def slab(a: Args) -> Plan:
    from memscope.collect.views import collect_slab
    from memscope.render.table import slab_table
    from memscope.sources import open_root

    src = open_root(a.root)
    units = a.units
    return Plan(lambda: collect_slab(src), lambda doc: slab_table(doc, units, a.limit, a.sort))


def shmem(a: Args) -> Plan:
    from memscope.collect.views import collect_shmem
    from memscope.render.table import shmem_table
    from memscope.sources import open_root

    src = open_root(a.root)
    units = a.units
    return Plan(lambda: collect_shmem(src), lambda doc: shmem_table(doc, units))


def report(a: Args) -> Plan:
    from memscope.collect.report import collect_report
    from memscope.render.table import report_table
    from memscope.sources import open_root

    src = open_root(a.root)
    units = a.units

    def build() -> Doc:
        doc, warnings = collect_report(src)
        a.warn(warnings)
        return doc

    return Plan(build, lambda doc: report_table(doc, units),
                prom="report_prom")


# -- saved documents ---------------------------------------------------------------------

def diff(a: Args) -> Plan:
    from memscope.collect.documents import load_pair
    from memscope.model.diff import build_diff
    from memscope.render.table import diff_table

    units = a.units

    def build() -> Doc:
        old, new, warnings = load_pair(a.old, a.new)
        a.warn(warnings)
        return build_diff(old, new, a.min_change)

    return Plan(build, lambda doc: diff_table(doc, units))


def snapshot(a: Args) -> Plan:
    def act() -> int:
        from memscope.snapshot import capture
        from memscope.sources import open_root

        manifest = capture(open_root(a.root), a.output, a.maps)
        skipped = manifest["skipped"]
        if skipped.get("PermissionDenied"):
            from memscope.errors import denied_hint

            first = (manifest.get("skipped_first") or {}).get("PermissionDenied")
            a.warn([f"{skipped['PermissionDenied']} file(s) could not be read and are not "
                    f"in the snapshot (permission denied; {denied_hint()})"
                    + (f", {first} first" if first else "")])
        return 0

    return Plan(act=act)


def trend(a: Args) -> Plan:
    from memscope.render.trend import trend_table
    from memscope.trend.timeline import parse_when

    for name, value in (("--since", a.since), ("--until", a.until)):
        if value is not None:
            try:
                parse_when(value, 0.0)
            except ValueError as exc:
                raise UsageError(str(exc), name) from None
    units = a.units

    def build() -> Doc:
        from memscope.trend.build import build_trend

        doc = build_trend(list(a.paths), a.since, a.until, a.by)
        if doc["skipped"]:
            shown = "; ".join(f"{s['file']}: {s['reason']}" for s in doc["skipped"][:3])
            more = (f" (and {len(doc['skipped']) - 3} more)" if len(doc["skipped"]) > 3
                    else "")
            a.warn([f"{len(doc['skipped'])} file(s) skipped: {shown}{more}"])
        return doc

    return Plan(build, lambda doc: trend_table(doc, units, a.limit))


def cache(a: Args) -> Plan:
    import os

    if a.procs and a.paths:
        raise UsageError("give PATHs or --procs, not both")
    if a.pids and not a.procs:
        raise UsageError("--pid needs --procs")
    if not a.procs and not a.paths:
        raise UsageError("give at least one PATH, or --procs")
    if os.path.realpath(a.root) != "/":
        from memscope.errors import MemscopeError

        raise MemscopeError(f"--root {a.root}: page-cache residency is not in a snapshot or "
                            "a captured tree (run memscope cache on the live host)")
    from memscope.render.cache import cache_table
    from memscope.sources import Root

    src = Root("/")
    units = a.units

    def build() -> Doc:
        if a.procs:
            from memscope.collect.cache import collect_procs

            doc = collect_procs(src, sorted(set(a.pids)), a.sort, a.top)
        else:
            from memscope.collect.cache import collect_cache

            doc = collect_cache(src, a.paths, a.sort, a.top, a.recursive, a.follow)
        # FIFOs, sockets, devices and pseudo-filesystems hold no page cache: named under
        # skipped, but no failure to warn about
        failed = doc["totals"]["skipped"] - (doc["totals"].get("skipped_no_cache") or 0)
        if failed:
            a.warn([f"{failed} file(s) could not be measured: they are named under "
                    "'skipped'"])
        return doc

    return Plan(build, lambda doc: cache_table(doc, units))
