"""The cached service timeline equals one swept afresh, however it was built up."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import Check

TARGETS = ("a", "b", "c")
CRITICAL = {"a": True, "b": True, "c": False}

events = st.lists(
    st.tuples(st.sampled_from(TARGETS), st.integers(1, 40), st.booleans(),
              st.sampled_from([2.0, 5.0, 10.0])),
    min_size=1, max_size=60,
)


def window(start: float, end: float) -> Window:
    return Window(id="w", start=start, end=end, announced=0, first_seen=0, targets=("b",),
                  reason="", source="t", status="excused", excluded=True)


@settings(max_examples=150, deadline=None)
@given(events, st.integers(0, 50), st.booleans())
def test_incremental_cache_matches_fresh_sweep(
    evs: list[tuple[str, int, bool, float]], lookback: int, with_maint: bool,
) -> None:
    """Queried after every check with a moving window, the cached timeline gives the
    same spans and totals as a tracker that sweeps from scratch."""
    live = Tracker(CRITICAL)
    fresh = Tracker(CRITICAL)
    if with_maint:
        live.set_maintenance([window(30, 60)])
        fresh.set_maintenance([window(30, 60)])
    clock = dict.fromkeys(TARGETS, 0.0)
    now = 0.0
    for name, gap, ok, interval in evs:
        clock[name] += gap
        now = max(now, clock[name])
        check = Check(name, clock[name], ok, interval)
        live.add(check)
        fresh.add(check)
        a = max(now - lookback, 0.0)
        got = live.service_timeline(a, now + 5, now)
        again = Tracker(CRITICAL, fresh.histories, fresh.maintenance)
        want = again.service_timeline(a, now + 5, now)
        assert got.between(a, now + 5) == want.between(a, now + 5)
        assert got.totals(a, now + 5) == pytest.approx(want.totals(a, now + 5))
