"""parse_smaps, parse_smaps_rollup, parse_status, parse_cmdline, parse_mounts:
whole records across eras, every fixture, malformed input."""

from __future__ import annotations

import pytest

from conftest import FIXTURES
from memscope.errors import ParseError
from memscope.parsers.mounts import parse_mounts
from memscope.parsers.smaps import _parse_lines, _to_columns, parse_smaps, parse_smaps_rollup
from memscope.parsers.cmdline import parse_cmdline
from memscope.parsers.status import parse_status, unescape_name

KB = 1024
ALL = sorted(FIXTURES.glob("*/proc/*/smaps")), sorted(FIXTURES.glob("*/proc/*/smaps_rollup")), \
    sorted(FIXTURES.glob("*/proc/*/status"))


def rel(p):
    return str(p.relative_to(FIXTURES))


def test_rollup_4_14_era_whole_record():
    fields = parse_smaps_rollup((FIXTURES / "procfs-fixtures/proc/26231/smaps_rollup")
                                .read_text())
    assert fields == {k: v * KB for k, v in {
        "Rss": 29948, "Pss": 29944, "Shared_Clean": 4, "Shared_Dirty": 0,
        "Private_Clean": 15548, "Private_Dirty": 14396, "Referenced": 24752,
        "Anonymous": 20756, "LazyFree": 5848, "AnonHugePages": 0, "ShmemPmdMapped": 0,
        "Shared_Hugetlb": 0, "Private_Hugetlb": 0, "Swap": 1940, "SwapPss": 1940,
        "Locked": 0}.items()}


def test_rollup_6_18_whole_record():
    fields = parse_smaps_rollup((FIXTURES / "this-vm-6.18.44-fc-v657/proc/19124/smaps_rollup")
                                .read_text())
    assert fields == {k: v * KB for k, v in {
        "Rss": 87188, "Pss": 85858, "Pss_Dirty": 80148, "Pss_Anon": 74516, "Pss_File": 5710,
        "Pss_Shmem": 5632, "Shared_Clean": 1636, "Shared_Dirty": 0, "Private_Clean": 5404,
        "Private_Dirty": 80148, "Referenced": 87188, "Anonymous": 74516, "KSM": 0,
        "LazyFree": 0, "AnonHugePages": 61440, "ShmemPmdMapped": 0, "FilePmdMapped": 0,
        "Shared_Hugetlb": 0, "Private_Hugetlb": 0, "Swap": 0, "SwapPss": 0,
        "Locked": 1024}.items()}


def test_smaps_3_13_whole_first_and_last_records():
    smaps = parse_smaps((FIXTURES / "ubuntu1404-proc-snapshot-3.13/proc/16235/smaps")
                        .read_text())
    assert len(smaps) == 42
    assert smaps.headers[0].split() == ["00400000-0041f000", "r-xp", "00000000", "08:01",
                                        "24379500", "/bin/cp"]
    # the counters memscope reads (SUMMED_FIELDS), in kB; Referenced and the page sizes not
    first = {k: col[0] for k, col in smaps.columns.items()}
    assert first == {"Size": 124, "Rss": 88, "Pss": 88,
                     "Shared_Clean": 0, "Shared_Dirty": 0,
                     "Private_Clean": 88, "Private_Dirty": 0,
                     "Anonymous": 0, "AnonHugePages": 0, "Swap": 0, "Locked": 0}
    assert smaps.vmflags[0].split() == ["rd", "ex", "mr", "mw", "me", "dw", "sd"]
    assert smaps.headers[-1].endswith(" [vsyscall]")
    assert smaps.totals()["Rss"] == sum(smaps.columns["Rss"]) * KB


def test_smaps_arm_4_1_sysv_and_two_heaps():
    maps = parse_smaps((FIXTURES / "zte-f680-ont-armv7-4.1/proc/606/smaps").read_text())
    paths = [m.split(None, 5)[5] if len(m.split(None, 5)) > 5 else "" for m in maps.headers]
    assert paths.count("[heap]") == 2
    assert any(p.startswith("/SYSV0000aaaa") for p in paths)


@pytest.mark.parametrize("path", ALL[0], ids=rel)
def test_every_smaps_parses_and_fast_equals_strict(path):
    text = path.read_text()
    fast = parse_smaps(text)
    strict = _to_columns(_parse_lines(text, 1))
    assert fast.columns == strict.columns
    assert len(fast) == len(strict) > 0


@pytest.mark.parametrize("path", ALL[1], ids=rel)
def test_every_rollup_parses(path):
    fields = parse_smaps_rollup(path.read_text())
    assert fields["Rss"] >= fields["Pss"] >= 0


@pytest.mark.parametrize("path", ALL[2], ids=rel)
def test_every_status_parses(path):
    st = parse_status(path.read_text())
    assert st.name and st.uids and st.has_mm


def test_status_eras():
    old = parse_status((FIXTURES / "pcp-qa-procpid-2.6.32/proc/2887/status").read_text())
    assert (old.name, old.uids, old.fields["VmRSS"]) == \
        ("qemu-kvm", [107, 107, 107, 107], 1797236 * KB)
    assert "RssAnon" not in old.fields
    new = parse_status((FIXTURES / "this-vm-6.18.44-fc-v657/proc/19124/status").read_text())
    assert (new.name, new.uids) == \
        ("python3", [0, 0, 0, 0])
    assert {k: new.fields[k] // KB for k in ("VmSize", "VmRSS", "RssAnon", "RssFile",
                                             "RssShmem", "VmSwap", "HugetlbPages")} == \
        {"VmSize": 316652, "VmRSS": 87188, "RssAnon": 74516, "RssFile": 7040,
         "RssShmem": 5632, "VmSwap": 0, "HugetlbPages": 0}


def test_rollup_equals_summed_smaps_within_truncation():
    host = FIXTURES / "this-vm-6.18.44-fc-v657/proc/19124"
    rollup = parse_smaps_rollup((host / "smaps_rollup").read_text())
    summed = parse_smaps((host / "smaps").read_text()).totals()
    # the two files were read moments apart: the process grew by a few pages in between
    assert abs(summed["Rss"] - rollup["Rss"]) < 1024 * KB
    assert abs(rollup["Pss"] - summed["Pss"]) < 1024 * KB


@pytest.mark.parametrize("text, line, message", [
    ("garbage\n", 1, "expected a mapping header"),
    ("00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nSize: 4 kB\nRss: x kB\nPss: 0 kB\n", 3,
     "Rss: expected 'N kB'"),
    ("00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nSize: 4 kB\nRss: 4 kB\nRss: 4 kB\n", 4,
     "duplicate"),
    ("00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nSize: 4 kB\nPss: 4 kB\n", 1,
     "no Rss line"),
    ("0040zzzz-00401000 r-xp 00000000 08:01 1 /bin/x\nRss: 4 kB\n", 1, "malformed mapping"),
    ("00400000-00401000 r-xp\nRss: 4 kB\n", 1, "malformed mapping header"),
    ("00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nRss: 4 kB\n\x00", 3, "binary"),
])
def test_smaps_malformed(text, line, message):
    with pytest.raises(ParseError) as info:
        parse_smaps(text)
    assert info.value.line == line
    assert message in info.value.message


def test_smaps_unknown_lines_are_tolerated():
    text = ("00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nSize: 4 kB\nRss: 4 kB\n"
            "Pss: 4 kB\nNewCounter: 4 kB\nsomething else entirely\nVmFlags: rd ex\n")
    smaps = parse_smaps(text)
    assert smaps.columns["Rss"] == [4] and smaps.vmflags == ["rd ex"]


def test_rollup_malformed():
    assert parse_smaps_rollup("") is None
    with pytest.raises(ParseError) as info:
        parse_smaps_rollup("00400000-ffffffffff601000 ---p 00000000 00:00 0   [rollup]\n"
                           "Pss: 4 kB\n")
    assert "no Rss line" in info.value.message


@pytest.mark.parametrize("text, line", [
    ("Name:\tx\nVmRSS:\t12 MB\n", 2), ("Name:\tx\nVmRSS:\tabc kB\n", 2),
    ("Name:\tx\nUid:\t0\t0\n", 2), ("VmRSS:\t12 kB\n", None), ("", 1),
    ("Name:\tx\nVmRSS:\t1 kB\nVmRSS:\t1 kB\n", 3),
])
def test_status_malformed(text, line):
    with pytest.raises(ParseError) as info:
        parse_status(text)
    assert info.value.line == line


def test_status_name_unescaping():
    assert unescape_name(r"a\nb\\c") == "a\nb\\c"
    assert unescape_name(r"x\012y\134z") == "x\ny\\z"
    st = parse_status("Name:\tevil) \\n name\nUid:\t0\t0\t0\t0\nVmSize:\t4 kB\n")
    assert st.name == "evil) \n name"


def test_cmdline():
    assert parse_cmdline(b"python3\x00-c\x00pass\x00") == "python3 -c pass"
    assert parse_cmdline(b"a\xff\x00") == "a\udcff"  # lossless: surrogateescape


def test_mounts():
    rows = parse_mounts("tmpfs /dev/shm tmpfs rw 0 0\n/dev/x /mnt/my\\040disk ext4 rw 0 0\n"
                        "short line\n")
    assert rows == [("tmpfs", "/dev/shm", "tmpfs", "rw"), ("/dev/x", "/mnt/my disk", "ext4", "rw")]
