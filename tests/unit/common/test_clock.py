"""The clocks: the system clock's timeout, and the fake clock's deadline order."""

from __future__ import annotations

import asyncio
import time

import pytest

from slaprobe.clock import FakeClock, SystemClock


async def test_fake_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = FakeClock(start=1000.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3.0), ("a", 1.0), ("b", 2.0))]
    await clock.settle()
    assert clock.pending == 3 and clock.next_deadline() == 1.0
    await clock.advance(2.5)
    assert woke == [("a", 1.0), ("b", 2.0)]
    assert clock.monotonic() == 2.5 and clock.now() == 1002.5
    await clock.advance(1.0)
    assert woke[-1] == ("c", 3.0)
    await asyncio.gather(*tasks)
    assert clock.pending == 0


async def test_a_sleep_started_by_a_woken_task_fires_in_order_within_one_advance() -> None:
    clock = FakeClock()
    seen: list[float] = []

    async def ticker() -> None:
        for _ in range(4):
            await clock.sleep(1.0)
            seen.append(clock.monotonic())

    task = asyncio.create_task(ticker())
    await clock.advance(10.0)
    await task
    assert seen == [1.0, 2.0, 3.0, 4.0]


async def test_fake_timeout_fires_at_its_deadline_and_not_after_the_block() -> None:
    clock = FakeClock()

    async def hangs() -> float:
        async with clock.timeout(0.5):
            await asyncio.Event().wait()
        return 0.0

    task = asyncio.create_task(hangs())
    await clock.advance(0.4)
    assert not task.done()
    await clock.advance(0.2)
    with pytest.raises(TimeoutError):
        await task
    assert clock.pending == 0

    async def quick() -> str:
        async with clock.timeout(5.0):
            await clock.sleep(1.0)
        return "done"

    task2 = asyncio.create_task(quick())
    await clock.advance(1.0)
    assert await task2 == "done"
    assert clock.pending == 0  # the timeout was withdrawn when the block ended
    await clock.advance(10.0)  # and never fires later


async def test_cancelling_a_sleeper_withdraws_its_deadline() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5.0))
    await clock.settle()
    assert clock.pending == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending == 0


async def test_system_clock_timeout_and_sleep() -> None:
    clock = SystemClock()
    before = clock.monotonic()
    await clock.sleep(-1.0)  # a deadline in the past does not wait
    with pytest.raises(TimeoutError):
        async with clock.timeout(0.01):
            await asyncio.Event().wait()
    assert clock.monotonic() >= before
    assert abs(clock.now() - time.time()) < 5
