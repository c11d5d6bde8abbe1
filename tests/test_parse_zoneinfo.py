"""parse_zoneinfo: whole records across eras, every fixture, malformed input."""

from __future__ import annotations

import pytest

from conftest import FIXTURES, fixture_hosts
from memscope.errors import ParseError
from memscope.parsers.zoneinfo import parse_zoneinfo

FIELDS = ("node", "name", "free", "boost", "min", "low", "high", "promo", "spanned",
          "present", "managed", "cma", "protection", "pcp_count")


def read(host):
    return (FIXTURES / host / "proc" / "zoneinfo").read_text()


def records(zi):
    return [tuple(getattr(z, f) for f in FIELDS) for z in zi.zones]


def test_whole_record_6_18():
    zi = parse_zoneinfo(read("this-vm-6.18.44-fc-v657"))
    assert records(zi) == [
        (0, "DMA", 3840, 0, 39, 48, 57, 66, 4095, 3998, 3840, 0,
         [0, 3019, 6475, 6475, 6475], 0),
        (0, "DMA32", 772917, 0, 7859, 9823, 11787, 13751, 1044480, 782336, 772917, 0,
         [0, 0, 3456, 3456, 3456], 0),
        (0, "Normal", 778279, 0, 8997, 11246, 13495, 15744, 5505024, 5505024, 884736, 0,
         [0, 0, 0, 0, 0], 3821 + 4185),
        (0, "Movable", 0, 0, 32, 32, 32, 32, 0, 0, 0, 0, [0, 0, 0, 0, 0], None),
        (0, "Device", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, [0, 0, 0, 0, 0], None),
    ]
    dma = zi.zones[0]
    assert dma.node_stats["nr_inactive_file"] == 26658
    assert dma.node_stats["nr_kernel_stack"] == 1396
    assert dma.stats["nr_free_pages"] == 3840
    assert zi.zones[1].node_stats is None
    assert zi.node_stat("nr_isolated_anon") == 0
    assert zi.skipped == []


def test_whole_record_3_4_highmem():
    """Old format: no managed, 'scanned', stats before protection, no per-node block."""
    zi = parse_zoneinfo(read("goclever-i5-android-arm32-3.4"))
    assert records(zi) == [
        (0, "Normal", 38277, None, 696, 870, 1044, None, 122368, 121412, None, None,
         [0, 4038, 4038], 145),
        (0, "HighMem", 13452, None, 126, 311, 496, None, 136448, 129238, None, None,
         [0, 0, 0], 160),
    ]
    assert zi.zones[0].scanned == 0
    # before 4.8 the node counters live in each zone: node_stat sums the zones' copies
    assert zi.node_stat("nr_inactive_file") == 48415 + 21947


def test_two_nodes_with_empty_zones():
    zi = parse_zoneinfo(read("pcp-qa-meminfo-root-007-numa2"))
    assert [(z.node, z.name) for z in zi.zones] == [
        (0, "DMA"), (0, "DMA32"), (0, "Normal"), (0, "Movable"), (0, "Device"),
        (1, "DMA"), (1, "DMA32"), (1, "Normal"), (1, "Movable"), (1, "Device")]
    assert [z.managed for z in zi.zones] == [3840, 503771, 507637, 0, 0, 0, 0, 1020184, 0, 0]
    assert [z.node_stats is not None for z in zi.zones].count(True) == 2
    assert zi.zones[3].pcp_count is None  # short form: no pagesets


def test_rhel8_nameless_counter_is_skipped_and_reported():
    zi = parse_zoneinfo(read("rhcos-sosreport-rhel8-4.18"))
    assert zi.skipped == [(30, "                   537792")]
    assert zi.zones[0].free == 3975


@pytest.mark.parametrize("host", fixture_hosts("proc/zoneinfo"))
def test_every_fixture_parses(host):
    zi = parse_zoneinfo(read(host))
    assert zi.zones
    for z in zi.zones:
        assert z.min <= z.low <= z.high
        assert z.present <= z.spanned


GOOD = """Node 0, zone   Normal
  pages free     100
        min      1
        low      2
        high     3
        spanned  10
        present  10
        managed  10
        protection: (0, 0)
"""


@pytest.mark.parametrize("text, line, message", [
    ("", 1, "empty"),
    ("\x7fELF\x00\x00", 1, "binary data"),
    ("garbage first line\n" + GOOD, 1, "expected a 'Node N, zone NAME' line"),
    ("Node zero, zone Normal\n", 1, "malformed zone header"),
    (GOOD.replace("min      1", "min      x"), 3, "'x' is not a number"),
    (GOOD.replace("pages free     100", "pages free     1e3"), 2, "'1e3' is not a number"),
    (GOOD.replace("protection: (0, 0)", "protection: 0, 0"), 9, "protection"),
    (GOOD.replace("protection: (0, 0)", "protection: (0, zz)"), 9, "'zz' is not a number"),
    (GOOD.replace("        high     3\n", ""), 1, "no 'high' line"),
    ("Node 0, zone   Normal\n  pages free     100\n        min      1\n", 1, "no 'low' line"),
    (GOOD.replace("        min      1\n", "        min      1\n        min      1\n"), 4,
     "duplicate"),
])
def test_malformed(text, line, message):
    with pytest.raises(ParseError) as info:
        parse_zoneinfo(text)
    assert info.value.line == line
    assert message in info.value.message
