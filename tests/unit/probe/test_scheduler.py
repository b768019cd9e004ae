"""Scheduling: no drift, skipped slots, spread first runs, coalesced wake-ups."""

from __future__ import annotations

import asyncio

import pytest

from slaprobe.clock import FakeClock
from slaprobe.probe.scheduler import Job, Scheduler, first_offset, grid_index, next_slot


@pytest.mark.parametrize(
    ("slot", "interval", "now", "expected"),
    [
        (100.0, 10.0, 100.5, 110.0),   # on time: the next slot, not now + interval
        (100.0, 10.0, 109.9, 110.0),   # a slow check still keeps the grid
        (100.0, 10.0, 110.0, 120.0),   # finishing exactly on a slot skips it
        (100.0, 10.0, 125.0, 130.0),   # missed slots are skipped, never burst
        (100.0, 10.0, 1000.0, 1010.0),
        (0.0, 0.5, 0.1, 0.5),
    ],
)
def test_next_slot(slot: float, interval: float, now: float, expected: float) -> None:
    """The next slot stays on the schedule's grid and is always after now."""
    assert next_slot(slot, interval, now) == pytest.approx(expected)


def test_next_slot_never_drifts_over_many_runs() -> None:
    """After 10,000 slots with jittery check durations the grid has not moved."""
    slot = 0.0
    for i in range(10_000):
        slot = next_slot(slot, 30.0, slot + (i % 7) * 0.9)
    assert slot == pytest.approx(10_000 * 30.0)


def test_first_offsets_spread_across_the_interval() -> None:
    """First runs of many targets are spread, not herded at start."""
    offsets = sorted(first_offset(f"target:t{i}", 10.0) for i in range(1000))
    assert all(0 <= o < 10.0 for o in offsets)
    per_second = [sum(1 for o in offsets if s <= o < s + 1) for s in range(10)]
    assert min(per_second) > 50 and max(per_second) < 150
    assert first_offset("target:a", 10.0) == first_offset("target:a", 10.0)


# --- the wheel, on a fake clock -------------------------------------------------------


def recorder(clock: FakeClock, log: dict[str, list[float]], key: str) -> Job:
    async def job() -> None:
        log.setdefault(key, []).append(clock.monotonic())
    return job


async def test_jobs_due_in_one_grid_slot_start_in_one_wakeup() -> None:
    """50 jobs spread over a 1 s interval on a 100 ms grid: ten wake-ups a second,
    every job on its own slot each interval, with no lag on an idle loop."""
    clock, log, lags = FakeClock(), {}, []
    s = Scheduler(clock, 100, on_lag=lags.append, tick=0.1)
    for i in range(50):
        s.start(f"j{i}", 1.0, recorder(clock, log, f"j{i}"), offset=i * 0.018)
    await clock.advance(2.95)
    await s.close()
    assert s.wakeups == 30
    for i in range(50):
        starts = log[f"j{i}"]
        assert len(starts) == 3
        first = grid_index(i * 0.018, 0.1) * 0.1
        assert starts == pytest.approx([first, first + 1.0, first + 2.0])
    assert lags and max(lags) == pytest.approx(0.0, abs=1e-9)


async def test_a_hanging_job_delays_only_its_own_next_slot() -> None:
    clock, log = FakeClock(), {}
    s = Scheduler(clock, 100, tick=0.1)
    release = asyncio.Event()
    hung: list[float] = []

    async def hang() -> None:
        hung.append(clock.monotonic())
        await release.wait()

    s.start("hang", 1.0, hang, offset=0.0)
    s.start("ok", 1.0, recorder(clock, log, "ok"), offset=0.05)
    await clock.advance(5.0)
    assert len(hung) == 1 and len(log["ok"]) == 5
    release.set()
    await clock.advance(2.0)
    assert len(hung) == 3  # back on its own grid, the missed slots skipped, not burst
    assert (hung[1] - hung[0]) % 1.0 == pytest.approx(0.0, abs=1e-9)
    await s.close()


async def test_stop_and_an_earlier_job_added_later() -> None:
    clock, log = FakeClock(), {}
    s = Scheduler(clock, 100, tick=0.1)
    s.start("late", 10.0, recorder(clock, log, "late"), offset=5.0)
    await clock.advance(0.1)
    s.start("early", 10.0, recorder(clock, log, "early"), offset=0.5)  # wakes the wheel earlier
    await clock.advance(1.0)
    assert log == {"early": [pytest.approx(0.6)]}
    s.stop("late")
    await clock.advance(20.0)
    assert "late" not in log
    assert len(log["early"]) == 3
    await s.close()
    assert not s.jobs


async def test_lag_is_measured_from_the_grid_slot() -> None:
    """A job that waits for the concurrency limit reports how late it started."""
    clock, lags = FakeClock(), []
    s = Scheduler(clock, 1, on_lag=lags.append, tick=0.1)

    async def slow() -> None:
        await clock.sleep(0.3)

    s.start("a", 10.0, slow, offset=0.0)
    s.start("b", 10.0, slow, offset=0.0)
    await clock.advance(1.0)
    await s.close()
    assert sorted(lags) == pytest.approx([0.0, 0.3])


async def test_rounding_onto_the_grid_never_costs_a_slot() -> None:
    """A check that ends after its next exact slot but before that slot's grid
    point keeps the slot (the grid moved the start, so it moves the deadline)."""
    clock, starts = FakeClock(), []
    s = Scheduler(clock, 100, tick=0.1)

    async def long() -> None:
        starts.append(clock.monotonic())
        await clock.sleep(0.97)  # from 0.1 to 1.07: past 1.05, before 1.1

    s.start("a", 1.0, long, offset=0.05)
    await clock.advance(3.0)
    await s.close()
    assert starts == pytest.approx([0.1, 1.1, 2.1])


async def test_a_thousand_targets_keep_their_slots_and_their_spread() -> None:
    """1,000 targets every 10 s: each starts within one tick after its own exact
    slot, every interval, and the starts stay spread (about ten per 100 ms tick)."""
    clock, log = FakeClock(), {}
    s = Scheduler(clock, 1000, tick=0.1)
    for i in range(1000):
        s.start(f"target:t{i}", 10.0, recorder(clock, log, f"t{i}"))
    await clock.advance(29.99)
    await s.close()
    per_tick: dict[int, int] = {}
    for i in range(1000):
        starts = log[f"t{i}"]
        exact = first_offset(f"target:t{i}", 10.0)
        due = [exact + 10.0 * n for n in range(4)]
        assert len(starts) == sum(grid_index(d, 0.1) * 0.1 <= 29.99 for d in due)
        assert len(starts) >= 2
        for n, at in enumerate(starts):
            assert 0.0 <= at - (exact + 10.0 * n) < 0.1 + 1e-9
        idx = grid_index(starts[0], 0.1)
        per_tick[idx] = per_tick.get(idx, 0) + 1
    assert max(per_tick.values()) <= 30  # no herd: 1,000 over 100 ticks
    assert len(per_tick) >= 90
    assert s.wakeups <= 300


async def test_lag_is_honest_when_the_loop_was_held() -> None:
    """A job that holds the loop (CPU work: time passes while nothing else runs)
    makes the jobs due in the same tick start late, and their lag says by how much."""
    clock, lags = FakeClock(), []
    s = Scheduler(clock, 100, on_lag=lags.append, tick=0.1)

    async def hog() -> None:
        clock._mono += 0.25

    async def quick() -> None:
        pass

    s.start("a-hog", 10.0, hog, offset=0.05)
    s.start("b-quick", 10.0, quick, offset=0.06)
    await clock.advance(1.0)
    await s.close()
    assert sorted(lags) == pytest.approx([0.0, 0.25])
