"""Hostile input for every parser: arbitrary text and mutated real fixtures never raise
anything but memscope's own ParseError, and no parser is quadratic on long input."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from memscope.errors import ParseError
from memscope.parsers.buddyinfo import parse_buddyinfo
from memscope.parsers.ipc import parse_sysvipc_shm
from memscope.parsers.kconfig import parse_kconfig
from memscope.parsers.memcg import parse_flat_keyed, parse_value
from memscope.parsers.meminfo import parse_meminfo
from memscope.parsers.mounts import parse_mounts
from memscope.parsers.pressure import parse_pressure
from memscope.parsers.slabinfo import parse_slabinfo
from memscope.parsers.smaps import parse_smaps, parse_smaps_rollup
from memscope.parsers.status import parse_status
from memscope.parsers.sysctl import parse_number, parse_numbers
from memscope.parsers.vmallocinfo import parse_vmallocinfo
from memscope.parsers.vmstat import parse_vmstat
from memscope.parsers.zoneinfo import parse_zoneinfo
from memscope.parsers.arcstats import parse_arcstats
from memscope.parsers.zram import parse_mm_stat

VIEWS = FIXTURES / "this-vm-6.18.44-kernel-views"
LIVE = FIXTURES / "this-vm-6.18.44-live"
# parser -> a real file of its kind
PARSERS = {
    parse_meminfo: LIVE / "proc/meminfo",
    parse_zoneinfo: LIVE / "proc/zoneinfo",
    parse_vmstat: LIVE / "proc/vmstat",
    parse_pressure: FIXTURES / "pcp-qa-pressure-root-001/proc/pressure/memory",
    parse_buddyinfo: LIVE / "proc/buddyinfo",
    parse_vmallocinfo: FIXTURES / "rhcos-sosreport-rhel8-4.18/proc/vmallocinfo",
    parse_slabinfo: VIEWS / "proc/slabinfo",
    parse_smaps: FIXTURES / "this-vm-6.18.44-fc-v657/proc/self/smaps",
    parse_smaps_rollup: FIXTURES / "this-vm-6.18.44-fc-v657/proc/19124/smaps_rollup",
    parse_status: FIXTURES / "this-vm-6.18.44-fc-v657/proc/19124/status",
    parse_mounts: VIEWS / "proc/self/mounts",
    parse_flat_keyed: FIXTURES / "ubuntu-vm-cgroup2-6.14/sys/fs/cgroup/memory.stat",
    parse_value: FIXTURES / "container-cgroup1-256m/sys/fs/cgroup/memory/memory.usage_in_bytes",
    parse_arcstats: FIXTURES / "constructed-zram-zfs/proc/spl/kstat/zfs/arcstats",
    parse_mm_stat: FIXTURES / "constructed-zram-zfs/sys/block/zram0/mm_stat",
    parse_number: VIEWS / "proc/sys/vm/min_free_kbytes",
    parse_numbers: VIEWS / "proc/sys/vm/lowmem_reserve_ratio",
    parse_kconfig: None,
    parse_sysvipc_shm: None,
}
SAMPLES = {
    parse_kconfig: "CONFIG_VMAP_STACK=y\n# CONFIG_HIGHMEM is not set\nCONFIG_X=\"a b\"\n",
    parse_sysvipc_shm: "       key      shmid perms       size  cpid  lpid nattch   uid   gid  "
                       "cuid  cgid      atime      dtime      ctime        rss       swap\n"
                       "1836412275          7   600    4194304  1234  1234      1     0     0 "
                       "    0     0          0          0 1763812345    4194304          0\n",
}


def sample(parser):
    path = PARSERS[parser]
    return path.read_text() if path is not None else SAMPLES[parser]


def only_parse_error(parser, text):
    try:
        parser(text)
    except ParseError:
        pass


ALL = list(PARSERS)
ids = [p.__name__ for p in ALL]


@pytest.mark.parametrize("parser", ALL, ids=ids)
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes(parser, data):
    only_parse_error(parser, data.decode("utf-8", "replace"))


@pytest.mark.parametrize("parser", ALL, ids=ids)
@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789abcdefkBxN -:=()/_.,\n\t\r[]"
                                                  "Node zone pages free min low high")),
                    max_size=400))
def test_arbitrary_text_in_the_files_alphabet(parser, text):
    only_parse_error(parser, text)


# Digits of other scripts, by ASCII digit: superscript, Arabic-Indic, fullwidth,
# mathematical bold (astral), circled
NON_ASCII_DIGITS = [
    {str(d): c for d, c in enumerate("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077"
                                     "\u2078\u2079")},
    {str(d): chr(0x0660 + d) for d in range(10)},
    {str(d): chr(0xFF10 + d) for d in range(10)},
    {str(d): chr(0x1D7CE + d) for d in range(10)},
    {str(d): chr(0x2460 + d - 1) if d else "\u24ea" for d in range(10)},
]
MUTATION_CLASSES = 18


def mutations(text: str, rng: random.Random):
    """The mutation classes: each yields (class, mutated text)."""
    lines = text.splitlines(keepends=True)
    yield "truncated", text[:rng.randrange(1, max(2, len(text)))]
    raw = bytearray(text.encode())
    for _ in range(8):
        i = rng.randrange(len(raw))
        raw[i] ^= 1 << rng.randrange(8)
    yield "bit_flips", raw.decode("utf-8", "replace")
    shuffled = lines[:]
    rng.shuffle(shuffled)
    yield "shuffled", "".join(shuffled)
    dup = rng.randrange(len(lines))
    yield "duplicated_line", "".join(lines[:dup + 1] + [lines[dup]] + lines[dup + 1:])
    yield "unknown_key", "".join(lines[:1] + ["UnknownKey_42:  12 kB\nzz 1\n"] + lines[1:])
    yield "crlf", text.replace("\n", "\r\n")
    yield "long_line", "".join(lines[:1] + ["x" * 200_000 + "\n"] + lines[1:])
    yield "non_utf8", (b"\xff\xfe" + text.encode() + b"\x80\x81").decode("utf-8", "replace")
    yield "huge_numbers", "".join(
        " ".join(w if not w.isdigit() else "1" + "0" * 40 for w in line.split(" "))
        for line in lines)
    yield "negative", "".join(
        " ".join(w if not w.isdigit() else "-" + w for w in line.split(" ")) for line in lines)
    yield "empty", ""
    yield "nul", text[: len(text) // 2] + "\x00" + text[len(text) // 2:]
    # non-ASCII: digits Python's str.isdigit()/int() accept and the kernel never prints
    yield "non_ascii_digits", "".join(NON_ASCII_DIGITS[i % len(NON_ASCII_DIGITS)].get(ch, ch)
                                      if ch.isdigit() and rng.random() < 0.3 else ch
                                      for i, ch in enumerate(text))
    yield "combining_marks", "".join(ch + "\u0301" if ch.isdigit() and rng.random() < 0.2
                                     else ch for ch in text)
    yield "unicode_line_breaks", "".join(
        line.replace(" ", rng.choice(["\u2028", "\x85", "\u2029", "\x0b", "\x0c", "\u00a0"]),
                     1) if rng.random() < 0.3 else line for line in lines)
    yield "lone_surrogates", "".join(line[:5] + "\udcff\udc80" + line[5:] if rng.random() < 0.3
                                     else line for line in lines)
    for digits in (400, 5000):
        yield f"overlong_numbers_{digits}", "".join(
            " ".join(w if not w.isdigit() else "9" * digits for w in line.split(" "))
            for line in lines)


NON_ASCII = ("\u00b2\u00b3\u00b9\u2070\u0660\u0661\u06f1\u0966\uff10\uff11\U0001d7ce"
             "\u2460\u00bd\u0301\u0300\u2028\u2029\x85\x0b\x0c\u00a0\u200b\ufeff"
             "\udcff\ud800\u202e")


@pytest.mark.parametrize("parser", ALL, ids=ids)
@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789 kB:-\n\t=,()Node zone pages")
                                             + list(NON_ASCII)), max_size=400))
def test_arbitrary_text_with_non_ascii_digits_and_breaks(parser, text):
    only_parse_error(parser, text)


@pytest.mark.parametrize("parser", ALL, ids=ids)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_real_files_with_non_ascii_or_overlong_numbers(parser, data):
    """A real file, some of its numbers replaced by non-ASCII digits or by numbers of
    hundreds to thousands of digits."""
    text = sample(parser)
    words = text.split(" ")
    picks = data.draw(st.lists(st.integers(0, len(words) - 1), max_size=8))
    for i in picks:
        words[i] = data.draw(st.one_of(
            st.text(alphabet=st.sampled_from(list(NON_ASCII) + list("0123456789")),
                    min_size=1, max_size=6),
            st.integers(20, 6000).map(lambda n: "9" * n)))
    only_parse_error(parser, " ".join(words))


@pytest.mark.parametrize("parser", ALL, ids=ids)
def test_mutated_real_files(parser):
    rng = random.Random(parser.__name__)
    text = sample(parser)
    for _round in range(20):
        for _kind, mutated in mutations(text, rng):
            only_parse_error(parser, mutated)


@pytest.mark.parametrize("parser", ALL, ids=ids)
def test_not_quadratic(parser):
    """Ten times the input must not take a hundred times as long."""
    base = sample(parser)
    body = base.split("\n", 1)
    small = base * 20
    large = base * 200
    if parser in (parse_value, parse_mm_stat, parse_smaps_rollup, parse_number,
                  parse_numbers):
        small = body[0] + "\n" + "x" * 20_000 + "\n"
        large = body[0] + "\n" + "x" * 200_000 + "\n"

    def cost(text):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            only_parse_error(parser, text)
            best = min(best, time.perf_counter() - start)
        return best

    t_small, t_large = cost(small), cost(large)
    assert t_large < 30 * t_small + 0.05, (t_small, t_large)
