"""Pure quorum consensus: one target's timeline from its timelines at several locations.

At each instant a target is
  excluded (maintenance) when it is in an excused maintenance window; else
  down when at least `quorum` locations see it down; else
  up when at least `quorum` locations see it up or down; else
  excluded as probe_network when a location sees probe_network; else
  unknown (a gap).
Each location's timeline is the usual one (spans of UP / DOWN / NET, gaps unknown),
built from that location's own checks at their recorded times; the consensus is a sweep
over the span boundaries, so it is exact to those times (no sampling, no rounding).
With one location and quorum 1 it is exactly the single-daemon timeline
(`timeline.effective` of that location's spans).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from slaprobe.core.history.timeline import N_STATES, History, OpenRun, Span, Spans
from slaprobe.core.intervals import Interval, clip
from slaprobe.core.model import State


def rule(counts: Sequence[int], quorum: int) -> State | None:
    """The consensus state from how many locations see each state (maintenance aside;
    locations not counted are unknown there). None: unknown."""
    down = counts[State.DOWN]
    if down >= quorum:
        return State.DOWN
    if counts[State.UP] + down >= quorum:
        return State.UP
    if counts[State.PROBE_NETWORK]:
        return State.PROBE_NETWORK
    return None


def consensus_spans(
    locations: Iterable[Sequence[Span]], quorum: int, a: float, b: float,
    maint: Sequence[Interval] = (),
) -> list[Span]:
    """The consensus spans within [a, b), adjacent runs of one state merged.

    `locations`: each location's spans (disjoint, in time order, states UP / DOWN / NET);
    `maint`: the target's excused maintenance intervals (sorted, disjoint), which
    override every location's state.
    """
    if quorum < 1:
        raise ValueError(f"quorum must be at least 1, not {quorum}")
    events: list[tuple[float, int, int]] = []
    for spans in locations:
        for s0, e0, st in spans:
            if st == State.MAINTENANCE:
                raise ValueError("a location's timeline holds no maintenance: pass `maint`")
            s, e = max(s0, a), min(e0, b)
            if e > s:
                events.append((s, int(st), 1))
                events.append((e, int(st), -1))
    windows = clip(maint, a, b)
    for s, e in windows:
        events.append((s, int(State.MAINTENANCE), 1))
        events.append((e, int(State.MAINTENANCE), -1))
    events.sort()
    counts = [0] * N_STATES
    out: list[Span] = []
    i = 0
    while i < len(events):
        t = events[i][0]
        while i < len(events) and events[i][0] == t:
            counts[events[i][1]] += events[i][2]
            i += 1
        if i >= len(events):
            break
        nxt = events[i][0]
        state = State.MAINTENANCE if counts[State.MAINTENANCE] else rule(counts, quorum)
        if state is not None and nxt > t:
            if out and out[-1][1] == t and out[-1][2] == state:
                out[-1] = (out[-1][0], nxt, state)
            else:
                out.append((t, nxt, state))
    return out


def consensus_history(
    histories: Mapping[str, History], quorum: int, a: float, b: float, now: float,
) -> History:
    """One History holding the consensus of the locations' histories over [a, b) as of
    `now` (each location's open run counted up to `now`, as the single-location engine
    does); feed it to a Tracker, which lays maintenance over. Its last span is its open
    run, final up to its end (so "up since", and incidents that an up check ends, read
    it as they read one location's history)."""
    h = History()
    spans = consensus_spans((hist.between(a, b, now) for hist in histories.values()),
                            quorum, a, b)
    out = Spans()
    for s, e, st in spans[:-1]:
        out.append(s, e, st)
    h.spans = out
    if spans:
        s, e, st = spans[-1]
        h.open = OpenRun(s, st, e, e)
    return h

