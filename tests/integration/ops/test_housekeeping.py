"""Housekeeping on the fake clock: credit each second, the first prune after a minute,
then hourly; a failing tick is logged and the next one runs."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import aiohttp
import structlog
from waits import until

from slaprobe import logs
from slaprobe.clock import FakeClock
from slaprobe.config import parse
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check, State
from slaprobe.evidence import statements
from slaprobe.history import sqlstore
from slaprobe.history.recorder import Recorder
from slaprobe.history.store import Store
from slaprobe.maintenance.follower import MaintenanceFollower
from slaprobe.metrics.instruments import Instruments
from slaprobe.ops import housekeeping
from slaprobe.ops.housekeeping import Housekeeper

T0 = 1_800_000_000.0
DAY = 86400.0  # the shortest retention


async def rooms(tmp_path: Path) -> tuple[FakeClock, Store, Tracker, Recorder,
                                          aiohttp.ClientSession, Housekeeper]:
    """A housekeeper over a real store, on the fake clock, retention one day."""
    clock = FakeClock(start=T0)
    store = await asyncio.to_thread(Store, tmp_path / "h.db")
    cfg = parse({"daemon": {"retention": "1d"},
                 "targets": [{"name": "app", "url": "http://127.0.0.1:9/"}]}, env={})
    tracker = Tracker({"app": True})
    inst, log = Instruments(), logs.get()
    repeats = logs.Repeats(log, clock=clock.monotonic)  # one for every room, as the daemon
    rec = Recorder(store, tracker, clock, inst, log, horizon=DAY, generation=0, repeats=repeats)
    session = aiohttp.ClientSession()
    follower = MaintenanceFollower(cfg, store, tracker, clock, session=session,
                                   instruments=inst, log=log)
    return clock, store, tracker, rec, session, Housekeeper(
        clock, tracker, rec, follower, log, cfg=cfg, store=store, instruments=inst,
        repeats=repeats)


async def test_credit_moves_each_tick_and_prune_runs_on_its_schedule(tmp_path: Path) -> None:
    clock, store, tracker, rec, session, keeper = await rooms(tmp_path)
    store.write([Check("app", T0 - DAY - 100 + i, True, 1.0) for i in range(100)])
    tracker.reconfigure(tracker.critical, await rec.load(["app"]), replace=True)
    task = asyncio.create_task(keeper.run())
    try:
        with structlog.testing.capture_logs() as events:
            credited = []
            for _ in range(4):
                tracker.add(Check("app", clock.now(), True, 1.0))  # a check arrives
                await clock.advance(housekeeping.EVERY)
                assert await until(lambda: clock.pending == 1)  # back asleep on the clock
                credited.append(tracker.credit["app"].seconds[State.UP])
            # the first tick starts crediting; each later one credits the second since
            assert credited == [0.0, 1.0, 2.0, 3.0]
            assert store.count_checks() == 100  # no prune in the first minute
            await clock.advance(housekeeping.FIRST_PRUNE_AFTER)
            assert await until(lambda: store.count_checks() == 0)
            assert await until(lambda: clock.pending == 1)
            pruned = [e for e in events if e["event"] == "pruned"]
            assert pruned == [{"event": "pruned", "log_level": "info", "checks": 100}]
            store.write([Check("app", clock.now() - DAY - 40 + i, True, 1.0) for i in range(10)])
            await clock.advance(housekeeping.PRUNE_EVERY / 2)
            assert await until(lambda: clock.pending == 1)
            assert store.count_checks() == 10  # the next prune waits an hour
            await clock.advance(housekeeping.PRUNE_EVERY / 2)
            assert await until(lambda: store.count_checks() == 0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await session.close()
        store.close()


async def test_a_failing_tick_is_logged_and_housekeeping_goes_on(tmp_path: Path) -> None:
    clock, store, _, rec, session, keeper = await rooms(tmp_path)
    store.close()  # every store read now fails
    task = asyncio.create_task(keeper.run())
    try:
        with structlog.testing.capture_logs() as events:
            for _ in range(2):
                await clock.advance(housekeeping.EVERY)
                assert await until(lambda: clock.pending == 1)
        failed = [e for e in events if e["event"] == "housekeeping_failed"]
        assert len(failed) == 1 and failed[0]["log_level"] == "error"  # once, then counted
        assert rec.repeats.failing("housekeeping") == 2  # the second tick ran and failed
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await session.close()


async def test_a_month_with_edited_timelines_is_not_frozen_until_they_check_out(
        tmp_path: Path) -> None:
    """An outside UPDATE of `spans` before a month closes: the statement is refused
    (`statement_refused`, logged once, tried again a minute later), nothing is chained;
    once the timeline agrees with its checks again the month closes."""
    clock, store, _, _, session, keeper = await rooms(tmp_path)
    dec = 1796083200.0  # 2026-12-01T00:00:00Z, a month before the fake clock's
    store.write([Check("app", dec + 60 * k, k % 10 != 3, 60.0) for k in range(30)])
    with closing(sqlite3.connect(tmp_path / "h.db")) as c:
        assert c.execute("UPDATE spans SET state = 0 WHERE state = 1").rowcount == 3
        c.commit()
    try:
        with structlog.testing.capture_logs() as events:
            await keeper.close_months(clock.now())
            await keeper.close_months(clock.now())
        refused = [e for e in events if e["event"] == "statement_refused"]
        assert len(refused) == 1 and refused[0]["month"] == "2026-12"
        assert "table spans, target app at location default" in refused[0]["error"]
        assert statements.stored(store) == {}
        assert keeper.retry_close == clock.monotonic() + housekeeping.RETRY_CLOSE
        with store.backend.write() as sql:  # put right (as a restore would)
            sqlstore.rebuild(sql, "default", "app")
        with structlog.testing.capture_logs() as events:
            await keeper.close_months(clock.now())
        assert "2026-12" in statements.stored(store)
        assert [e["event"] for e in events if e["event"].startswith("statement")] == [
            "statement_verified", "statement_stored"]
        assert any(e["event"] == "chain_head" for e in events)
    finally:
        await session.close()
        store.close()
