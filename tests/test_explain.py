"""memscope explain and check on fixture hosts: every finding code fires on a constructed
host and stays quiet on the healthy ones; rates; the plugin line and exit codes; goldens.

Regenerate goldens with ``python -m pytest tests/test_explain.py --update-golden`` and review
the diff like code.
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from conftest import FIXTURES, GOLDEN, fixture_hosts, run_memscope
from test_golden import check as check_golden
from memscope.explain import Docs
from memscope.model.explain import diagnose, summary_verdict
from memscope.explain.registry import CODES, SUMMARY_RULES, all_rules

_CACHE = {}


def explain(host, *extra):
    key = (host, extra)
    if key not in _CACHE:
        r = run_memscope("explain", "--root", FIXTURES / host, "--format", "json", *extra)
        assert r.returncode == 0, r.stderr
        _CACHE[key] = json.loads(r.stdout)
    return _CACHE[key]


# (host, code, severity, extra arguments): where each finding fires
FIRES = [
    ("constructed-pressure-6.18", "low_available", "critical", ()),
    ("procfs-fixtures", "top_consumers", "info", ()),
    ("constructed-pressure-6.18", "psi_pressure", "critical", ()),
    ("constructed-pressure-6.18", "swap_nearly_full", "critical", ()),
    ("constructed-pressure-6.18", "zone_below_min", "pressure", ()),
    ("constructed-pressure-6.18", "zone_below_low", "attention", ()),
    ("rhcos-sosreport-rhel8-4.18", "zone_below_low", "attention", ()),  # as captured
    ("constructed-pressure-6.18", "thrashing", "attention", ()),
    ("constructed-pressure-6.18", "direct_reclaim", "info", ()),
    ("constructed-pressure-6.18", "oom_kills", "info", ()),
    ("constructed-pressure-6.18", "swap_activity", "info", ()),
    ("constructed-kernel-memory-6.18", "overcommit_near_limit", "pressure", ()),
    ("constructed-kernel-memory-6.18", "slab_unreclaimable_large", "attention", ()),
    ("zte-f680-ont-armv7-4.1", "slab_unreclaimable_large", "attention", ()),  # as captured
    ("constructed-kernel-memory-6.18", "slab_reclaimable_large", "info", ()),
    ("constructed-kernel-memory-6.18", "vmalloc_large", "attention", ()),
    ("constructed-kernel-memory-6.18", "page_tables_large", "attention", ()),
    ("constructed-kernel-memory-6.18", "unaccounted_large", "attention", ()),
    ("rhcos-sosreport-rhel8-4.18", "unaccounted_large", "attention", ()),  # as captured
    ("constructed-kernel-memory-6.18", "hugetlb_reserved_unused", "attention", ()),
    ("rhel8-server-hugepages-1g", "hugetlb_reserved_unused", "attention", ()),  # as captured
    ("constructed-kernel-memory-6.18", "mlocked_large", "attention", ()),
    ("constructed-cache-shmem-6.18", "cache_reclaimable", "info", ()),
    ("zte-f680-ont-armv7-4.1", "cache_reclaimable", "info", ()),  # as captured
    ("constructed-cache-shmem-6.18", "shmem_not_reclaimable", "attention", ()),
    ("pcp-qa-meminfo-root-002-numa2", "shmem_not_reclaimable", "info", ()),  # as captured
    ("constructed-highmem-lowmem-3.4", "lowmem_exhausted", "pressure", ()),
    ("constructed-highmem-lowmem-3.4", "fragmentation", "attention", ()),
    ("constructed-zfs-arc-6.18", "zfs_arc_counted_used", "info", ()),
    ("constructed-cgroup2-near-limit", "cgroup_near_limit", "pressure", ()),
    ("constructed-cgroup2-near-limit", "oom_kills", "info", ()),
    ("constructed-cgroup2-near-limit", "cgroup_near_limit", "pressure",
     ("--cgroup", "/system.slice")),
    ("constructed-cgroup2-near-limit", "oom_kills", "attention",
     ("--cgroup", "/system.slice")),
    ("pixel8pro-android-arm64", "swap_nearly_full", "attention", ()),  # as captured
]

# Hosts as captured where nothing is wrong: no finding of any code.
HEALTHY = ["this-vm-6.18.44-live", "this-vm-6.18.44-fc-v657", "this-vm-6.18.44-kernel-views",
           "chromeos-n100-6.6", "zynq-innofirmware-armv7-4.4", "pcp-qa-meminfo-root-007-numa2",
           "ubuntu1404-proc-snapshot-3.13", "openwrt-arm-issue-paste", "kindle-arm-2.6.31",
           "constructed-zram-zfs"]


@pytest.mark.parametrize("host, code, severity, extra", FIRES)
def test_finding_fires(host, code, severity, extra):
    doc = explain(host, *extra)
    got = [f for f in doc["findings"] if f["code"] == code]
    assert got, (code, [f["code"] for f in doc["findings"]])
    assert severity in [f["severity"] for f in got]
    for f in got:
        assert set(f) == {"code", "severity", "title", "text", "evidence", "why", "next",
                          "scope"}
        assert f["evidence"] and all(set(e) == {"source", "key", "value"}
                                     for e in f["evidence"])
        assert f["next"].startswith("memscope ") and f"--root {FIXTURES / host}" in f["next"]
        assert f["why"] and f["text"] and f["title"]


def test_every_code_fires_somewhere():
    assert set(CODES) == {code for _h, code, _s, _e in FIRES}
    assert len(CODES) == len(set(CODES)) == 24


@pytest.mark.parametrize("host", HEALTHY)
def test_healthy_hosts_are_ok(host):
    doc = explain(host)
    assert doc["verdict"] == "ok"
    assert doc["findings"] == []
    assert doc["headline"].startswith("OK: ")
    assert len(doc["headline"]) < 140  # a short reassurance, not trivia


def test_document_shape():
    doc = explain("constructed-pressure-6.18")
    assert list(doc) == ["schema_version", "source", "scope", "verdict", "headline",
                         "findings", "notes"]
    assert doc["schema_version"] == 1 and doc["scope"] == {"kind": "host", "cgroup": None}
    assert doc["verdict"] == "critical"
    rank = {"info": 0, "attention": 1, "pressure": 2, "critical": 3}
    sev = [rank[f["severity"]] for f in doc["findings"]]
    assert sev == sorted(sev, reverse=True)  # most severe first
    # the headline is the titles of the findings at the verdict's severity
    worst = [f["title"] for f in doc["findings"] if f["severity"] == "critical"]
    assert doc["headline"] == "Critical: " + "; ".join(worst[:3]) + "."
    assert "since_boot" in [n["code"] for n in doc["notes"]]
    direct = next(f for f in doc["findings"] if f["code"] == "direct_reclaim")
    assert "since boot" in direct["text"]


def test_container_speaks_first():
    doc = explain("constructed-cgroup2-near-limit", "--cgroup", "/system.slice")
    assert doc["scope"] == {"kind": "cgroup", "cgroup": "/system.slice"}
    first = doc["findings"][0]
    assert first["code"] == "cgroup_near_limit" and first["scope"] == "container"
    assert doc["headline"].startswith("Pressure: cgroup /system.slice is at 92 % of its")
    ev = {e["key"]: e["value"] for e in first["evidence"]}
    # working set = usage - inactive_file (kubelet), against memory.max
    assert ev["usage"] == 2831458304 and ev["inactive_file"] == 407916544
    assert ev["limit"] == 2634285056 and ev["max"] == 0


def test_cgroup_not_found_is_an_error():
    r = run_memscope("explain", "--root", FIXTURES / "constructed-cgroup2-near-limit",
                     "--cgroup", "/nope")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("memscope: error: cgroup /nope: no such cgroup")


def test_evidence_is_the_kernels_figures():
    doc = explain("constructed-kernel-memory-6.18")
    by = {f["code"]: {e["key"]: e["value"] for e in f["evidence"]} for f in doc["findings"]}
    assert by["slab_unreclaimable_large"]["SUnreclaim"] == 3000000 * 1024
    assert by["hugetlb_reserved_unused"] == {"HugePages_Total": 512, "HugePages_Free": 512,
                                             "HugePages_Rsvd": 0,
                                             "Hugepagesize": 2048 * 1024}
    assert by["overcommit_near_limit"]["overcommit_memory"] == 2
    assert by["mlocked_large"]["Mlocked"] == 600000 * 1024
    s = summary_of("constructed-kernel-memory-6.18")
    unacc = next(c["bytes"] for c in s["breakdown"] if c["category"] == "unaccounted")
    assert by["unaccounted_large"]["unaccounted"] == unacc >= 1500 << 20


# ---------------------------------------------------------------------------------------
# The rules as pure functions: rates and thresholds


def summary_of(host):
    r = run_memscope("summary", "--root", FIXTURES / host, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def codes(doc, severity=None):
    return {f["code"] for f in doc["findings"] if severity in (None, f["severity"])}


def with_rates(summary, interval=60.0, **rates):
    s = copy.deepcopy(summary)
    s["activity_rates"] = {k: 0.0 for k in s["activity"] or ()}
    s["activity_rates"].update(rates)
    return Docs(s, interval=interval)


def test_rates_raise_the_activity_findings():
    base = summary_of("constructed-pressure-6.18")
    doc = diagnose(with_rates(base, allocstall=12.0, pgscan_direct=5000.0,
                              pgscan_kswapd=1000.0, oom_kill=1 / 60, pswpin=3000.0,
                              pswpout=100.0, workingset_refault=4000.0))
    sev = {f["code"]: f["severity"] for f in doc["findings"]}
    assert sev["direct_reclaim"] == "pressure"
    assert sev["oom_kills"] == "critical"
    assert sev["swap_activity"] == "pressure"
    assert sev["thrashing"] == "pressure"
    oom = next(f for f in doc["findings"] if f["code"] == "oom_kills")
    assert oom["title"] == "1 process(es) OOM-killed in the last 60 s"
    assert "since_boot" not in [n["code"] for n in doc["notes"]]
    # quiet intervals: nothing from the counters
    quiet = diagnose(with_rates(base))
    assert not codes(quiet) & {"direct_reclaim", "oom_kills", "swap_activity", "thrashing"}


def test_since_boot_counters_never_raise_the_verdict():
    s = summary_of("this-vm-6.18.44-live")
    s = copy.deepcopy(s)
    s["activity"].update(allocstall=10 ** 6, pgscan_direct=10 ** 9, pgscan_kswapd=1,
                         oom_kill=42, pswpin=10 ** 6)
    doc = diagnose(Docs(s))
    assert doc["verdict"] == "ok"
    assert codes(doc) == {"direct_reclaim", "oom_kills"}
    assert codes(doc, "info") == codes(doc)


@pytest.mark.parametrize("avail_pct, severity", [(50, None), (10.5, None), (9.9, "attention"),
                                                 (4.9, "pressure"), (0.3, "critical")])
def test_low_available_thresholds(avail_pct, severity):
    s = copy.deepcopy(summary_of("this-vm-6.18.44-live"))
    total = s["memory"]["total"]
    s["memory"]["available"] = s["meminfo"]["MemAvailable"] = int(total * avail_pct / 100)
    got = [f["severity"] for f in diagnose(Docs(s))["findings"] if f["code"] ==
           "low_available"]
    assert got == ([] if severity is None else [severity])


def test_fragmentation_with_compaction_failing_is_pressure():
    from memscope.explain.findings.fragmentation import fragmentation

    r = run_memscope("zones", "--root", FIXTURES / "constructed-highmem-lowmem-3.4",
                     "--format", "json")
    zones = json.loads(r.stdout)
    s = summary_of("constructed-highmem-lowmem-3.4")
    d = with_rates(s, compact_fail=2.0)
    d.zones = zones
    (f,) = fragmentation(d)
    assert f["severity"] == "pressure" and "HighMem" in f["title"]
    d = Docs(s, zones=zones)
    (f,) = fragmentation(d)
    assert f["severity"] == "attention"


def test_rules_name_their_threshold_and_source():
    for rule in all_rules():
        doc = rule.__doc__ or ""
        assert len(doc) > 80, rule.__name__
        assert "%" in doc or "threshold" in doc.lower() or "watermark" in doc, rule.__name__


def test_summary_rules_need_only_the_summary():
    import subprocess
    import sys

    # summary loads only the rules it runs
    code = ("import sys; from memscope.cli import main; sys.argv=['memscope', 'summary', "
            "'--root', 'fixtures/this-vm-6.18.44-live']\n"
            "try:\n main()\nexcept SystemExit:\n pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('memscope.explain.')), "
            "file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=str(FIXTURES.parent))
    loaded = eval(r.stderr.strip().splitlines()[-1])
    assert "memscope.explain.findings.top" not in loaded
    assert "memscope.explain.findings.fragmentation" not in loaded
    assert "memscope.explain.findings.available" in loaded
    # summary's verdict is computed from the summary document alone
    for host in ("constructed-pressure-6.18", "this-vm-6.18.44-live"):
        s = summary_of(host)
        v = summary_verdict({k: v for k, v in s.items() if k not in ("verdict", "headline")})
        assert (v["verdict"], v["headline"]) == (s["verdict"], s["headline"])
        assert list(s)[:4] == ["schema_version", "source", "verdict", "headline"]
    assert set(SUMMARY_RULES) < set(all_rules())


def test_extra_findings_from_outside():
    """explain --history (trend findings) adds its findings from outside the registry."""
    s = summary_of("this-vm-6.18.44-live")
    extra = {"code": "trend_growing", "severity": "attention", "title": "x grows",
             "text": "t", "evidence": [], "why": "w", "next": "memscope trend",
             "scope": "system"}
    doc = diagnose(Docs(s), extra=[extra])
    assert doc["verdict"] == "attention" and doc["findings"] == [extra]


# ---------------------------------------------------------------------------------------
# --since REPORT


def test_since_needs_times_and_the_same_boot(tmp_path):
    s = summary_of("constructed-pressure-6.18")
    path = tmp_path / "old.json"
    path.write_text(json.dumps(s))
    r = run_memscope("explain", "--root", FIXTURES / "constructed-pressure-6.18",
                     "--since", path)
    assert r.returncode == 1
    assert "no taken_at time" in r.stderr and r.stderr.count("\n") == 1
    r = run_memscope("explain", "--since", path, "--interval", "1")
    assert r.returncode == 2 and "not both" in r.stderr
    r = run_memscope("explain", "--root", FIXTURES / "constructed-pressure-6.18",
                     "--interval", "1")
    assert r.returncode == 2 and "--interval" in r.stderr


def test_since_gives_rates(tmp_path):
    # a host whose counters are large enough to have been smaller 100 s earlier: the
    # pressure fixture, with a manifest that says when it was taken (as a snapshot's does)
    import calendar
    import shutil
    import time

    host = tmp_path / "host"
    shutil.copytree(FIXTURES / "constructed-pressure-6.18", host)
    (host / "manifest.json").write_text(json.dumps({"format": "memscope-snapshot",
                                                    "schema_version": 1,
                                                    "taken_at": "2026-12-01T08:00:00Z"}))
    r = run_memscope("summary", "--root", host, "--format", "json")
    old = json.loads(r.stdout)
    # the same host 100 s earlier, with 500 fewer direct-reclaim stalls and one OOM kill less
    t = calendar.timegm(time.strptime(old["source"]["taken_at"], "%Y-%m-%dT%H:%M:%SZ"))
    old["source"]["taken_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t - 100))
    act = old["activity"]
    act["allocstall"] -= 500
    act["pgscan_direct"] -= 10 ** 5
    act["oom_kill"] -= 1
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    r = run_memscope("explain", "--root", host, "--since", path, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    sev = {f["code"]: f["severity"] for f in doc["findings"]}
    assert sev["oom_kills"] == "critical" and sev["direct_reclaim"] in ("attention",
                                                                        "pressure")
    assert "rates" in [n["code"] for n in doc["notes"]]
    # counters that went backwards: a reboot since the report
    act["oom_kill"] += 10 ** 9
    path.write_text(json.dumps(old))
    r = run_memscope("explain", "--root", host, "--since", path)
    assert r.returncode == 1 and "went backwards" in r.stderr
    # a report no kernel wrote: a negative counter, a counter that is text, another boot
    for key, value in (("oom_kill", -5), ("allocstall", "abc"), ("pgscan_direct", True)):
        bad = json.loads(json.dumps(old))
        bad["activity"]["oom_kill"] -= 10 ** 9
        bad["activity"][key] = value
        path.write_text(json.dumps(bad))
        r = run_memscope("explain", "--root", host, "--since", path)
        assert r.returncode == 1 and "is not a counter" in r.stderr, (key, r.stderr)
    r = run_memscope("summary", "--format", "json")
    live = json.loads(r.stdout)
    live["source"]["boot_id"] = "00000000-0000-0000-0000-000000000000"
    live["source"]["taken_at"] = "2020-01-01T00:00:00Z"
    path.write_text(json.dumps(live))
    r = run_memscope("explain", "--since", path)
    assert r.returncode == 1 and "another boot" in r.stderr, r.stderr


# ---------------------------------------------------------------------------------------
# check: the Monitoring Plugins conventions

LINE = re.compile(r"^MEMORY (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+"
                  r"( \| ('[^'=]+'=-?[0-9.]+(B|%)?(;[0-9.:@~-]*){0,4})( '[^'=]+'=-?[0-9.]+"
                  r"(B|%)?(;[0-9.:@~-]*){0,4})*)?\n$")


@pytest.mark.parametrize("host, status, word", [
    ("this-vm-6.18.44-live", 0, "OK"),
    ("pcp-qa-meminfo-root-002-numa2", 0, "OK"),       # an info finding only
    ("goclever-i5-android-arm32-3.4", 1, "WARNING"),  # attention
    ("constructed-kernel-memory-6.18", 2, "CRITICAL"),  # pressure
    ("constructed-pressure-6.18", 2, "CRITICAL"),  # critical
])
def test_check_status(host, status, word):
    r = run_memscope("check", "--root", FIXTURES / host)
    assert r.returncode == status, r.stdout + r.stderr
    assert LINE.match(r.stdout), r.stdout
    assert r.stdout.startswith(f"MEMORY {word} - ")
    assert r.stderr == ""
    head = r.stdout.split(" - ", 1)[1]
    assert not re.match(r"(OK|Attention|Pressure|Critical):", head)  # said once


def test_check_perfdata():
    r = run_memscope("check", "--root", FIXTURES / "constructed-pressure-6.18")
    perf = dict(p.split("=", 1) for p in r.stdout.split(" | ", 1)[1].split())
    mi = {k: int(v.split()[0]) for k, v in (ln.split(":", 1) for ln in open(
        FIXTURES / "constructed-pressure-6.18/proc/meminfo").read().splitlines())}
    total = mi["MemTotal"] * 1024
    warn, crit = int(total * 0.10), int(total * 0.05)
    assert perf["'available'"] == f"{80000 * 1024}B;{warn}:;{crit}:;0;{total}"
    swap = mi["SwapTotal"] * 1024
    assert perf["'swap_used'"].startswith(f"{swap - mi['SwapFree'] * 1024}B;;")
    assert perf["'psi_full_avg10'"] == "65.3%;;60;0;100"
    assert perf["'psi_some_avg10'"] == "82.1%;;;0;100"
    # the worst zone: DMA32, 15000 free pages against low 17353
    assert perf["'zone_headroom'"] == f"{(15000 - 17353) * 4096}B;0:;;;"


def test_check_cgroup():
    r = run_memscope("check", "--root", FIXTURES / "constructed-cgroup2-near-limit",
                     "--cgroup", "/system.slice")
    assert r.returncode == 2 and LINE.match(r.stdout), r.stdout
    assert "cgroup /system.slice is at 92 %" in r.stdout
    assert "'cgroup_working_set'=2423541760B;2107428044;2370856550;0;2634285056" in r.stdout


def test_check_thresholds():
    host = FIXTURES / "this-vm-6.18.44-live"
    r = run_memscope("check", "--root", host, "-w", "99.9", "-c", "50")
    assert r.returncode == 1 and r.stdout.startswith("MEMORY WARNING - ")
    r = run_memscope("check", "--root", host, "-w", "99.9", "-c", "99.8")
    assert r.returncode == 2 and r.stdout.startswith("MEMORY CRITICAL - ")


@pytest.mark.parametrize("args, why", [
    (("--root", "/nonexistent-root"), "/nonexistent-root"),
    (("--root", FIXTURES / "constructed-cgroup2-near-limit", "--cgroup", "/nope"),
     "no such cgroup"),
    (("--bogus",), "usage: No such option"),
    (("-w", "5", "-c", "10"), "usage: -c/--critical must not exceed"),
    (("-w", "abc"), "usage:"),
])
def test_check_unknown(args, why):
    """Monitoring Plugins: anything that keeps the plugin from judging — bad arguments
    included — is UNKNOWN (exit 3), one line on stdout."""
    r = run_memscope("check", *args)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert r.stdout.startswith("MEMORY UNKNOWN - ") and why in r.stdout
    assert r.stdout.count("\n") == 1 and "|" not in r.stdout.split(" - ", 1)[1]
    assert "Traceback" not in r.stderr


def test_check_help_exits_zero():
    r = run_memscope("check", "--help")
    assert r.returncode == 0 and "MEMORY OK|WARNING|CRITICAL|UNKNOWN" in r.stdout


# ---------------------------------------------------------------------------------------
# Prometheus and summary's verdict


def test_explain_prom_parses():
    from prometheus_client.parser import text_string_to_metric_families

    r = run_memscope("explain", "--root", FIXTURES / "constructed-cgroup2-near-limit",
                     "--format", "prom")
    assert r.returncode == 0, r.stderr
    fams = {f.name: f for f in text_string_to_metric_families(r.stdout)}
    (v,) = fams["memscope_verdict"].samples
    assert v.value == 2 and v.labels == {"verdict": "pressure"}
    findings = {s.labels["code"]: (s.labels["severity"], s.value)
                for s in fams["memscope_finding"].samples}
    assert findings == {"cgroup_near_limit": ("pressure", 1), "oom_kills": ("info", 1)}


def test_summary_prom_carries_the_verdict():
    from prometheus_client.parser import text_string_to_metric_families

    r = run_memscope("summary", "--root", FIXTURES / "constructed-pressure-6.18", "--format",
                     "prom")
    fams = {f.name: f for f in text_string_to_metric_families(r.stdout)}
    (v,) = fams["memscope_verdict"].samples
    assert v.value == 3 and v.labels == {"verdict": "critical"}


def test_summary_first_line_is_the_verdict():
    r = run_memscope("summary", "--root", FIXTURES / "constructed-pressure-6.18")
    first = r.stdout.splitlines()[0]
    assert first.startswith("Critical: 78 MiB available of 23 GiB (0.3 %)")
    assert first.endswith("(details: memscope explain)")
    r = run_memscope("summary", "--root", FIXTURES / "this-vm-6.18.44-live")
    assert r.stdout.splitlines()[0] == ("OK: 23 GiB available of 23 GiB (99 %); no memory "
                                        "pressure.")


# ---------------------------------------------------------------------------------------
# Goldens: every fixture host


@pytest.mark.parametrize("host", fixture_hosts())
def test_explain_golden(host, update_golden):
    for fmt, suffix in (("json", "json"), ("table", "txt")):
        r = run_memscope("explain", "--root", FIXTURES / host, "--format", fmt)
        assert r.returncode == 0, r.stderr
        check_golden(GOLDEN / "explain" / f"{host}.{suffix}",
                     r.stdout.replace(str(FIXTURES), "FIXTURES"), update_golden)


def test_container_first_even_when_the_host_is_worse():
    s = summary_of("constructed-pressure-6.18")
    box = {"path": "/web.slice", "version": 2, "limit": 4 << 30, "usage": 3 << 30,
           "working_set": int(3.5 * (1 << 30)), "inactive_file": 0, "high": None,
           "events": {"max": 3, "high": 0, "oom_kill": 0}, "pressure": None,
           "full_path": "/sys/fs/cgroup/web.slice"}
    doc = diagnose(Docs(s, target=box), scope={"kind": "cgroup", "cgroup": "/web.slice"})
    assert doc["verdict"] == "critical"  # the host is worse off than the container
    assert doc["headline"].startswith("Critical: cgroup /web.slice is at 88 % of its 4.0 GiB "
                                      "limit; 78 MiB available of 23 GiB")


@pytest.mark.parametrize("mangle", [
    lambda d: d.update(source="x"),
    lambda d: d.update(activity="x"),
    lambda d: d.update(activity=None),
    lambda d: d["activity"].update(oom_kill="12"),
    lambda d: d["activity"].update(oom_kill=True),
    lambda d: d["source"].update(taken_at=5),
    lambda d: d["source"].update(taken_at="yesterday"),
])
def test_since_hostile_reports(tmp_path, mangle):
    r = run_memscope("summary", "--format", "json")
    old = json.loads(r.stdout)
    mangle(old)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    r = run_memscope("explain", "--since", path, "--format", "json")
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    if r.returncode == 1:
        assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"memscope: error: {path}")
