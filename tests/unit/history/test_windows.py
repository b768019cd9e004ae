"""Window ratios in one pass agree with the tracker's figures to the last bit."""

from __future__ import annotations

import math
import random

import pytest

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.history.windows import run_ratios, window_ratios
from slaprobe.core.maintenance.rules import EXCUSED, Window
from slaprobe.core.model import Check

LENGTHS = (300.0, 3600.0, 86400.0, 7 * 86400.0, 12345.6)


@pytest.mark.parametrize("seed", range(12))
def test_one_pass_ratios_are_the_tracker_figures(seed: int) -> None:
    rng = random.Random(seed)
    t0 = 1_800_000_000.0
    windows = []
    if seed % 3 == 0:  # maintenance over part of the history
        s = t0 + rng.uniform(0, 40000)
        windows.append(Window("m", s, s + rng.uniform(60, 7200), s - 86400 * 3,
                              s - 86400 * 3, None, "db", "config", EXCUSED, excluded=True))
    tr = Tracker({"a": True}, windows=windows)
    at = t0
    while at < t0 + 50000:
        interval = rng.choice((10.0, 30.0))
        tr.add(Check("a", at, rng.random() > 0.05, interval, unknown=rng.random() < 0.01,
                     network=rng.random() < 0.01))
        at += interval * rng.choice((1, 1, 1, 1, 3))  # now and then a gap
    for now in (at - 5.0, at + 7.5, at + 1000.0, t0 + 100.0, t0 - 10.0):
        got = window_ratios(tr.histories["a"], tr.maint_intervals("a"), LENGTHS, now)
        want = [(f.availability, f.coverage)
                for f in (tr.target_figures("a", now - n, now, now) for n in LENGTHS)]
        assert got == want


def test_an_empty_history_has_no_ratios() -> None:
    tr = Tracker({"a": True})
    assert window_ratios(tr.histories["a"], [], (3600.0,), 1e9) == [(None, 0.0)]
    assert window_ratios(tr.histories["a"], [], (), 1e9) == []



@pytest.mark.parametrize("seed", range(20))
def test_a_young_up_run_has_the_ratios_of_its_start_alone(seed: int) -> None:
    """One up run since the first check (every target of a daemon younger than its
    windows): run_ratios from the run's start alone is what the timeline gives, bit for
    bit, at instants that are not round numbers."""
    rng = random.Random(seed)
    t0 = 1_800_000_000.0 + rng.uniform(0, 1000)
    interval = rng.choice((10.0, 30.0, 60.0, 7.3))
    tr = Tracker({"a": True})
    at = t0
    while at < t0 + rng.uniform(100, 20000):
        tr.add(Check("a", at, True, interval))
        at += interval
    for now in (at - interval + rng.uniform(0, 2 * interval), t0 + rng.uniform(0, 50), t0,
                t0 - 5.0):
        got = run_ratios(t0, LENGTHS, now)
        assert got == window_ratios(tr.histories["a"], [], LENGTHS, now)
        assert got == [(f.availability, f.coverage)
                       for f in (tr.target_figures("a", now - n, now, now) for n in LENGTHS)]


@pytest.mark.parametrize("seed", range(8))
def test_up_throughout_the_windows_has_the_shared_ratios(seed: int) -> None:
    """Up throughout the longest window after a down spell before it: the ratios every
    such target shares (run_ratios from -inf) are its own, bit for bit."""
    rng = random.Random(seed)
    t0 = 1_800_000_000.0 + rng.uniform(0, 1000)
    tr = Tracker({"a": True})
    tr.add(Check("a", t0 - 3600.0, False, 600.0))
    at = t0
    while at < t0 + 8 * 86400.0:
        tr.add(Check("a", at, True, 3600.0))
        at += 3600.0
    now = at - 3600.0 + rng.uniform(0, 7200.0)
    assert tr.histories["a"].spans.end is not None  # the down spell is a closed span
    got = run_ratios(-math.inf, LENGTHS, now)
    assert got == window_ratios(tr.histories["a"], [], LENGTHS, now)
    assert all(a == 1.0 and c == 1.0 for a, c in got)
