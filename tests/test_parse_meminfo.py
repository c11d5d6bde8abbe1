"""parse_meminfo: whole record, every fixture, malformed input."""

from __future__ import annotations

import pytest

from conftest import FIXTURES, fixture_hosts
from memscope.errors import ParseError
from memscope.parsers.meminfo import parse_meminfo

THIS_VM = {
    "MemTotal": 24684092 * 1024,
    "MemFree": 24258212 * 1024,
    "MemAvailable": 24299476 * 1024,
    "Buffers": 2068 * 1024,
    "Cached": 204564 * 1024,
    "SwapCached": 0 * 1024,
    "Active": 92672 * 1024,
    "Inactive": 111456 * 1024,
    "Active(anon)": 1528 * 1024,
    "Inactive(anon)": 4824 * 1024,
    "Active(file)": 91144 * 1024,
    "Inactive(file)": 106632 * 1024,
    "Unevictable": 13716 * 1024,
    "Mlocked": 12816 * 1024,
    "SwapTotal": 0 * 1024,
    "SwapFree": 0 * 1024,
    "Zswap": 0 * 1024,
    "Zswapped": 0 * 1024,
    "Dirty": 276 * 1024,
    "Writeback": 0 * 1024,
    "AnonPages": 11212 * 1024,
    "Mapped": 10876 * 1024,
    "Shmem": 8856 * 1024,
    "KReclaimable": 116788 * 1024,
    "Slab": 144380 * 1024,
    "SReclaimable": 116788 * 1024,
    "SUnreclaim": 27592 * 1024,
    "KernelStack": 1396 * 1024,
    "PageTables": 1744 * 1024,
    "SecPageTables": 0 * 1024,
    "NFS_Unstable": 0 * 1024,
    "Bounce": 0 * 1024,
    "WritebackTmp": 0 * 1024,
    "CommitLimit": 12342044 * 1024,
    "Committed_AS": 57852 * 1024,
    "VmallocTotal": 34359738367 * 1024,
    "VmallocUsed": 14204 * 1024,
    "VmallocChunk": 0 * 1024,
    "Percpu": 976 * 1024,
    "AnonHugePages": 0 * 1024,
    "ShmemHugePages": 0 * 1024,
    "ShmemPmdMapped": 0 * 1024,
    "FileHugePages": 0 * 1024,
    "FilePmdMapped": 0 * 1024,
    "Balloon": 0 * 1024,
    "HugePages_Total": 0,
    "HugePages_Free": 0,
    "HugePages_Rsvd": 0,
    "HugePages_Surp": 0,
    "Hugepagesize": 2048 * 1024,
    "Hugetlb": 0 * 1024,
    "DirectMap4k": 30720 * 1024,
    "DirectMap2M": 2066432 * 1024,
    "DirectMap1G": 25165824 * 1024,
}


def read(host):
    return (FIXTURES / host / "proc" / "meminfo").read_text()


def test_whole_record_6_18():
    mi = parse_meminfo(read("this-vm-6.18.44-fc-v657"))
    assert mi.fields == THIS_VM
    assert list(mi.fields) == list(THIS_VM)  # file order kept
    assert mi.unknown_fields == []
    assert mi.skipped == []


@pytest.mark.parametrize("host", fixture_hosts())
def test_every_fixture_parses(host):
    mi = parse_meminfo(read(host))
    assert mi["MemTotal"] > 0
    assert all(isinstance(v, int) and v >= 0 for v in mi.fields.values())


def test_kindle_vendor_section_is_skipped_and_reported():
    mi = parse_meminfo(read("kindle-arm-2.6.31"))
    assert mi["VmallocChunk"] == 576136 * 1024
    assert "Shmem" not in mi and "MemAvailable" not in mi
    assert len(mi.skipped) == 17
    assert mi.skipped[0] == (32, "=================================")
    assert mi.skipped[1][1].startswith("Total RAM:")


def test_android_vendor_fields_are_kept_and_named():
    mi = parse_meminfo(read("pixel8pro-android-arm64"))
    assert mi.unknown_fields == ["Gpu", "ION_heap_pool", "ION_heap", "Zram", "Misc"]
    assert mi["Gpu"] == 526620 * 1024


def test_counts_stay_counts():
    mi = parse_meminfo(read("rhel8-server-hugepages-1g"))
    assert mi["HugePages_Total"] == 160
    assert mi["HugePages_Free"] == 140
    assert mi["Hugepagesize"] == 1048576 * 1024


@pytest.mark.parametrize("text, line, message", [
    ("", 1, "empty"),
    ("   \n\n", 1, "empty"),
    ("MemTotal: 1 kB\n\x00\x01\x02garbage", 2, "binary data"),
    ("MemTotal:       1000 kB\nMemFree:        abc kB\n", 2, "'abc' is not a number"),
    ("MemTotal:       1000 kB\nMemFree:        12\n", 2, "expected a value in kB"),
    ("MemTotal:       1000 kB\nMemFree:        -12 kB\n", 2, "negative"),
    ("MemTotal:       1000 kB\nMemFree:        1 kB\nMemFree:        1 kB\n", 3, "duplicate"),
    ("MemTotal:       1000 kB\nHugePages_Total:   1 kB\n", 2, "unexpected unit"),
    ("MemTotal:       1000 kB\nMemFree:\n", 2, "malformed line"),
    ("MemFree:        1000 kB\nCached:         10 kB\n", None, "no MemTotal line"),
    ("MemTotal:       1000 kB\nMemFree:        1000 kB extra\n", 2, "malformed line"),
    ("MemTot", None, "no MemTotal line"),  # truncated
])
def test_malformed(text, line, message):
    with pytest.raises(ParseError) as info:
        parse_meminfo(text)
    assert info.value.line == line
    assert message in info.value.message


def test_non_ascii_digits_are_not_numbers():
    with pytest.raises(ParseError) as info:
        parse_meminfo("MemTotal:       ١٠٠ kB\n")
    assert info.value.line == 1


def test_memtotal_zero_is_malformed():
    """Every share and verdict divides by MemTotal: 0 is not a running kernel's meminfo
    (check said CRITICAL on it)."""

    with pytest.raises(ParseError, match="MemTotal is 0"):
        parse_meminfo("MemTotal: 0 kB\nMemFree: 0 kB\n")
