"""The real process: durable history across kill -9, import, report, exclusions."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from procs import (
    Daemon,
    Metrics,
    Switch,
    free_port,
    refused_port,
    sample,
    slaprobe,
    write_config,
)
from waits import until

from slaprobe.history.store import Store

pytestmark = pytest.mark.slow


def count_checks(db: Path) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute("SELECT count(*) FROM checks").fetchone()[0])


def last_check_at(db: Path) -> float:
    with sqlite3.connect(db) as c:
        return float(c.execute("SELECT max(at) FROM checks").fetchone()[0])


def good(m: Metrics, target: str = "app") -> float:
    return sample(m, "slaprobe_probes_total", result="success", target=target)


def rfc3339(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")


async def test_kill_9_keeps_history_and_the_gap_is_unknown(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    """After kill -9 at most in-flight checks are lost; the downtime gap is unknown time."""
    url, _ = target
    port = free_port()
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "app"
url = "{url}/"
""")
    start = time.time()
    d = daemons(cfg, port)
    await d.launch()
    m = await d.wait_until(lambda m: good(m) >= 4, "four good checks")
    done = good(m)
    assert d.proc is not None
    d.proc.kill()  # SIGKILL: no chance to flush
    d.wait()
    db = tmp_path / "history.db"
    kept = count_checks(db)
    assert kept >= done - 1
    # the daemon stays away until its last stored check is 5 s old (polled on the store,
    # bounded): the gap the report must show as unknown time
    last = last_check_at(db)
    assert await until(lambda: time.time() - last >= 5, timeout=30)
    d2 = daemons(cfg, port)
    await d2.launch()
    await d2.wait_until(lambda m: good(m) >= 3, "three good checks after the restart")
    d2.signal(signal.SIGTERM)
    assert d2.wait() == 0
    assert count_checks(db) > kept
    end = time.time()
    r = slaprobe("report", "--config", str(cfg), "--from", rfc3339(start), "--to", rfc3339(end),
                 "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    app = rep["targets"]["app"]
    assert app["availability"] == 1.0
    assert app["down_seconds"] == 0.0
    # the daemon was away ~5 s (plus start-up); a check covers at most 2 x 1 s of it
    assert app["unknown_seconds"] >= 5 - 2
    assert app["coverage"] < 1.0
    assert app["up_seconds"] >= 4


CSV = """target,time,ok,latency_seconds,status_code,error
app,2026-10-01T00:00:00Z,1,0.1,200,
app,2026-10-01T00:01:00Z,true,0.1,200,
app,2026-10-01T00:02:00Z,up,0.1,200,
app,2026-10-01T00:03:00Z,0,,503,bad_status
app,2026-10-01T00:04:00Z,false,,,timeout
app,1759277100,down,,,connect_error
app,2026-10-01T00:06:00Z,1,0.1,200,
app,2026-10-01T02:07:00+02:00,1,0.1,200,
app,2026-10-01T00:08:00Z,1,0.1,200,
app,2026-10-01T00:09:00Z,1,0.1,200,
"""


def import_config(tmp_path: Path, extra: str = "") -> Path:
    return write_config(tmp_path / "probe.toml", port=free_port(), targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "60s"
timeout = "5s"
""", extra=extra)


def test_import_twice_then_report_exact_figures(tmp_path: Path) -> None:
    """Imported checks give exact time-weighted figures; a second import changes nothing."""
    cfg = import_config(tmp_path)
    (tmp_path / "h.csv").write_text(CSV)
    r = slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "imported 10 checks" in r.stdout
    r = slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "imported 0 checks" in r.stdout and "10 already stored" in r.stdout
    r = slaprobe("report", "--config", str(cfg), "--from", "2026-10-01T00:00:00Z",
                 "--to", "2026-10-01T01:00:00Z", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    app = rep["targets"]["app"]
    assert app["up_seconds"] == 480.0  # 3 x 60 + 3 x 60 + last check capped at 2 x 60
    assert app["down_seconds"] == 180.0
    assert app["unknown_seconds"] == 3600.0 - 660.0
    assert app["availability"] == pytest.approx(480 / 660)
    assert app["coverage"] == pytest.approx(660 / 3600)
    assert app["objective_met"] is False
    assert app["error_budget_remaining_ratio"] == pytest.approx(1 - 180 / (0.001 * 660))
    assert rep["service"]["down_seconds"] == 180.0
    assert rep["downtime"] == [{"target": "app", "start": "2026-10-01T00:03:00Z",
                                "end": "2026-10-01T00:06:00Z", "seconds": 180.0}]
    assert rep["from"] == "2026-10-01T00:00:00Z" and rep["objective"] == 0.999
    assert set(rep) == {"from", "to", "objective", "service", "targets", "downtime",
                        "maintenance", "terms", "incidents"}
    assert set(app) == set(rep["service"]) == {
        "availability", "up_seconds", "down_seconds", "excluded_seconds", "excluded_by_reason",
        "unknown_seconds", "coverage", "error_budget_remaining_ratio", "objective_met",
        "degraded_seconds"}
    assert app["degraded_seconds"] == 0.0  # no degraded_latency: none
    assert set(app["excluded_by_reason"]) == {"maintenance", "probe_network"}
    for fmt in ("text", "markdown"):
        r = slaprobe("report", "--config", str(cfg), "--month", "2026-10", "--format", fmt,
                     cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "app" in r.stdout and "2026-10-01T00:03:00Z" in r.stdout
    r = slaprobe("report", "--config", str(cfg), "--month", "2026-10", "--format", "json",
                 cwd=tmp_path)
    month = json.loads(r.stdout)
    assert month["to"] == "2026-11-01T00:00:00Z"
    assert month["targets"]["app"]["down_seconds"] == 180.0
    r = slaprobe("report", "--config", str(cfg), "--month", "2026-10", "--format", "csv",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 31 * (1 + len(month["targets"]))
    first = next(x for x in rows if x["day"] == "2026-10-01" and x["name"] == "app")
    assert (first["kind"], first["up_seconds"], first["down_seconds"]) == ("target", "480",
                                                                           "180")
    assert first["availability"] == f"{int(480 / 660 * 1e6) / 1e6:.6f}"
    assert next(x for x in rows if x["day"] == "2026-10-02")["availability"] == ""
    r = slaprobe("report", "--config", str(cfg), "--month", "2026-10", "--format", "html",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("<!DOCTYPE html>") and "<script" not in r.stdout
    assert "2026-10-01: 72.7272%, down 3m, excluded 0s, unknown 23h 49m" in r.stdout


def test_bad_import_names_the_line_and_writes_nothing(tmp_path: Path) -> None:
    """A bad row aborts the whole import with its line number."""
    cfg = import_config(tmp_path)
    (tmp_path / "bad.csv").write_text(CSV + "app,yesterday,1,,,\n")
    r = slaprobe("import", "bad.csv", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2
    assert "line 12" in r.stderr and "time" in r.stderr
    (tmp_path / "unknown.csv").write_text("target,time,ok\napp,2026-10-01T00:00:00Z,1\n"
                                          "nope,2026-10-01T00:00:00Z,1\n")
    r = slaprobe("import", "unknown.csv", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2 and "line 3" in r.stderr and "nope" in r.stderr
    db = tmp_path / "history.db"
    assert not db.exists() or count_checks(db) == 0


def test_report_of_empty_history_is_null_not_one(tmp_path: Path) -> None:
    """No data gives availability null (undefined), never 1."""
    cfg = import_config(tmp_path)
    Store(tmp_path / "history.db").close()  # an empty history (readers never create one)
    r = slaprobe("report", "--config", str(cfg), "--month", "2026-10", "--format", "json",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["service"]["availability"] is None
    assert rep["targets"]["app"]["availability"] is None
    assert rep["targets"]["app"]["coverage"] == 0.0


async def test_controls_failing_too_is_probe_network_not_downtime(
    tmp_path: Path, daemons: Callable[[Path, int], Daemon],
) -> None:
    """A target failing while every control fails is excluded as probe_network."""
    port = free_port()
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "app"
url = "http://127.0.0.1:{refused_port()}/"

[[controls]]
url = "http://127.0.0.1:{refused_port()}/"
""")
    d = daemons(cfg, port)
    await d.launch()
    m = await d.wait_until(
        lambda m: sample(m, "slaprobe_excluded_seconds_total", reason="probe_network",
                         target="app") > 0,
        "time excluded as probe_network")
    assert math.isnan(m[("slaprobe_target_up", (("target", "app"),))])
    assert m[("slaprobe_down_seconds_total", (("target", "app"),))] == 0.0
    assert m[("slaprobe_excluded_seconds_total",
              (("reason", "probe_network"), ("target", "app")))] > 0
    assert math.isnan(m[("slaprobe_availability_ratio", (("target", "app"), ("window", "1h")))])
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    assert [e["target"] for e in d.events("target_down_probe_network")] == ["app"]


async def test_announced_maintenance_excludes_but_late_notice_counts(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    """Down time inside an excused window is excluded; a late-notice window counts as down."""
    url, sw = target
    sw.status = 503
    port = free_port()
    now = time.time()
    extra = f"""
[[maintenance]]
id = "excused"
start = {rfc3339(now - 3600 + 0.0)}
end = {rfc3339(now + 3600)}
announced = {rfc3339(now - 7 * 86400)}
targets = ["planned"]

[[maintenance]]
id = "late"
start = {rfc3339(now + 1)}
end = {rfc3339(now + 3600)}
announced = {rfc3339(now - 3600)}
targets = ["rushed"]

[[maintenance]]
id = "ahead"
start = {rfc3339(now + 10)}
end = {rfc3339(now + 3600)}
announced = {rfc3339(now - 3 * 86400)}
targets = ["announced"]
"""
    cfg = write_config(tmp_path / "probe.toml", port=port, extra=extra, targets=f"""
[[targets]]
name = "planned"
url = "{url}/p"

[[targets]]
name = "rushed"
url = "{url}/r"

[[targets]]
name = "announced"
url = "{url}/a"
""")
    d = daemons(cfg, port)
    await d.launch()  # "ahead" starts 10 s after `now`: seen before its start, even when loaded

    def v(name: str, **labels: str) -> float:
        return m[(name, tuple(sorted(labels.items())))]

    # until "ahead" has begun and excluded time, and the others counted down time
    m = await d.wait_until(
        lambda m: (sample(m, "slaprobe_excluded_seconds_total", target="announced",
                          reason="maintenance") > 0
                   and sample(m, "slaprobe_down_seconds_total", target="rushed") > 0
                   and sample(m, "slaprobe_down_seconds_total", target="planned") > 0),
        "the announced window excluding, the others down", timeout=40)
    d.signal(signal.SIGTERM)
    assert d.wait() == 0

    # "excused" started before slaprobe first saw it: retroactive, not excluded
    assert v("slaprobe_maintenance_windows", status="retroactive") == 1
    assert v("slaprobe_maintenance_windows", status="late_notice") == 1
    assert v("slaprobe_maintenance_windows", status="excused") == 1
    assert v("slaprobe_maintenance_active", target="announced") == 1
    assert v("slaprobe_maintenance_active", target="rushed") == 0
    assert v("slaprobe_down_seconds_total", target="rushed") > 0
    assert v("slaprobe_down_seconds_total", target="planned") > 0
    assert v("slaprobe_excluded_seconds_total", target="announced", reason="maintenance") > 0
    r = slaprobe("maintenance", "list", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = {line.split()[0]: line for line in r.stdout.splitlines()[1:]}
    assert "excused" in lines["ahead"] and "late_notice" in lines["late"]
    assert "retroactive" in lines["excused"]


def test_report_lists_maintenance_with_design_fields(tmp_path: Path) -> None:
    """A backfilled window is retroactive; with allow_retroactive_maintenance it is
    excluded, and the report lists it with exactly DESIGN's fields."""
    cfg = import_config(tmp_path, extra="""
[slo]
allow_retroactive_maintenance = true

[[maintenance]]
id = "upgrade"
start = 2026-10-01T00:03:00Z
end = 2026-10-01T00:05:00Z
announced = 2026-09-20T00:00:00Z
targets = ["app"]
""")
    (tmp_path / "h.csv").write_text(CSV)
    assert slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path).returncode == 0
    r = slaprobe("report", "--config", str(cfg), "--from", "2026-10-01T00:00:00Z",
                 "--to", "2026-10-01T01:00:00Z", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    [m] = rep["maintenance"]
    assert set(m) == {"id", "start", "end", "announced", "first_seen", "targets", "status",
                      "notice_seconds", "excluded_seconds"}
    assert m["status"] == "retroactive" and m["targets"] == ["app"]
    assert m["excluded_seconds"] == 120.0
    assert m["notice_seconds"] == pytest.approx(11 * 86400 + 180)
    app = rep["targets"]["app"]
    assert app["down_seconds"] == 60.0  # 00:05-00:06 only; 00:03-00:05 is excluded
    assert app["excluded_by_reason"] == {"maintenance": 120.0, "probe_network": 0.0}
    assert rep["downtime"] == [{"target": "app", "start": "2026-10-01T00:05:00Z",
                                "end": "2026-10-01T00:06:00Z", "seconds": 60.0}]


def test_report_includes_feed_windows_and_keeps_them_when_the_feed_fails(
    tmp_path: Path,
) -> None:
    """Windows from a Statuspage feed count in the report; when the feed later fails,
    its last good windows (kept in the database) still do."""
    feed = tmp_path / "status.json"
    feed.write_text(json.dumps({"scheduled_maintenances": [{
        "id": "sp1", "name": "Upgrade", "status": "completed",
        "created_at": "2026-09-20T00:00:00Z",
        "scheduled_for": "2026-10-01T00:03:00Z", "scheduled_until": "2026-10-01T00:05:00Z",
        "components": [],
    }]}))
    cfg = import_config(tmp_path, extra=f"""
[slo]
allow_retroactive_maintenance = true
maintenance_feeds = ["{feed}"]
""")
    (tmp_path / "h.csv").write_text(CSV)
    assert slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path).returncode == 0
    args = ("report", "--config", str(cfg), "--from", "2026-10-01T00:00:00Z",
            "--to", "2026-10-01T01:00:00Z", "--format", "json")
    for attempt in ("feed up", "feed gone"):
        r = slaprobe(*args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)
        assert [m["id"] for m in rep["maintenance"]] == ["sp1"], attempt
        assert rep["targets"]["app"]["excluded_by_reason"]["maintenance"] == 120.0, attempt
        feed.unlink(missing_ok=True)
    assert "maintenance_feed_failed" in r.stderr
    r = slaprobe("maintenance", "list", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0 and "sp1" in r.stdout
