"""The vantage room on every backend: one daemon's consensus follows the other
locations' checks by watermark, and its own as they finish."""

from __future__ import annotations

import structlog
from backends import Backend

from slaprobe.core.evidence.terms import Terms, TermsHistory, Version
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check, State
from slaprobe.history.vantagepoint import VantagePoint

T0 = 1790812800.0


class Fixed:
    """A clock standing still at `t` (moved by hand)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds


def checks(loc: str, pattern: str, start: float = T0) -> list[Check]:
    return [Check("app", start + 30.0 * i, ch == "1", 30.0, location=loc)
            for i, ch in enumerate(pattern)]


async def test_the_consensus_follows_other_locations(backend: Backend) -> None:
    east, west = backend.open(location="east"), backend.open(location="west")
    north = backend.open(location="north")
    east.write(checks("east", "1111"))
    west.write(checks("west", "1100"))  # west's path is cut from 60 s
    clock = Fixed(T0 + 120.0)
    tracker = Tracker({"app": True})
    room = VantagePoint(north, tracker, clock, quorum=2, horizon=86400.0, slack=10.0,
                        log=structlog.get_logger())
    room.load(["app"])
    room.refresh()
    assert room.locations() == ["east", "west"]
    # north has not probed yet: east and west agree until 60 s, then disagree: up
    assert tracker.target_totals("app", T0, T0 + 120, T0 + 120)[State.UP] == 120.0
    mine = checks("north", "0000")  # north sees it down too: with west that is 2 of 3
    north.write(mine)
    for c in mine:
        room.own(c)
    assert tracker.target_totals("app", T0, T0 + 120, T0 + 120)[State.DOWN] == 60.0
    # east writes more; north reads it on its next poll
    east.write(checks("east", "00", start=T0 + 120.0))
    clock.t = T0 + 180.0
    assert await room.follow() == 2
    # north's and west's last checks (90 s) cover to 150 s; after that only east looks,
    # fewer than a quorum: unknown, not down
    totals = tracker.target_totals("app", T0, T0 + 180, T0 + 180)
    assert (totals[State.DOWN], totals[State.UP]) == (90.0, 60.0)
    assert tracker.probe_state("app", T0 + 180) is None
    west.write(checks("west", "0", start=T0 + 150.0))
    assert await room.follow() == 1
    assert tracker.target_totals("app", T0, T0 + 180, T0 + 180)[State.DOWN] == 120.0
    assert tracker.probe_state("app", T0 + 180) == State.DOWN
    assert await room.follow() == 0  # nothing new: nothing read twice


async def test_a_quorum_edited_later_changes_the_consensus_from_then_on(backend: Backend,
                                                                        ) -> None:
    """The daemon takes the quorum from the terms: quorum 2 recorded first, quorum 1
    from T0 + 60: only from then does one location seeing it down count."""
    east, west = backend.open(location="east"), backend.open(location="west")
    east.write(checks("east", "0000"))
    west.write(checks("west", "1111"))
    clock = Fixed(T0 + 120.0)
    tracker = Tracker({"app": True})
    room = VantagePoint(west, tracker, clock, quorum=1, horizon=86400.0, slack=10.0,
                        log=structlog.get_logger())
    two = Terms(0.999, 0.0, False, {"app": True}, extra={"quorum": 2})
    one = Terms(0.999, 0.0, False, {"app": True}, extra={"quorum": 1})
    tracker.set_terms(TermsHistory([Version(T0 - 60.0, two), Version(T0 + 60.0, one)]))
    room.set_quorum(1, ["app"])  # a reload: the terms decide, not the config's number
    room.load(["app"])
    room.refresh()
    totals = tracker.target_totals("app", T0, T0 + 120, T0 + 120)
    assert (totals[State.UP], totals[State.DOWN]) == (60.0, 60.0)
