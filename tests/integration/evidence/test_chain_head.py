"""Witnesses of the chain head: the verifier logs `chain_head` (seq, digest) at least
every 5 minutes, on the fake clock, over a real store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from waits import until

from slaprobe import logs
from slaprobe.clock import FakeClock
from slaprobe.core.model import Check
from slaprobe.evidence import verifier
from slaprobe.evidence.verifier import HistoryVerifier
from slaprobe.history.store import Store
from slaprobe.metrics.instruments import Instruments

T0 = 1_800_000_000.0


async def test_chain_head_is_logged_every_five_minutes(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    store = await asyncio.to_thread(Store, db)
    await asyncio.to_thread(store.write, [Check("app", T0, True, 30.0)])
    clock = FakeClock(start=T0)
    v = HistoryVerifier(clock, db, Instruments(), logs.get())
    with structlog.testing.capture_logs() as events:
        task = asyncio.create_task(v.run())
        try:
            def heads() -> list[dict[str, object]]:
                return [e for e in events if e["event"] == "chain_head"]
            assert await until(lambda: len(heads()) == 1 and clock.pending == 1)
            assert heads()[0]["seq"] == 1
            assert heads()[0]["digest"] == (await asyncio.to_thread(store.chain_head))[1]
            for minute in range(1, 11):
                if minute == 3:  # the head moves: the next event carries the new one
                    await asyncio.to_thread(store.write, [Check("app", T0 + 30, True, 30.0)])
                    await asyncio.to_thread(store.append_record, "note", {"a": 1}, T0 + 31)
                await clock.advance(verifier.VERIFY_EVERY)
                assert await until(lambda: clock.pending == 1)
            # minutes 0, 5 and 10: at least every 5 minutes, not every verification
            assert len(heads()) == 3, heads()
            top = await asyncio.to_thread(store.chain_head)
            assert (heads()[-1]["seq"], heads()[-1]["digest"]) == top
            assert top[0] == 2
        finally:
            task.cancel()
            store.close()


async def test_a_stopping_daemon_leaves_no_verdict(tmp_path: Path) -> None:
    """The daemon stopping sets `stop`: the verification under way gives up and the
    verifier ends, with no verdict (neither verified nor tampered) and no error event."""
    db = tmp_path / "h.db"
    store = await asyncio.to_thread(Store, db)
    await asyncio.to_thread(store.write, [Check("app", T0, True, 30.0)])
    inst = Instruments()
    v = HistoryVerifier(FakeClock(start=T0), db, inst, logs.get())
    v.stop.set()
    with structlog.testing.capture_logs() as events:
        await asyncio.wait_for(v.run(), timeout=30)
    assert inst.history_verified._value.get() == 0  # not set to 1: no verdict either way
    assert not [e for e in events if e["log_level"] == "error"], events
    store.close()
