"""One leader of a shared history freezes the closed months' statements.

On a real PostgreSQL: the leader lock is held by one daemon at a time; a daemon that
holds it and is killed with SIGKILL just before a month closes leaves the lock to the
next one, which writes that month's statement (exactly one) on the fake clock; a daemon
that does not lead writes none. A SQLite daemon is always its own leader."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import pgserver
import structlog
from waits import until

from slaprobe import logs
from slaprobe.clock import FakeClock
from slaprobe.config import parse
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import month_range
from slaprobe.history import stores
from slaprobe.history.leaderlock import PgLeaderLock, SoleLeader
from slaprobe.history.pgstore import PgStore
from slaprobe.history.recorder import Recorder
from slaprobe.maintenance.follower import MaintenanceFollower
from slaprobe.metrics.instruments import Instruments
from slaprobe.ops import leader as leader_room
from slaprobe.ops.housekeeping import Housekeeper
from slaprobe.ops.leader import Leader

OCT_START, OCT_END = month_range("2026-10")
HOLDER = ("import sys, time\nfrom slaprobe.history.leaderlock import PgLeaderLock\n"
          "lock = PgLeaderLock(sys.argv[1])\n"
          "while not lock.poll():\n    time.sleep(0.05)\n"
          "print('leading', flush=True)\ntime.sleep(120)\n")


def config(url: str, location: str) -> Config:
    return parse({"daemon": {"database": url, "location": location},
                  "targets": [{"name": "app", "url": "http://127.0.0.1:9/",
                               "interval": "30s"}]}, env={})


def october(store: PgStore, location: str) -> None:
    """The last ten minutes of October and the first of November, all up."""
    store.write([Check("app", OCT_END - 600 + 30 * i, True, 0.01, location=location)
                 for i in range(22)])


def test_one_daemon_leads_and_the_next_takes_over(pg: pgserver.Server) -> None:
    url = pg.new_database()
    a, b = PgLeaderLock(url), PgLeaderLock(url)
    try:
        assert a.poll() is True
        assert b.poll() is False
        assert a.poll() is True  # confirmed, still the one
        a.release()
        assert b.poll() is True
        assert a.poll() is False
    finally:
        a.release()
        b.release()
    assert SoleLeader().poll() is True
    assert isinstance(stores.leadership(config(url, "east")), PgLeaderLock)


async def test_the_next_leader_writes_the_month_once(pg: pgserver.Server,
                                                     tmp_path: Path) -> None:
    url = pg.new_database()
    east = await asyncio.to_thread(PgStore, url, location="east")
    west = await asyncio.to_thread(PgStore, url, location="west")
    await asyncio.to_thread(october, east, "east")
    await asyncio.to_thread(october, west, "west")
    holder = await asyncio.create_subprocess_exec(sys.executable, "-c", HOLDER, url,
                                                  stdout=asyncio.subprocess.PIPE)
    clock = FakeClock(start=OCT_END - 5)  # just before October closes
    cfg = config(url, "west")
    log = logs.get()
    inst = Instruments()
    tracker = Tracker({"app": True})
    rec = Recorder(west, tracker, clock, inst, log, horizon=86400.0, generation=0)
    session = aiohttp.ClientSession()
    follower = MaintenanceFollower(cfg, west, tracker, clock, session=session,
                                   instruments=inst, log=log)
    room = Leader(PgLeaderLock(url), clock, inst, log, location="west")
    keeper = Housekeeper(clock, tracker, rec, follower, log, cfg=cfg, store=west,
                         instruments=inst, leading=lambda: room.leading)
    task = None
    try:
        assert holder.stdout is not None
        assert await holder.stdout.readline() == b"leading\n"
        with structlog.testing.capture_logs() as events:
            assert await room.poll() is False  # the holder leads
            assert inst.leader._value.get() == 0
            await clock.advance(10)  # October has closed; east and west wrote past it
            await keeper.close_months(OCT_END + 5)
            assert await asyncio.to_thread(west.records, "statement") == []  # not ours
            # the leader dies just as the month closes: the server drops its lock
            holder.send_signal(signal.SIGKILL)
            await asyncio.wait_for(holder.wait(), 10)
            task = asyncio.create_task(room.run())

            async def took_over() -> bool:
                await clock.advance(leader_room.EVERY)
                return room.leading

            assert await until(took_over, timeout=20)
            assert inst.leader._value.get() == 1
            assert [e["event"] for e in events if e["event"].startswith("leader_")] == [
                "leader_acquired"]
            await keeper.close_months(OCT_END + 5)
            await keeper.close_months(OCT_END + 35)  # again: nothing more
        records = await asyncio.to_thread(east.records, "statement")
        assert [p["month"] for _, _, p in records] == ["2026-10"]
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if holder.returncode is None:
            holder.kill()
            await asyncio.wait_for(holder.wait(), 10)
        await asyncio.to_thread(room.release)
        await session.close()
        east.close()
        west.close()
