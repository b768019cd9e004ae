"""One writer per location survives a restart of the PostgreSQL server: the writer's
connection holds the location's lock and takes it again whenever it is opened again;
when another daemon took the location meanwhile, the first one writes no more."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pgserver
import psycopg
import pytest
import structlog

from slaprobe import logs
from slaprobe.clock import FakeClock
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check
from slaprobe.history import recorder
from slaprobe.history.pgstore import LocationLockHeld, PgStore, lock_key
from slaprobe.history.recorder import Recorder
from slaprobe.history.spool import Spool
from slaprobe.history.storeapi import StoreError, WriterLockLost
from slaprobe.metrics.instruments import Instruments

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from waits import until

T0 = 1790812800.0

pytestmark = pytest.mark.skipif(pgserver.binaries() is None,
                                reason="no PostgreSQL server binaries")


def holders(url: str, location: str) -> int:
    """Sessions holding the location's advisory lock."""
    key = lock_key(location)
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND"
            " ((classid::bigint << 32) | objid::bigint) = %s", (key & 0xFFFFFFFFFFFFFFFF,),
        ).fetchone()
    return int(row[0]) if row else 0


def write(store: PgStore, checks: list[Check]) -> None:
    """Write as the recorder does: a failure (the connection the restart broke) is retried."""
    try:
        store.write(checks)
    except WriterLockLost:
        raise
    except StoreError:
        store.write(checks)


def test_the_lock_is_taken_again_after_a_server_restart() -> None:
    with pgserver.server() as srv:
        url = srv.new_database()
        east = PgStore(url, location="east", listen="127.0.0.1:9469")
        try:
            east.write([Check("app", T0, True, 30.0, location="east")])
            assert holders(url, "east") == 1
            srv.stop()
            srv.start()
            assert holders(url, "east") == 0  # the server forgot it with the session
            # the next write opens a connection and takes the lock before writing
            write(east, [Check("app", T0 + 30, True, 30.0, location="east")])
            assert holders(url, "east") == 1
            with pytest.raises(LocationLockHeld, match=r"in use by another slaprobe run \(pid"):
                PgStore(url, location="east", listen="127.0.0.1:9470")
            PgStore(url, location="west", listen="127.0.0.1:9471").close()  # another location
        finally:
            east.close()
        assert holders(url, "east") == 0


def test_a_location_taken_while_the_server_was_away_stops_the_first_writer() -> None:
    with pgserver.server() as srv:
        url = srv.new_database()
        first = PgStore(url, location="east", listen="127.0.0.1:9469")
        try:
            first.write([Check("app", T0, True, 30.0, location="east")])
            srv.stop()
            srv.start()
            # a second daemon starts before the first one wrote again: it gets the lock
            second = PgStore(url, location="east", listen="127.0.0.1:9470")
            try:
                with pytest.raises(WriterLockLost, match="stopped writing"):
                    write(first, [Check("app", T0 + 30, True, 30.0, location="east")])
                with pytest.raises(WriterLockLost):  # and stays stopped
                    first.write([Check("app", T0 + 60, True, 30.0, location="east")])
                second.write([Check("app", T0 + 30, False, 30.0, location="east")])
                assert [c.ok for c in second.checks("app", 0, T0 + 90, location="east")] == [
                    True, False]
                assert holders(url, "east") == 1
            finally:
                second.close()
        finally:
            first.close()


async def test_the_recorder_stops_writing_and_says_so(tmp_path: Path) -> None:
    with pgserver.server() as srv:
        url = srv.new_database()
        first = await asyncio.to_thread(PgStore, url, location="east", listen="a")
        clock = FakeClock(start=T0)
        rec = Recorder(first, Tracker({"app": True}), clock, Instruments(), logs.get(),
                       horizon=86400.0, generation=0, spool=Spool(tmp_path / "east.spool"))
        writer = asyncio.create_task(rec.run())
        second = None
        try:
            rec.record(Check("app", T0, True, 10.0))
            await clock.advance(recorder.BATCH_PAUSE)
            assert await until(lambda: rec.pending == 0)
            await asyncio.to_thread(srv.stop)
            await asyncio.to_thread(srv.start)
            second = await asyncio.to_thread(PgStore, url, location="east", listen="b")
            with structlog.testing.capture_logs() as events:
                for k in range(1, 4):
                    rec.record(Check("app", T0 + 10.0 * k, True, 10.0))
                    await clock.advance(recorder.BATCH_PAUSE)
                    await until(lambda: clock.pending > 0)
                for _ in range(5):  # the writer's retries, on the fake clock
                    if (deadline := clock.next_deadline()) is not None:
                        await clock.advance(deadline - clock.monotonic())
                    await until(lambda: clock.pending > 0)
                assert await until(lambda: rec.lock_lost)
            lost = [e for e in events if e["event"] == "writer_lock_lost"]
            assert len(lost) == 1, events  # said once, however often it retries
            assert "stopped writing" in lost[0]["error"] and "pid" in lost[0]["error"]
            assert not rec.writes_ok and rec.pending == 3
            assert await asyncio.to_thread(second.count_checks) == 1  # nothing more by east#1
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            rec.unwritten.close()
            await asyncio.to_thread(first.close)
            if second is not None:
                await asyncio.to_thread(second.close)
