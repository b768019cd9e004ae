"""The history as evidence, with the real program: append-only import, one writer."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from procs import Daemon, Metrics, Switch, free_port, sample, slaprobe, write_config

from slaprobe.history import sqlstore
from slaprobe.history.store import Store

pytestmark = pytest.mark.slow


def rfc3339(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")


def stored(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT * FROM checks ORDER BY target, at").fetchall()


async def test_import_across_a_recorded_outage_is_refused(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    """The issue's reproduction: with the daemon running an outage of `api` is recorded;
    a CSV of 220 rows `api,<t>,1` 100 ms apart across it is refused whole (exit 2, naming
    the line and the recorded range), the history is unchanged and the report still
    shows the outage the daemon saw."""
    url, sw = target
    port = free_port()
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "api"
url = "{url}/api"

[[targets]]
name = "web"
url = "{url}/web"
""")
    d = daemons(cfg, port)
    await d.launch()

    def api(m: Metrics, result: str) -> float:
        return sample(m, "slaprobe_probes_total", result=result, target="api")

    await d.wait_until(lambda m: api(m, "success") >= 2, "two good checks of api")
    sw.status = 503
    outage_start = time.time()
    await d.wait_until(lambda m: api(m, "bad_status") >= 5, "five failed checks of api")
    sw.status = 200
    ok = api(await d.metrics(), "success")
    await d.wait_until(lambda m: api(m, "success") >= ok + 2, "api up again, two checks")
    down = await d.value("slaprobe_down_seconds_total", target="api")
    assert down is not None and down >= 3
    rows = [f"api,{rfc3339(outage_start - 5 + k * 0.1)},1" for k in range(220)]
    (tmp_path / "across.csv").write_text("target,time,ok\n" + "\n".join(rows) + "\n")
    db = tmp_path / "history.db"
    before = stored(db)
    r = slaprobe("import", "across.csv", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2, r.stdout
    assert re.search(r"across\.csv: line \d+: api at \S+ overlaps a recorded check "
                     r"\(\S+Z \.\. \S+Z\): an import fills only unknown time "
                     r"\(nothing imported\)", r.stderr), r.stderr
    csv_times = {outage_start - 5 + k * 0.1 for k in range(220)}
    after = stored(db)
    assert set(before) <= set(after)  # the daemon keeps writing; nothing else does
    assert not [row for row in after if row[1] in csv_times]
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    rep = json.loads(slaprobe("report", "--config", str(cfg), "--from",
                              rfc3339(outage_start - 60), "--to", rfc3339(time.time() + 1),
                              "--format", "json", cwd=tmp_path).stdout)
    assert rep["targets"]["api"]["down_seconds"] >= 3
    assert rep["targets"]["api"]["down_seconds"] >= down  # not cut by the refused rows


def test_import_fills_unknown_time_with_the_given_interval(tmp_path: Path) -> None:
    """--interval sets the covering interval; the import prints the coverage it filled;
    a second import of the same file is a no-op."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(), targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "2s"
""")
    rows = [f"app,2026-10-01T00:{m:02d}:{s:02d}Z,1" for m in range(2) for s in (0, 30)]
    (tmp_path / "h.csv").write_text("target,time,ok\n" + "\n".join(rows) + "\n")
    r = slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "app: filled 16s of unknown time in 2026-10-01T00:00:00Z .. " \
           "2026-10-01T00:01:34Z (coverage 17.0%)" in r.stdout
    r = slaprobe("import", "h.csv", "--config", str(cfg), "--interval", "30s", cwd=tmp_path)
    assert r.returncode == 2  # the same rows with another interval rewrite recorded checks
    assert "line 2: app at 2026-10-01T00:00:00Z overlaps a recorded check" in r.stderr
    r = slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0 and "imported 0 checks" in r.stdout and "4 already stored" in r.stdout
    (tmp_path / "later.csv").write_text("target,time,ok\n" + "\n".join(
        r.replace("00:0", "01:0") for r in rows) + "\n")
    r = slaprobe("import", "later.csv", "--config", str(cfg), "--interval", "30s", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "app: filled 2m30s of unknown time in 2026-10-01T01:00:00Z .. " \
           "2026-10-01T01:02:30Z (coverage 100.0%)" in r.stdout
    r = slaprobe("import", "h.csv", "--config", str(cfg), "--interval", "soon", cwd=tmp_path)
    assert r.returncode == 2 and "--interval: invalid duration" in r.stderr


async def test_a_second_daemon_on_one_database_is_refused(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    """One writer: a second `run` on the same database exits 2 naming the holder (pid and
    listen address) and writes nothing; after the first dies by kill -9 its lock is gone
    and a new daemon starts."""
    url, _ = target
    targets = f"""
[[targets]]
name = "app"
url = "{url}/"
"""
    port_a, port_b = free_port(), free_port()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cfg_a = write_config(tmp_path / "a" / "probe.toml", port=port_a, targets=targets)
    cfg_b = write_config(tmp_path / "b" / "probe.toml", port=port_b, targets=targets)
    db = tmp_path / "shared.db"
    for cfg in (cfg_a, cfg_b):
        cfg.write_text(cfg.read_text().replace('database = "history.db"', f'database = "{db}"'))
    a = daemons(cfg_a, port_a)
    await a.launch()
    assert a.proc is not None
    b = daemons(cfg_b, port_b)
    b.start()
    assert b.wait(timeout=20) == 2
    assert f"in use by another slaprobe run (pid {a.proc.pid}, listening on " \
           f"127.0.0.1:{port_a})" in b.logs()
    assert "Traceback" not in b.logs()
    # a reader runs beside the writer
    r = slaprobe("report", "--config", str(cfg_b), "--month",
                 dt.datetime.now(dt.UTC).strftime("%Y-%m"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    a.proc.kill()
    a.wait()
    c = daemons(cfg_b, port_b)
    await c.launch()  # the dead daemon's lock does not block
    c.signal(signal.SIGTERM)
    assert c.wait() == 0


def test_readers_write_nothing(tmp_path: Path) -> None:
    """report and maintenance list only read: a window they show is not recorded as
    seen, and the database file is not changed by them."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(), targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
""", extra="""
[[maintenance]]
id = "later"
start = 2030-01-01T00:00:00Z
end = 2030-01-01T01:00:00Z
announced = 2029-01-01T00:00:00Z
""")
    (tmp_path / "h.csv").write_text("target,time,ok\napp,2026-10-01T00:00:00Z,1\n")
    assert slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path).returncode == 0
    db = tmp_path / "history.db"
    with sqlite3.connect(db) as c:
        c.execute("DELETE FROM maintenance_seen")
    before = stored(db)
    for args in (("report", "--month", "2026-10"), ("maintenance", "list")):
        r = slaprobe(*args, "--config", str(cfg), cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    assert "later" in r.stdout and "excused" in r.stdout
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM maintenance_seen").fetchone()[0] == 0
    assert stored(db) == before


async def test_lowering_the_notice_does_not_excuse_a_late_window(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    """A window announced 1 h ahead is late_notice under the 48 h notice. Lowering the
    notice to 10 s and SIGHUP leave it late_notice (its status is fixed by the notice in
    force when it was first seen); a window first seen after the change, also 1 h
    ahead, is excused; the report lists the change of terms."""
    url, _ = target
    port = free_port()
    now = time.time()
    late = f"""
[[maintenance]]
id = "late"
start = {rfc3339(now + 3600)}
end = {rfc3339(now + 7200)}
announced = {rfc3339(now)}
"""
    targets = f"""
[[targets]]
name = "app"
url = "{url}/"
"""
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=targets, extra=late)
    d = daemons(cfg, port)
    await d.launch()
    await d.wait_for_value("slaprobe_maintenance_windows", 1, status="late_notice")
    cfg.write_text(cfg.read_text().replace("[defaults]", '[slo]\nmaintenance_notice = "10s"\n\n'
                                           "[defaults]") + late.replace('"late"', '"later"'))
    d.signal(signal.SIGHUP)
    await d.wait_for_value("slaprobe_maintenance_windows", 1, status="excused")
    assert await d.value("slaprobe_maintenance_windows", status="late_notice") == 1
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    r = slaprobe("report", "--config", str(cfg), "--from", rfc3339(now - 60), "--to",
                 rfc3339(now + 7200), "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert {m["id"]: m["status"] for m in rep["maintenance"]} == {
        "late": "late_notice", "later": "excused"}
    assert [t["maintenance_notice_seconds"] for t in rep["terms"]] == [172800.0, 10.0]


def test_verify_exits_1_naming_the_edited_row(tmp_path: Path) -> None:
    """`slaprobe verify`: 0 on an intact history; 1 naming the record after an edit with
    the sqlite3 module; a report still reads."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(), targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "60s"
""")
    rows = [f"app,2026-10-01T00:{m:02d}:00Z,{int(m != 3)}" for m in range(10)]
    (tmp_path / "h.csv").write_text("target,time,ok\n" + "\n".join(rows) + "\n")
    assert slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path).returncode == 0
    r = slaprobe("verify", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "intact: 2 chain records, 10 checks" in r.stdout
    assert "\nhead: 2:" in r.stdout
    with sqlite3.connect(tmp_path / "history.db") as c:
        c.execute("UPDATE checks SET ok = 1 WHERE ok = 0")
    r = slaprobe("verify", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 1
    assert "is NOT intact: chain record #2 (checks, written 2026-10-01T00:09:00Z), checks n " \
           "1..10 (app, 2026-10-01T00:00:00Z .. 2026-10-01T00:09:00Z): a check changed " \
           "outside slaprobe" in r.stderr


async def test_statement_is_byte_identical_across_restart_and_config_change(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    """The daemon closes a past month at start-up: `report --month` then returns that
    statement byte for byte after a config change and a restart; verify says intact;
    an import into the month is refused."""
    url, _ = target
    port = free_port()
    targets = f"""
[[targets]]
name = "app"
url = "{url}/"
interval = "60s"
"""
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=targets)
    rows = [f"app,2026-10-01T00:{m:02d}:00Z,{int(m % 7 != 3)}" for m in range(50)]
    (tmp_path / "oct.csv").write_text("target,time,ok\n" + "\n".join(rows) + "\n")
    assert slaprobe("import", "oct.csv", "--config", str(cfg), cwd=tmp_path).returncode == 0
    d = daemons(cfg, port)
    await d.launch()
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    assert '"month": "2026-10"' in d.logs() and "statement_stored" in d.logs()
    args = ("report", "--config", str(cfg), "--month", "2026-10", "--format", "json")
    first = slaprobe(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["targets"]["app"]["down_seconds"] == 7 * 60.0
    cfg.write_text(cfg.read_text().replace("[defaults]", "[slo]\nobjective = 0.99\n\n[defaults]")
                   .replace('interval = "60s"', 'interval = "1s"'))
    d2 = daemons(cfg, port)
    await d2.launch()
    d2.signal(signal.SIGTERM)
    assert d2.wait() == 0
    again = slaprobe(*args, cwd=tmp_path)
    assert again.stdout == first.stdout
    text = slaprobe(*args[:-1], "text", cwd=tmp_path)
    assert text.returncode == 0 and "objective 99.9%" in text.stdout
    r = slaprobe("verify", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (tmp_path / "late.csv").write_text("target,time,ok\napp,2026-10-20T00:00:00Z,1\n")
    r = slaprobe("import", "late.csv", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2
    assert "line 2: app at 2026-10-20T00:00:00Z is in 2026-10, a closed month with a " \
           "statement" in r.stderr


def _head(out: str) -> str:
    found = re.search(r"^head: (\d+:[0-9a-f]{64})$", out, re.M)
    assert found, out
    return found.group(1)


def test_a_cut_tail_is_found_only_with_a_head_published_earlier(tmp_path: Path) -> None:
    """Delete the newest block and its checks from outside (and refold the timeline as
    a careful forger would): `verify` alone cannot know and says so; `verify --head`
    with the head published before the cut exits 1 naming it; an older head still
    holds."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(), targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "60s"
""")
    for hour in (0, 1):
        rows = [f"app,2026-10-01T0{hour}:{m:02d}:00Z,{int(m != 3)}" for m in range(10)]
        (tmp_path / "h.csv").write_text("target,time,ok\n" + "\n".join(rows) + "\n")
        assert slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path).returncode == 0
        r = slaprobe("verify", "--config", str(cfg), cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        if hour == 0:
            older = _head(r.stdout)
    newest = _head(r.stdout)
    seq = int(newest.split(":")[0])
    assert int(older.split(":")[0]) < seq
    db = tmp_path / "history.db"
    with sqlite3.connect(db) as c:
        lo, hi = c.execute("SELECT lo, hi FROM chain WHERE seq = ?", (seq,)).fetchone()
        assert c.execute("DELETE FROM checks WHERE n BETWEEN ? AND ?", (lo, hi)).rowcount == 10
        c.execute("DELETE FROM chain WHERE seq = ?", (seq,))
    store = Store(db)
    with store.backend.write() as sql:  # the forger refolds the timeline too
        sqlstore.rebuild(sql, "default", "app")
    store.close()

    r = slaprobe("verify", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert _head(r.stdout) == older
    assert "a cut tail (the newest records deleted with their checks) cannot be known " \
           "without a head published earlier" in r.stdout
    r = slaprobe("verify", "--head", newest, "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert f"head {newest} given is not in the history: it ends at chain record #{seq - 1}" \
        in r.stderr
    assert "Traceback" not in r.stderr
    r = slaprobe("verify", "--head", older, "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"the history still holds head {older}" in r.stdout
    forged = older[:-1] + ("0" if older[-1] != "0" else "1")
    r = slaprobe("verify", "--head", forged, "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 1 and "does not match chain record" in r.stderr
    r = slaprobe("verify", "--head", "12", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2 and "expected SEQ:DIGEST" in r.stderr


def test_an_edited_timeline_fails_verify_naming_the_table(tmp_path: Path) -> None:
    """The issue's reproduction: an UPDATE of `spans` erasing a recorded outage."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(), targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "60s"
""")
    rows = [f"app,2026-10-01T00:{m:02d}:00Z,{int(not 3 <= m < 23)}" for m in range(40)]
    (tmp_path / "h.csv").write_text("target,time,ok\n" + "\n".join(rows) + "\n")
    assert slaprobe("import", "h.csv", "--config", str(cfg), cwd=tmp_path).returncode == 0
    assert slaprobe("verify", "--config", str(cfg), cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "history.db") as c:
        assert c.execute("UPDATE spans SET state = 0 WHERE state = 1").rowcount == 1
    r = slaprobe("verify", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 1
    assert "table spans, target app at location default, from 2026-10-01T00:03:00Z" in r.stderr
    assert "Traceback" not in r.stderr
