"""The summary model on fixture hosts: free compatibility, breakdown, MemAvailable rebuilt,
physical RAM, zone state."""

from __future__ import annotations

import pytest

from conftest import CORPUS, FIXTURES, fixture_hosts
from memscope.collect.system import collect_system
from memscope.model.system import SystemInputs, build_summary, zone_state
from memscope.parsers.meminfo import parse_meminfo
from memscope.sources import Root

KB = 1024


def summary(host, base=FIXTURES):
    return build_summary(collect_system(Root(str(base / host))))


def category(doc, name):
    return next((c for c in doc["breakdown"] if c["category"] == name), None)


@pytest.mark.parametrize("host", fixture_hosts())
def test_breakdown_sums_exactly(host):
    doc = summary(host)
    assert sum(c["bytes"] for c in doc["breakdown"]) == doc["memory"]["total"]
    assert doc["breakdown"][-1]["category"] == "unaccounted"
    lru = category(doc, "lru")
    assert sum(p["bytes"] for p in lru["parts"]) == lru["bytes"]
    names = [c["category"] for c in doc["breakdown"]]
    assert len(names) == len(set(names))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/corpus is not beside the checkout")
@pytest.mark.parametrize("host", sorted(p.name for p in CORPUS.iterdir()
                                        if (p / "proc" / "meminfo").is_file())
                         if CORPUS.is_dir() else [])
def test_every_corpus_host_sums_exactly(host):
    doc = summary(host, CORPUS)
    assert sum(c["bytes"] for c in doc["breakdown"]) == doc["memory"]["total"]


def test_this_vm_breakdown_figures():
    doc = summary("this-vm-6.18.44-live")
    mi = doc["meminfo"]
    assert category(doc, "free")["bytes"] == mi["MemFree"]
    assert category(doc, "slab_reclaimable")["bytes"] == mi["SReclaimable"]
    # CONFIG_VMAP_STACK=y in the captured config: stacks come out of VmallocUsed
    assert category(doc, "vmalloc")["bytes"] == mi["VmallocUsed"] - mi["KernelStack"]
    assert "vmap_stack_assumed" not in [n["code"] for n in doc["notes"]]
    lru = category(doc, "lru")
    assert [p["category"] for p in lru["parts"]] == [
        "active_anon", "inactive_anon", "active_file", "inactive_file", "unevictable",
        "isolated"]
    assert [c["category"] for c in lru["contents"]] == [
        "anon", "shmem", "page_cache", "buffers", "swap_cache", "mlocked"]
    assert category(doc, "memmap")["bytes"] == 0
    assert category(doc, "zsmalloc")["bytes"] == 0


@pytest.mark.parametrize("host, formula", [
    ("this-vm-6.18.44-live", "totalreserve"),
    ("this-vm-6.18.44-fc-v657", "totalreserve"),
    ("this-vm-6.18.44-boosted", "totalreserve"),   # stored reserve holds a watermark boost
    ("pcp-qa-meminfo-root-007-numa2", "totalreserve"),
    ("pcp-qa-meminfo-root-002-numa2", "sum_low"),   # 3.10 (RHEL 7): before 4.5
    ("zte-f680-ont-armv7-4.1", "sum_low"),
])
def test_memavailable_rebuilt_to_the_byte(host, formula):
    doc = summary(host)
    ex = doc["available_explained"]
    assert ex["formula"] == formula
    assert ex["estimate"] == ex["kernel"] == doc["meminfo"]["MemAvailable"]
    assert ex["estimate"] == (ex["free"] - ex["reserve"] + ex["pagecache_kept"]
                              + ex["reclaimable_kept"])
    assert doc["memory"]["available_estimate"] == ex["estimate"]


def test_free_block_is_procps():
    doc = summary("ubuntu1404-proc-snapshot-3.13")  # swap in use, no MemAvailable
    mi, mem, swap = doc["meminfo"], doc["memory"], doc["swap"]
    assert mem["available"] == mi["MemFree"]
    assert mem["used"] == mi["MemTotal"] - mi["MemFree"]
    assert mem["buff_cache"] == mi["Buffers"] + mi["Cached"] + mi["SReclaimable"]
    assert mem["shared"] == mi["Shmem"]
    assert swap == {"total": mi["SwapTotal"], "used": mi["SwapTotal"] - mi["SwapFree"],
                    "free": mi["SwapFree"], "cached": mi["SwapCached"]}
    assert swap["used"] > 0
    codes = [n["code"] for n in doc["notes"]]
    assert "memavailable_missing" in codes
    assert doc["available_explained"]["formula"] == "sum_low"


def _inputs(text):
    return SystemInputs(parse_meminfo(text))


def test_lxcfs_available_above_total():
    doc = build_summary(_inputs("MemTotal: 1000 kB\nMemFree: 300 kB\n"
                                "MemAvailable: 5000 kB\nCached: 100 kB\n"))
    assert doc["memory"]["available"] == 300 * KB
    assert doc["memory"]["used"] == 700 * KB
    assert "lxcfs_suspected" in [n["code"] for n in doc["notes"]]


def test_memavailable_zero_falls_back_like_procps():
    doc = build_summary(_inputs("MemTotal: 1000 kB\nMemFree: 300 kB\nMemAvailable: 0 kB\n"))
    assert doc["memory"]["available"] == 300 * KB
    assert "memavailable_missing" in [n["code"] for n in doc["notes"]]


def test_pre_4_4_vmalloc_is_omitted_with_a_note():
    doc = summary("zte-f680-ont-armv7-4.1")
    assert category(doc, "vmalloc") is None
    assert "vmallocused_not_ram" in [n["code"] for n in doc["notes"]]


def test_4_4_to_5_2_vmalloc_zero_is_omitted_with_a_note():
    doc = summary("rhel8-server-hugepages-1g")
    assert category(doc, "vmalloc") is None
    assert "vmallocused_zero" in [n["code"] for n in doc["notes"]]
    assert category(doc, "hugetlb")["bytes"] == 160 * 1024**3


def test_highmem_32bit():
    doc = summary("goclever-i5-android-arm32-3.4")
    assert [(z["zone"], z["state"]) for z in doc["zones"]] == [("Normal", "ok"),
                                                               ("HighMem", "ok")]
    assert doc["zones"][0]["managed"] is None  # 3.4 prints no managed line
    assert doc["physical"]["present"] == (121412 + 129238) * 4096


def test_physical_and_managed_note_on_lazy_init():
    doc = summary("this-vm-6.18.44-live")
    zones_present = sum(z["present"] for z in doc["zones"])
    assert doc["physical"] == {"present": zones_present,
                               "reserved": zones_present - doc["memory"]["total"]}
    assert "managed_ne_memtotal" in [n["code"] for n in doc["notes"]]


def test_identity_comes_from_the_root():
    doc = summary("this-vm-6.18.44-live")
    assert doc["source"]["hostname"] == "vm"
    assert doc["source"]["kernel"] == "6.18.44-fc-v669"
    assert doc["source"]["taken_at"] is None
    doc = summary("kindle-arm-2.6.31")
    assert doc["source"]["hostname"] is None and doc["source"]["kernel"] is None


@pytest.mark.parametrize("free, expected", [
    (101, "ok"), (100, "below_high"), (51, "below_high"), (50, "below_low"),
    (11, "below_low"), (10, "below_min"), (0, "below_min"),
])
def test_zone_state_is_strict(free, expected):
    assert zone_state(free, 10, 50, 100, 1000) == expected


def test_empty_zone_with_watermarks_is_empty_not_below_min():
    doc = summary("this-vm-6.18.44-live")
    movable = next(z for z in doc["zones"] if z["zone"] == "Movable")
    assert movable["free"] == 0 and movable["min"] > 0
    assert movable["state"] == "empty"
    assert movable["headroom"] is None  # no headroom, not free - low < 0


@pytest.mark.parametrize("command", ["summary", "zones", "report"])
def test_empty_zones_have_no_headroom_anywhere(command):
    """null in JSON, '-' in tables, no sample in Prometheus: an alert on
    min(memscope_zone_headroom_bytes) < 0 must not fire forever for an empty zone."""
    import json

    from conftest import run_memscope

    root = FIXTURES / "this-vm-6.18.44-live"
    r = run_memscope(command, "--root", root, "--format", "prom")
    assert r.returncode == 0, r.stderr
    headroom = [line for line in r.stdout.splitlines()
                if line.startswith("memscope_zone_headroom_bytes{")]
    assert headroom and not any('zone="Movable"' in line for line in headroom)
    assert min(int(line.rsplit(" ", 1)[1]) for line in headroom) >= 0
    if command != "report":
        doc = json.loads(run_memscope(command, "--root", root, "--format", "json").stdout)
        empty = [z for z in doc["zones"] if z["state"] == "empty"]
        assert empty and all(z["headroom"] is None for z in empty)


def test_two_nodes():
    doc = summary("pcp-qa-meminfo-root-002-numa2")
    assert [(z["node"], z["zone"]) for z in doc["zones"]] == [
        (0, "DMA"), (0, "DMA32"), (0, "Normal"), (1, "Normal")]


def test_vendor_lines_noted():
    codes = [n["code"] for n in summary("pixel8pro-android-arm64")["notes"]]
    assert "unknown_fields" in codes
    codes = [n["code"] for n in summary("kindle-arm-2.6.31")["notes"]]
    assert "unknown_lines_skipped" in codes


@pytest.mark.parametrize("host, floor", [
    ("this-vm-6.18.44-fc-v657", "6.12"),        # promo
    ("chromeos-n100-6.6", "5.3"),               # VmallocUsed counts pages, no zoneinfo
    ("rhcos-sosreport-rhel8-4.18", "4.4"),      # VmallocUsed 0, VmallocChunk 0
    ("pcp-qa-meminfo-root-002-numa2", "3.14"),  # MemAvailable
    ("ubuntu1404-proc-snapshot-3.13", "2.6.32"),
    ("kindle-arm-2.6.31", None),
])
def test_kernel_floor_from_fields(host, floor):
    from memscope.model.kernel import kernel_floor

    inp = collect_system(Root(str(FIXTURES / host)))
    assert kernel_floor(inp.meminfo, inp.zoneinfo)[0] == floor
