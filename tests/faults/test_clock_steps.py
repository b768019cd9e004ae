"""Time is checked, not trusted: wall-clock steps never write a false record.

A step backwards never stamps a check before one already recorded (the
monotonic-derived time is used until the wall clock catches up); a step forwards
leaves the skipped span unknown. In-process with an injected wall clock, and for a
real process under libfaketime (Debian's `faketime`).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import structlog
from clirun import child_env
from procs import Daemon, Metrics, Switch, free_port, sample, write_config
from promtext import Scrape
from waits import until

from slaprobe.clock import SystemClock
from slaprobe.config import parse
from slaprobe.core.walltime import WallGuard
from slaprobe.history.store import Store
from slaprobe.ops.daemon import Daemon as InProcessDaemon

pytestmark = pytest.mark.timeout(90)
HOUR = 3600.0


class SteppedClock(SystemClock):
    """The real clocks, with a wall-clock offset the test steps."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


def test_guard_holds_backwards_and_reports_forwards() -> None:
    g = WallGuard()
    assert g.stamp(1000.0, 5.0).at == 1000.0
    back = g.stamp(1000.5 - HOUR, 5.5)
    assert (back.at, back.event) == (1000.5, "backward") and back.step < -3599
    assert g.stamp(1001.0 - HOUR, 6.0).at == 1001.0  # still held, no second event
    fwd = g.stamp(1007.0, 7.0)  # the wall clock is back: past the held time
    assert fwd.event == "caught_up" and fwd.at == 1007.0
    jump = g.stamp(1008.0 + HOUR, 8.0)
    assert jump.event == "forward" and jump.at == 1008.0 + HOUR
    assert jump.step == pytest.approx(HOUR)
    assert g.stamp(1008.3 + HOUR, 8.3).event is None  # slewing within tolerance


async def _run(tmp_path: Path, url: str, step: float) -> tuple[list[object], float, list[dict]]:
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db")},
        "defaults": {"interval": "1s", "timeout": "500ms", "retries": 0},
        "targets": [{"name": "app", "url": f"{url}/ok"}],
    }, env={})
    clock = SteppedClock()
    started = time.time()
    d = await InProcessDaemon.open(cfg, clock=clock, env={})
    with structlog.testing.capture_logs() as logs:
        await d.start()
        try:
            for _ in range(100):
                if "app" in d.last and d.last["app"].at > started + 1:
                    break
                await asyncio.sleep(0.1)
            direction = "backward" if step < 0 else "forward"

            async def values() -> tuple[float, float]:
                scrape = Scrape(await d.rooms.exporter.render())
                return (scrape.value("slaprobe_clock_steps_total", {"direction": direction})
                        or 0.0,
                        scrape.value("slaprobe_probes_total",
                                     {"target": "app", "result": "success"}) or 0.0)

            _, probed = await values()
            clock.offset = step

            async def seen_and_probed_on() -> bool:
                steps, now_probed = await values()
                return steps >= 1 and now_probed >= probed + 3

            # until the step was seen and three more checks were made after it (bounded)
            await until(seen_and_probed_on, timeout=30, every=0.05)
            scrape = Scrape(await d.rooms.exporter.render())
        finally:
            await d.shutdown(None)
    assert scrape.value("slaprobe_clock_steps_total", {"direction": direction}) == 1.0
    store = Store(tmp_path / "h.db")
    try:
        checks = store.checks("app", 0, 4e9)
    finally:
        store.close()
    return checks, started, logs


async def test_a_step_backwards_never_writes_into_the_past(
    tmp_path: Path, target: tuple[str, Switch],
) -> None:
    url, _ = target
    checks, started, logs = await _run(tmp_path, url, -HOUR)
    ats = [c.at for c in checks]  # type: ignore[attr-defined]
    assert len(ats) >= 4
    assert ats == sorted(ats) and min(ats) >= started - 1.0, ats  # nothing an hour back
    assert max(ats) <= time.time() + 1.0
    assert all(c.ok for c in checks)  # type: ignore[attr-defined]
    stepped = [e for e in logs if e["event"] == "wall_clock_stepped"]
    assert len(stepped) == 1 and stepped[0]["direction"] == "backward"


async def test_a_step_forwards_invents_no_up_time(
    tmp_path: Path, target: tuple[str, Switch],
) -> None:
    url, _ = target
    checks, started, _ = await _run(tmp_path, url, HOUR)
    marks = [c for c in checks if c.unknown]  # type: ignore[attr-defined]
    assert len(marks) == 1 and marks[0].error == "probe_clock_step"  # type: ignore[attr-defined]
    began = marks[0].at  # type: ignore[attr-defined]
    assert started <= began <= time.time()
    after = [c.at for c in checks if c.at > began]  # type: ignore[attr-defined]
    assert after and min(after) >= began + HOUR - 5
    store = Store(tmp_path / "h.db")
    try:
        history = store.load("app", 0)
    finally:
        store.close()
    up, down = history.totals(began, began + HOUR - 5, time.time() + HOUR)[:2]
    assert up == 0.0 and down == 0.0  # the skipped hour is unknown


def _libfaketime() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
                   + glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    return found[0] if found else None


class FakeTimeDaemon(Daemon):
    """`slaprobe run` under libfaketime, its wall offset read from a file each call."""

    def __init__(self, config: Path, port: int, offset_file: Path, lib: str) -> None:
        super().__init__(config, port)
        self.env = child_env(LD_PRELOAD=lib, FAKETIME_TIMESTAMP_FILE=str(offset_file),
                             FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1",
                             DONT_FAKE_MONOTONIC="1")

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "slaprobe", "run", "--config", str(self.config),
                 "--log-format", "json"],
                cwd=self.config.parent, stdout=out, stderr=subprocess.STDOUT, env=self.env)


@pytest.mark.skipif(_libfaketime() is None, reason="faketime not installed (apt-get install"
                                                   " faketime)")
async def test_a_real_daemon_under_faketime_stepped_back_an_hour(
    tmp_path: Path, target: tuple[str, Switch],
) -> None:
    url, _ = target
    offset = tmp_path / "faketime.rc"
    offset.write_text("+0\n")
    port = free_port()
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "app"
url = "{url}/ok"
""")
    lib = _libfaketime()
    assert lib is not None
    started = time.time()
    d = FakeTimeDaemon(cfg, port, offset, lib)
    try:
        await d.launch()
        await d.wait_for_value("slaprobe_target_up", 1.0, target="app")

        def good(m: Metrics) -> float:
            return sample(m, "slaprobe_probes_total", result="success", target="app")

        await d.wait_until(lambda m: good(m) >= 2, "two good checks")
        offset.write_text("-3600\n")  # the wall clock steps back an hour
        m_step = await d.wait_until(
            lambda m: sample(m, "slaprobe_clock_steps_total", direction="backward") == 1.0,
            "the step back seen")
        await d.wait_until(lambda m: good(m) >= good(m_step) + 3,
                           "three more checks after the step")
        offset_seen = await d.value("slaprobe_clock_offset_seconds")
        assert offset_seen is not None and offset_seen < -3500
        d.signal(signal.SIGTERM)
        assert d.wait(15) == 0
    finally:
        d.stop()
    with contextlib.closing(sqlite3.connect(tmp_path / "history.db")) as db:
        ats = [r[0] for r in db.execute("SELECT at FROM checks ORDER BY at")]
    assert len(ats) >= 4, d.logs()
    assert min(ats) >= started - 2.0, (started, ats)  # nothing written an hour back
    assert max(ats) <= time.time() + 2.0
    assert max(b - a for a, b in itertools.pairwise(ats)) < 3.0  # one second apart
    assert d.logs().count('"event": "wall_clock_stepped"') == 1
