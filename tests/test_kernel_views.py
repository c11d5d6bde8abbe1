"""Kernel views: zones with fragmentation, vmalloc, slab, shmem; their parsers on every
fixture, golden outputs, and live checks against the kernel's own files."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from conftest import FIXTURES, GOLDEN, MiB, run_memscope, run_unprivileged
from memscope.errors import ParseError
from memscope.parsers.buddyinfo import parse_buddyinfo, unusable_index
from memscope.parsers.ipc import parse_sysvipc_shm
from memscope.parsers.slabinfo import parse_slabinfo
from memscope.parsers.vmallocinfo import Area, fold_caller, parse_vmallocinfo
from memscope.parsers.arcstats import parse_arcstats
from memscope.parsers.zram import parse_mm_stat
from test_golden import check

VIEWS = FIXTURES / "this-vm-6.18.44-kernel-views"


def hosts(kind):
    return sorted(p.name for p in FIXTURES.iterdir() if (p / kind).is_file())


# --- parsers --------------------------------------------------------------------------


def test_buddyinfo_whole_record():
    assert parse_buddyinfo((FIXTURES / "goclever-i5-android-arm32-3.4/proc/buddyinfo")
                           .read_text()) == {
        (0, "Normal"): [183, 73, 28, 10, 5, 7, 4, 3, 2, 0, 35],
        (0, "HighMem"): [614, 883, 402, 207, 76, 25, 6, 4, 1, 1, 6]}


@pytest.mark.parametrize("host", hosts("proc/buddyinfo"))
def test_every_buddyinfo_parses(host):
    b = parse_buddyinfo((FIXTURES / host / "proc/buddyinfo").read_text())
    assert all(len(v) == 11 for v in b.values())


def test_unusable_index():
    # 2 free pages of order 0 and one block of order 2 (4 pages): 6 free pages
    counts = [2, 0, 1]
    assert unusable_index(counts) == [0.0, 2 / 6, 2 / 6]
    assert unusable_index([0, 0, 0]) == [1.0, 1.0, 1.0]
    assert unusable_index([4, 0, 0]) == [0.0, 1.0, 1.0]


def test_buddyinfo_free_pages_equal_zoneinfo_free():
    """Σ c_k·2^k = the zone's free pages (docs/kernel.md §8), on a capture read together."""
    from memscope.parsers.zoneinfo import parse_zoneinfo

    b = parse_buddyinfo((VIEWS / "proc/buddyinfo").read_text())
    zi = parse_zoneinfo((VIEWS / "proc/zoneinfo").read_text())
    for z in zi.zones:
        if (z.node, z.name) in b:
            total = sum(c << k for k, c in enumerate(b[(z.node, z.name)]))
            assert abs(total - z.free) < 2048  # the two files were read moments apart


@pytest.mark.parametrize("text, line", [
    ("", 1), ("Node 0, zone DMA 1 2 x\n", 1), ("garbage\n", 1),
    ("Node 0, zone DMA 1 2 3\nNode 0, zone DMA32 1 2\n", 2),
    ("Node 0, zone DMA 1 2\nNode 0, zone DMA 1 2\n", 2),
])
def test_buddyinfo_malformed(text, line):
    with pytest.raises(ParseError) as info:
        parse_buddyinfo(text)
    assert info.value.line == line


def test_vmallocinfo_line_forms():
    text = (
        "0x1-0x2   20480 kernel_clone+0x94/0x3e0 pages=4 vmalloc N0=4\n"
        "0x1-0x2    8192 acpi_os_map_iomem+0x1bc/0x1e0 phys=0x00000000000a0000 ioremap\n"
        "0x1-0x2   12288 unpurged vm_area\n"
        "0x1-0x2    8192 vm_map_ram\n"
        "0xde1f1000-0xde5f7000 4218880 stp_dbg_init+0x50/0x1a4 [mtk_stp_wmt] pages=1029 "
        "vmalloc vpages\n"
        "0xc0000000-0xc7a00000 127926272 map_lowmem+0x0/0x240 phys=80000000 lowmem\n"
        "0xc8804000-0xc8a05000 2101248 atomic_pool_init+0x0/0x12c user\n"
        "0x1-0x2 2097152 pcpu_get_vm_areas+0x0/0x1050 vmalloc\n")
    assert parse_vmallocinfo(text) == [
        Area(20480, "kernel_clone+0x94/0x3e0", 4, "vmalloc"),
        Area(8192, "acpi_os_map_iomem+0x1bc/0x1e0", None, "ioremap"),
        Area(12288, None, None, "unpurged"),
        Area(8192, None, None, "vm_map_ram"),
        Area(4218880, "stp_dbg_init+0x50/0x1a4 [mtk_stp_wmt]", 1029, "vmalloc"),
        Area(127926272, "map_lowmem+0x0/0x240", None, "other"),
        Area(2101248, "atomic_pool_init+0x0/0x12c", None, "other"),
        Area(2097152, "pcpu_get_vm_areas+0x0/0x1050", None, "vmalloc"),
    ]
    assert fold_caller("stp_dbg_init+0x50/0x1a4 [mtk_stp_wmt]") == "stp_dbg_init [mtk_stp_wmt]"


@pytest.mark.parametrize("host", hosts("proc/vmallocinfo"))
def test_every_vmallocinfo_parses(host):
    text = (FIXTURES / host / "proc/vmallocinfo").read_text()
    areas = parse_vmallocinfo(text)
    assert len(areas) == len(text.splitlines())


@pytest.mark.parametrize("text, line", [
    ("0x1-0x2 abc caller vmalloc\n", 1), ("nonsense\n", 1),
    ("0x1-0x2 4096 f+0/1 vmalloc\n0x1-0x2 4096 f+0/1 pages=x vmalloc\n", 2),
])
def test_vmallocinfo_malformed(text, line):
    with pytest.raises(ParseError) as info:
        parse_vmallocinfo(text)
    assert info.value.line == line


def test_slabinfo_whole_record_and_malformed():
    caches = parse_slabinfo(
        "slabinfo - version: 2.1\n# name <active_objs> ...\n"
        "kmalloc-64   3520   3520   64   64    1 : tunables    0    0    0 : slabdata     55"
        "     55      0\n")
    assert caches[0] == ("kmalloc-64", 3520, 3520, 64, 64, 1, 55, 55)
    assert len(parse_slabinfo((VIEWS / "proc/slabinfo").read_text())) == 235
    for bad, line in (("slabinfo - version: 1.1\n", 1),
                      ("slabinfo - version: 2.1\nx 1 2 3\n", 2),
                      ("slabinfo - version: 2.1\nx 1 2 3 4 z : tunables 0 0 0 : slabdata 1 1 0\n",
                       2)):
        with pytest.raises(ParseError) as info:
            parse_slabinfo(bad)
        assert info.value.line == line


def test_small_parsers():
    rows = parse_sysvipc_shm(
        "       key      shmid perms       size  cpid  lpid nattch   uid   gid  cuid  cgid"
        "      atime      dtime      ctime        rss       swap\n"
        "1836412275          7   600    4194304  1234  1234      1     0     0     0     0"
        "          0          0 1763812345    4194304          0\n")
    assert rows[0]["key"] == 1836412275 and rows[0]["rss"] == 4194304
    assert parse_mm_stat("41943040 8388608 9437184 0 9437184 512 0 3 3\n")[
        "mem_used_total"] == 9437184
    arc = parse_arcstats((FIXTURES / "constructed-zram-zfs/proc/spl/kstat/zfs/arcstats")
                         .read_text())
    assert arc["size"] == 512 * MiB and arc["c_min"] == 32 * MiB
    with pytest.raises(ParseError):
        parse_mm_stat("1 2\n")
    with pytest.raises(ParseError):
        parse_arcstats("no header here\n")


# --- commands on fixtures -------------------------------------------------------------


@pytest.mark.parametrize("host", hosts("proc/zoneinfo"))
def test_zones_golden(host, update_golden):
    r = run_memscope("zones", "--root", FIXTURES / host, "--format", "json")
    assert r.returncode == 0, r.stderr
    check(GOLDEN / "zones" / f"{host}.json", r.stdout, update_golden)
    doc = json.loads(r.stdout)
    for z in doc["zones"]:
        if z["state"] == "empty":
            assert z["headroom"] is None and z["headroom_by_class"] is None
        else:
            assert z["headroom"] == z["free"] - z["low"]
        if z["unusable_index"] is not None:
            assert all(0.0 <= x <= 1.0 for x in z["unusable_index"])


@pytest.mark.parametrize("host", ["this-vm-6.18.44-kernel-views", "goclever-i5-android-arm32-3.4",
                                  "pcp-qa-meminfo-root-007-numa2"])
def test_zones_table_golden(host, update_golden):
    r = run_memscope("zones", "--root", FIXTURES / host, "--explain")
    assert r.returncode == 0, r.stderr
    check(GOLDEN / "zones" / f"{host}.txt", r.stdout, update_golden)


def test_zones_tunables_and_fragmentation():
    doc = json.loads(run_memscope("zones", "--root", VIEWS, "--format", "json").stdout)
    assert doc["tunables"] == {"min_free_bytes": 67584 * 1024, "watermark_scale_factor": 10,
                               "lowmem_reserve_ratio": [256, 256, 32, 0, 0]}
    normal = next(z for z in doc["zones"] if z["zone"] == "Normal")
    assert normal["free_blocks"] is not None and normal["largest_free_block"] == 4 * MiB
    movable = next(z for z in doc["zones"] if z["zone"] == "Movable")
    assert movable["free_blocks"] is None and movable["state"] == "empty"
    dma = doc["zones"][0]
    assert dma["headroom_by_class"] == [dma["free"] - dma["low"] - p for p in dma["protection"]]


@pytest.mark.parametrize("host", hosts("proc/vmallocinfo"))
def test_vmalloc_golden(host, update_golden):
    r = run_memscope("vmalloc", "--root", FIXTURES / host, "--format", "json")
    assert r.returncode == 0, r.stderr
    check(GOLDEN / "vmalloc" / f"{host}.json", r.stdout, update_golden)
    doc = json.loads(r.stdout)
    assert sum(t["bytes"] for t in doc["by_type"]) == sum(c["bytes"] for c in doc["top_callers"])
    assert doc["vmalloc_bytes"] == next((t["bytes"] for t in doc["by_type"]
                                         if t["type"] == "vmalloc"), 0)


def test_vmalloc_kernel_stacks_and_table(update_golden):
    doc = json.loads(run_memscope("vmalloc", "--root", VIEWS, "--format", "json").stdout)
    assert doc["kernel_stacks"]["count"] > 0
    assert doc["kernel_stacks"]["bytes"] == 4 * 4096 * doc["kernel_stacks"]["count"]
    assert doc["vmalloc_used"] - doc["vmalloc_bytes"] == 16384  # as captured
    for by in ("type", "caller"):
        r = run_memscope("vmalloc", "--root", VIEWS, "--by", by, "--limit", "10")
        check(GOLDEN / "vmalloc" / f"kernel-views-by-{by}.txt", r.stdout, update_golden)


def test_slab_golden(update_golden):
    r = run_memscope("slab", "--root", VIEWS, "--format", "json")
    assert r.returncode == 0, r.stderr
    check(GOLDEN / "slab" / "kernel-views.json", r.stdout, update_golden)
    doc = json.loads(r.stdout)
    assert doc["total_bytes"] == sum(c["bytes"] for c in doc["caches"])
    assert doc["reclaimable_bytes"] + doc["unreclaimable_bytes"] == doc["total_bytes"]
    dentry = next(c for c in doc["caches"] if c["name"] == "dentry")
    assert dentry["reclaimable"] is True
    r = run_memscope("slab", "--root", VIEWS, "--limit", "12")
    check(GOLDEN / "slab" / "kernel-views.txt", r.stdout, update_golden)


def test_shmem_under_a_root(update_golden):
    r = run_memscope("shmem", "--root", VIEWS, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["total"] == json.loads(run_memscope("summary", "--root", VIEWS, "--format",
                                                   "json").stdout)["memory"]["shared"]
    assert all(m["used"] is None for m in doc["mounts"])
    assert doc["unattributed"] is None  # tmpfs usage unknown under a root: no remainder
    check(GOLDEN / "shmem" / "kernel-views.json", r.stdout, update_golden)


def test_summary_zram_and_arc():
    doc = json.loads(run_memscope("summary", "--root", FIXTURES / "constructed-zram-zfs",
                                  "--format", "json").stdout)
    zs = next(c for c in doc["breakdown"] if c["category"] == "zsmalloc")
    assert zs["bytes"] == 2560 * 4096
    assert zs["parts"] == [{"category": "zram0", "bytes": 9 * MiB},
                           {"category": "zswap_and_other", "bytes": MiB}]
    assert [c["category"] for c in doc["breakdown"]].count("zsmalloc") == 1
    assert doc["zfs_arc"] == {"size": 512 * MiB, "c_min": 32 * MiB, "reclaimable": 480 * MiB}
    assert "zfs_arc" in [n["code"] for n in doc["notes"]]
    assert sum(c["bytes"] for c in doc["breakdown"]) == doc["memory"]["total"]


def test_summary_activity_from_vmstat():
    doc = json.loads(run_memscope("summary", "--root", FIXTURES / "this-vm-6.18.44-live",
                                  "--format", "json").stdout)
    vm = dict(line.split() for line in
              (FIXTURES / "this-vm-6.18.44-live/proc/vmstat").read_text().splitlines())
    act = doc["activity"]
    assert act["oom_kill"] == int(vm["oom_kill"])
    assert act["workingset_refault"] == int(vm["workingset_refault_anon"]) + int(
        vm["workingset_refault_file"])
    assert act["allocstall"] == sum(int(v) for k, v in vm.items()
                                    if k.startswith("allocstall_"))
    assert doc["activity_rates"] is None


# --- live -----------------------------------------------------------------------------

live = pytest.mark.skipif(not os.path.isfile("/proc/zoneinfo"), reason="needs a live /proc")


@live
def test_live_zone_watermarks_equal_zoneinfo():
    doc = json.loads(run_memscope("zones", "--format", "json").stdout)
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/zoneinfo") as f:
        lines = [line.split() for line in f]
    marks = {k: [int(p[1]) * page for p in lines if p[:1] == [k] and len(p) == 2]
             for k in ("min", "low", "high", "managed", "present")}
    for key, values in marks.items():
        assert [z[key] for z in doc["zones"]] == values, key


@live
@pytest.mark.skipif(os.geteuid() != 0, reason="vmallocinfo is readable by root only")
def test_live_vmalloc_against_vmallocused():
    doc = json.loads(run_memscope("vmalloc", "--format", "json").stdout)
    # read back to back; a steady 16 KiB of VmallocUsed is never listed on this kernel
    assert abs(doc["vmalloc_bytes"] - doc["vmalloc_used"]) <= 64 * 1024
    assert doc["vmalloc_bytes"] == next(t["bytes"] for t in doc["by_type"]
                                        if t["type"] == "vmalloc")


@live
def test_live_vmalloc_and_slab_need_root():
    for command in ("vmalloc", "slab"):
        r = run_unprivileged(command)
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr.strip().endswith("permission denied (run as root)")
        assert len(r.stderr.splitlines()) == 1


@live
def test_live_shmem_sees_a_sysv_segment_and_a_shm_file(workers):
    key = 0x6d730000 + (os.getpid() & 0xffff)
    seg = workers("sysv", key, 4 * MiB)
    path = f"/dev/shm/memscope-test-{uuid.uuid4().hex}"
    with open(path, "wb") as f:
        f.write(b"\x5a" * (6 * MiB))
    try:
        a = workers("shm", path, 6 * MiB)
        b = workers("shm", path, 6 * MiB)
        doc = json.loads(run_memscope("shmem", "--format", "json").stdout)
        segment = next(s for s in doc["sysv"] if s["key"] == f"0x{key:08x}")
        assert segment["size"] == segment["rss"] == 4 * MiB and segment["swap"] == 0
        assert segment["attached"] == 1
        obj = next(m for m in doc["mapped"] if m["path"] == path)
        assert sorted(obj["pids"]) == sorted([a.pid, b.pid])
        assert obj["rss"] == 6 * MiB  # Σ Pss over its two mappers
        shm = next(m for m in doc["mounts"] if m["mountpoint"] == "/dev/shm")
        assert shm["used"] >= 6 * MiB
        r = run_memscope("shmem")
        assert r.returncode == 0 and os.path.basename(path)[-40:] in r.stdout
    finally:
        os.unlink(path)
    del seg


@live
def test_live_hugetlb_sysv_and_memfd_are_not_shmem(workers, hugepages):
    """SHM_HUGETLB segments and MFD_HUGETLB memfds are hugetlb: shown apart, never in the
    Shmem attribution; sysvipc's rss (512x the segment for 2 MiB pages on 6.x) is clamped
    and noted."""
    hugepages(4)
    key = 0x6d740000 + (os.getpid() & 0xffff)
    seg = workers("sysvhuge", key, 4 * MiB)
    memfd = workers("memfdhuge", 4 * MiB)
    raw = open("/proc/sysvipc/shm").read().splitlines()
    header = raw[0].split()
    row = next(dict(zip(header, line.split())) for line in raw[1:]
               if int(line.split()[0]) == key)
    doc = json.loads(run_memscope("shmem", "--format", "json").stdout)
    name = f"0x{key:08x}"
    assert not any(s["key"] == name for s in doc["sysv"])  # not Shmem
    huge = next(h for h in doc["hugetlb"] if h["name"] == name)
    assert huge["kind"] == "sysv" and huge["size"] == 4 * MiB
    assert huge["rss"] == 4 * MiB <= int(row["size"]) and huge["pids"] == [seg.pid]
    codes = [n["code"] for n in doc["notes"]]
    if int(row["rss"]) > int(row["size"]):  # the kernel's overcount (6.x folios)
        assert "sysvipc_rss_implausible" in codes
    fd = next(h for h in doc["hugetlb"] if h["pids"] == [memfd.pid])
    assert fd["kind"] == "memfd" and fd["rss"] == 4 * MiB
    assert fd["name"].startswith("/memfd:worker")
    assert not any(memfd.pid in m["pids"] for m in doc["mapped"])
    # the kernel's own figure for both: Private_Hugetlb of their mappings
    for w in (seg, memfd):
        assert w.rollup()["Private_Hugetlb"] == 4 * MiB
    assert all(s["rss"] <= -(-s["size"] // 4096) * 4096 for s in doc["sysv"])
    r = run_memscope("shmem")
    assert "hugetlb (not Shmem" in r.stdout and name in r.stdout


def test_shmem_hugetlb_fixture(update_golden):
    """A 6.18 capture: a 4 MiB SHM_HUGETLB segment (sysvipc says rss 2 GiB), a 4 MiB
    MFD_HUGETLB memfd and a 1 MiB ordinary segment, each mapped by a worker."""
    host = FIXTURES / "this-vm-6.18.44-hugetlb-shm"
    r = run_memscope("shmem", "--root", host, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [s["key"] for s in doc["sysv"]] == ["0x0000303a"]
    assert doc["sysv"][0]["rss"] == MiB
    assert [(h["kind"], h["name"], h["size"], h["rss"]) for h in doc["hugetlb"]] == [
        ("memfd", "/memfd:worker (deleted)", None, 4 * MiB),
        ("sysv", "0x00003039", 4 * MiB, 4 * MiB)]
    assert {n["code"] for n in doc["notes"]} >= {"sysvipc_rss_implausible",
                                                 "hugetlb_not_shmem"}
    check(GOLDEN / "shmem" / "hugetlb-shm.json", r.stdout, update_golden)
    r = run_memscope("shmem", "--root", host)
    check(GOLDEN / "shmem" / "hugetlb-shm.txt", r.stdout, update_golden)


def test_shmem_unmeasured_mount_leaves_the_remainder_unknown():
    """A tmpfs whose statfs failed (or is not recorded) has unknown usage: not 0, so no
    remainder."""
    from memscope.model.shmem import ShmemInputs, build_shmem

    rows = [{"mountpoint": "/dev/shm", "fstype": "tmpfs", "used": None},
            {"mountpoint": "/run", "fstype": "tmpfs", "used": MiB}]
    doc = build_shmem(ShmemInputs(4 * MiB, [], rows, [], {}, 0, 4096, 0))
    assert doc["unattributed"] is None
    assert [n["code"] for n in doc["notes"]] == ["mount_usage_unknown"]
    rows[0]["used"] = MiB
    doc = build_shmem(ShmemInputs(4 * MiB, [], rows, [], {}, 0, 4096, 0))
    assert doc["unattributed"] == 2 * MiB and doc["notes"] == []


@live
def test_live_hugetlbfs_file_is_hugetlb_not_shmem(workers, hugepages, tmp_path):
    """A file on a hugetlbfs mount, mapped shared: hugetlb (kind file), never Shmem."""
    import subprocess

    hugepages(2)
    point = tmp_path / "huge"
    point.mkdir()
    if subprocess.run(["mount", "-t", "hugetlbfs", "none", str(point)]).returncode:
        pytest.skip("cannot mount hugetlbfs here")
    try:
        path = point / "object"
        with open(path, "wb") as f:
            os.ftruncate(f.fileno(), 4 * MiB)
        w = workers("shm", path, 4 * MiB)
        doc = json.loads(run_memscope("shmem", "--format", "json").stdout)
        huge = next(h for h in doc["hugetlb"] if h["pids"] == [w.pid])
        assert (huge["kind"], huge["name"], huge["rss"]) == ("file", str(path), 4 * MiB)
        assert w.rollup()["Shared_Hugetlb"] + w.rollup()["Private_Hugetlb"] == 4 * MiB
        assert not any(m["path"] == str(path) for m in doc["mapped"])
        w.stop()
        path.unlink()
    finally:
        subprocess.run(["umount", str(point)])
