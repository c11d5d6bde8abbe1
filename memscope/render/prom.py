"""Prometheus text exposition (``--format prom``): how users outgrow one machine.

One family per metric, with ``# HELP`` and ``# TYPE``; gauges in base units (bytes,
ratios, seconds); counters end in ``_total``; no timestamps; every series unique; label
values escaped (backslash, double quote, newline), since process names and cgroup paths are
set by anyone. The derived figures (breakdown, rebuilt available, headroom, working set) are
exported, not only the raw fields. Safe for node_exporter's textfile collector.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

MEMORY = ("total", "used", "free", "shared", "buffers", "cache", "buff_cache", "available",
          "available_estimate")
ZONE = ("free", "min", "low", "high", "promo", "boost", "managed", "present", "spanned",
        "headroom")
CGROUP = ("usage", "comparable_usage", "limit", "effective_limit", "high", "peak", "swap",
          "anon", "file", "shmem", "kernel", "slab",
          "sock", "kernel_stack", "page_tables", "active_anon", "inactive_anon", "active_file",
          "inactive_file", "unevictable", "file_mapped", "file_dirty", "file_writeback",
          "working_set")


def escape(value: Any) -> str:
    """A label value. Its text is valid UTF-8 with nothing a terminal or a dashboard takes
    as control: every character that is not printable, and every byte of a name that is not
    UTF-8 (a surrogate escape), is written as the text ``\\xHH``, one per byte of its UTF-8
    form, as csv does (so U+0085 and a lone byte 0x85 stay two labels: ``\\xc2\\x85`` and
    ``\\x85``). A backslash stays itself (systemd's ``\\x2d`` in unit names reads as in
    systemctl); then backslash, double quote and newline are escaped as the exposition
    format says (a newline is the one control character a label keeps, losslessly)."""
    from memscope.text import byte_escaped

    s = byte_escaped(str(value), keep="\n")  # the format has its own escape for \n
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


class Exposition:
    def __init__(self) -> None:
        self.families: Dict[str, Tuple[str, str, List[Tuple[Tuple, Any]]]] = {}
        self.seen = set()

    def add(self, _name: str, _type: str, _help: str, _value: Optional[float],
            **labels: Any) -> None:
        name, value = _name, _value
        if value is None:
            return
        fam = self.families.setdefault(name, (_type, _help, []))
        key = (name, tuple(sorted(labels.items())))
        if key in self.seen:
            return  # every series unique: the first wins
        self.seen.add(key)
        fam[2].append((tuple(labels.items()), value))

    def render(self) -> str:
        out = []
        for name, (kind, help_text, series) in self.families.items():
            if not series:
                continue
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            for labels, value in series:
                text = ",".join(f'{k}="{escape(v)}"' for k, v in labels)
                number = repr(float(value)) if isinstance(value, float) else str(int(value))
                out.append(f"{name}{{{text}}} {number}" if text else f"{name} {number}")
        return "\n".join(out) + "\n"


def add_summary(e: Exposition, doc: Dict[str, Any], zones: bool = True) -> None:
    src = doc["source"]
    e.add("memscope_source_info", "gauge", "The host these figures describe.", 1,
          hostname=src.get("hostname") or "", kernel=src.get("kernel") or "",
          root=src.get("root") or "")
    for key in MEMORY:
        e.add(f"memscope_memory_{key}_bytes", "gauge",
              f"free(1)-compatible {key} (procps-ng 4.0.1 rules).", doc["memory"].get(key))
    if doc.get("swap"):
        for key in ("total", "used", "free", "cached"):
            e.add(f"memscope_swap_{key}_bytes", "gauge", f"Swap {key}.", doc["swap"].get(key))
    for cat in doc["breakdown"]:
        e.add("memscope_breakdown_bytes", "gauge",
              "Where MemTotal goes: disjoint categories summing exactly to MemTotal.",
              cat["bytes"], category=cat["category"])
        for part in cat.get("parts", ()):
            e.add("memscope_breakdown_part_bytes", "gauge",
                  "Parts of a breakdown category (they sum to it).", part["bytes"],
                  category=cat["category"], part=part["category"])
    if doc.get("physical"):
        e.add("memscope_physical_present_bytes", "gauge", "Pages present in all zones.",
              doc["physical"]["present"])
        e.add("memscope_physical_reserved_bytes", "gauge",
              "Present pages outside MemTotal (kernel image, struct pages, reservations).",
              doc["physical"]["reserved"])
    ex = doc.get("available_explained")
    if ex:
        for term in ("free", "reserve", "pagecache_kept", "reclaimable_kept"):
            e.add("memscope_available_term_bytes", "gauge",
                  "MemAvailable rebuilt: free - reserve + pagecache_kept + reclaimable_kept.",
                  ex[term], term=term)
        e.add("memscope_available_kernel_bytes", "gauge", "The kernel's MemAvailable.",
              ex.get("kernel"))
    if zones:
        for z in doc["zones"]:
            add_zone(e, z)
    for kind, value in (doc.get("thp") or {}).items():
        e.add("memscope_thp_bytes", "gauge",
              "Transparent huge pages in use, by kind (inside anon, shmem, page cache).",
              value, kind=kind)
    for pool in doc.get("hugetlb_pools") or ():
        for state in ("total", "used", "free", "reserved", "surplus"):
            e.add("memscope_hugetlb_pool_bytes", "gauge",
                  "hugetlb pool per page size: total = used + free; reserved and surplus "
                  "as the kernel counts them.", pool[state], page_size=pool["page_size"],
                  state=state)
    add_pressure(e, "memscope_pressure", doc.get("pressure"))
    for event, value in (doc.get("activity") or {}).items():
        e.add("memscope_reclaim_events_total", "counter",
              "Reclaim and OOM counters from /proc/vmstat since boot.", value, event=event)
    box = doc.get("container")
    if box:
        for key in ("limit", "usage", "working_set", "headroom"):
            e.add(f"memscope_container_{key}_bytes", "gauge",
                  f"The memory cgroup memscope runs in: {key}.", box[key], cgroup=box["path"])
    arc = doc.get("zfs_arc")
    if arc:
        for key in ("size", "c_min", "reclaimable"):
            e.add(f"memscope_zfs_arc_{key}_bytes", "gauge", f"ZFS ARC {key}.", arc[key])
    for key, value in doc.get("meminfo", {}).items():
        if key.startswith("HugePages_"):
            e.add("memscope_meminfo_hugepages", "gauge", "/proc/meminfo HugePages_* counts.",
                  value, field=key)
        else:
            e.add("memscope_meminfo_bytes", "gauge", "/proc/meminfo fields, in bytes.", value,
                  field=key)


def add_zone(e: Exposition, z: Dict[str, Any]) -> None:
    for key in ZONE:
        if key in z:
            e.add(f"memscope_zone_{key}_bytes", "gauge", f"Zone {key} (pages x page size).",
                  z[key], node=z["node"], zone=z["zone"])
    e.add("memscope_zone_state", "gauge",
          "1 for the zone's state against its watermarks (ok, below_high, below_low, "
          "below_min, empty).", 1, node=z["node"], zone=z["zone"], state=z["state"])
    for j, p in enumerate(z.get("protection") or ()):
        e.add("memscope_zone_protection_bytes", "gauge",
              "lowmem_reserve: kept back from requests whose highest zone is class_zone.", p,
              node=z["node"], zone=z["zone"], class_zone=j)
    for k, c in enumerate(z.get("free_blocks") or ()):
        e.add("memscope_zone_free_blocks", "gauge", "Free blocks of 2^order pages (buddyinfo).",
              c, node=z["node"], zone=z["zone"], order=k)
    for k, x in enumerate(z.get("unusable_index") or ()):
        e.add("memscope_zone_unusable_index", "gauge",
              "Share of free memory in blocks too small for the order (0..1).", float(x),
              node=z["node"], zone=z["zone"], order=k)
    if z.get("largest_free_block") is not None:
        e.add("memscope_zone_largest_free_block_bytes", "gauge", "Largest free block.",
              z["largest_free_block"], node=z["node"], zone=z["zone"])


def add_pressure(e: Exposition, prefix: str, psi: Optional[Dict[str, Any]], **labels) -> None:
    if not psi:
        return
    for kind in ("some", "full"):
        p = psi.get(kind)
        if not p:
            continue
        for window in ("avg10", "avg60", "avg300"):
            e.add(f"{prefix}_stall_ratio", "gauge",
                  "PSI: share of time tasks stalled on memory, over the window.",
                  p[window] / 100.0, kind=kind, window=window[3:] + "s", **labels)
        e.add(f"{prefix}_stall_seconds_total", "counter", "PSI: total stall time.",
              p["total_us"] / 1e6, kind=kind, **labels)


def add_cgroups(e: Exposition, cgroups: List[Dict[str, Any]],
                parent: Optional[Dict[str, Any]] = None) -> None:
    for cg in cgroups:
        label = cg.get("full_path") or cg["path"]
        for key in CGROUP:
            e.add(f"memscope_cgroup_{key}_bytes", "gauge", f"Memory cgroup {key}.", cg.get(key),
                  cgroup=label)
        for event, value in (cg.get("events") or {}).items():
            e.add("memscope_cgroup_events_total", "counter",
                  "memory.events (v1: max = failcnt, oom_kill from oom_control).", value,
                  cgroup=label, event=event)
        if cg.get("under_oom") is not None:
            e.add("memscope_cgroup_under_oom", "gauge",
                  "v1 memory.oom_control under_oom: 1 while the cgroup is in OOM.",
                  int(cg["under_oom"]), cgroup=label)
        e.add("memscope_cgroup_memsw_failcnt_total", "counter",
              "v1 memory.memsw.failcnt: memory+swap limit hits.", cg.get("memsw_failcnt"),
              cgroup=label)
        e.add("memscope_cgroup_processes", "gauge", "Processes in the cgroup and below.",
              cg.get("process_count"), cgroup=label)
        for term, value in (cg.get("reconciliation") or {}).items():
            e.add("memscope_cgroup_reconciliation_bytes", "gauge",
                  "usage = procs_pss + unmapped_file + kernel + swap_cache + residual.", value,
                  cgroup=label, term=term)
        add_pressure(e, "memscope_cgroup_pressure", cg.get("pressure"), cgroup=label)
    if parent is not None:
        e.add("memscope_cgroup_own_usage_bytes", "gauge",
              "Usage of a cgroup not explained by its children.", parent.get("own_usage"),
              cgroup=parent["path"])


def summary_prom(doc: Dict[str, Any]) -> str:
    e = Exposition()
    add_summary(e, doc)
    add_verdict(e, doc)
    return e.render()


def zones_prom(doc: Dict[str, Any]) -> str:
    e = Exposition()
    for z in doc["zones"]:
        add_zone(e, z)
    t = doc["tunables"]
    e.add("memscope_vm_min_free_bytes", "gauge", "vm.min_free_kbytes, in bytes.",
          t.get("min_free_bytes"))
    e.add("memscope_vm_watermark_scale_factor", "gauge", "vm.watermark_scale_factor.",
          t.get("watermark_scale_factor"))
    return e.render()


def cgroup_prom(doc: Dict[str, Any]) -> str:
    e = Exposition()
    add_cgroups(e, doc["cgroups"], doc.get("parent"))
    return e.render()


def report_prom(doc: Dict[str, Any]) -> str:
    e = Exposition()
    add_summary(e, doc["summary"], zones=doc.get("zones") is None)
    if doc.get("zones"):
        for z in doc["zones"]["zones"]:
            add_zone(e, z)
    vm = doc.get("vmalloc")
    if vm:
        e.add("memscope_vmalloc_used_bytes", "gauge", "VmallocUsed.", vm.get("vmalloc_used"))
        for t in vm["by_type"]:
            e.add("memscope_vmalloc_bytes", "gauge", "Pages of vmalloc areas, by type.",
                  t["bytes"], type=t["type"])
            e.add("memscope_vmalloc_address_space_bytes", "gauge",
                  "Address space of vmalloc areas, by type.", t["size"], type=t["type"])
    top = doc["top"]
    for g in top.get("groups", ()):
        for key in ("pss", "rss", "uss", "swap"):
            e.add(f"memscope_program_{key}_bytes", "gauge",
                  f"Processes folded by executable (like ps_mem): summed {key}.", g[key],
                  program=g["key"])
        e.add("memscope_program_processes", "gauge", "Processes of the program.", g["count"],
              program=g["key"])
        e.add("memscope_program_pss_unknown_processes", "gauge",
              "Processes of the program whose pss could not be read (pss is then the sum "
              "of the others; no pss sample when none could).", g.get("pss_missing"),
              program=g["key"])
    t = top["totals"]
    e.add("memscope_processes", "gauge", "Processes (kernel threads excluded).",
          t["processes"])
    for key in ("pss", "rss", "uss", "swap", "hugetlb"):
        e.add(f"memscope_processes_{key}_bytes", "gauge", f"All processes' {key}.",
              t.get(key))
        if f"{key}_missing" in t:
            e.add("memscope_processes_unknown", "gauge",
                  "Processes whose figure could not be read (not in its sum).",
                  t[f"{key}_missing"], figure=key)
    for reason, count in top["skipped"].items():
        e.add("memscope_processes_skipped", "gauge",
              "Processes skipped or read from status only, by reason.", count, reason=reason)
    add_cgroups(e, doc.get("cgroups") or [])
    return e.render()


VERDICT_RANK = {"ok": 0, "attention": 1, "pressure": 2, "critical": 3}
SEVERITY_RANK = {"info": 0, "attention": 1, "pressure": 2, "critical": 3}


def add_verdict(e: Exposition, doc: Dict[str, Any]) -> None:
    """memscope_verdict: 0 ok, 1 attention, 2 pressure, 3 critical (label: the word)."""
    if doc.get("verdict") in VERDICT_RANK:
        e.add("memscope_verdict", "gauge",
              "memscope's verdict: 0 ok, 1 attention, 2 pressure, 3 critical.",
              VERDICT_RANK[doc["verdict"]], verdict=doc["verdict"])


def explain_prom(doc: Dict[str, Any]) -> str:
    """memscope_verdict and one memscope_finding{code,severity} series per finding code
    (value: how many findings of that code; severity: the worst of them)."""
    e = Exposition()
    src = doc.get("source") or {}
    e.add("memscope_source_info", "gauge", "The host these figures describe.", 1,
          hostname=src.get("hostname") or "", kernel=src.get("kernel") or "",
          root=src.get("root") or "")
    add_verdict(e, doc)
    by_code: Dict[str, List[str]] = {}
    for f in doc["findings"]:
        by_code.setdefault(f["code"], []).append(f["severity"])
    for code, severities in by_code.items():
        worst = max(severities, key=lambda s: SEVERITY_RANK[s])
        e.add("memscope_finding", "gauge",
              "Findings of memscope explain, by code (value: how many; severity: the worst).",
              len(severities), code=code, severity=worst)
    return e.render()
