"""Live tests on this machine's kernel: memscope against free(1), psutil and the kernel's own
MemAvailable. Each peer reads /proc/meminfo at its own instant, so figures that move are
compared after a retry and within the churn of a few MiB; figures that don't move, exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import run_memscope
from memscope.collect.system import collect_system
from memscope.model.system import build_summary
from memscope.sources import Root

pytestmark = pytest.mark.skipif(not os.path.isfile("/proc/meminfo"),
                                reason="needs a Linux /proc")
CHURN = 8 * 1024 * 1024  # bytes other processes may allocate between two reads


def live_summary():
    return build_summary(collect_system(Root("/")))


def free_b():
    out = subprocess.run(["free", "-b", "-w"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    mem = out[1].split()
    swap = out[2].split()
    return ({"total": int(mem[1]), "used": int(mem[2]), "free": int(mem[3]),
             "shared": int(mem[4]), "buffers": int(mem[5]), "cache": int(mem[6]),
             "available": int(mem[7])},
            {"total": int(swap[1]), "used": int(swap[2]), "free": int(swap[3])})


def _procps_version():
    if shutil.which("free") is None:
        return None
    out = subprocess.run(["free", "--version"], capture_output=True, text=True).stdout
    digits = out.strip().split()[-1].split(".")
    try:
        return tuple(int(d) for d in digits[:3])
    except ValueError:
        return None


@pytest.mark.skipif((_procps_version() or (0,)) < (4, 0, 1),
                    reason="needs procps-ng free >= 4.0.1 (used = total - available)")
def test_agrees_with_free():
    for _attempt in range(5):
        mem, swap = free_b()
        doc = live_summary()
        ours = doc["memory"]
        if all(abs(ours[k] - mem[k]) <= CHURN for k in mem):
            break
    for key in ("total",):
        assert ours[key] == mem[key]
    for key in ("used", "free", "shared", "buffers", "cache", "available"):
        assert abs(ours[key] - mem[key]) <= CHURN, key
    assert doc["swap"]["total"] == swap["total"]
    assert {k: doc["swap"][k] for k in ("total", "used", "free")} == swap


def test_agrees_with_psutil():
    psutil = pytest.importorskip("psutil")
    for _attempt in range(5):
        vm = psutil.virtual_memory()
        doc = live_summary()
        if abs(doc["memory"]["available"] - vm.available) <= CHURN:
            break
    mi = doc["meminfo"]
    assert doc["memory"]["total"] == vm.total == mi["MemTotal"]
    assert abs(doc["memory"]["available"] - vm.available) <= CHURN
    assert abs(doc["memory"]["free"] - vm.free) <= CHURN
    assert abs(doc["memory"]["buffers"] - vm.buffers) <= CHURN
    assert abs(doc["memory"]["shared"] - vm.shared) <= CHURN
    sw = psutil.swap_memory()
    assert doc["swap"]["total"] == sw.total


def test_memavailable_rebuilt_matches_the_kernel():
    """meminfo and zoneinfo read back to back: the rebuild equals the kernel's to the kB."""
    for _attempt in range(10):
        doc = live_summary()
        ex = doc["available_explained"]
        if ex["estimate"] == ex["kernel"]:
            break
    assert ex["estimate"] == ex["kernel"] == doc["meminfo"]["MemAvailable"]
    # the formula named is the one whose terms give the kernel's figure (not "the one this
    # machine happens to use"): free - reserve + page cache kept + reclaimable kept
    assert ex["formula"] in ("totalreserve", "sum_low")
    assert (ex["free"] - ex["reserve"] + ex["pagecache_kept"] + ex["reclaimable_kept"]
            == ex["kernel"])
    assert "available_rebuild_differs" not in [n["code"] for n in doc["notes"]]


def test_live_breakdown_sums_and_page_counters_match_meminfo():
    doc = live_summary()
    total = doc["memory"]["total"]
    assert sum(c["bytes"] for c in doc["breakdown"]) == total
    # the remainder is what the kernel's own counters leave: MemTotal less every category,
    # each category the kernel's figure; negative only with the note that says why
    unaccounted = doc["breakdown"][-1]
    assert unaccounted["category"] == "unaccounted"
    by = {c["category"]: c["bytes"] for c in doc["breakdown"]}
    mi = doc["meminfo"]
    assert by["free"] == mi["MemFree"]
    assert by["slab_reclaimable"] == mi["SReclaimable"]
    assert by["slab_unreclaimable"] == mi["SUnreclaim"]
    assert by["kernel_stack"] == mi["KernelStack"]
    assert by["percpu"] == mi["Percpu"]
    assert by["hugetlb"] == mi["Hugetlb"]
    assert unaccounted["bytes"] == total - sum(c["bytes"] for c in doc["breakdown"][:-1])
    assert unaccounted["bytes"] >= 0 or "unaccounted_negative" in [
        n["code"] for n in doc["notes"]]
    assert doc["source"]["root"] == "/" and doc["source"]["taken_at"]
    assert doc["source"]["kernel"] == os.uname().release


def test_live_zones_equal_zoneinfo():
    doc = live_summary()
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/zoneinfo") as f:
        text = f.read()
    names = [line.split()[-1] for line in text.splitlines() if line.startswith("Node")]
    assert [z["zone"] for z in doc["zones"]] == names
    lows = [int(line.split()[1]) * page for line in text.splitlines()
            if line.strip().startswith("low ")]
    assert [z["low"] for z in doc["zones"]] == lows


def test_live_cli_json():
    r = run_memscope("summary", "--format", "json")
    assert r.returncode == 0 and r.stderr == ""
    assert json.loads(r.stdout)["schema_version"] == 1
