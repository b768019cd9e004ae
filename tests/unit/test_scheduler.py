"""Scheduling arithmetic: no drift, skipped slots, spread first runs."""

from __future__ import annotations

import pytest

from slaprobe.scheduler import first_offset, next_slot


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
