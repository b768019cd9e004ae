"""The quorum consensus against a brute-force reference, second by second.

Each location's checks are random (integer times, any outcome, gaps, unknown-outcome
checks); the reference finds, for every second, each location's covering check by
scanning its checks, applies DESIGN's rule literally (maintenance, then down >= quorum,
then up-or-down >= quorum, then any probe_network, else unknown) and compares states,
runs and totals. With one location and quorum 1 the consensus must be exactly the
single-daemon timeline the engine computes today.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from slaprobe.core.history.consensus import consensus_history, consensus_spans, rule
from slaprobe.core.history.timeline import N_STATES, Span, effective, fold, window_totals
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.intervals import Interval, merge
from slaprobe.core.maintenance.rules import EXCUSED, Window
from slaprobe.core.model import Check, State

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- the brute-force reference ------------------------------------------------------


def ref_location_state(checks: Sequence[Check], s: int, now: float) -> State | None:
    """A location's state in second s: its latest check at or before s, if still covering."""
    kept: list[Check] = []
    for c in checks:  # of several checks at one time the first counts
        if not kept or c.at > kept[-1].at:
            kept.append(c)
    j = max((i for i, c in enumerate(kept) if c.at <= s), default=-1)
    if j < 0:
        return None
    c = kept[j]
    nxt = kept[j + 1].at if j + 1 < len(kept) else now
    return c.state if s < min(nxt, c.at + 2 * c.interval) else None


def ref_consensus(states: Sequence[State | None], in_maint: bool, quorum: int) -> State | None:
    """DESIGN's rule, word for word."""
    if in_maint:
        return State.MAINTENANCE
    down = sum(1 for x in states if x == State.DOWN)
    if down >= quorum:
        return State.DOWN
    if sum(1 for x in states if x in (State.UP, State.DOWN)) >= quorum:
        return State.UP
    if State.PROBE_NETWORK in states:
        return State.PROBE_NETWORK
    return None


def runs(states: Sequence[State | None], a: int) -> list[Span]:
    out: list[Span] = []
    for i, x in enumerate(states):
        if x is None:
            continue
        t = float(a + i)
        if out and out[-1][1] == t and out[-1][2] == x:
            out[-1] = (out[-1][0], t + 1, x)
        else:
            out.append((t, t + 1, x))
    return out


def totals(states: Sequence[State | None]) -> list[float]:
    out = [0.0] * N_STATES
    for x in states:
        if x is not None:
            out[x] += 1.0
    return out


# --- strategies ---------------------------------------------------------------------


@st.composite
def location_checks(draw: st.DrawFn) -> list[Check]:
    t = draw(st.integers(0, 30))
    out: list[Check] = []
    for _ in range(draw(st.integers(0, 12))):
        ok, network, unknown = draw(st.sampled_from([
            (True, False, False), (True, False, False), (False, False, False),
            (False, True, False), (False, False, True),
        ]))
        out.append(Check(target="app", at=float(t), ok=ok,
                         interval=float(draw(st.sampled_from([1, 2, 5, 10]))),
                         network=network, unknown=unknown,
                         error="probe_error" if unknown else None))
        t += draw(st.sampled_from([0, 1, 2, 3, 5, 10, 20]))
    return out


@dataclass
class Case:
    locations: list[list[Check]]
    quorum: int
    maint: list[Interval]
    a: int
    b: int
    now: int


@st.composite
def cases(draw: st.DrawFn, n_locations: int | None = None) -> Case:
    n = n_locations or draw(st.integers(1, 5))
    locations = [draw(location_checks()) for _ in range(n)]
    quorum = draw(st.integers(1, n + 1))
    maint = merge((float(s), float(s + d)) for s, d in draw(st.lists(
        st.tuples(st.integers(-10, 200), st.integers(0, 40)), max_size=3)))
    a = draw(st.integers(-10, 150))
    b = a + draw(st.integers(0, 150))
    last = max((c.at for cs in locations for c in cs), default=0.0)
    now = draw(st.one_of(st.integers(0, 300), st.integers(int(last), int(last) + 30)))
    return Case(locations, quorum, maint, a, b, now)


def reference(case: Case) -> list[State | None]:
    out = []
    for s in range(case.a, case.b):
        in_maint = any(ms <= s < me for ms, me in case.maint)
        states = [ref_location_state(cs, s, case.now) for cs in case.locations]
        out.append(ref_consensus(states, in_maint, case.quorum))
    return out


def location_spans(case: Case) -> list[list[Span]]:
    return [fold(cs).between(case.a, case.b, case.now) for cs in case.locations]


# --- the properties -----------------------------------------------------------------


SPLIT_VOTE = Case(  # quorum 2 of 3: one down, one up, one cut off -> up, never down
    locations=[
        [Check("app", 0.0, ok=False, interval=10.0)],
        [Check("app", 0.0, ok=True, interval=10.0)],
        [Check("app", 0.0, ok=False, interval=10.0, network=True)],
    ],
    quorum=2, maint=[(15.0, 18.0)], a=0, b=30, now=30,
)


@SETTINGS
@given(cases())
@example(SPLIT_VOTE)
def test_consensus_matches_brute_force_reference(case: Case) -> None:
    ref = reference(case)
    got = consensus_spans(location_spans(case), case.quorum, case.a, case.b, case.maint)
    assert got == runs(ref, case.a)


@SETTINGS
@given(cases())
def test_consensus_history_totals_match_reference(case: Case) -> None:
    """Through a Tracker (maintenance laid over by the engine), the consensus history
    gives the reference's seconds of each state, in the window and in its halves."""
    hist = consensus_history({str(i): fold(cs) for i, cs in enumerate(case.locations)},
                             case.quorum, case.a, case.b, case.now)
    ref = reference(case)
    windows = [Window(id=f"w{i}", start=s, end=e, announced=0.0, first_seen=0.0, targets=None,
                      reason="", source="test", status=EXCUSED, excluded=True)
               for i, (s, e) in enumerate(case.maint)]
    tracker = Tracker({"app": True}, {"app": hist}, windows)
    mid = (case.a + case.b) // 2
    for lo, hi in ((case.a, case.b), (case.a, mid), (mid, case.b)):
        got = tracker.target_totals("app", lo, hi, case.now)
        want = totals(ref[lo - case.a: hi - case.a])
        assert got == pytest.approx(want, abs=1e-9)


@SETTINGS
@given(cases(n_locations=1))
def test_one_location_quorum_one_is_the_single_daemon_timeline(case: Case) -> None:
    """The engine today (fold, effective, window_totals) is the reference here."""
    (checks,) = case.locations
    history = fold(checks)
    single = effective(history.between(case.a, case.b, case.now), case.maint, case.a, case.b)
    got = consensus_spans([history.between(case.a, case.b, case.now)], 1, case.a, case.b,
                          case.maint)
    assert got == single
    combined = consensus_history({"default": history}, 1, case.a, case.b, case.now)
    assert window_totals(combined, case.maint, case.a, case.b, case.now) == pytest.approx(
        window_totals(history, case.maint, case.a, case.b, case.now), abs=1e-9)


def test_exact_to_recorded_times() -> None:
    """Fractional check times stay exact: no rounding to seconds anywhere."""
    a = [Check("app", 0.25, ok=False, interval=10.0), Check("app", 7.125, ok=True, interval=10.0)]
    b = [Check("app", 1.5, ok=False, interval=10.0), Check("app", 3.0625, ok=True, interval=10.0)]
    spans = consensus_spans([fold(c).between(0, 20, 20) for c in (a, b)], 2, 0.0, 20.0)
    # 0.25..1.5 only one location looks (unknown), both down till 3.0625, then one up
    assert spans == [(1.5, 3.0625, State.DOWN), (3.0625, 20.0, State.UP)]


def test_rule_order() -> None:
    def counts(up: int = 0, down: int = 0, net: int = 0) -> list[int]:
        c = [0] * N_STATES
        c[State.UP], c[State.DOWN], c[State.PROBE_NETWORK] = up, down, net
        return c

    assert rule(counts(down=2, up=1), 2) == State.DOWN
    assert rule(counts(down=1, up=1), 2) == State.UP
    assert rule(counts(down=1, net=2), 2) == State.PROBE_NETWORK
    assert rule(counts(up=1), 2) is None
    assert rule(counts(), 1) is None
    with pytest.raises(ValueError, match="quorum"):
        consensus_spans([], 0, 0.0, 1.0)


@SETTINGS
@given(cases(), st.integers(-10, 160), st.integers(1, 3))
def test_quorum_steps_are_each_part_with_the_quorum_in_force(case: Case, change: int,
                                                              later: int) -> None:
    """The quorum is a term: before `change` the case's quorum, from it `later`."""
    steps = [(float(change), later), (-1000.0, case.quorum)]  # any order
    got = consensus_spans(location_spans(case), steps, case.a, case.b, case.maint)
    ref = [s if t < change else ref_consensus(
        [ref_location_state(cs, t, case.now) for cs in case.locations],
        any(ms <= t < me for ms, me in case.maint), later)
        for t, s in zip(range(case.a, case.b), reference(case), strict=True)]
    assert got == runs(ref, case.a)
