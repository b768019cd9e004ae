"""The recorder on the fake clock, against real SQLite: batching, backoff, reload, prune."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from waits import until

from slaprobe import logs
from slaprobe.clock import FakeClock
from slaprobe.core.history.timeline import fold
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check, State
from slaprobe.history import recorder
from slaprobe.history.recorder import Recorder
from slaprobe.history.spool import Spool
from slaprobe.history.store import Store
from slaprobe.metrics.instruments import Instruments

T0 = 1_800_000_000.0


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Recorder, FakeClock, asyncio.Task[None]]]:
    clock = FakeClock(start=T0)
    store = await asyncio.to_thread(Store, tmp_path / "r.db")
    rec = Recorder(store, Tracker({"app": True, "api": False}), clock, Instruments(), logs.get(),
                   horizon=86400.0, generation=store.generation())
    writer = asyncio.create_task(rec.run())
    yield rec, clock, writer
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    store.close()


def check(at: float, ok: bool = True, target: str = "app") -> Check:
    return Check(target, T0 + at, ok, 10.0)


async def test_a_burst_is_written_as_one_batch_after_the_pause(rig) -> None:  # type: ignore[no-untyped-def]
    rec, clock, _ = rig
    for i in range(5):
        rec.record(check(i * 10.0))
    assert rec.pending == 5 and rec.store.count_checks() == 0
    await clock.advance(recorder.BATCH_PAUSE)
    assert await until(lambda: rec.pending == 0)
    assert [c.at for c in rec.store.checks("app", 0, 4e9)] == [T0 + i * 10.0 for i in range(5)]


async def test_failed_writes_back_off_doubling_and_nothing_is_dropped(rig) -> None:  # type: ignore[no-untyped-def]
    """While SQLite refuses writes the same batch is retried 0.5, 1, 2, 4 ... 30 s apart;
    checks keep arriving; when the store recovers every check lands, in order."""
    rec, clock, _ = rig
    rec.store.backend.conn.execute("PRAGMA query_only = ON")  # real SQLite refusing every write
    with structlog.testing.capture_logs() as events:
        rec.record(check(0))
        await clock.advance(recorder.BATCH_PAUSE)
        pauses = []
        for _ in range(8):
            assert await until(lambda: clock.pending == 1)  # the writer sleeps on the clock
            deadline = clock.next_deadline()
            assert deadline is not None
            pauses.append(round(deadline - clock.monotonic(), 6))
            rec.record(check(10.0 * len(pauses)))
            await clock.advance(deadline - clock.monotonic())
        # the ninth try failed and the writer sleeps again (its write runs in a thread)
        assert await until(lambda: clock.pending == 1)
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    failures = [e for e in events if e["event"] == "store_write_failed"]
    assert len(failures) == 1 and failures[0]["log_level"] == "error"  # once, then counted
    assert failures[0]["checks"] == 1
    assert rec.instruments.store_errors._value.get() == 9
    assert not [e for e in events if e["event"] == "pending_writes_lost"]
    rec.store.backend.conn.execute("PRAGMA query_only = OFF")
    with structlog.testing.capture_logs() as events:
        await clock.advance(30.0)
        assert await until(lambda: rec.pending == 0)
    [recovered] = [e for e in events if e["event"] == "store_write_recovered"]
    assert recovered["failures"] == 9
    stored = rec.store.checks("app", 0, 4e9)
    assert [c.at for c in stored] == [T0 + 10.0 * i for i in range(9)]


async def test_shutdown_gives_up_on_a_dead_store_after_the_deadline(rig) -> None:  # type: ignore[no-untyped-def]
    rec, clock, writer = rig
    rec.store.backend.conn.execute("PRAGMA query_only = ON")
    rec.record(check(0))
    with structlog.testing.capture_logs() as events:
        closing = asyncio.create_task(rec.close(writer))
        for _ in range(200):
            if closing.done():
                break
            await until(lambda: closing.done() or clock.pending > 0)
            if clock.next_deadline() is not None:
                await clock.advance(clock.next_deadline() - clock.monotonic())  # type: ignore[operator]
        await closing
    lost = [e for e in events if e["event"] == "pending_writes_lost"]
    assert lost and lost[0]["checks"] == 1
    assert clock.monotonic() <= recorder.SHUTDOWN_WAIT + recorder.RETRY_MAX


async def test_state_changes_are_logged_once_each(rig) -> None:  # type: ignore[no-untyped-def]
    rec, _, _ = rig
    with structlog.testing.capture_logs() as events:
        for i, ok in enumerate([True, True, False, False, True]):
            rec.record(check(i * 10.0, ok), detail="status 503" if not ok else "")
    changes = [(e["event"], e["log_level"]) for e in events if e["log_level"] != "debug"]
    assert changes == [("target_up", "info"), ("target_down", "warning"), ("target_up", "info")]
    down = next(e for e in events if e["event"] == "target_down")
    assert down == {"event": "target_down", "log_level": "warning", "target": "app",
                    "error": None, "status": None, "detail": "status 503", "previous_checks": 2}
    assert rec.tracker.probe_state("app", T0 + 45) == State.UP


async def test_a_removed_target_is_not_recorded(rig) -> None:  # type: ignore[no-untyped-def]
    rec, _, _ = rig
    rec.record(check(0, target="gone"))
    assert rec.pending == 0 and "gone" not in rec.last


async def test_reload_after_an_import_folds_the_unwritten_checks_on_top(  # type: ignore[no-untyped-def]
    rig, tmp_path: Path,
) -> None:
    rec, clock, _ = rig
    rec.record(check(1000.0))
    await clock.advance(recorder.BATCH_PAUSE)
    assert await until(lambda: rec.pending == 0)
    older = [check(float(i * 10), ok=i != 3) for i in range(50)]
    other = await asyncio.to_thread(Store, tmp_path / "r.db")  # as `slaprobe import` would
    try:
        other.import_checks(enumerate(older, 2))
    finally:
        other.close()
    rec.record(check(1010.0, ok=False))  # finished, not yet written
    with structlog.testing.capture_logs() as events:
        assert await rec.follow_imports()
    assert [e["event"] for e in events] == ["history_reloaded"]
    assert not await rec.follow_imports()  # the generation is known now
    want = fold([*older, check(1000.0), check(1010.0, ok=False)])
    h = rec.tracker.histories["app"]
    assert list(zip(h.spans.starts, h.spans.ends, h.spans.states, strict=True)) == list(
        zip(want.spans.starts, want.spans.ends, want.spans.states, strict=True))
    assert h.open == want.open


async def test_prune_drops_old_rows_and_memory(rig) -> None:  # type: ignore[no-untyped-def]
    """Prune removes what the store lets go (whole closed blocks of the chain) and says
    how many; memory older than the horizon goes in any case."""
    rec, clock, _ = rig
    for i in range(10):
        rec.record(check(i * 10.0))
    await clock.advance(recorder.BATCH_PAUSE)
    assert await until(lambda: rec.pending == 0)
    rec.horizon = 30.0
    await clock.advance(1000.0)
    before = await asyncio.to_thread(rec.store.count_checks)
    with structlog.testing.capture_logs() as events:
        n = await rec.prune(retention=960.0)
    assert n == before - await asyncio.to_thread(rec.store.count_checks)
    assert [e["checks"] for e in events if e["event"] == "pruned"] == ([n] if n else [])
    h = rec.tracker.histories["app"]
    assert h.spans.end is None or h.spans.end >= clock.now() - 30.0 - 20.0


async def test_a_full_spool_disk_does_not_stop_the_writer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database refuses writes, so the checks go to the spool file; then that disk
    is full too (ENOSPC on the append). The writer says so and tries again: once the
    disk has room and the database takes writes, every check lands, once, none counted
    as dropped."""
    clock = FakeClock(start=T0)
    store = await asyncio.to_thread(Store, tmp_path / "r.db")
    rec = Recorder(store, Tracker({"app": True}), clock, Instruments(), logs.get(),
                   horizon=86400.0, generation=store.generation(),
                   spool=Spool(tmp_path / "r.spool"))
    writer = asyncio.create_task(rec.run())
    real_fsync = os.fsync
    try:
        store.backend.conn.execute("PRAGMA query_only = ON")
        rec.record(check(0))
        await clock.advance(recorder.BATCH_PAUSE)
        assert await until(lambda: rec.unwritten.durable and clock.pending == 1)

        def full(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", full)
        with structlog.testing.capture_logs() as events:
            for k in range(1, 4):
                rec.record(check(10.0 * k))
            # the database takes writes again: the first check (read back from the file)
            # is written, and the next batch must come through the full disk
            store.backend.conn.execute("PRAGMA query_only = OFF")
            for _ in range(4):  # the writer's tries, on the fake clock
                if (deadline := clock.next_deadline()) is not None:
                    await clock.advance(deadline - clock.monotonic())
                await until(lambda: clock.pending > 0 or writer.done())
            assert not writer.done(), writer
            assert await until(lambda: rec.pending == 3)
        assert [e for e in events if e["event"] == "spool_write_failed"]
        monkeypatch.setattr(os, "fsync", real_fsync)
        await clock.advance(recorder.RETRY_MAX)
        assert await until(lambda: rec.pending == 0)
        assert [c.at for c in store.checks("app", 0, 4e9)] == [T0 + 10.0 * k for k in range(4)]
        assert rec.unwritten.dropped == 0
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        store.close()
