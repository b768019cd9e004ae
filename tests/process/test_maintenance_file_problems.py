"""A broken maintenance file is visible (metric, log event, warnings) but stops
nothing: the daemon, `once`, `report` and `maintenance list` go on with its last
good windows; `check` and `maintenance add` still refuse it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from procs import Daemon, Switch, free_port, refused_port, slaprobe, write_config

from slaprobe.core.timefmt import iso
from slaprobe.history.store import Store

pytestmark = pytest.mark.slow

BROKEN = '[[maintenance]]\nid = "db"\nstart = "tomorrow"\nend = 2030-01-01T00:00:00Z\n'


def announce(cfg: Path) -> None:
    """`maintenance add` (a writer): the file gets the window, the store its last good copy."""
    r = slaprobe("maintenance", "add", "--config", str(cfg), "--id", "db", "--start", "now+3d",
                 "--end", "now+3d1h", "--reason", "DB", cwd=cfg.parent)
    assert r.returncode == 0, r.stderr


def good(now: float) -> str:
    return (f'[[maintenance]]\nid = "db"\nstart = {iso(now + 3 * 86400)}\n'
            f'end = {iso(now + 3 * 86400 + 3600)}\nannounced = {iso(now)}\nreason = "DB"\n')


def setup(tmp: Path, url: str, port: int) -> Path:
    cfg = write_config(tmp / "probe.toml", port=port,
                       extra='[slo]\nmaintenance_file = "maintenance.toml"',
                       targets=f'[[targets]]\nname = "app"\nurl = "{url}/"\n')
    Store(tmp / "history.db").close()
    announce(cfg)
    return cfg


def test_readers_warn_and_keep_the_last_good_windows(tmp_path: Path) -> None:
    cfg = setup(tmp_path, f"http://127.0.0.1:{refused_port()}", free_port())
    (tmp_path / "maintenance.toml").write_text(BROKEN)

    listed = slaprobe("maintenance", "list", "--config", str(cfg), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "warning: invalid maintenance file (using its last good windows):" in listed.stderr
    assert "maintenance.toml: maintenance[0].start" in listed.stderr
    assert listed.stdout.splitlines()[1].startswith("db ")  # the last good window

    rep = slaprobe("report", "--config", str(cfg), "--from", "now-1h", "--format", "json",
                   cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert "maintenance[0].start" in rep.stderr
    json.loads(rep.stdout)

    once = slaprobe("once", "--config", str(cfg), cwd=tmp_path)
    assert once.returncode == 1, once.stdout + once.stderr  # it probed: app is down
    assert "DOWN (" in once.stdout
    assert "invalid maintenance file (probing anyway)" in once.stderr

    check = slaprobe("check", "--config", str(cfg), cwd=tmp_path)
    assert check.returncode == 2 and "maintenance[0].start" in check.stderr
    add = slaprobe("maintenance", "add", "--config", str(cfg), "--start", "now+3d",
                   "--end", "now+3d1h", "--reason", "x", cwd=tmp_path)
    assert add.returncode == 2
    assert (tmp_path / "maintenance.toml").read_text() == BROKEN  # nothing appended


async def test_daemon_reports_problems_and_keeps_windows(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    url, _ = target
    port = free_port()
    cfg = setup(tmp_path, url, port)
    (tmp_path / "maintenance.toml").write_text(BROKEN)
    d = daemons(cfg, port)
    await d.launch()  # starts anyway
    await d.wait_for_value("slaprobe_maintenance_file_problems", 2.0)
    windows = sum(v for (name, _), v in (await d.metrics()).items()
                  if name == "slaprobe_maintenance_windows")
    assert windows == 1  # the last good window still counts
    events = [json.loads(line) for line in d.logs().splitlines() if line.startswith("{")]
    bad = [e for e in events if e["event"] == "maintenance_file_invalid"]
    assert bad and bad[0]["level"] == "error"
    assert isinstance(bad[0]["problems"], list) and len(bad[0]["problems"]) == 2
    assert any("maintenance[0].start" in p for p in bad[0]["problems"])

    await asyncio.sleep(0.05)
    (tmp_path / "maintenance.toml").write_text(good(time.time()))
    await d.wait_for_value("slaprobe_maintenance_file_problems", 0.0)
