"""parse_vmstat, parse_pressure, parse_kconfig: whole records and malformed input."""

from __future__ import annotations

import gzip

import pytest

from conftest import FIXTURES
from memscope.errors import ParseError
from memscope.parsers.kconfig import parse_kconfig
from memscope.parsers.pressure import parse_pressure
from memscope.parsers.vmstat import parse_vmstat

LIVE = FIXTURES / "this-vm-6.18.44-live" / "proc"


def test_vmstat_whole_file():
    text = (LIVE / "vmstat").read_text()
    vm = parse_vmstat(text)
    assert len(vm) == len(text.splitlines())
    assert vm["nr_memmap_boot_pages"] == 98304
    assert vm["nr_isolated_anon"] == 0 and vm["nr_zspages"] == 0


@pytest.mark.parametrize("text, line", [
    ("", 1), ("nr_free_pages\n", 1), ("nr_free_pages 12 13\n", 1),
    ("nr_free_pages x\n", 1), ("a 1\na 2\n", 2), ("a 1\n\x00", 2),
])
def test_vmstat_malformed(text, line):
    with pytest.raises(ParseError) as info:
        parse_vmstat(text)
    assert info.value.line == line


def test_pressure_heavy():
    psi = parse_pressure((FIXTURES / "pcp-qa-pressure-root-001/proc/pressure/memory")
                         .read_text())
    assert psi["some"]["avg10"] == 70.24
    assert psi["full"]["avg10"] == 57.59
    assert isinstance(psi["some"]["total_us"], int) and psi["some"]["total_us"] > 10**9


def test_pressure_idle_whole_record():
    assert parse_pressure((LIVE / "pressure" / "memory").read_text()) == {
        "some": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total_us": 0},
        "full": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total_us": 0},
    }


@pytest.mark.parametrize("text, line", [
    ("", 1),
    ("some avg10=x avg60=0.00 avg300=0.00 total=0\n", 1),
    ("some avg10=0.00 avg60=0.00 total=0\n", 1),
    ("some avg10=0.00 avg60=0.00 avg300=0.00 total=-\n", 1),
    ("some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nsome avg10=0.00 avg60=0.00 "
     "avg300=0.00 total=1\n", 2),
    ("full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", None),
    ("some avg10 avg60=0.00 avg300=0.00 total=1\n", 1),
])
def test_pressure_malformed(text, line):
    with pytest.raises(ParseError) as info:
        parse_pressure(text)
    assert info.value.line == line


def test_kconfig_vmap_stack():
    config = parse_kconfig(gzip.decompress((LIVE / "config.gz").read_bytes()).decode())
    assert config["CONFIG_VMAP_STACK"] == "y"
    assert "CONFIG_HIGHMEM" not in config


def test_sysctl_values():
    from memscope.errors import ParseError
    from memscope.parsers.sysctl import parse_number, parse_numbers

    assert parse_number("67584\n") == 67584
    assert parse_numbers("256\t256\t32\t0\t0\n") == [256, 256, 32, 0, 0]
    for bad in ("", "12 13\n", "1x\n", "1\n2\n", "²\n"):
        with pytest.raises(ParseError):
            parse_number(bad)


def test_parse_maps():
    from memscope.parsers.maps import MapsLine, parse_maps

    text = (FIXTURES / "this-vm-6.18.44-hugetlb-shm/proc/4822/maps").read_text()
    lines = parse_maps(text)
    sysv = next(m for m in lines if m.path.startswith("/SYSV"))
    assert sysv == MapsLine(0x7ffff7a00000, 0x7ffff7e00000, "rw-s", 0, "00:11", 5,
                            "/SYSV00003039 (deleted)")
    assert [m.path for m in lines if not m.inode][-1] == "[vsyscall]"
    assert parse_maps("") == []
    # a newline in a name is the kernel's only escape (\012), read back as the newline
    escaped = parse_maps("7f00-7f10 rw-s 00000000 00:01 5 /memfd:a\\012b (deleted)\n")[0]
    assert escaped.path == "/memfd:a\nb (deleted)"
    anon = parse_maps("7f00-7f10 rw-p 00000000 00:00 0 \n")[0]
    assert anon.path == "" and anon.end == 0x7f10
    for bad in ("7f00 rw-p 0 00:00 0\n", "7f00-7f10 rw-p 00000000 00:00 x /a\n",
                "zz-7f10 rw-p 0 00:00 0\n", "7f00-7f10 rw 0 00:00 0\n",
                "7f00-7f10 rw-p 0 0000 0\n", "7f00-7f10 rw-p 0 00:00 \uff11\n"):
        with pytest.raises(ParseError):
            parse_maps(bad)


# What the kernel prints unescaped inside a name and Python's str.splitlines() or str.split()
# would take for a line break or a separator (the kernel cuts lines at "\n" only).
UNESCAPED = ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u2028",
             "\u2029"]


@pytest.mark.parametrize("ch", UNESCAPED, ids=lambda ch: f"U+{ord(ch):04X}")
def test_a_name_holding_a_break_python_knows_stays_whole(ch):
    from memscope.parsers.maps import parse_maps
    from memscope.parsers.memcg import memory_cgroup
    from memscope.parsers.mounts import parse_mounts
    from memscope.parsers.smaps import _parse_lines, _to_columns, parse_smaps

    name = f"/memfd:a{ch}b{ch} (deleted)"
    maps = (f"7f00-7f01 rw-s 00000000 00:01 1234                       {name}\n"
            "7f01-7f02 r--p 00000000 fd:01 99                         /usr/lib/x.so\n")
    assert [m.path for m in parse_maps(maps)] == [name, "/usr/lib/x.so"]
    smaps = "".join(line + "\nSize:                  4 kB\nRss:                   4 kB\n"
                    for line in maps.split("\n")[:2])
    fast, strict = parse_smaps(smaps), _to_columns(_parse_lines(smaps, 1))
    assert len(fast) == len(strict) == 2
    assert fast.headers == strict.headers and fast.headers[0].endswith(name)
    assert memory_cgroup(f"5:memory:/a{ch}b\n0::/x\n") == f"/a{ch}b"
    assert [m[1] for m in parse_mounts(f"tmpfs /mnt/a{ch}b tmpfs rw 0 0\n"
                                       "proc /proc proc rw 0 0\n")] == [f"/mnt/a{ch}b", "/proc"]
