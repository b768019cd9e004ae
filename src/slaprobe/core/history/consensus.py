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

The quorum is an SLA term: it may be one number, or `Quorum` steps (since, quorum)
in time order, each in force from its `since` (the first also before it), so a
quorum changed later leaves the consensus of the time before as it was.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence

from slaprobe.core.history.timeline import N_STATES, History, OpenRun, Span, Spans
from slaprobe.core.intervals import Interval, clip
from slaprobe.core.model import State

Quorum = int | Sequence[tuple[float, int]]


def quorum_parts(quorum: Quorum, a: float, b: float) -> list[tuple[float, float, int]]:
    """[a, b) cut where the quorum changes, each part with the quorum in force."""
    if isinstance(quorum, int):
        return [(a, b, quorum)] if b > a else []
    steps = sorted(quorum)
    if not steps:
        raise ValueError("quorum steps need at least one step")
    since = [s for s, _ in steps]
    i = max(bisect.bisect_right(since, a) - 1, 0)
    out: list[tuple[float, float, int]] = []
    start = a
    while start < b:
        end = min(steps[i + 1][0], b) if i + 1 < len(steps) else b
        if end > start:
            out.append((start, end, steps[i][1]))
            start = end
        if i + 1 >= len(steps):
            break
        i += 1
    return out


def latest(quorum: Quorum) -> int:
    """The quorum in force last (the one a new instant takes)."""
    return quorum if isinstance(quorum, int) else max(quorum)[1]


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
    locations: Iterable[Sequence[Span]], quorum: Quorum, a: float, b: float,
    maint: Sequence[Interval] = (),
) -> list[Span]:
    """The consensus spans within [a, b), adjacent runs of one state merged.

    `locations`: each location's spans (disjoint, in time order, states UP / DOWN / NET);
    `maint`: the target's excused maintenance intervals (sorted, disjoint), which
    override every location's state.
    """
    if not isinstance(quorum, int):
        return _stepped(list(locations), quorum, a, b, maint)
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


def _stepped(locations: list[Sequence[Span]], quorum: Sequence[tuple[float, int]],
             a: float, b: float, maint: Sequence[Interval]) -> list[Span]:
    out: list[Span] = []
    for pa, pb, q in quorum_parts(quorum, a, b):
        for s, e, st in consensus_spans(locations, q, pa, pb, maint):
            if out and out[-1][1] == s and out[-1][2] == st:
                out[-1] = (out[-1][0], e, st)
            else:
                out.append((s, e, st))
    return out


def consensus_history(
    histories: Mapping[str, History], quorum: Quorum, a: float, b: float, now: float,
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

