"""A shared history whose server cannot be reached when the daemon starts: the store is
opened *not yet reached* (every call a StoreError that names the database without its
password), `reach` makes its first connection once the server is there (the location's
writer lock taken, or WriterLockLost when another daemon holds it by then), and the
reach room tries it with backoff on the daemon's clock. Config mistakes (a wrong
password, a missing database) are no reason to wait: they still fail at once."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pgserver
import pytest
import structlog

from slaprobe import config, logs
from slaprobe.clock import FakeClock
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.incidents.rules import Support
from slaprobe.core.model import Check, State
from slaprobe.history import stores
from slaprobe.history.pgstore import LocationLockHeld, PgStore, unreachable_server
from slaprobe.history.recorder import Recorder
from slaprobe.history.spool import Spool
from slaprobe.history.storeapi import StoreError, WriterLockLost
from slaprobe.incidents.desk import IncidentDesk
from slaprobe.metrics.instruments import Instruments
from slaprobe.ops.reaching import Reach

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from waits import until

T0 = 1_800_000_000.0
SECRET = "s3cret-pw"

pytestmark = pytest.mark.skipif(pgserver.binaries() is None,
                                reason="no PostgreSQL server binaries")


def with_password(url: str, password: str = SECRET) -> str:
    """The URL with a password (the tests' server trusts local logins: it is ignored)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.replace('@', f':{password}@', 1)}"


def cfg_for(tmp_path: Path, location: str = "east") -> config.Config:
    path = tmp_path / "probe.toml"
    path.write_text(f"""
[daemon]
listen = "127.0.0.1:9"
database = "env:SLAPROBE_TEST_DB"
location = "{location}"

[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
""")
    return config.load(path, env={"SLAPROBE_TEST_DB": "postgresql://x@127.0.0.1:1/x"})


def opened(tmp_path: Path, url: str) -> config.Config:
    return config.load(tmp_path / "probe.toml", env={"SLAPROBE_TEST_DB": url})


def test_a_stopped_server_opens_the_store_not_yet_reached(tmp_path: Path) -> None:
    with pgserver.server() as srv:
        url = with_password(srv.new_database())
        cfg_for(tmp_path)
        cfg = opened(tmp_path, url)
        srv.stop()
        store, lock = stores.open_writer(cfg, None)
        try:
            assert isinstance(store, PgStore) and lock is None
            assert not store.reached and not stores.reached(store)
            for call in (lambda: store.write([Check("app", T0, True, 10.0, location="east")]),
                         store.generation, store.check_watermark, store.reach):
                with pytest.raises(StoreError) as e:
                    call()
                assert "Connection refused" in str(e.value)
                assert SECRET not in str(e.value) and store.name in str(e.value)
            srv.start()
            store.reach()
            assert store.reached
            store.write([Check("app", T0, True, 10.0, location="east")])
            assert [c.at for c in store.checks("app", 0, 4e9)] == [T0]
            with pytest.raises(LocationLockHeld):  # the location's lock was taken
                stores.open_writer(cfg, None)
        finally:
            store.close()


def test_the_location_taken_meanwhile_is_a_lost_lock(tmp_path: Path) -> None:
    """Another daemon of the location started while this one waited for the server:
    this one never writes (WriterLockLost on every call, as a lock lost later)."""
    with pgserver.server() as srv:
        url = srv.new_database()
        cfg_for(tmp_path)
        cfg = opened(tmp_path, url)
        srv.stop()
        waiting, _ = stores.open_writer(cfg, None)
        srv.start()
        other, _ = stores.open_writer(cfg, None)
        try:
            assert isinstance(waiting, PgStore)
            with pytest.raises(WriterLockLost, match="in use by another slaprobe run"):
                waiting.reach()
            with pytest.raises(WriterLockLost):
                waiting.write([Check("app", T0, True, 10.0, location="east")])
            other.write([Check("app", T0, True, 10.0, location="east")])  # the holder writes on
        finally:
            waiting.close()
            other.close()


def test_config_mistakes_still_refuse_at_once(tmp_path: Path) -> None:
    with pgserver.server() as srv:
        wrong_password = with_password(srv.password_login("probe", "right-one"))
        missing = with_password(srv.url("no_such_db"))
        cfg_for(tmp_path)
        for url, what in ((wrong_password, "password authentication failed"),
                          (missing, 'database "no_such_db" does not exist')):
            with pytest.raises(StoreError) as e:
                stores.open_writer(opened(tmp_path, url), None)
            assert what in str(e.value) and SECRET not in str(e.value)
            assert not unreachable_server(e.value)
        srv.stop()
        with pytest.raises(StoreError) as e:
            PgStore(missing, location="east", listen="127.0.0.1:9")
        assert unreachable_server(e.value)


async def test_the_reach_room_tries_with_backoff_then_reads_the_history(
        tmp_path: Path) -> None:
    """On the daemon's clock: tried at once, then after each backoff; once reached,
    the timelines are read with the unwritten checks on top, the rooms that wait for
    the store are started and the writer writes the checks made meanwhile."""
    with pgserver.server() as srv:
        url = srv.new_database()
        seed = PgStore(url, location="east")  # a check from before this run
        seed.write([Check("app", T0 - 100, False, 10.0, error="boom", location="east")])
        seed.close()
        srv.stop()
        store = PgStore(url, location="east", listen="127.0.0.1:9", unreached="down at start")
        clock = FakeClock(start=T0)
        tracker = Tracker({"app": True})
        spool = Spool(tmp_path / "east.spool")
        spool.spill()  # on local disk from the first check
        rec = Recorder(store, tracker, clock, Instruments(), logs.get(), horizon=86400.0,
                       generation=0, spool=spool)
        reach = Reach(store, rec, IncidentDesk(Support(), T0 - 86400, logs.get()), clock,
                      log=logs.get(), repeats=logs.Repeats(logs.get(), clock=clock.monotonic))
        started: list[float] = []

        async def start() -> None:
            started.append(clock.monotonic())

        writer = asyncio.create_task(rec.run())
        with structlog.testing.capture_logs() as events:
            task = asyncio.create_task(reach.run(start))
            try:
                rec.record(Check("app", T0, True, 10.0))
                rec.record(Check("app", T0 + 10, True, 10.0))
                assert await until(lambda: spool.on_disk == 2)
                assert (tmp_path / "east.spool").read_text().count("\n") == 2
                for _ in range(6):  # the clock moves: tried again, refused again
                    await until(lambda: clock.pending >= 2)
                    deadline = clock.next_deadline()
                    assert deadline is not None
                    await clock.advance(deadline - clock.monotonic())
                assert not reach.reached and not started and rec.pending == 2
                await asyncio.to_thread(srv.start)
                for _ in range(20):
                    if reach.reached and rec.pending == 0:
                        break
                    if (deadline := clock.next_deadline()) is not None:
                        await clock.advance(deadline - clock.monotonic())
                    await until(lambda: (reach.reached and rec.pending == 0)
                                or clock.pending >= 2)
                assert reach.reached and started and rec.pending == 0
                await asyncio.wait_for(task, 10)
            finally:
                task.cancel()
                writer.cancel()
                await asyncio.gather(task, writer, return_exceptions=True)
        stored = await asyncio.to_thread(store.checks, "app", 0, 4e9)
        assert [c.at for c in stored] == [T0 - 100, T0, T0 + 10]
        # the timeline holds the stored past too: the down check before this run
        assert tracker.histories["app"].totals(T0 - 100, T0 - 90, T0 + 20)[State.DOWN] == 10
        names = [e["event"] for e in events]
        assert names.count("store_reached") == 1
        assert "history_reloaded" in names
        spool.close()
        await asyncio.to_thread(store.close)


async def test_the_reach_room_finds_the_location_taken(tmp_path: Path) -> None:
    """Reached, but another daemon writes the location by then: this one stops trying,
    says so once (`writer_lock_lost`, as a lock lost later), reads nothing and keeps
    its checks on local disk; /readyz stays 503 (not reached, writes failing)."""
    with pgserver.server() as srv:
        url = srv.new_database()
        srv.stop()
        store = PgStore(url, location="east", listen="127.0.0.1:9", unreached="down at start")
        srv.start()
        other = PgStore(url, location="east", listen="127.0.0.1:10")
        clock = FakeClock(start=T0)
        spool = Spool(tmp_path / "east.spool")
        spool.spill()
        rec = Recorder(store, Tracker({"app": True}), clock, Instruments(), logs.get(),
                       horizon=86400.0, generation=0, spool=spool)
        reach = Reach(store, rec, IncidentDesk(Support(), T0 - 86400, logs.get()), clock,
                      log=logs.get(), repeats=logs.Repeats(logs.get(), clock=clock.monotonic))
        started: list[bool] = []

        async def start() -> None:
            started.append(True)

        rec.record(Check("app", T0, True, 10.0))
        try:
            with structlog.testing.capture_logs() as events:
                await asyncio.wait_for(reach.run(start), 30)
                rec.writer.lose_lock(WriterLockLost("again"))  # said once only
            lost = [e for e in events if e["event"] == "writer_lock_lost"]
            assert len(lost) == 1 and "in use by another slaprobe run" in lost[0]["error"]
            assert not reach.reached and not started
            assert rec.writer.lock_lost and not rec.writes_ok
            assert [e["event"] for e in events].count("store_reached") == 0
            assert await until(lambda: spool.on_disk == 1)
            assert await asyncio.to_thread(other.checks, "app", 0, 4e9) == []
        finally:
            spool.close()
            await asyncio.to_thread(store.close)
            await asyncio.to_thread(other.close)


def test_a_server_that_does_not_answer_is_not_reached_either(tmp_path: Path) -> None:
    """A listener that never answers (a hung server, a partition): the connection
    times out, and the daemon starts as for a stopped server."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"postgresql://probe:{SECRET}@127.0.0.1:{silent.getsockname()[1]}/slaprobe"
        cfg_for(tmp_path)
        store, _ = stores.open_writer(opened(tmp_path, url), None)
        try:
            assert isinstance(store, PgStore) and not store.reached
            assert "timeout expired" in (store.pg.unreached or "")
            assert SECRET not in (store.pg.unreached or "")
        finally:
            store.close()
