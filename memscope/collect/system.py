"""Orchestration and policy: which files to read through the Root, in what order, and what a
missing one means. Parsers never decide that; the CLI never reads files.
"""

from __future__ import annotations

from typing import List, Optional

from memscope.collect.policy import FILE_MALFORMED, add_note, optional, required
from memscope.errors import ParseError, SourceError
from memscope.model import Notes
from memscope.model.system import SystemInputs, rebuild_available
from memscope.parsers import parse_int
from memscope.parsers.sysctl import parse_number
from memscope.parsers.identity import parse_boot_id, parse_uptime
from memscope.parsers.kconfig import parse_kconfig
from memscope.parsers.meminfo import parse_meminfo
from memscope.parsers.pressure import parse_pressure
from memscope.parsers.vmstat import parse_vmstat
from memscope.parsers.zoneinfo import parse_zoneinfo
from memscope.sources import Root

# meminfo and zoneinfo are separate snapshots of moving counters: on a live host, read them
# again when the rebuilt MemAvailable does not match (docs/kernel.md §2.4, error budget (1)).
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
        "taken_at": root.taken_at(),
        "boot_id": parse_boot_id(_quiet_read(root, "proc/sys/kernel/random/boot_id")),
        "uptime": parse_uptime(_quiet_read(root, "proc/uptime")),
    }


def _quiet_read(root: Root, rel: str) -> Optional[str]:
    """An optional identity file: null where absent or unreadable (the null says it)."""
    try:
        return root.read_optional(rel)
    except SourceError:
        return None


def page_size(root: Root, meminfo, zoneinfo, notes: Notes) -> int:
    """The page size: the root's (Root.page_size: live, or recorded in a snapshot);
    otherwise inferred from the root's files.

    Captured trees do not record it, but meminfo (kB) and zoneinfo (pages) count the same
    free pages, so their ratio gives it.
    """
    known = root.page_size()
    if known is not None:
        return known
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


# A kernel's .config is ~300 KB (6.18 defconfig-ish distro configs: 250-330 KB); 16 MiB is
# far past any, and bounds what a hostile proc/config.gz can inflate to.
MAX_KCONFIG_BYTES = 16 << 20


def gunzip_capped(data: bytes, cap: int) -> Optional[str]:
    """A gzip member's text, or None when it is not gzip, is truncated or corrupt, or would
    inflate past ``cap`` bytes (a bomb is stopped after ``cap`` bytes, not inflated)."""
    import zlib

    z = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = z.decompress(data, cap + 1)
    except zlib.error:
        return None
    if len(out) > cap or not z.eof:
        return None
    return out.decode("ascii", "replace")


def vmap_stack(root: Root, kernel: Optional[str]) -> Optional[bool]:
    """Is CONFIG_VMAP_STACK set (kernel stacks inside VmallocUsed)? None when unknowable."""
    data = None
    try:
        data = root.read_bytes("proc/config.gz")
    except SourceError:  # absent, unreadable: look elsewhere
        data = None
    text = None
    if data is not None:
        text = gunzip_capped(data, MAX_KCONFIG_BYTES)  # None: looked for elsewhere
    if text is None and kernel and "/" not in kernel:  # live /boot, or a tree holding one
        try:
            text = root.read_optional(f"boot/config-{kernel}")
        except SourceError:
            text = None
    if text is None:
        return None
    try:
        config = parse_kconfig(text)
    except ParseError:
        return None
    return config.get("CONFIG_VMAP_STACK") == "y"


HUGEPAGES = "sys/kernel/mm/hugepages"


def hugepage_sizes(root: Root, notes: Notes, consequence: str) -> Optional[List[tuple]]:
    """[(directory, page size in bytes)] of /sys/kernel/mm/hugepages/hugepages-<kB>kB/,
    sorted by size; None without the directory, or (with a note) when a directory name's
    size is not a number (a sum or a pool list missing a size would be wrong)."""
    if not root.isdir(HUGEPAGES):
        return None
    sizes = []
    for name in root.listdir(HUGEPAGES):
        if not (name.startswith("hugepages-") and name.endswith("kB")):
            continue
        try:
            size_kb = parse_int(name[len("hugepages-"):-2], "page size", None)
        except ParseError as exc:
            add_note(notes, FILE_MALFORMED, f"{root.display(f'{HUGEPAGES}/{name}')}: "
                     f"{exc.message}: {consequence}")
            return None
        sizes.append((f"{HUGEPAGES}/{name}", size_kb * 1024))
    return sorted(sizes, key=lambda s: s[1])


def hugetlb_total(pools: Optional[dict]) -> Optional[int]:
    """Σ nr_hugepages × size over every huge page size (for kernels without a Hugetlb line),
    from the pools already read; None when a size's count is unknown (a partial sum would
    be a wrong figure: the model then counts the default size only, and says so)."""
    if pools is None or any(p["nr_hugepages"] is None for p in pools.values()):
        return None
    return sum(p["nr_hugepages"] * size for size, p in pools.items())


def read_hugepage_pools(root: Root, notes: Notes) -> Optional[dict]:
    """{page size in bytes: {nr_hugepages, free_hugepages, resv_hugepages,
    surplus_hugepages}} from /sys/kernel/mm/hugepages/hugepages-<kB>kB/ (every size;
    Documentation/admin-guide/mm/hugetlbpage.rst), None without the directory; a count
    that can't be read is null, with a note."""
    sizes = hugepage_sizes(root, notes, "hugetlb pools unknown (and, without a Hugetlb "
                           "line, hugetlb counts the default page size only)")
    if sizes is None:
        return None
    pools = {}
    for where, size in sizes:
        pools[size] = {field: optional(root, f"{where}/{field}", parse_number, notes,
                                       f"hugetlb pool {field} unknown", missing=None)
                       for field in ("nr_hugepages", "free_hugepages", "resv_hugepages",
                                     "surplus_hugepages")}
    return pools


def collect_system(root: Root) -> SystemInputs:
    notes = Notes()
    meminfo = zoneinfo = None
    # The files of summary (docs/contract.md "Bad files"): meminfo is required; the rest
    # optional, their absence silent where the document's nulls already say it.
    for _attempt in range(LIVE_REREADS if root.live else 1):
        # zoneinfo then meminfo, back to back: the two snapshots MemAvailable is rebuilt from.
        # Only a live host moves between reads, so only there is a mismatch worth a re-read
        # (docs/kernel.md §2.4, error budget (1)); a directory or snapshot is read once.
        attempt_notes = Notes()
        zoneinfo = optional(root, "proc/zoneinfo", parse_zoneinfo, attempt_notes,
                            "zones, physical and the MemAvailable rebuild unknown",
                            missing=None)
        meminfo = required(root, "proc/meminfo", parse_meminfo)
        if zoneinfo is None or not root.live or "MemAvailable" not in meminfo:
            break
        probe = SystemInputs(meminfo, zoneinfo, page_size=root.page_size())
        rebuilt = rebuild_available(probe)
        if rebuilt is not None and rebuilt["estimate"] == meminfo["MemAvailable"]:
            break
    for item in attempt_notes.items:
        notes.add(item["code"], item["text"])
    vmstat = optional(root, "proc/vmstat", parse_vmstat, notes,
                      "reclaim and OOM activity unknown", missing=None)
    pressure = optional(root, "proc/pressure/memory", parse_pressure, notes,
                        "pressure unknown", missing=None)
    source = read_identity(root)
    pools = read_hugepage_pools(root, notes)  # once: the pools, and Hugetlb where meminfo lacks it
    inp = SystemInputs(
        meminfo=meminfo,
        zoneinfo=zoneinfo,
        vmstat=vmstat,
        pressure=pressure,
        page_size=page_size(root, meminfo, zoneinfo, notes),
        vmap_stack=vmap_stack(root, source["kernel"]) if "VmallocUsed" in meminfo else None,
        hugetlb_sysfs=None if "Hugetlb" in meminfo else hugetlb_total(pools),
        source=source,
        notes=notes,
    )
    from memscope.collect.cgroups import container_view
    from memscope.model.kernel import VMALLOC_ZERO, vmalloc_era

    inp.container = container_view(root, meminfo["MemTotal"])
    if vmalloc_era(meminfo) == VMALLOC_ZERO:
        inp.vmalloc_pages, stacks = vmalloc_from_vmallocinfo(root, inp.page_size, notes)
        if stacks and inp.vmap_stack is None:
            inp.vmap_stack = True  # kernel stacks seen among the vmalloc areas
    inp.zram = read_zram(root, notes)
    inp.hugepage_pools = pools
    if root.exists("proc/spl/kstat/zfs/arcstats"):
        from memscope.parsers.arcstats import parse_arcstats

        inp.arc = optional(root, "proc/spl/kstat/zfs/arcstats", parse_arcstats, notes,
                           "the ZFS ARC is not shown", missing=None)
    return inp


def vmalloc_from_vmallocinfo(root: Root, page: int, notes: Notes):
    """(Σ pages= of the vmalloc areas in bytes, whether kernel stacks are among them), or
    (None, False) where vmallocinfo can't be read (mode 0400: not root)."""
    from memscope.model.views import STACK_CALLERS
    from memscope.parsers.vmallocinfo import fold_caller, parse_vmallocinfo

    areas = optional(root, "proc/vmallocinfo", parse_vmallocinfo, notes,
                     "the vmalloc category is not known", missing=None)
    if areas is None:
        return None, False
    stacks = any(a.caller and fold_caller(a.caller).split(" ")[0] in STACK_CALLERS
                 for a in areas if a.type == "vmalloc")
    return page * sum(a.pages or 0 for a in areas if a.type == "vmalloc"), stacks


def read_zram(root: Root, notes: Notes) -> dict:
    from memscope.parsers.zram import parse_mm_stat

    out = {}
    if not root.isdir("sys/block"):
        return out
    for name in root.listdir("sys/block"):
        if name.startswith("zram"):
            stat = optional(root, f"sys/block/{name}/mm_stat", parse_mm_stat, notes,
                            f"{name} is not shown", missing=None)
            if stat is not None:
                out[name] = stat
    return out
