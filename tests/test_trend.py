"""memscope trend: statistics, ordering and breaks, reading (gzip, yaml, corrupt files),
suspects and forecasts, findings, and live series around a worker that leaks at a known
rate (tests/workers/grower.c).

Synthetic histories start from a real report of the development machine
(fixtures/trend/report-this-vm.json) and change, per report, its time (taken_at, uptime,
boot_id) and the figures a test is about; each test says which.
"""

from __future__ import annotations

import copy
import gzip
import json
import math
import os
import random
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import FIXTURES, MiB, run_memscope
from memscope.trend import read
from memscope.trend.build import build_trend
from memscope.trend.findings import trend_findings
from memscope.trend.stats import Accumulator
from memscope.trend.timeline import format_time, parse_when

BASE = json.loads((FIXTURES / "trend" / "report-this-vm.json").read_text())
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
BOOT = "6a49a441-b89b-40f9-b613-ca4f3a18bb20"
GiB = 1024 * MiB
LOW = sum(z["low"] for z in BASE["summary"]["zones"])


def make_report(t, uptime=None, boot_id=BOOT, programs=None, available=20 * GiB,
                cgroups=None, hostname="vm", kernel="6.18.44", schema=1, pids=None,
                swap=None):
    """A copy of the real report with its time and the named figures replaced: top.groups
    hold ``programs`` {name: pss} only; ``cgroups`` {path: (usage, limit)} replace its
    cgroups; ``pids`` {name: pid} gives each program's process in top.processes."""
    doc = copy.deepcopy(BASE)
    doc["schema_version"] = schema
    src = {"root": "/", "hostname": hostname, "kernel": kernel,
           "taken_at": format_time(t), "boot_id": boot_id,
           "uptime": round(uptime if uptime is not None else t - T0 + 100.0, 2)}
    if boot_id is None:
        src.pop("boot_id")
        if uptime is None:
            src.pop("uptime")
    doc["source"] = doc["summary"]["source"] = src
    doc["summary"]["memory"]["available"] = int(available)
    if swap is not None:
        doc["summary"]["swap"].update(total=swap[1], used=swap[0], free=swap[1] - swap[0])
    programs = programs or {}
    doc["top"]["groups"] = [{"key": k, "count": 1, "rss": int(v), "pss": int(v),
                             "uss": int(v), "swap": 0, "pss_missing": 0}
                            for k, v in programs.items()]
    doc["top"]["user_groups"] = []
    proto = doc["top"]["processes"][0]
    doc["top"]["processes"] = [dict(proto, pid=(pids or {}).get(k, 1000 + i), name=k,
                                    pss=int(v)) for i, (k, v) in enumerate(programs.items())]
    if cgroups is not None:
        proto = doc["cgroups"][0]
        doc["cgroups"] = [dict(proto, path=p, usage=int(u), limit=lim)
                          for p, (u, lim) in cgroups.items()]
    return doc


def write(dirpath, name, doc, fmt="json", gz=False):
    if fmt == "json":
        text = json.dumps(doc)
    else:
        import yaml

        text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    data = text.encode()
    path = dirpath / (name + "." + fmt + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def leak_history(dirpath, n=48, step=1800.0, rate=38 * MiB, start=1.1 * GiB, **kw):
    """n reports every ``step`` seconds; program java grows ``rate`` bytes an hour, program
    steady stays at 200 MiB, available falls by the same rate."""
    paths = []
    for i in range(n):
        t = T0 + i * step
        hours = i * step / 3600
        paths.append(write(dirpath, f"r{i:04d}", make_report(
            t, programs={"java": start + rate * hours, "steady": 200 * MiB},
            available=20 * GiB - rate * hours, **kw)))
    return paths


def series(doc, kind, name, segment=None):
    found = [s for s in doc["series"] if s["kind"] == kind and s["name"] == name
             and (segment is None or s["segment"] == segment)]
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------------------------------
# statistics


def test_exact_line_has_its_slope_r2_one_no_error_and_monotonicity_one():
    acc = Accumulator(T0, T0 + 3600)
    for i in range(13):
        acc.add(T0 + i * 300, 5 * GiB + 7 * MiB * i)  # 7 MiB every 5 min
    assert acc.slope() * 3600 == pytest.approx(84 * MiB, rel=1e-12)
    assert acc.r2() == pytest.approx(1.0)
    assert acc.stderr() == pytest.approx(0.0, abs=1e-3)
    assert acc.monotonicity() == 1.0
    assert (acc.first, acc.last, acc.n) == (5 * GiB, 5 * GiB + 84 * MiB, 13)


def test_large_values_do_not_lose_the_slope():
    """2^50 bytes squared is past a double's precision: the co-moments are kept as
    Welford does, so a 1-byte-a-second slope on top of a petabyte comes out exact."""
    acc = Accumulator(0, 1000)
    for i in range(1001):
        acc.add(float(i), float(2 ** 50 + i))
    assert acc.slope() == pytest.approx(1.0, rel=1e-9)
    assert acc.r2() == pytest.approx(1.0, rel=1e-9)


def test_stderr_and_r2_against_the_textbook_formulas():
    rng = random.Random(7)
    ts = [i * 60.0 for i in range(50)]
    ys = [1e9 + 1000.0 * t + rng.gauss(0, 5e6) for t in ts]
    acc = Accumulator(0, ts[-1])
    for t, y in zip(ts, ys):
        acc.add(t, y)
    n = len(ts)
    mt, my = sum(ts) / n, sum(ys) / n
    stt = sum((t - mt) ** 2 for t in ts)
    sty = sum((t - mt) * (y - my) for t, y in zip(ts, ys))
    syy = sum((y - my) ** 2 for y in ys)
    b = sty / stt
    sse = sum((y - my - b * (t - mt)) ** 2 for t, y in zip(ts, ys))
    assert acc.slope() == pytest.approx(b, rel=1e-9)
    assert acc.r2() == pytest.approx(sty * sty / (stt * syy), rel=1e-9)
    assert acc.stderr() == pytest.approx(math.sqrt(sse / (n - 2) / stt), rel=1e-6)


def test_monotonicity_is_net_over_total_movement():
    acc = Accumulator(0, 10)
    for t, y in enumerate([0, 10, 10, 10, 5, 20]):  # up 10, down 5, up 15
        acc.add(t, y)
    assert acc.monotonicity() == pytest.approx((25 - 5) / 30)
    flat = Accumulator(0, 3)
    for t in range(4):
        flat.add(t, 42)
    assert flat.monotonicity() == 0.0 and flat.r2() is None and flat.slope() == 0.0


# ---------------------------------------------------------------------------------------
# suspects and forecasts


def test_a_steady_leak_is_the_first_suspect_with_its_evidence(tmp_path):
    leak_history(tmp_path)
    doc = build_trend([str(tmp_path)])
    assert doc["reports"] == 48 and doc["skipped"] == [] and doc["breaks"] == []
    top = doc["leak_suspects"][0]
    assert (top["kind"], top["name"]) == ("program", "java")
    assert top["rate_bytes_per_hour"] == pytest.approx(38 * MiB, abs=2)
    assert top["r2"] == 1.0
    assert top["first"] == round(1.1 * GiB) and top["since"] == format_time(T0)
    assert top["until"] == format_time(T0 + 47 * 1800)
    assert top["text"] == ("program java: +38 MiB/h for 24 h, R² 1.00, "
                           "1.1 GiB → 2.0 GiB")
    assert "steady" not in {s["name"] for s in doc["leak_suspects"]}
    assert series(doc, "program", "steady")["rate_bytes_per_hour"] == 0
    # the keys the issue gives, suspects most suspicious first
    assert set(doc) >= {"schema_version", "reports", "skipped", "breaks", "series",
                        "leak_suspects", "forecasts"}
    assert set(top) >= {"kind", "name", "rate_bytes_per_hour", "r2", "first", "last",
                        "since", "until"}
    scores = [s["suspicion"] for s in doc["series"]]
    assert scores == sorted(scores, reverse=True)


def test_available_forecast_to_the_low_watermark(tmp_path):
    leak_history(tmp_path)
    doc = build_trend([str(tmp_path)])
    f = next(f for f in doc["forecasts"] if f["what"] == "available")
    current = 20 * GiB - 38 * MiB * 47 * 0.5
    assert f["limit"] == LOW and f["current"] == round(current)
    assert f["status"] == "eta"
    assert f["eta_seconds"] == pytest.approx((current - LOW) / (38 * MiB) * 3600, rel=1e-6)
    assert f["rate_bytes_per_hour"] == pytest.approx(-38 * MiB, abs=2)
    assert set(f) >= {"what", "limit", "eta_seconds", "rate_bytes_per_hour"}


def test_forecast_range_from_the_rates_standard_error(tmp_path):
    """available falls 100 MiB/h with noise: the ETA's range is the remaining bytes over
    rate ± one standard error."""
    rng = random.Random(3)
    for i in range(60):
        t = T0 + i * 600
        write(tmp_path, f"r{i:03d}", make_report(
            t, available=10 * GiB - 100 * MiB * i / 6 + rng.gauss(0, 20 * MiB)))
    doc = build_trend([str(tmp_path)])
    f = next(f for f in doc["forecasts"] if f["what"] == "available")
    rate, se = -f["rate_bytes_per_hour"], f["rate_stderr_bytes_per_hour"]
    assert rate == pytest.approx(100 * MiB, rel=0.05) and 0 < se < rate / 10
    remaining = f["current"] - f["limit"]
    lo, hi = f["eta_range_seconds"]
    assert lo == pytest.approx(remaining / (rate + se) * 3600, rel=1e-4)
    assert hi == pytest.approx(remaining / (rate - se) * 3600, rel=1e-4)
    assert lo < f["eta_seconds"] < hi


def test_flat_or_rising_available_is_not_at_this_rate(tmp_path):
    rng = random.Random(5)
    for i in range(30):
        write(tmp_path, f"r{i:03d}", make_report(
            T0 + i * 300, available=10 * GiB + rng.gauss(0, 50 * MiB)))
    f = next(f for f in build_trend([str(tmp_path)])["forecasts"] if f["what"] == "available")
    assert f["status"] == "not_at_this_rate" and f["eta_seconds"] is None
    assert "not at this rate" in f["text"]


def test_cgroup_reaches_its_effective_limit_and_swap_fills(tmp_path):
    """/app grows 10 MiB/h under no limit of its own but its parent's 1 GiB; /db has 4 GiB
    and is flat; swap fills at 50 MiB/h."""
    for i in range(24):
        h = i * 0.5
        write(tmp_path, f"r{i:03d}", make_report(
            T0 + h * 3600,
            cgroups={"/": (3 * GiB, None), "/svc": (800 * MiB + 10 * MiB * h, GiB),
                     "/svc/app": (500 * MiB + 10 * MiB * h, None),
                     "/db": (2 * GiB, 4 * GiB)},
            swap=(100 * MiB + 50 * MiB * h, 2 * GiB)))
    doc = build_trend([str(tmp_path)])
    by_what = {f["what"]: f for f in doc["forecasts"]}
    app = by_what["cgroup /svc/app"]
    assert app["limit"] == GiB and app["status"] == "eta"
    assert app["eta_seconds"] == pytest.approx((GiB - app["current"]) / (10 * MiB) * 3600,
                                               rel=1e-6)
    assert by_what["cgroup /db"]["status"] == "not_at_this_rate"
    assert "cgroup /" not in by_what  # no limit anywhere above it: nothing to reach
    swap = by_what["swap used"]
    assert swap["limit"] == 2 * GiB
    assert swap["eta_seconds"] == pytest.approx(
        (2 * GiB - (100 * MiB + 50 * MiB * 11.5)) / (50 * MiB) * 3600, rel=1e-6)
    # sooner first
    etas = [f["eta_seconds"] for f in doc["forecasts"] if f["eta_seconds"] is not None]
    assert etas == sorted(etas)


def test_effective_limit_of_odd_paths():
    from memscope.trend.series import effective_limit

    own = {"/": None, "/a": 5.0, "/a/b": 9.0, "/a/b/c": None, "x/y": 1.0, "": 2.0}
    assert effective_limit("/a/b/c", own) == 5.0
    assert effective_limit("/a/b", own) == 5.0
    assert effective_limit("/", own) is None
    assert effective_limit("x/y", own) == 1.0  # not a hierarchy path: its own limit only
    assert effective_limit("", own) == 2.0
    assert effective_limit("odd name", own) is None


def test_an_aggregate_ranks_below_the_program_it_contains(tmp_path):
    """The cgroup holding java grows as java does: java first. A user growing 3× faster
    than any program is not explained by one, and outranks them."""
    for i in range(20):
        h = i * 0.5
        write(tmp_path, f"r{i:03d}", make_report(
            T0 + h * 3600, programs={"java": GiB + 40 * MiB * h},
            cgroups={"/": (5 * GiB, None), "/app": (2 * GiB + 40 * MiB * h, None)}))
    doc = build_trend([str(tmp_path)])
    names = [(s["kind"], s["name"]) for s in doc["leak_suspects"]]
    assert names[0] == ("program", "java")
    assert ("cgroup", "/app") in names


def test_slab_caches_are_followed_when_reports_carry_them(tmp_path):
    """A report with a `slab` section (the `memscope slab` document): each cache is a
    series; a cache that grows steadily is a suspect like a program."""
    for i in range(12):
        doc = make_report(T0 + i * 600)
        doc["slab"] = {"schema_version": 1, "total_bytes": None, "caches": [
            {"name": "kmalloc-256", "bytes": 40 * MiB + 6 * MiB * i},
            {"name": "dentry", "bytes": 80 * MiB, "reclaimable": True},
            {"name": "bad", "bytes": None}]}
        write(tmp_path, f"r{i:02d}", doc, fmt=("json", "yaml")[i % 2])
    doc = build_trend([str(tmp_path)])
    assert series(doc, "slab", "kmalloc-256")["rate_bytes_per_hour"] == pytest.approx(
        36 * MiB, abs=2)
    assert series(doc, "slab", "dentry")["points"] == 12
    assert not [s for s in doc["series"] if s["name"] == "bad"]
    assert ("slab", "kmalloc-256") in [(s["kind"], s["name"]) for s in doc["leak_suspects"]]
    assert {s["kind"] for s in build_trend([str(tmp_path)], by="slab")["series"]} == {"slab"}


def test_noise_and_small_growth_are_not_suspects(tmp_path):
    rng = random.Random(11)
    for i in range(40):
        write(tmp_path, f"r{i:03d}", make_report(
            T0 + i * 300, programs={"noisy": 500 * MiB + rng.gauss(0, 30 * MiB),
                                    "tiny": 100 * MiB + 1000 * i,  # +40 KiB in all
                                    "sawtooth": 100 * MiB + (i % 5) * 10 * MiB}))
    doc = build_trend([str(tmp_path)])
    assert doc["leak_suspects"] == []


# ---------------------------------------------------------------------------------------
# order, breaks, segments


def test_any_order_and_names_give_the_same_history(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    leak_history(a, n=30)
    names = list(range(30))
    random.Random(1).shuffle(names)
    for p, k in zip(sorted(a.iterdir()), names):
        shutil.copy(p, b / f"x{k:02d}.json")
    da, db = build_trend([str(a)]), build_trend([str(b)])
    assert da["series"] == db["series"] and da["leak_suspects"] == db["leak_suspects"]
    # files given one by one, in reverse, are the same history too
    dc = build_trend([str(p) for p in sorted(b.iterdir(), reverse=True)])
    assert dc["series"] == da["series"]


def test_uptime_orders_reports_within_the_same_second(tmp_path):
    """taken_at has one-second resolution: four reports in one second, ordered by
    uptime, give the exact slope on uptime's axis."""
    for i in range(8):
        up = 1000.0 + i * 0.25
        write(tmp_path, f"z{7 - i}", make_report(T0 + math.floor(i * 0.25), uptime=up,
                                                 programs={"fast": 100 * MiB + i * MiB}))
    doc = build_trend([str(tmp_path)])
    s = series(doc, "program", "fast")
    assert s["rate_bytes_per_hour"] == pytest.approx(4 * MiB * 3600, rel=1e-9)
    assert s["monotonicity"] == 1.0


def test_reboot_splits_the_history_and_each_segment_stands_alone(tmp_path):
    """java leaks before the reboot; after it (new boot id, uptime from 30 s) it is flat."""
    for i in range(20):
        write(tmp_path, f"a{i:02d}", make_report(T0 + i * 1800,
                                                 programs={"java": GiB + 50 * MiB * i}))
    other = str(uuid.uuid4())
    for i in range(20):
        t = T0 + 20 * 1800 + 600 + i * 1800
        write(tmp_path, f"b{i:02d}", make_report(t, uptime=30.0 + i * 1800, boot_id=other,
                                                 programs={"java": 300 * MiB}))
    doc = build_trend([str(tmp_path)])
    assert [b["kind"] for b in doc["breaks"]] == ["reboot"]
    assert doc["breaks"][0]["before"].endswith("b00.json")
    assert [s["segment"] for s in doc["segments"]] == [0, 1]
    assert [s["reports"] for s in doc["segments"]] == [20, 20]
    before, after = series(doc, "program", "java", 0), series(doc, "program", "java", 1)
    assert before["rate_bytes_per_hour"] == pytest.approx(100 * MiB, abs=2)
    assert after["rate_bytes_per_hour"] == 0
    assert [(s["name"], s["segment"]) for s in doc["leak_suspects"]] == [("java", 0)]
    assert {f["segment"] for f in doc["forecasts"]} == {1}


def test_uptime_going_backwards_is_a_reboot_without_boot_ids(tmp_path):
    for i in range(10):
        up = 5000.0 + i * 300 if i < 5 else 60.0 + (i - 5) * 300
        write(tmp_path, f"r{i}", make_report(T0 + i * 300, uptime=up, boot_id=None))
    doc = build_trend([str(tmp_path)])
    assert [b["kind"] for b in doc["breaks"]] == ["reboot"]
    assert "uptime went backwards" in doc["breaks"][0]["text"]


def test_a_gap_of_several_intervals_is_a_break(tmp_path):
    times = [T0 + i * 300 for i in range(12)] + [T0 + 11 * 300 + 7200 + i * 300
                                                  for i in range(12)]
    for i, t in enumerate(times):
        write(tmp_path, f"r{i:02d}", make_report(t, programs={"java": GiB + i * MiB}))
    doc = build_trend([str(tmp_path)])
    assert [b["kind"] for b in doc["breaks"]] == ["gap"]
    assert doc["breaks"][0]["seconds"] == 7200
    assert doc["interval_seconds"] == 300
    assert "no report for 2.0 h (usually every 5 min)" in doc["breaks"][0]["text"]
    # a late report (2 intervals) is no gap
    (tmp_path / "r12.json").unlink()
    write(tmp_path, "r12", make_report(times[11] + 600))
    shutil.rmtree(tmp_path / "more", ignore_errors=True)


def test_host_kernel_and_schema_changes_are_breaks(tmp_path):
    seq = ([dict()] * 6 + [dict(hostname="other")] * 6 + [dict(hostname="other",
                                                              kernel="6.19.0")] * 6
           + [dict(hostname="other", kernel="6.19.0", schema=2)] * 6)
    for i, kw in enumerate(seq):
        write(tmp_path, f"r{i:02d}", make_report(T0 + i * 300, **kw))
    doc = build_trend([str(tmp_path)])
    assert [b["kinds"] for b in doc["breaks"]] == [["host_changed"], ["kernel_changed"],
                                                  ["schema_changed"]]
    assert [s["reports"] for s in doc["segments"]] == [6, 6, 6, 6]
    assert doc["breaks"][1]["text"] == "kernel 6.18.44 → 6.19.0"


def test_restarts_are_followed_by_program_not_pid(tmp_path):
    """svc restarts every 6 reports (a new PID each time, and one report where it is
    absent) but its memory keeps growing across restarts: one series, by name."""
    for i in range(30):
        progs = {"svc": 300 * MiB + 4 * MiB * i}
        if i == 13:
            progs = {}  # between the old process's exit and the new one's start
        write(tmp_path, f"r{i:02d}", make_report(T0 + i * 300, programs=progs,
                                                 pids={"svc": 4000 + 17 * (i // 6)}))
    doc = build_trend([str(tmp_path)])
    s = series(doc, "program", "svc")
    assert s["points"] == 29
    assert s["rate_bytes_per_hour"] == pytest.approx(48 * MiB, abs=2)
    assert doc["leak_suspects"][0]["name"] == "svc"


def test_old_reports_without_boot_id_or_uptime_are_read(tmp_path):
    for i in range(10):
        write(tmp_path, f"r{i}", make_report(T0 + i * 300, boot_id=None,
                                             programs={"java": GiB + 5 * MiB * i}))
    raw = json.loads((tmp_path / "r0.json").read_text())
    assert "boot_id" not in raw["source"] and "uptime" not in raw["source"]
    doc = build_trend([str(tmp_path)])
    assert doc["reports"] == 10 and doc["breaks"] == []
    assert series(doc, "program", "java")["rate_bytes_per_hour"] == pytest.approx(
        60 * MiB, abs=2)


def test_since_and_until(tmp_path):
    leak_history(tmp_path, n=48)
    doc = build_trend([str(tmp_path)], since="6h")
    assert doc["reports"] == 13  # the newest and 12 half-hours before it
    iso = format_time(T0 + 10 * 1800)
    doc = build_trend([str(tmp_path)], since=iso, until=format_time(T0 + 19 * 1800))
    assert doc["reports"] == 10
    assert parse_when("2027-01-15", None) == T0 - 8 * 3600
    with pytest.raises(ValueError):
        parse_when("yesterday", T0)


def test_by_limits_the_series(tmp_path):
    leak_history(tmp_path, n=10)
    doc = build_trend([str(tmp_path)], by="program")
    assert {s["kind"] for s in doc["series"]} == {"program"}
    assert any(f["what"] == "available" for f in doc["forecasts"])


# ---------------------------------------------------------------------------------------
# reading: formats, gzip, corrupt files


def test_yaml_json_and_gzip_give_the_same_history(tmp_path):
    plain, mixed = tmp_path / "plain", tmp_path / "mixed"
    plain.mkdir()
    mixed.mkdir()
    for i in range(12):
        doc = make_report(T0 + i * 600, programs={"java": GiB + 3 * MiB * i})
        write(plain, f"r{i:02d}", doc)
        write(mixed, f"r{i:02d}", doc, fmt=("json", "yaml")[i % 2], gz=i % 3 == 0)
    exts = sorted(p.name.split(".", 1)[1] for p in mixed.iterdir())
    assert {"json", "yaml", "json.gz", "yaml.gz"} <= set(exts)
    a, b = build_trend([str(plain)]), build_trend([str(mixed)])
    assert a["series"] == b["series"] and b["skipped"] == []


def test_which_names_in_a_directory_are_read(tmp_path):
    for name in ("a.json", "b.yaml", "c.yml", "d.json.gz", "e.yml.gz", "f.yaml.gz",
                 "g.txt", "h.json.bak", ".hidden.json", "i.gz"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub.json").mkdir()
    files, skipped = read.list_inputs([str(tmp_path), str(tmp_path / "missing.json")])
    assert [os.path.basename(f) for f in files] == ["a.json", "b.yaml", "c.yml", "d.json.gz",
                                                    "e.yml.gz", "f.yaml.gz"]
    # an entry with a report's name that is not a file is named, not silently passed over
    assert skipped == [{"file": str(tmp_path / "sub.json"),
                        "reason": "a directory, not a regular file (not read)"},
                       {"file": str(tmp_path / "missing.json"), "reason": "no such file"}]


def test_summary_documents_are_a_history_too(tmp_path):
    """`memscope summary --format json` written by cron: available, swap and the
    categories are followed (no programs or cgroups in a summary)."""
    for i in range(10):
        doc = make_report(T0 + i * 300, available=10 * GiB - i * 10 * MiB)
        write(tmp_path, f"s{i}", doc["summary"])
    doc = build_trend([str(tmp_path)])
    assert doc["reports"] == 10 and doc["skipped"] == []
    assert series(doc, "system", "available")["rate_bytes_per_hour"] == pytest.approx(
        -120 * MiB, abs=2)
    assert not [s for s in doc["series"] if s["kind"] in ("program", "cgroup")]


def test_yaml_subset_reads_what_the_whole_document_says():
    import yaml

    text = yaml.safe_dump(BASE, sort_keys=False, default_flow_style=False)
    sub = yaml.safe_load(read.yaml_subset(text))
    full = yaml.safe_load(text)
    from memscope.trend.series import extract

    assert extract(sub) == extract(full)
    assert "processes" not in sub["top"] and "zones" not in sub
    assert len(read.yaml_subset(text)) < len(text) / 3


def test_memscopes_own_yaml_output_is_cut_and_read(tmp_path):
    """The YAML memscope's renderer writes (not yaml.safe_dump's defaults)."""
    from memscope.render import to_yaml

    doc = make_report(T0, programs={"java": GiB})
    (tmp_path / "r.yaml").write_text(to_yaml(doc))
    assert read.probe(str(tmp_path / "r.yaml"))["source"]["uptime"] == doc["source"]["uptime"]
    from memscope.trend.series import extract

    assert extract(read.read_report(str(tmp_path / "r.yaml"))) == extract(doc)


@pytest.mark.parametrize("layout", ["memscope", "indent2", "compact"])
def test_json_subset_reads_what_the_whole_document_says(layout):
    """Only the values trend reads are decoded from memscope's JSON (and any JSON laid out
    one top-level key a line); compact JSON is parsed whole. The same figures either way."""
    from memscope.render import to_json
    from memscope.trend.series import extract

    doc = copy.deepcopy(BASE)
    doc["cgroups"][0]["path"] = 'odd "pids": [1, 2] path'  # a string that looks like keys
    text = {"memscope": lambda: "".join(to_json(doc)),
            "indent2": lambda: json.dumps(doc, indent=2),
            "compact": lambda: json.dumps(doc)}[layout]()
    sub = read.json_subset(text)
    if layout == "compact":
        assert sub is None
    else:
        assert "processes" not in sub["top"] and "zones" not in sub
    if layout == "memscope":  # one cgroup a line: its PIDs and raw stat are not decoded
        assert sub["cgroups"][1].get("pids") is None
    assert extract(read.parse_document(text, subset=True)) == extract(doc)
    assert read.parse_document(text, subset=True)["cgroups"][0]["path"] == \
        'odd "pids": [1, 2] path'


def test_probe_falls_back_to_the_whole_document(tmp_path):
    """JSON with source after the summary (another writer's key order) is still placed."""
    doc = make_report(T0 + 60)
    reordered = {"summary": doc["summary"], "schema_version": 1, "source": doc["source"]}
    (tmp_path / "r.json").write_text(json.dumps(reordered))
    assert read.probe_text((tmp_path / "r.json").read_text()) is None
    assert read.probe(str(tmp_path / "r.json"))["source"]["taken_at"] == format_time(T0 + 60)


def test_corrupt_files_in_the_middle_are_skipped_and_named(tmp_path):
    leak_history(tmp_path, n=30)
    own = {i: (tmp_path / f"r{i:04d}.json").read_text() for i in range(10, 18)}
    (tmp_path / "r0010.json").write_text(own[10][: len(own[10]) // 2])    # cut short
    (tmp_path / "r0011.json").write_bytes(os.urandom(4096))              # garbage
    for i in (12, 13, 16):
        (tmp_path / f"r{i:04d}.json").unlink()
    (tmp_path / "r0012.yaml").write_text("")                             # empty
    (tmp_path / "r0013.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    (tmp_path / "r0014.json").write_text('{"schema_version": 1, "source": {}}')
    (tmp_path / "r0016.json.gz").write_bytes(gzip.compress(own[16].encode())[:-20])
    (tmp_path / "r0017.json").write_text(own[17] + own[17])              # two documents
    (tmp_path / "notes.txt").write_text("not a report")                   # not read at all
    (tmp_path / "r0001.json").unlink()
    (tmp_path / "r0001.json").mkdir()                                     # not a file
    doc = build_trend([str(tmp_path)])
    skipped = {os.path.basename(s["file"]): s["reason"] for s in doc["skipped"]}
    assert set(skipped) == {"r0001.json", "r0010.json", "r0011.json", "r0012.yaml", "r0013.yaml",
                            "r0014.json", "r0016.json.gz", "r0017.json"}, skipped
    assert "not valid JSON" in skipped["r0010.json"]
    assert "empty" in skipped["r0012.yaml"]
    assert "truncated" in skipped["r0016.json.gz"]
    assert "more than one document" in skipped["r0017.json"]
    assert doc["reports"] == 30 - 1 - 7  # r0001 is a directory; 10-14, 16, 17 are bad
    assert doc["leak_suspects"][0]["name"] == "java"
    r = run_memscope("trend", tmp_path, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("\n") == 1 and "8 file(s) skipped" in r.stderr
    assert "Traceback" not in r.stderr


def test_hostile_documents_are_skipped_or_their_figures_unknown(tmp_path):
    """Deep nesting, numbers past 2^64, infinities, wrong types, an absurd schema_version:
    skipped or read as unknown figures, never a crash."""
    leak_history(tmp_path, n=8)
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    (tmp_path / "bigschema.json").write_text('{"schema_version": ' + "9" * 5000 + "}")
    odd = make_report(T0 + 3600 * 5, programs={"java": 10 ** 30})
    odd["source"]["uptime"] = 10 ** 400
    odd["summary"]["memory"]["available"] = float("inf")
    odd["summary"]["breakdown"] = [{"category": ["x"], "bytes": 1}, 7, None]
    odd["cgroups"] = [{"path": 5}, {"path": "/x", "usage": "12", "limit": -1}]
    odd["top"]["groups"] = "nope"
    (tmp_path / "odd.json").write_text(json.dumps(odd))
    doc = build_trend([str(tmp_path)])
    reasons = {os.path.basename(s["file"]): s["reason"] for s in doc["skipped"]}
    assert set(reasons) == {"deep.json", "bigschema.json"}, reasons
    assert doc["reports"] == 9
    assert series(doc, "program", "java")["points"] == 8  # 10^30 is past 2^64: unknown
    assert series(doc, "system", "available")["points"] == 8


def test_decompression_is_capped(tmp_path, monkeypatch):
    leak_history(tmp_path, n=6)
    bomb = gzip.compress(b"{" + b" " * (8 << 20) + b"}")
    (tmp_path / "r0003.json.gz").write_bytes(bomb)
    monkeypatch.setattr(read, "MAX_TEXT_BYTES", 1 << 20)
    doc = build_trend([str(tmp_path)])
    reasons = {os.path.basename(s["file"]): s["reason"] for s in doc["skipped"]}
    assert "decompresses to more than 1 MiB" in reasons["r0003.json.gz"]
    assert doc["reports"] == 6


def test_the_same_report_twice_counts_once(tmp_path):
    leak_history(tmp_path, n=8)
    data = (tmp_path / "r0004.json").read_bytes()
    (tmp_path / "r0004.json.gz").write_bytes(gzip.compress(data))
    doc = build_trend([str(tmp_path)])
    assert doc["reports"] == 8
    assert [os.path.basename(s["file"]) for s in doc["skipped"]] == ["r0004.json.gz"]
    assert "the same report as" in doc["skipped"][0]["reason"]
    # a bad first copy: the good one is read, the bad one skipped for what it is
    (tmp_path / "r0004.json").write_bytes(data[:100])
    doc = build_trend([str(tmp_path)])
    assert doc["reports"] == 8
    assert [os.path.basename(s["file"]) for s in doc["skipped"]] == ["r0004.json"]
    assert "not valid JSON" in doc["skipped"][0]["reason"]


def test_nothing_readable_is_one_error_line(tmp_path):
    (tmp_path / "a.json").write_text("nope")
    r = run_memscope("trend", tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("memscope: error: ") and r.stderr.count("\n") == 1
    r = run_memscope("trend", tmp_path, "--since", "yesterday")
    assert r.returncode == 2 and "neither an ISO 8601 time" in r.stderr
    leak_history(tmp_path, n=6)
    r = run_memscope("trend", tmp_path, "--since", "2030-01-01")
    assert r.returncode == 1 and "no report between 2030-01-01" in r.stderr


# ---------------------------------------------------------------------------------------
# table


def test_table_sparklines_unicode_and_ascii(tmp_path):
    leak_history(tmp_path, n=48)
    env_utf = {"LC_ALL": "C.UTF-8"}
    r = run_memscope("trend", tmp_path, "--limit", "3", env=env_utf)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "1. program java: +38 MiB/h for 24 h, R² 1.00, 1.1 GiB → 2.0 GiB" in r.stdout
    row = next(line for line in lines if line.startswith("program") and " java " in line)
    assert row.rstrip().endswith("▁▁▂▂▃▃▃▄▄▅▅▅▆▆▇▇██"[-4:]) or "▁" in row
    assert row.split()[-1][0] == "▁" and row.split()[-1][-1] == "█"
    r = run_memscope("trend", tmp_path, "--limit", "3", env={"LC_ALL": "C"})
    assert r.returncode == 0 and r.stdout.isascii()
    assert "R2 1.00, 1.1 GiB -> 2.0 GiB" in r.stdout
    row = next(line for line in r.stdout.splitlines()
               if line.startswith("program") and " java " in line)
    assert row.split()[-1][0] == "_" and row.split()[-1][-1] == "#"


# ---------------------------------------------------------------------------------------
# findings (for explain --history)


def test_findings_shape_and_words(tmp_path):
    leak_history(tmp_path, n=48, rate=380 * MiB)
    doc = build_trend([str(tmp_path)])
    found = trend_findings(doc, str(tmp_path))
    codes = [f["code"] for f in found]
    assert codes[0] == "leak_suspect" and "exhaustion_forecast" in codes
    for f in found:
        assert set(f) == {"code", "severity", "title", "text", "evidence", "why", "next",
                          "scope"}  # as every explain finding (docs/contract.md)
        assert f["severity"] in ("info", "attention", "pressure", "critical")
        assert f["next"].startswith("memscope trend ")
        assert all(set(e) == {"source", "key", "value"} for e in f["evidence"])
        assert 1 <= f["why"].count(".") <= 2
    leak = found[0]
    assert leak["title"] == "program java grows steadily: +380 MiB/h"
    assert leak["text"].startswith("program java grew by 380 MiB an hour for 24 h, from "
                                   "1.1 GiB to 9.8 GiB")
    assert leak["next"] == f"memscope trend {tmp_path} --by program"
    fc = next(f for f in found if f["code"] == "exhaustion_forecast")
    eta = next(f for f in doc["forecasts"] if f["what"] == "available")["eta_seconds"]
    assert fc["evidence"][0]["value"] == eta
    assert fc["severity"] == ("critical" if eta <= 6 * 3600 else "pressure")
    assert fc["text"].startswith("available falls by 380 MiB an hour")
    assert leak["severity"] == "pressure"  # available runs out within the week


def test_findings_of_a_quiet_history_and_severity_bands():
    assert trend_findings({"leak_suspects": [], "forecasts": [
        {"what": "available", "eta_seconds": None, "status": "not_at_this_rate"}]}) == []
    sev = {}
    for eta in (0, 3600, 2 * 86400, 20 * 86400, 400 * 86400):
        f = trend_findings({"forecasts": [{"what": "swap used", "target": "swap total",
                                           "eta_seconds": eta, "limit": GiB, "current": 0,
                                           "rate_bytes_per_hour": MiB,
                                           "eta_range_seconds": [eta, None]}]})[0]
        sev[eta] = f["severity"]
    assert list(sev.values()) == ["critical", "critical", "pressure", "attention", "info"]


# ---------------------------------------------------------------------------------------
# reports carry boot_id and uptime


def test_report_source_has_boot_id_and_uptime_from_the_kernel():
    r = run_memscope("report", "--format", "json")
    assert r.returncode == 0, r.stderr
    src = json.loads(r.stdout)["source"]
    with open("/proc/sys/kernel/random/boot_id") as f:
        assert src["boot_id"] == f.read().strip()
    with open("/proc/uptime") as f:
        after = float(f.read().split()[0])
    assert 0 < src["uptime"] <= after and after - src["uptime"] < 60
    assert isinstance(json.loads(r.stdout)["top"]["user_groups"], list)


def test_boot_id_and_uptime_under_roots(tmp_path):
    r = run_memscope("summary", "--root", FIXTURES / "this-vm-6.18.44-live", "--format",
                     "json")
    src = json.loads(r.stdout)["source"]
    assert src["boot_id"] is None and src["uptime"] is None
    host = tmp_path / "host"
    shutil.copytree(FIXTURES / "this-vm-6.18.44-live", host)
    (host / "proc/sys/kernel/random").mkdir(parents=True, exist_ok=True)
    (host / "proc/sys/kernel/random/boot_id").write_text(BOOT + "\n")
    (host / "proc/uptime").write_text("12345.67 23456.78\n")
    src = json.loads(run_memscope("summary", "--root", host, "--format", "json").stdout)[
        "source"]
    assert (src["boot_id"], src["uptime"]) == (BOOT, 12345.67)
    (host / "proc/uptime").write_text("12a45 1\n")
    (host / "proc/sys/kernel/random/boot_id").write_text("../../etc/passwd\n")
    src = json.loads(run_memscope("summary", "--root", host, "--format", "json").stdout)[
        "source"]
    assert (src["boot_id"], src["uptime"]) == (None, None)


def test_a_snapshot_keeps_boot_id_and_uptime(tmp_path):
    snap = tmp_path / "s.tar.gz"
    r = run_memscope("snapshot", "-o", snap)
    assert r.returncode == 0, r.stderr
    src = json.loads(run_memscope("summary", "--root", snap, "--format", "json").stdout)[
        "source"]
    with open("/proc/sys/kernel/random/boot_id") as f:
        assert src["boot_id"] == f.read().strip()
    assert isinstance(src["uptime"], float) and src["uptime"] > 0


# ---------------------------------------------------------------------------------------
# live: real reports around a worker that leaks at a known rate


STEP, INTERVAL_MS = 2 * MiB, 500
RATE = STEP * 3600 * 1000 // INTERVAL_MS  # bytes an hour: 14,400 MiB/h


@pytest.fixture(scope="module")
def leaker(tmp_path_factory):
    from conftest import build_worker

    # a program name no other process has
    name = f"leaker-{uuid.uuid4().hex[:8]}"
    os.environ["MEMSCOPE_TEST_LEAKER"] = name
    return build_worker(tmp_path_factory, "grower.c", name)


@pytest.fixture(scope="module")
def live_reports(leaker, tmp_path_factory):
    """Real `memscope report --format json` documents, one every 0.5 s for ~20 s, while
    the leaker maps and writes 2 MiB every 0.5 s."""
    out = tmp_path_factory.mktemp("reports")
    proc = subprocess.Popen([leaker, str(STEP), str(INTERVAL_MS), str(120 * STEP)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(1.2)  # a few steps in: the first report already sees the program
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < 20 or n < 8:  # every 0.5 s, as a cron job would
            r = run_memscope("report", "--format", "json", "-o", out / f"r{n:03d}.json")
            assert r.returncode == 0, r.stderr
            n += 1
            if time.monotonic() - start > 50:
                break
            time.sleep(max(0.0, start + n * 0.5 - time.monotonic()))
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    return out, os.path.basename(leaker)


def first_program_suspect(doc):
    """The most suspicious program that is not another test run's leaker (a session running
    the suite beside this one has its own, under another name). Aggregates may rank above it:
    its cgroup (this machine runs every test, and whatever else runs meanwhile, in one
    cgroup, which grows at least as fast), its user, a breakdown category, or a slab cache
    the rest of a busy machine grows."""
    mine = os.environ.get("MEMSCOPE_TEST_LEAKER")
    return next(s for s in doc["leak_suspects"] if s["kind"] == "program"
                and (not s["name"].startswith("leaker-") or s["name"] == mine))


def test_live_leaker_is_the_first_suspect_at_its_constructed_rate(live_reports):
    out, name = live_reports
    r = run_memscope("trend", out, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["skipped"] == [] and doc["breaks"] == []
    top = first_program_suspect(doc)
    assert (top["kind"], top["name"]) == ("program", name), doc["leak_suspects"][:3]
    if os.environ.get("MEMSCOPE_SHOW_TREND"):
        print(f"\nconstructed {RATE} B/h; trend: {top}")
    assert top["rate_bytes_per_hour"] == pytest.approx(RATE, rel=0.04)
    assert top["r2"] > 0.98
    # first and last are the program's PSS in the first and last report, to the byte
    files = sorted(out.iterdir())
    pss = []
    for p in (files[0], files[-1]):
        groups = json.loads(p.read_text())["top"]["groups"]
        pss.append(next(g["pss"] for g in groups if g["key"] == name))
    assert [top["first"], top["last"]] == pss
    assert pss[1] - pss[0] >= 20 * STEP


def test_a_day_of_reports_from_the_leaking_worker(live_reports, tmp_path):
    """The live reports with their times rewritten to span 24 hours: taken_at and uptime
    stretched by the same factor (the figures are the real ones). The leaker is named first
    at the constructed rate scaled by that factor, and available gets a forecast."""
    out, name = live_reports
    files = sorted(out.iterdir())
    docs = [json.loads(p.read_text()) for p in files]
    up0, up1 = docs[0]["source"]["uptime"], docs[-1]["source"]["uptime"]
    factor = 86400.0 / (up1 - up0)
    for p, doc in zip(files, docs):
        up = up0 + (doc["source"]["uptime"] - up0) * factor
        doc["source"]["uptime"] = round(up, 2)
        doc["source"]["taken_at"] = format_time(T0 + (up - up0))
        doc["summary"]["source"] = doc["source"]
        (tmp_path / p.name).write_text(json.dumps(doc))
    r = run_memscope("trend", tmp_path, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    top = first_program_suspect(doc)
    assert (top["kind"], top["name"]) == ("program", name)
    assert top["rate_bytes_per_hour"] == pytest.approx(RATE / factor, rel=0.04)
    assert top["hours"] == pytest.approx(24, abs=0.01)
    f = next(f for f in doc["forecasts"] if f["what"] == "available")
    assert f["limit"] == sum(z["low"] for z in docs[-1]["summary"]["zones"])
    if f["status"] == "eta":
        rate = -f["rate_bytes_per_hour"]
        assert f["eta_seconds"] == pytest.approx((f["current"] - f["limit"]) / rate * 3600,
                                                 rel=1e-3)
    else:
        assert f["status"] == "not_at_this_rate"
    table = run_memscope("trend", tmp_path, "--limit", "8", env={"LC_ALL": "C.UTF-8"})
    assert table.returncode == 0
    assert f"1. program {name}: +" in table.stdout
    if os.environ.get("MEMSCOPE_SHOW_TREND"):
        print(table.stdout)


def test_explain_and_check_take_the_history(tmp_path):
    """explain --history DIR adds leak_suspect and exhaustion_forecast to the diagnosis
    (ordered and judged with the rest), with trend's next command (no --root added: trend
    reads reports); check --history judges with them too."""
    from conftest import FIXTURES, run_memscope

    history = tmp_path / "reports"
    history.mkdir()
    leak_history(history)
    host = FIXTURES / "this-vm-6.18.44-live"
    r = run_memscope("explain", "--root", host, "--history", history, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    codes = [f["code"] for f in doc["findings"]]
    assert "leak_suspect" in codes and "exhaustion_forecast" in codes
    leak = next(f for f in doc["findings"] if f["code"] == "leak_suspect")
    assert "java" in leak["text"] and leak["next"].startswith("memscope trend ")
    assert "--root" not in leak["next"] and leak["scope"] == "system"
    assert doc["verdict"] != "ok"  # the forecast's severity counts in the verdict
    without = json.loads(run_memscope("explain", "--root", host, "--format", "json").stdout)
    assert "leak_suspect" not in [f["code"] for f in without["findings"]]
    r = run_memscope("check", "--root", host, "--history", history)
    assert r.stdout.startswith("MEMORY ") and r.returncode in (1, 2), r.stdout
    # a directory with no readable report: no trend findings, a warning, still a diagnosis
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "junk.json").write_text("{")
    r = run_memscope("explain", "--root", host, "--history", empty)
    assert r.returncode == 0 and "no trend findings" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_a_file_skipped_when_read_whole_does_not_place_the_others(tmp_path):
    """A report cut short has a readable header (pass 1) but fails whole (pass 2): its
    uptime must not move the others' times, its time must not set the interval or hide a
    gap; FIFOs, link loops and dangling links in the directory are named, never opened."""
    good = tmp_path / "good"
    good.mkdir()
    for i in range(12):
        t = T0 + 300 * i + (7200 if i >= 6 else 0)  # a two-hour gap after the sixth
        write(good, f"r{i:02d}", make_report(t))
    alone = build_trend([str(good)])
    assert [b["kind"] for b in alone["breaks"]] == ["gap"] and alone["interval_seconds"] == 300
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    for i in range(18):  # headers an hour apart, bodies cut in half, one claiming a huge uptime
        doc = make_report(T0 + 3600 * i, uptime=900000 if i == 0 else None)
        text = json.dumps(doc)
        (bad / f"cut{i:02d}.json").write_text(text[:len(text) // 2])
    os.mkfifo(bad / "fifo.json")
    os.symlink("loop2.json", bad / "loop1.json")
    os.symlink("loop1.json", bad / "loop2.json")
    os.symlink("nowhere", bad / "dangling.json")
    doc = build_trend([str(bad)])
    assert doc["reports"] == 12
    assert doc["interval_seconds"] == 300 and [b["kind"] for b in doc["breaks"]] == ["gap"]
    assert [s["since"] for s in doc["segments"]] == [s["since"] for s in alone["segments"]]
    reasons = {os.path.basename(s["file"]): s["reason"] for s in doc["skipped"]}
    assert "FIFO" in reasons["fifo.json"] and "loop" in reasons["loop1.json"]
    assert "dangling" in reasons["dangling.json"] and len(reasons) == 18 + 4
    from memscope.errors import MemscopeError

    with pytest.raises(MemscopeError, match="no readable report"):
        build_trend([str(bad / "fifo.json"), str(bad / "cut03.json")])
