"""The daemon follows the maintenance file and feeds as they change."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer
from faultserver import FaultServer
from feedtext import ics
from promtext import Scrape
from waits import until

from slaprobe.config import parse
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.maintenance.announcements import append_window
from slaprobe.ops.daemon import Daemon


async def test_file_and_feeds_are_followed_and_a_failing_feed_keeps_its_windows(
    tmp_path: Path, fault_server: FaultServer,
) -> None:
    """An appended file window appears; a feed that fails keeps its windows and counts
    the error; when it recovers its new windows appear."""
    now = time.time()
    day = 86400.0
    state = {"fail": False, "body": ics("a@feed", now + 3 * day, now + 3 * day + 3600,
                                         now - day)}

    async def feed(_: web.Request) -> web.Response:
        if state["fail"]:
            return web.Response(status=500)
        return web.Response(text=state["body"], content_type="text/calendar")

    app = web.Application()
    app.router.add_get("/cal.ics", feed)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    feed_url = str(server.make_url("/cal.ics"))
    static = tmp_path / "static.ics"
    static.write_text(ics("b@file", now + 4 * day, now + 4 * day + 60, now - 10 * day))
    (tmp_path / "probe.toml").write_text("")
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db")},
        "slo": {"maintenance_file": "maintenance.toml", "maintenance_feeds": [feed_url,
                str(static)], "maintenance_feed_interval": "200ms"},
        "defaults": {"interval": "1s", "timeout": "500ms", "retries": 0},
        "targets": [{"name": "app", "url": fault_server.url("/ok")}],
    }, env={}, path=str(tmp_path / "probe.toml"))
    d = await Daemon.open(cfg, env={})

    async def value(name: str, labels: dict[str, str]) -> float:
        return Scrape(await d.rooms.exporter.render()).value(name, labels) or 0

    async def count(status: str) -> float:
        return await value("slaprobe_maintenance_windows", {"status": status})

    async def errors_at_least(n: int) -> bool:
        return await value("slaprobe_maintenance_feed_errors_total", {"source": feed_url}) >= n

    async def counts(excused: int, late: int = 0) -> bool:
        return (await count("excused"), await count("late_notice")) == (excused, late)

    await d.start()
    try:
        assert await until(lambda: counts(2))
        await asyncio.to_thread(

            append_window, tmp_path / "maintenance.toml", MaintenanceSpec(
            id="rushed", start=now + 3600, end=now + 7200, announced=now, targets=("app",)))
        assert await until(lambda: counts(2, 1))
        state["fail"] = True
        assert await until(lambda: errors_at_least(2))
        assert await counts(2, 1)  # the failing feed's window is kept
        state["body"] = ics("c@feed", now + 5 * day, now + 5 * day + 60, now - day)
        state["fail"] = False
        tracker = d.tracker
        assert await until(lambda: [w.id for w in tracker.maintenance
                                    if w.source == feed_url] == ["c@feed"])
        assert await counts(2, 1)
    finally:
        await d.shutdown()
        await server.close()
