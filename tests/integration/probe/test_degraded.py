"""Degraded time: a real local server slower than `degraded_latency` for a scripted
minute, its checks judged by the prober, recorded in a real SQLite history and figured
by the tracker and the report: availability unchanged, degraded seconds and the latency
SLI exact to the second against a reference computed by hand."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from slaprobe import config
from slaprobe.core.history.degraded import DEGRADED, sli
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check, State
from slaprobe.history.store import Store
from slaprobe.probe.prober import attempt
from slaprobe.reporting import report

pytestmark = pytest.mark.timeout(30)
T0 = 1_796_000_000.0  # 2026-11-30T..Z, inside one month
STEP = 10.0            # the scripted check interval
CHECKS = 30            # five minutes of checks
SLOW = range(6, 12)    # checks 6..11 (T0+60 .. T0+120): the slow minute


async def test_a_slow_minute_is_degraded_time_not_downtime(tmp_path: Path) -> None:
    delay = 0.0

    async def handle(_: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    cfg = config.parse({
        "daemon": {"database": str(tmp_path / "h.db")},
        "targets": [{"name": "app", "url": str(server.make_url("/")), "retries": 0,
                     "timeout": "3s", "interval": "10s", "degraded_latency": "400ms"}]},
        env={})
    spec = cfg.targets[0]
    checks: list[Check] = []
    try:
        for i in range(CHECKS):
            delay = 0.8 if i in SLOW else 0.0
            a = await attempt(spec)
            assert a.ok, a
            assert a.degraded == (i in SLOW), (i, a)
            checks.append(Check("app", T0 + i * STEP, True, STEP, latency=a.latency, status=200,
                                error=DEGRADED if a.degraded else None))
    finally:
        await server.close()

    end = T0 + CHECKS * STEP   # the last check covers its interval too
    degraded = len(SLOW) * STEP  # reference: six checks x 10 s = 60 s
    # the live engine
    tracker = Tracker({"app": True})
    for c in checks:
        tracker.add(c)
    assert tracker.target_totals("app", T0, end, end)[State.UP] == CHECKS * STEP
    assert tracker.target_totals("app", T0, end, end)[State.DOWN] == 0.0
    assert tracker.degraded_seconds("app", T0, end, end) == degraded
    assert tracker.degraded_seconds("app", T0 + 90, T0 + 100, end) == 10.0
    assert tracker.degraded_seconds("app", T0 + 115, end, end) == 5.0  # a window ending in it
    assert sli(CHECKS * STEP, degraded) == 1 - 60 / 300
    # the history: written, chained, read back by the report
    store = Store(tmp_path / "h.db")
    try:
        store.write(checks)
        assert store.verify().ok
        tr = report.load_tracker(cfg, store, T0 - 3600, [], end)
        rep = report.build(cfg, tr, T0, end, end)
    finally:
        store.close()
    app_scope = rep["targets"]["app"]
    assert app_scope["availability"] == 1.0 and app_scope["down_seconds"] == 0.0
    assert app_scope["up_seconds"] == CHECKS * STEP
    assert app_scope["degraded_seconds"] == degraded
    assert rep["service"]["degraded_seconds"] == degraded
    assert rep["service"]["availability"] == 1.0


def test_degraded_credit_and_maintenance() -> None:
    """The counter credits degraded time once it is final; maintenance is left out."""
    tracker = Tracker({"app": True})
    for i in range(10):
        tracker.add(Check("app", T0 + i * STEP, True, STEP,
                          error=DEGRADED if 2 <= i <= 4 else None))
        tracker.update_credit(T0 + i * STEP)
    assert tracker.degraded_credit["app"] == 30.0
    assert tracker.credit["app"].seconds[State.UP] == 90.0
