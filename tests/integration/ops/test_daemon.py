"""The composition root: opened whole, started, reloaded, stopped; /metrics served as
rendered; a scrape never moves credit; spawned reloads do not pile up; a reload
reaches every room that follows the config."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import structlog
from promtext import Scrape
from waits import until

from slaprobe.clock import FakeClock
from slaprobe.config import parse
from slaprobe.core.model import Check
from slaprobe.ops.daemon import Daemon
from slaprobe.web import server

T0 = 1_800_000_000.0


def write_config(path: Path, targets: list[str]) -> None:
    lines = [f'[daemon]\ndatabase = "{path.parent / "d.db"}"\n']
    for name in targets:
        lines.append(f'[[targets]]\nname = "{name}"\nurl = "http://127.0.0.1:9/{name}"\n'
                     'interval = "1h"\n')
    path.write_text("\n".join(lines))


async def opened(tmp_path: Path, targets: list[str]) -> tuple[Daemon, FakeClock]:
    cfg_path = tmp_path / "probe.toml"
    write_config(cfg_path, targets)
    cfg = parse({"daemon": {"database": str(tmp_path / "d.db")},
                 "targets": [{"name": n, "url": f"http://127.0.0.1:9/{n}", "interval": "1h"}
                             for n in targets]}, env={}, path=str(cfg_path))
    clock = FakeClock(start=T0)
    return await Daemon.open(cfg, clock=clock, env={}), clock


async def test_served_bytes_are_what_the_exporter_renders(tmp_path: Path) -> None:
    d, _ = await opened(tmp_path, ["app"])
    await d.start()

    async def verified() -> bool:  # the start-up verification (a thread) has finished
        return Scrape(await d.rooms.exporter.render()).value("slaprobe_history_verified") == 1.0

    assert await until(verified)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runner = await server.start(server.make_app(d.rooms.exporter.render, lambda: d.ready),
                                "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/metrics") as r:
            served = await r.read()
        assert served == await d.rooms.exporter.render()  # time stands still: the same bytes
        assert Scrape(served).value("slaprobe_target_critical", {"target": "app"}) == 1.0
    finally:
        await runner.cleanup()
        await d.shutdown()


async def test_a_scrape_never_moves_credit_housekeeping_does(tmp_path: Path) -> None:
    d, clock = await opened(tmp_path, ["app"])
    for i in range(3):
        d.rooms.recorder.record(Check("app", T0 - 30 + 10 * i, True, 10.0))
    d.tracker.update_credit(clock.now())
    d.rooms.recorder.record(Check("app", T0, True, 10.0))
    before = list(d.tracker.credit["app"].seconds)
    for _ in range(3):
        await d.rooms.exporter.render()
    assert list(d.tracker.credit["app"].seconds) == before
    await d.rooms.housekeeper.tick()
    assert list(d.tracker.credit["app"].seconds) != before
    await d.shutdown()


async def test_reloads_are_applied_and_their_tasks_dropped_when_done(tmp_path: Path) -> None:
    d, _ = await opened(tmp_path, ["app"])
    await d.start()
    try:
        baseline = len(d.tasks)  # housekeeping and the feeds loop
        write_config(tmp_path / "probe.toml", ["app", "api"])
        for i in range(5):
            d.tasks.spawn(d.reload(), f"reload-{i}")
        for _ in range(200):
            if len(d.tasks) == baseline:
                break
            await asyncio.sleep(0.01)
        assert len(d.tasks) == baseline
        assert [t.name for t in d.cfg.targets] == ["app", "api"]
        assert set(d.tracker.critical) == {"app", "api"}
        (tmp_path / "probe.toml").write_text("bogus = 1\n")
        with structlog.testing.capture_logs() as events:
            assert not await d.reload()
        failed = [e for e in events if e["event"] == "config_reload_failed"]
        assert failed and "bogus: unknown key" in failed[0]["problems"]
        assert [t.name for t in d.cfg.targets] == ["app", "api"]  # the old one runs on
        m = Scrape(await d.rooms.exporter.render())
        assert m.value("slaprobe_config_last_reload_successful") == 0.0
        assert m.value("slaprobe_config_reloads_total", {"result": "success"}) == 5.0
    finally:
        await d.shutdown()


async def test_a_removed_target_vanishes_from_metrics(tmp_path: Path) -> None:
    d, _ = await opened(tmp_path, ["app", "api"])
    await d.start()
    try:
        d.rooms.recorder.record(Check("api", T0, True, 10.0))
        d.rooms.instruments.probe.observe("api", "success", 0.1)
        assert Scrape(await d.rooms.exporter.render()).value("slaprobe_probe_success",
                                                       {"target": "api"}) == 1.0
        write_config(tmp_path / "probe.toml", ["app"])
        assert await d.reload()
        m = Scrape(await d.rooms.exporter.render())
        assert m.by("slaprobe_target_critical", "target") == {"app": 1.0}
        assert m.by("slaprobe_probes_total", "target") == {}
    finally:
        await d.shutdown()


async def test_a_reload_reaches_every_room_that_follows_the_config(tmp_path: Path) -> None:
    d, _ = await opened(tmp_path, ["app"])
    await d.start()
    try:
        write_config(tmp_path / "probe.toml", ["app", "api"])
        assert await d.reload()
        r = d.rooms
        assert r.housekeeper.cfg is d.cfg and r.scrape.cfg is d.cfg and r.follower.cfg is d.cfg
        assert set(r.clock_steps.intervals) == {"app", "api"}
        assert set(r.plan.targets) == {"app", "api"}
        assert set(d.tracker.critical) == {"app", "api"}
        assert r.probing.controls == d.cfg.controls
    finally:
        await d.shutdown()


async def test_a_sqlite_daemon_leads_and_serves_its_location(tmp_path: Path) -> None:
    """One location, one daemon: it is its own leader; its newest check is its location's,
    and a location counts as silent after 30 s or three shortest intervals."""
    d, _ = await opened(tmp_path, ["app"])
    try:
        await d.start()
        m = Scrape(await d.rooms.exporter.render())
        assert m.value("slaprobe_leader") == 1.0
        assert m.value("slaprobe_location_silence_seconds") == 3 * 3600.0  # interval 1h
        assert m.value("slaprobe_location_last_check_timestamp_seconds",
                       {"vantage": "default"}) is None  # no check yet
        d.rooms.recorder.record(Check("app", T0 - 5, True, 10.0))
        m = Scrape(await d.rooms.exporter.render())
        assert m.value("slaprobe_location_last_check_timestamp_seconds",
                       {"vantage": "default"}) == T0 - 5
    finally:
        await d.shutdown()
    assert Scrape(await d.rooms.exporter.render()).value("slaprobe_leader") == 0.0
