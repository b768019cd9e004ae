"""Input ranges: absurd durations, counts and times are errors naming their place, every
CLI path exits 2 with a message (never a traceback), Ctrl-C exits 130 after cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from clirun import assert_no_traceback, child_env, slaprobe
from faultserver import FaultServer

pytestmark = pytest.mark.timeout(90)

BASE = """
[daemon]
database = "h.db"
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
"""


async def test_check_names_every_out_of_range_key(tmp_path: Path) -> None:
    cfg = tmp_path / "probe.toml"
    cfg.write_text("""
[daemon]
max_concurrency = 1000000000
retention = "5000000d"
[slo]
windows = ["30s", "100000d"]
[defaults]
retries = 2000000000
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "500ms"
timeout = "90000h"
max_body_bytes = 99999999999999
[[maintenance]]
id = "typo"
start = 0202-12-06T02:00:00Z
end = 0202-12-06T04:00:00Z
announced = 2026-11-30T09:00:00Z
""")
    r = await slaprobe("check", "--config", str(cfg), cwd=tmp_path)
    assert_no_traceback(r)
    assert r.returncode == 2
    for line in (
        "daemon.max_concurrency: must be at most 10000",
        "daemon.retention: must be at most",
        "slo.windows[0]: must be at least 1m",
        "slo.windows[1]: must be at most",
        "defaults.retries: must be at most 10, not 2000000000",
        "targets[0].interval: must be at least 1s, not 500ms",
        "targets[0].timeout: must be at most 1h",
        "targets[0].max_body_bytes: must be at most",
        "maintenance[0].start: 0202-12-06 02:00:00+00:00 is outside the plausible range",
    ):
        assert line in r.stderr, (line, r.stderr)


@pytest.mark.parametrize("args", [
    ["--from", "now-99999999999d"],
    ["--from", "0001-01-01"],
    ["--from", "2026-01-01", "--to", "9999-12-31"],
    ["--month", "9999-12"],
    ["--from", "1e30"],
], ids=["relative-overflow", "year-1", "year-9999", "month-9999", "huge-unix"])
async def test_report_times_outside_the_plausible_range_exit_2(
    tmp_path: Path, args: list[str],
) -> None:
    (tmp_path / "probe.toml").write_text(BASE)
    r = await slaprobe("report", "--config", str(tmp_path / "probe.toml"), *args, cwd=tmp_path)
    assert_no_traceback(r)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("slaprobe: --")


async def test_import_refuses_an_implausible_time_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "probe.toml").write_text(BASE)
    csv = tmp_path / "h.csv"
    csv.write_text("target,time,ok\napp,2026-10-01T00:00:00Z,1\napp,1790000000000,1\n")
    r = await slaprobe("import", str(csv), "--config", str(tmp_path / "probe.toml"),
                       cwd=tmp_path)
    assert_no_traceback(r)
    assert r.returncode == 2
    assert "line 3" in r.stderr and "plausible range" in r.stderr
    with contextlib.closing(sqlite3.connect(tmp_path / "h.db")) as db:
        assert db.execute("SELECT count(*) FROM checks").fetchone() == (0,)


async def _interrupt(args: list[str], cwd: Path, busy: Callable[[], bool]) -> tuple[int, str]:
    """Run slaprobe, SIGINT it once `busy()` says its work is under way."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "slaprobe", *args, cwd=cwd, env=child_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    for _ in range(300):
        if busy() or proc.returncode is not None:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    assert proc.returncode is None, "finished before the interrupt"
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_ctrl_c_in_once_exits_130_quietly(
    tmp_path: Path, fault_server: FaultServer,
) -> None:
    (tmp_path / "probe.toml").write_text(f"""
[daemon]
database = "h.db"
[defaults]
timeout = "30s"
retries = 0
[[targets]]
name = "app"
url = "{fault_server.url('/slow?delay=60')}"
""")
    code, output = await _interrupt(["once", "--config", str(tmp_path / "probe.toml")],
                                    tmp_path, lambda: fault_server.stats.hits["slow"] > 0)
    assert code == 130, output
    assert "Traceback" not in output
    assert output.strip() == "slaprobe: interrupted"


async def test_ctrl_c_in_import_exits_130_and_imports_nothing(tmp_path: Path) -> None:
    (tmp_path / "probe.toml").write_text(BASE)
    csv = tmp_path / "big.csv"
    start = time.time() - 30 * 86400
    with csv.open("w") as f:
        f.write("target,time,ok\n")
        for k in range(400_000):
            f.write(f"app,{start + k * 5:.0f},1\n")
    code, output = await _interrupt(
        ["import", str(csv), "--config", str(tmp_path / "probe.toml")], tmp_path,
        (tmp_path / "h.db-wal").exists)
    assert code == 130, output
    assert "Traceback" not in output
    with contextlib.closing(sqlite3.connect(tmp_path / "h.db")) as db:
        assert db.execute("SELECT count(*) FROM checks").fetchone() == (0,)
