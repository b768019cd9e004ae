"""The daemon's view of a shared history (core.vantage): fed check by check, in any
interleaving of locations, its consensus equals the brute-force reference; what is
final is final; a silent location holds nothing back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_consensus import SETTINGS, Case, cases, reference, totals

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.history.vantage import Vantage
from slaprobe.core.model import Check, State


def fed(case: Case, data: st.DataObject) -> Vantage:
    """A Vantage fed the case's checks, locations interleaved at random, some twice."""
    v = Vantage(case.quorum, slack=5.0)
    queues = [[(str(i), c) for c in cs] for i, cs in enumerate(case.locations)]
    while any(queues):
        q = data.draw(st.sampled_from([q for q in queues if q]))
        loc, c = q.pop(0)
        check = Check(c.target, c.at, c.ok, c.interval, error=c.error, network=c.network,
                      unknown=c.unknown, location=loc)
        v.add(check)
        if data.draw(st.booleans()):
            assert not v.add(check)  # read twice: folded once
    return v


@SETTINGS
@given(cases(), st.data())
def test_consensus_of_fed_checks_matches_reference(case: Case, data: st.DataObject) -> None:
    v = fed(case, data)
    now = case.now
    hist = v.consensus("app", case.a, now)
    tracker = Tracker({"app": True}, {"app": hist})
    got = tracker.target_totals("app", case.a, min(case.b, now), now)
    # maintenance is the tracker's to lay over (none given here)
    ref_no_maint = reference(Case(case.locations, case.quorum, [], case.a, case.b, now))
    want = totals([x if s < now else None for s, x in zip(range(case.a, case.b), ref_no_maint,
                                                            strict=True)])
    assert got == pytest.approx(want, abs=1e-9)
    final = hist.final_until()
    assert final is None or final <= now


def test_a_silent_location_holds_nothing_back() -> None:
    v = Vantage(2, slack=5.0)
    for k in range(10):
        for loc in ("east", "west", "north"):
            if loc == "north" and k >= 3:
                continue  # north was killed after its third check
            v.add(Check("app", 30.0 * k, True, 30.0, location=loc))
    # north's last check (60 s) covers to 120 s: it is not live 5 s after that
    assert v.final_until("app", 124.0) == 60.0
    assert v.final_until("app", 126.0) == 270.0
    h = v.consensus("app", 0.0, 280.0)
    assert h.totals(0.0, 280.0, 280.0)[State.UP] == 280.0  # two of three still agree
    assert h.open is not None and h.open.cap_end == 330.0  # up until east and west's caps


def test_the_state_at_now_and_how_long_it_lasts() -> None:
    v = Vantage(2, slack=5.0)
    v.add(Check("app", 0.0, False, 30.0, location="east"))
    v.add(Check("app", 10.0, False, 30.0, location="west"))
    v.add(Check("app", 20.0, True, 30.0, location="north"))
    h = v.consensus("app", 0.0, 25.0)
    tracker = Tracker({"app": True}, {"app": h})
    assert tracker.probe_state("app", 25.0) == State.DOWN
    assert tracker.target_totals("app", 0.0, 25.0, 25.0)[State.DOWN] == 15.0  # 10 .. 25
    # east's coverage ends at 60: from there west and north disagree: up (2 look)
    assert h.open is not None and h.open.cap_end == 60.0
    assert v.clean() == {"app"} and v.clean() == set()
    with pytest.raises(ValueError, match="quorum"):
        Vantage(0, slack=1.0)


def test_each_locations_newest_check() -> None:
    v = Vantage(2, slack=5.0)
    assert v.last_checks() == {}
    for loc, times in (("east", (0.0, 30.0, 60.0)), ("west", (7.0, 37.0))):
        for at in times:
            v.add(Check("app", at, True, 30.0, location=loc))
    v.add(Check("api", 90.0, False, 30.0, location="west"))
    v.add(Check("app", 10.0, True, 30.0, location="east"))  # older: not taken
    assert v.last_checks() == {"east": 60.0, "west": 90.0}
