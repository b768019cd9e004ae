"""PostgreSQL away while the daemon records: probing goes on, checks wait on local disk
from the first failed write, and all of them are written, in order, when the server is
back."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pgserver
import pytest
import structlog

from slaprobe import logs
from slaprobe.clock import FakeClock
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check
from slaprobe.history import recorder
from slaprobe.history.pgstore import PgStore
from slaprobe.history.recorder import Recorder
from slaprobe.history.spool import Spool
from slaprobe.metrics.instruments import Instruments

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from waits import until

T0 = 1_800_000_000.0


@pytest.mark.skipif(pgserver.binaries() is None, reason="no PostgreSQL server binaries")
async def test_checks_wait_on_disk_while_the_server_is_away(tmp_path: Path) -> None:
    with pgserver.server() as srv:
        store = await asyncio.to_thread(PgStore, srv.new_database(), location="east")
        clock = FakeClock(start=T0)
        spool = Spool(tmp_path / "east.spool", memory=5)
        rec = Recorder(store, Tracker({"app": True}), clock, Instruments(), logs.get(),
                       horizon=86400.0, generation=0, spool=spool)
        writer = asyncio.create_task(rec.run())
        try:
            rec.record(Check("app", T0, True, 10.0))
            await clock.advance(recorder.BATCH_PAUSE)
            assert await until(lambda: rec.pending == 0)
            await asyncio.to_thread(srv.stop)
            with structlog.testing.capture_logs() as events:
                for k in range(1, 21):
                    rec.record(Check("app", T0 + 10.0 * k, k % 4 != 0, 10.0))
                    await clock.advance(recorder.BATCH_PAUSE)
                    await until(lambda: clock.pending > 0)
                assert await until(lambda: rec.instruments.store_errors._value.get() >= 1)
            # every check the server could not take is on local disk, flushed
            assert await until(lambda: spool.on_disk == 20)
            assert rec.pending == 20
            assert (tmp_path / "east.spool").read_text().count("\n") == 20
            failed = [e for e in events if e["event"] == "store_write_failed"]
            # logged when the error starts or changes (a dropped connection, then refused)
            assert 1 <= len(failed) <= 3, failed
            assert all("postgresql://" in e["error"] for e in failed)
            assert all(e["pending"] >= 1 for e in failed)  # each names what waits unwritten
            assert not rec.writes_ok
            await asyncio.to_thread(srv.start)
            for _ in range(20):  # the writer's backoff runs on the fake clock
                if rec.pending == 0:
                    break
                if (deadline := clock.next_deadline()) is not None:
                    await clock.advance(deadline - clock.monotonic())
                await until(lambda: rec.pending == 0 or clock.pending > 0)
            assert rec.pending == 0 and rec.writes_ok
            stored = await asyncio.to_thread(store.checks, "app", 0, 4e9)
            assert [c.at for c in stored] == [T0 + 10.0 * k for k in range(21)]
            assert [c.ok for c in stored][1:] == [k % 4 != 0 for k in range(1, 21)]
            assert (tmp_path / "east.spool").stat().st_size == 0
            v = await asyncio.to_thread(store.verify)
            assert v.ok, v.problem
        finally:
            writer.cancel()  # (close() would wait on the fake clock)
            await asyncio.gather(writer, return_exceptions=True)
            spool.close()
            await asyncio.to_thread(store.close)
