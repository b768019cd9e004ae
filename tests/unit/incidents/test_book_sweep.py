"""The incident book's sweep folds only targets with down time after its horizon:
a target whose timeline there is one up run, even one that starts after a stretch
of no data (every target in the daemon's first interval), is skipped. Whatever it
skips, the book's incidents, events and month counts equal those of a book that
folds every target at every update, and a full recompute from the timelines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.core.history.timeline import Span
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.incidents.rules import Book, Support, incidents
from slaprobe.core.maintenance.rules import EXCUSED, Window
from slaprobe.core.model import Check
from slaprobe.core.timefmt import parse_instant

IV = 60.0
SUPPORT = Support(merge_gap=300.0)


class Counting:
    """A Tracker as the book reads it, counting the targets folded; `full`: every
    target is folded at every update (the sweep before skipping)."""

    def __init__(self, tr: Tracker, *, full: bool) -> None:
        self.tr, self.full, self.folded = tr, full, 0
        self.critical = tr.critical
        self.maintenance: list[Any] = tr.maintenance  # set once, at construction

    def target_spans(self, name: str, a: float, b: float, now: float) -> list[Span]:
        self.folded += 1
        return self.tr.target_spans(name, a, b, now)

    def final_until(self) -> float | None:
        return self.tr.final_until()

    def up_since(self, name: str, at: float) -> bool:
        return False if self.full else self.tr.up_since(name, at)

    def moved_since(self, at: float) -> set[str]:
        if self.full:
            return set(self.critical)
        moved = self.tr.moved_since(at)
        # the index's answer holds every target that is not up since `at`
        assert {n for n in self.critical if not self.tr.up_since(n, at)} <= moved
        return moved


def staggered(n: int, a: float, b: float, downs: Mapping[int, Sequence[tuple[float, float]]],
              gaps: Mapping[int, tuple[float, float]]) -> list[Check]:
    """Target i first checked at a + 5 i, then every IV; failing inside its downs,
    no checks inside its gap."""
    out = []
    for i in range(n):
        at = a + 5 * i
        while at < b:
            g = gaps.get(i)
            if g is None or not g[0] <= at < g[1]:
                ok = not any(s <= at < e for s, e in downs.get(i, ()))
                out.append(Check(f"t{i:02d}", at, ok, IV))
            at += IV
    return sorted(out, key=lambda c: (c.at, c.target))


def replay(checks: list[Check], crit: dict[str, bool], a: float, every: float,
           windows: Sequence[Window] = ()) -> tuple[Counting, Counting, float]:
    """Both books updated every `every` seconds of `now` as the checks arrive, equal
    at every update (incidents, events, counts, horizon); the last `now`."""
    tr = Tracker(crit, windows=windows)
    quick, full = Counting(tr, full=False), Counting(tr, full=True)
    qb, fb = Book(SUPPORT, a), Book(SUPPORT, a)
    now, k = a, 0
    end = checks[-1].at + 2 * IV
    while now <= end:
        while k < len(checks) and checks[k].at <= now:
            tr.add(checks[k])
            k += 1
        if qb.all(now) and not qb.acks:
            for b in (qb, fb):  # the first incident acknowledged at once, in both
                b.acknowledge(qb.all(now)[0].id, now)
        got = [(e.kind, e.incident) for e in qb.update(quick, now)]
        want = [(e.kind, e.incident) for e in fb.update(full, now)]
        assert got == want, now
        assert qb.all(now) == fb.all(now), now
        assert qb.month_counts(now, now) == fb.month_counts(now, now), now
        assert qb.horizon == fb.horizon, now
        now += every
    timelines = {n: tr.target_spans(n, a, now - every, now - every) for n in crit}
    assert qb.all(now - every) == incidents(timelines, crit, SUPPORT, now - every, qb.acks)
    return quick, full, now - every


def test_first_interval_outages_gaps_and_maintenance_agree_with_the_full_sweep() -> None:
    a = parse_instant("2026-12-01T10:00:00Z")
    n = 12
    crit = {f"t{i:02d}": i % 3 != 0 for i in range(n)}
    downs = {
        1: [(a, a + 3 * IV)],  # down from its first check: in the first interval
        4: [(a + 10 * IV, a + 14 * IV), (a + 16 * IV, a + 17 * IV)],  # merged (gap 300 s)
        7: [(a + 12 * IV, a + 13 * IV)],  # overlaps t04's: one incident of two targets
        9: [(a + 30 * IV, a + 31 * IV)],  # after its gap of no data
        5: [(a + 20 * IV, a + 22 * IV)],  # inside maintenance: no incident
    }
    gaps = {9: (a + 20 * IV, a + 29 * IV), 2: (a + 5 * IV, a + 40 * IV)}
    windows = [Window("w", a + 19 * IV, a + 23 * IV, a - 9e5, a - 9e5, None, "", "config",
                      EXCUSED, True)]
    checks = staggered(n, a, a + 45 * IV, downs, gaps)
    quick, full, now = replay(checks, crit, a, 7.0, windows)
    tr = Tracker(crit, windows=windows)
    for c in checks:
        tr.add(c)
    timelines = {k: tr.target_spans(k, a, now, now) for k in crit}
    got = incidents(timelines, crit, SUPPORT, now)
    assert [(i.start, i.shape.targets) for i in got] == [
        (a + 5, ("t01",)), (a + 10 * IV + 20, ("t04", "t07")), (a + 30 * IV + 45, ("t09",))]
    # the first interval (targets first checked after the book's start) and the gaps
    # are skipped: far fewer timelines are read than by the full sweep
    assert quick.folded * 3 < full.folded


def test_a_target_first_checked_after_the_horizon_is_up_since_it() -> None:
    a = parse_instant("2026-12-01T10:00:00Z")
    tr = Tracker({"app": True, "api": True})
    tr.add(Check("app", a + 20, True, IV))
    tr.add(Check("api", a + 20, False, IV))
    assert tr.up_since("app", a)  # no data before its first check, then up
    assert not tr.up_since("api", a)  # down
    tr.add(Check("app", a + 80, False, IV))
    tr.add(Check("app", a + 140, True, IV))
    assert not tr.up_since("app", a + 100)  # its down span ends after a + 100
    assert tr.up_since("app", a + 140)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_staggered_random_history_agrees_with_the_full_sweep(data: st.DataObject) -> None:
    a = parse_instant("2026-12-01T08:00:00Z")
    n = data.draw(st.integers(2, 6))
    crit = {f"t{i:02d}": data.draw(st.booleans()) for i in range(n)}
    downs: dict[int, list[tuple[float, float]]] = {}
    gaps: dict[int, tuple[float, float]] = {}
    for i in range(n):
        for _ in range(data.draw(st.integers(0, 3))):
            s = a + data.draw(st.integers(0, 40)) * IV
            downs.setdefault(i, []).append((s, s + data.draw(st.integers(1, 8)) * IV))
        if data.draw(st.booleans()):
            s = a + data.draw(st.integers(0, 40)) * IV
            gaps[i] = (s, s + data.draw(st.integers(1, 10)) * IV)
    checks = staggered(n, a + data.draw(st.integers(0, 120)), a + 50 * IV, downs, gaps)
    replay(checks, crit, a, data.draw(st.sampled_from([1.0, 13.0, 45.0])))
