"""Pure timeline engine: checks fold into run-length spans; windows query in O(log n).

A check covers time from its start until the next check of that target, but at
most 2 x interval; beyond is unknown (a gap). Runs of the same state are merged,
so a healthy target is one span however long the history. Maintenance is laid
over a timeline at query time (`effective`), and the service timeline is a sweep
over its critical targets' effective spans (`service_spans`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from slaprobe.core.intervals import Interval, clip, subtract
from slaprobe.core.model import Check, State

Span = tuple[float, float, State]
N_STATES = len(State)


class Spans:
    """Disjoint spans in time order, with prefix sums of each state's seconds."""

    __slots__ = ("_cum", "ends", "starts", "states")

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.states: list[State] = []
        # _cum[k][i]: seconds of state k in spans[0:i]
        self._cum: list[list[float]] = [[0.0] for _ in range(N_STATES)]

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def end(self) -> float | None:
        return self.ends[-1] if self.ends else None

    def append(self, start: float, end: float, state: State) -> None:
        """Add a span at the end; contiguous spans of one state merge."""
        if end <= start:
            return
        if self.ends and start < self.ends[-1]:
            raise ValueError(f"span at {start} starts before the last span ends ({self.ends[-1]})")
        if self.ends and start == self.ends[-1] and state == self.states[-1]:
            self.ends[-1] = end
            return
        if self.starts:
            last = len(self.starts) - 1
            length = self.ends[last] - self.starts[last]
            for k in range(N_STATES):
                self._cum[k].append(self._cum[k][-1] + (length if self.states[last] == k else 0.0))
        self.starts.append(start)
        self.ends.append(end)
        self.states.append(state)

    def _before(self, x: float) -> list[float]:
        """Seconds of each state before x."""
        i = bisect.bisect_right(self.starts, x) - 1
        if i < 0:
            return [0.0] * N_STATES
        out = [self._cum[k][i] for k in range(N_STATES)]
        out[self.states[i]] += min(x, self.ends[i]) - self.starts[i]
        return out

    def totals(self, a: float, b: float) -> list[float]:
        """Seconds of each state inside [a, b)."""
        if b <= a or not self.starts:
            return [0.0] * N_STATES
        hi, lo = self._before(b), self._before(a)
        return [hi[k] - lo[k] for k in range(N_STATES)]

    def between(self, a: float, b: float) -> list[Span]:
        """The spans clipped to [a, b)."""
        i = max(bisect.bisect_right(self.starts, a) - 1, 0)
        out: list[Span] = []
        while i < len(self.starts) and self.starts[i] < b:
            s, e = max(self.starts[i], a), min(self.ends[i], b)
            if e > s:
                out.append((s, e, self.states[i]))
            i += 1
        return out

    def trim(self, before: float) -> None:
        """Forget spans that end before `before` (in-memory horizon)."""
        i = bisect.bisect_right(self.ends, before)
        if i == 0:
            return
        rest = list(zip(self.starts[i:], self.ends[i:], self.states[i:], strict=True))
        self.__init__()  # type: ignore[misc]
        for s, e, st in rest:
            self.append(s, e, st)


@dataclass(slots=True)
class OpenRun:
    """The latest run of one state, still growing: its checks so far.

    `state` None is a run of checks of unknown outcome (slaprobe's own failures):
    their time is a gap, but they still end the run before them.
    """

    start: float
    state: State | None
    last_at: float
    cap_end: float  # last check + 2 x interval: coverage ends here without a newer check


class History:
    """One target's timeline: closed spans plus the open run; fed check by check."""

    __slots__ = ("open", "spans")

    def __init__(self) -> None:
        self.spans = Spans()
        self.open: OpenRun | None = None

    def add(self, check: Check) -> Span | None:
        """Fold one check in; returns the span it closed, if any.

        Checks must come in time order (a duplicate time is ignored); an older
        check raises ValueError: the caller rebuilds from the store.
        """
        run = self.open
        cap = check.at + 2 * check.interval
        state = check.state
        if run is None:
            if self.spans.end is not None and check.at < self.spans.end:
                raise ValueError("check older than the timeline")
            self.open = OpenRun(check.at, state, check.at, cap)
            return None
        if check.at < run.last_at:
            raise ValueError("check older than the timeline")
        if check.at == run.last_at:
            return None
        if state == run.state and check.at <= run.cap_end:
            run.last_at, run.cap_end = check.at, cap
            return None
        self.open = OpenRun(check.at, state, check.at, cap)
        if run.state is None:
            return None  # an unknown run leaves a gap, no span
        closed: Span = (run.start, min(check.at, run.cap_end), run.state)
        self.spans.append(*closed)
        return closed

    def final_until(self) -> float | None:
        """Up to when the timeline can no longer change: a check in flight may
        have started any time after the open run's last check."""
        run = self.open
        return self.spans.end if run is None else run.last_at

    def tail(self, now: float) -> Span | None:
        """The open run's span as of `now` (provisional).

        Up to its last check the run is final (each check there has a successor);
        only the last check's coverage is provisional: until `now`, at most its cap.
        """
        run = self.open
        if run is None or run.state is None:
            return None
        end = max(run.last_at, min(now, run.cap_end))
        return (run.start, end, run.state) if end > run.start else None

    def totals(self, a: float, b: float, now: float) -> list[float]:
        """Raw seconds of each state in [a, b), the open run counted up to `now`."""
        out = self.spans.totals(a, b)
        tail = self.tail(now)
        if tail is not None:
            s, e = max(tail[0], a), min(tail[1], b)
            if e > s:
                out[tail[2]] += e - s
        return out

    def between(self, a: float, b: float, now: float) -> list[Span]:
        out = self.spans.between(a, b)
        tail = self.tail(now)
        if tail is not None:
            s, e = max(tail[0], a), min(tail[1], b)
            if e > s:
                if out and out[-1][1] == s and out[-1][2] == tail[2]:
                    out[-1] = (out[-1][0], e, tail[2])
                else:
                    out.append((s, e, tail[2]))
        return out


def fold(checks: Iterable[Check]) -> History:
    """A History built from checks in time order."""
    h = History()
    for c in checks:
        h.add(c)
    return h


# --- maintenance overlay and windows ----------------------------------------------


def window_totals(
    history: History, maint: Sequence[Interval], a: float, b: float, now: float,
) -> list[float]:
    """Seconds per State in [a, b) with maintenance laid over: MAINTENANCE holds all
    time inside the (sorted, disjoint) maintenance intervals, whatever its state."""
    out = history.totals(a, b, now)
    for s, e in clip(maint, a, b):
        inner = history.totals(s, e, now)
        for k in range(N_STATES):
            out[k] -= inner[k]
        out[State.MAINTENANCE] += e - s
    return out


def effective(spans: Sequence[Span], maint: Sequence[Interval], a: float, b: float) -> list[Span]:
    """Spans within [a, b) with maintenance laid over (gaps inside become MAINTENANCE)."""
    windows = clip(maint, a, b)
    if not windows:
        return list(spans)
    out: list[Span] = []
    for s, e, st in spans:
        out.extend((ps, pe, st) for ps, pe in subtract((s, e), windows))
    out.extend((s, e, State.MAINTENANCE) for s, e in windows)
    out.sort(key=lambda sp: sp[0])
    return out


def service_spans(parts: Sequence[Sequence[Span]], a: float, b: float,
                  steady: int = 0) -> list[Span]:
    """The service's spans from its critical targets' effective spans.

    Down if any is down; else excluded if any is excluded (maintenance first);
    else unknown (a gap) if any is unknown; else up. `steady` more critical targets
    are up throughout [a, b), their spans left out: they only add to the up count
    (where no other part has a span the service is unknown with or without them).
    """
    n = len(parts) + steady
    if n == 0:
        return []
    if all(len(p) == 1 and p[0][2] == State.UP and p[0][0] <= a and p[0][1] >= b
           for p in parts):  # every critical target up throughout: the usual case
        return [(a, b, State.UP)] if b > a else []
    events: list[tuple[float, int, int]] = []
    for spans in parts:
        for s0, e0, st in spans:
            s, e = max(s0, a), min(e0, b)
            if e > s:
                events.append((s, st, 1))
                events.append((e, st, -1))
    events.sort()
    counts = [0] * N_STATES
    counts[State.UP] = steady
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
        state = service_rule(counts, n)
        if state is not None and nxt > t:
            if out and out[-1][1] == t and out[-1][2] == state:
                out[-1] = (out[-1][0], nxt, state)
            else:
                out.append((t, nxt, state))
    return out


def service_rule(counts: Sequence[int], n: int) -> State | None:
    """The service's state from how many of its `n` critical targets are in each
    state (the rest unknown): down, else maintenance, else probe_network, else
    unknown (None), else up."""
    if counts[State.DOWN]:
        return State.DOWN
    if counts[State.MAINTENANCE]:
        return State.MAINTENANCE
    if counts[State.PROBE_NETWORK]:
        return State.PROBE_NETWORK
    if counts[State.UP] < n:
        return None
    return State.UP
