"""Orchestration and policy: which files to read through the Root, in what order, and what a
missing one means. Parsers never decide that; the CLI never reads files.
"""

from __future__ import annotations

import os
import time
from typing import Optional

from memscope.errors import ParseError, SourceError
from memscope.model import Notes
from memscope.model.system import SystemInputs, rebuild_available
from memscope.parsers.kconfig import parse_kconfig
from memscope.parsers.meminfo import parse_meminfo
from memscope.parsers.pressure import parse_pressure
from memscope.parsers.vmstat import parse_vmstat
from memscope.parsers.zoneinfo import parse_zoneinfo
from memscope.sources import Root

# meminfo and zoneinfo are separate snapshots of moving counters: on a live host, read them
# again when the rebuilt MemAvailable does not match (KERNEL.md §2.4, error budget (1)).
LIVE_REREADS = 3


def read_identity(root: Root) -> dict:
    """source{root, hostname, kernel, taken_at, boot_id, uptime}: from the root, never from
    this machine; null where the root does not hold them.

    boot_id and uptime let ``trend`` order a series of reports and see reboots: taken_at has
    one-second resolution and follows the wall clock, uptime (CLOCK_BOOTTIME, seconds as a
    float) does neither (proc(5) /proc/uptime; random(4) boot_id: "a random string ... that
    is unique per boot").
    """
    hostname = root.read_optional("proc/sys/kernel/hostname")
    kernel = root.read_optional("proc/sys/kernel/osrelease")
    return {
        "root": root.path,
        "hostname": hostname.strip() if hostname else None,
        "kernel": kernel.strip() if kernel else None,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) if root.live
        else root.recorded("taken_at"),
        "boot_id": parse_boot_id(root.read_optional("proc/sys/kernel/random/boot_id")),
        "uptime": parse_uptime(root.read_optional("proc/uptime")),
    }


_BOOT_ID = "0123456789abcdef-"


def parse_boot_id(text: Optional[str]) -> Optional[str]:
    """The kernel prints a UUID (36 characters, lowercase hex and dashes); anything else is
    not a boot id: null."""
    if text is None:
        return None
    value = text.strip()
    if len(value) != 36 or any(c not in _BOOT_ID for c in value):
        return None
    return value


def parse_uptime(text: Optional[str]) -> Optional[float]:
    """/proc/uptime's first field ("12345.67 23456.78": seconds since boot, two decimals);
    null when it is not in that shape."""
    if not text:
        return None
    first = text.split(None, 1)[0] if text.split() else ""
    whole, dot, frac = first.partition(".")
    if not (whole.isdigit() and whole.isascii() and len(whole) <= 20
            and (not dot or (frac.isdigit() and frac.isascii() and len(frac) <= 9))):
        return None
    return float(first)


def page_size(root: Root, meminfo, zoneinfo, notes: Notes) -> int:
    """The page size: this machine's when live; otherwise inferred from the root's files.

    Captured trees do not record it, but meminfo (kB) and zoneinfo (pages) count the same
    free pages, so their ratio gives it.
    """
    if root.live:
        return os.sysconf("SC_PAGE_SIZE")
    if isinstance(root.recorded("page_size"), int):
        return root.recorded("page_size")
    if zoneinfo is not None:
        # Pairs of (bytes, pages) that count the same pages. Free pages first; the LRU lists
        # next, which stay exact where MemFree counts memory not yet initialised.
        lru_bytes = sum(meminfo.get(k, 0) for k in ("Active(file)", "Inactive(file)",
                                                       "Active(anon)", "Inactive(anon)"))
        lru_pages = sum(zoneinfo.node_stat(k) or 0 for k in (
            "nr_active_file", "nr_inactive_file", "nr_active_anon", "nr_inactive_anon"))
        pairs = [(meminfo.get("MemFree"), sum(z.free for z in zoneinfo.zones)),
                 (lru_bytes, lru_pages)]
        near = None
        for nbytes, pages in pairs:
            if not nbytes or not pages:
                continue
            ratio = nbytes / pages
            for size in (4096, 8192, 16384, 65536):
                if abs(ratio - size) / size < 0.01:  # the same pages, read moments apart
                    return size
                if near is None and abs(ratio - size) / size < 0.05:
                    near = size
        if near is not None:
            notes.add("page_size_inferred",
                      f"page size {near} inferred from meminfo against zoneinfo (the files "
                      "were not read at the same instant)")
            return near
    if zoneinfo is not None or root.exists("proc/vmstat"):  # only where pages are converted
        notes.add("page_size_assumed", "page size not recorded under this root: 4096 assumed")
    return 4096


def vmap_stack(root: Root, kernel: Optional[str]) -> Optional[bool]:
    """Is CONFIG_VMAP_STACK set (kernel stacks inside VmallocUsed)? None when unknowable."""
    data = None
    try:
        data = root.read_bytes("proc/config.gz")
    except SourceError:  # absent, unreadable: look elsewhere
        data = None
    text = None
    if data is not None:
        import zlib

        try:
            text = zlib.decompress(data, 47).decode("ascii", "replace")
        except zlib.error:
            text = None
    if text is None and root.live and kernel:
        text = root.read_optional(f"boot/config-{kernel}")
    if text is None:
        return None
    try:
        config = parse_kconfig(text)
    except ParseError:
        return None
    return config.get("CONFIG_VMAP_STACK") == "y"


def hugetlb_from_sysfs(root: Root) -> Optional[int]:
    """Σ nr_hugepages × size over every huge page size (for kernels without Hugetlb)."""
    base = "sys/kernel/mm/hugepages"
    if not root.exists(base):
        return None
    total = 0
    for name in root.listdir(base):
        if not (name.startswith("hugepages-") and name.endswith("kB")):
            continue
        size_kb = name[len("hugepages-"):-2]
        count = root.read_optional(f"{base}/{name}/nr_hugepages")
        if count is None or not size_kb.isdigit() or not count.strip().isdigit():
            continue
        total += int(count) * int(size_kb) * 1024
    return total


def collect_system(root: Root) -> SystemInputs:
    notes = Notes()
    meminfo = zoneinfo = None
    for _attempt in range(LIVE_REREADS if root.live else 1):
        # zoneinfo then meminfo, back to back: the two snapshots MemAvailable is rebuilt from.
        zoneinfo = root.parse("proc/zoneinfo", parse_zoneinfo, optional=True)
        meminfo = root.parse("proc/meminfo", parse_meminfo)
        if zoneinfo is None or not root.live or "MemAvailable" not in meminfo:
            break
        probe = SystemInputs(meminfo, zoneinfo, page_size=os.sysconf("SC_PAGE_SIZE"))
        rebuilt = rebuild_available(probe)
        if rebuilt is not None and rebuilt["estimate"] == meminfo["MemAvailable"]:
            break
    vmstat = root.parse("proc/vmstat", parse_vmstat, optional=True)
    pressure = root.parse("proc/pressure/memory", parse_pressure, optional=True)
    source = read_identity(root)
    inp = SystemInputs(
        meminfo=meminfo,
        zoneinfo=zoneinfo,
        vmstat=vmstat,
        pressure=pressure,
        page_size=page_size(root, meminfo, zoneinfo, notes),
        vmap_stack=vmap_stack(root, source["kernel"]) if "VmallocUsed" in meminfo else None,
        hugetlb_sysfs=None if "Hugetlb" in meminfo else hugetlb_from_sysfs(root),
        source=source,
        notes=notes,
    )
    from memscope.collect.cgroups import container_view
    from memscope.model.kernel import VMALLOC_ZERO, vmalloc_era

    inp.container = container_view(root, meminfo["MemTotal"])
    if vmalloc_era(meminfo) == VMALLOC_ZERO:
        inp.vmalloc_pages, stacks = vmalloc_from_vmallocinfo(root, inp.page_size)
        if stacks and inp.vmap_stack is None:
            inp.vmap_stack = True  # kernel stacks seen among the vmalloc areas
    inp.zram = read_zram(root)
    if root.exists("proc/spl/kstat/zfs/arcstats"):
        from memscope.parsers.zram import parse_arcstats

        inp.arc = root.parse("proc/spl/kstat/zfs/arcstats", parse_arcstats, optional=True)
    return inp


def vmalloc_from_vmallocinfo(root: Root, page: int):
    """(Σ pages= of the vmalloc areas in bytes, whether kernel stacks are among them), or
    (None, False) where vmallocinfo can't be read."""
    from memscope.model.views import STACK_CALLERS
    from memscope.parsers.vmallocinfo import fold_caller, parse_vmallocinfo

    try:
        areas = root.parse("proc/vmallocinfo", parse_vmallocinfo, optional=True)
    except SourceError:
        return None, False  # mode 0400: not root
    if areas is None:
        return None, False
    stacks = any(a.caller and fold_caller(a.caller).split(" ")[0] in STACK_CALLERS
                 for a in areas if a.type == "vmalloc")
    return page * sum(a.pages or 0 for a in areas if a.type == "vmalloc"), stacks


def read_zram(root: Root) -> dict:
    from memscope.parsers.zram import parse_mm_stat

    out = {}
    if not root.isdir("sys/block"):
        return out
    for name in root.listdir("sys/block"):
        if name.startswith("zram"):
            stat = root.parse(f"sys/block/{name}/mm_stat", parse_mm_stat, optional=True)
            if stat is not None:
                out[name] = stat
    return out
