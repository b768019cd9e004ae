"""Window ratios in one pass agree with the tracker's figures to the last bit."""

from __future__ import annotations

import random

import pytest

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.history.windows import window_ratios
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
