"""The maintenance follower on the fake clock: feeds fetched every interval, the file
re-read when it changes (looked at off the loop), verdicts handed to the tracker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from blockbuster import BlockingError, blockbuster_ctx
from feedtext import ics
from waits import until

from slaprobe import logs
from slaprobe.clock import FakeClock
from slaprobe.config import parse
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.spec import Config, MaintenanceSpec
from slaprobe.history.store import Store
from slaprobe.maintenance import announcements
from slaprobe.maintenance.announcements import append_window
from slaprobe.maintenance.follower import MaintenanceFollower
from slaprobe.metrics.instruments import Instruments

DAY = 86400.0


class Feed:
    def __init__(self, body: str) -> None:
        self.body, self.fail, self.hits = body, False, 0

    async def handle(self, _: web.Request) -> web.Response:
        self.hits += 1
        if self.fail:
            return web.Response(status=500)
        return web.Response(text=self.body, content_type="text/calendar")


@pytest.fixture
async def feed() -> AsyncIterator[tuple[Feed, str]]:
    now = time.time()
    f = Feed(ics("a@feed", now + 3 * DAY, now + 3 * DAY + 3600, now - DAY))
    app = web.Application()
    app.router.add_get("/cal.ics", f.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f, str(server.make_url("/cal.ics"))
    await server.close()


def config(tmp_path: Path, feed_url: str) -> Config:
    (tmp_path / "probe.toml").write_text("")
    return parse({
        "daemon": {"database": str(tmp_path / "h.db")},
        "slo": {"maintenance_file": "maintenance.toml", "maintenance_feeds": [feed_url],
                "maintenance_feed_interval": "5m"},
        "targets": [{"name": "app", "url": "http://127.0.0.1:9/"}],
    }, env={}, path=str(tmp_path / "probe.toml"))


async def test_feeds_are_fetched_every_interval_and_a_failure_keeps_the_windows(
    tmp_path: Path, feed: tuple[Feed, str],
) -> None:
    f, url = feed
    clock = FakeClock(start=time.time())
    store = await asyncio.to_thread(Store, tmp_path / "h.db")
    tracker = Tracker({"app": True})
    inst = Instruments()
    async with aiohttp.ClientSession() as session:
        follower = MaintenanceFollower(config(tmp_path, url), store, tracker, clock,
                                       session=session, instruments=inst, log=logs.get())
        task = asyncio.create_task(follower.run_feeds())
        try:
            assert await until(lambda: f.hits == 1 and clock.pending == 1)
            assert [w.id for w in tracker.maintenance] == ["a@feed"]
            await clock.advance(299.0)
            assert f.hits == 1  # not before the interval
            await clock.advance(1.0)
            assert await until(lambda: f.hits == 2 and clock.pending == 1)
            f.fail = True
            with structlog.testing.capture_logs() as events:
                await clock.advance(300.0)
                assert await until(lambda: f.hits == 3 and clock.pending == 1)
            assert [w.id for w in tracker.maintenance] == ["a@feed"]  # kept
            assert inst.feed_errors.labels(url)._value.get() == 1
            assert any(e["event"] == "maintenance_feed_failed" for e in events), events
            f.fail, f.body = False, ics("c@feed", clock.now() + 5 * DAY,
                                        clock.now() + 5 * DAY + 60, clock.now() - DAY)
            await clock.advance(300.0)
            assert await until(lambda: [w.id for w in tracker.maintenance] == ["c@feed"])
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            store.close()


async def test_the_file_is_followed_when_it_changes(
    tmp_path: Path, feed: tuple[Feed, str],
) -> None:
    _, url = feed
    clock = FakeClock(start=time.time())
    store = await asyncio.to_thread(Store, tmp_path / "h.db")
    tracker = Tracker({"app": True})
    async with aiohttp.ClientSession() as session:
        follower = MaintenanceFollower(config(tmp_path, url), store, tracker, clock,
                                       session=session, instruments=Instruments(),
                                       log=logs.get())
        await follower.refresh(fetch_feeds=False)
        assert tracker.maintenance == [] and follower.mtime is None
        assert not await follower.follow_file()  # unchanged: nothing re-read
        now = clock.now()
        await asyncio.to_thread(

            append_window, tmp_path / "maintenance.toml", MaintenanceSpec(
            id="rushed", start=now + 3600, end=now + 7200, announced=now, targets=("app",)))
        assert await follower.follow_file()
        assert [(w.id, w.status) for w in tracker.maintenance] == [("rushed", "late_notice")]
        assert not await follower.follow_file()
        (tmp_path / "maintenance.toml").write_text("[[maintenance]]\nid = 3\n")
        with structlog.testing.capture_logs() as events:
            assert await follower.follow_file()
        bad = [e for e in events if e["event"] == "maintenance_file_invalid"]
        assert bad and bad[0]["kept"] == "last good windows"
        assert [w.id for w in tracker.maintenance] == ["rushed"]
    store.close()


async def test_the_guard_catches_a_stat_on_the_loop_and_the_follower_makes_none(
    tmp_path: Path, feed: tuple[Feed, str],
) -> None:
    """Before, the maintenance file was stat()ed on the event loop every second."""
    _, url = feed
    loop = asyncio.get_running_loop()
    store = await asyncio.to_thread(Store, tmp_path / "h.db")
    tracker = Tracker({"app": True})
    async with aiohttp.ClientSession() as session:
        follower = MaintenanceFollower(config(tmp_path, url), store, tracker, FakeClock(),
                                       session=session, instruments=Instruments(),
                                       log=logs.get())
        with blockbuster_ctx("slaprobe"):  # no exemption for this test's own frames
            caught: asyncio.Future[float | None] = loop.create_future()

            def stat_on_the_loop() -> None:
                try:
                    caught.set_result(announcements.file_mtime(tmp_path / "probe.toml"))
                except BlockingError as e:
                    caught.set_exception(e)

            loop.call_soon(stat_on_the_loop)
            with pytest.raises(BlockingError, match=r"os\.stat"):
                await caught
            await follower.refresh(fetch_feeds=False)
            assert not await follower.follow_file()  # looked at off the loop: no error
    await asyncio.to_thread(store.close)
