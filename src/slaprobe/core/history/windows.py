"""PURE: one target's availability and coverage over several windows ending now, in one pass.

A scrape asks every target for its ratios over each window `[now - length, now)`.
All those windows end at `now`, so the seconds before `now` are summed once and
each window only subtracts what lies before its start; maintenance, when any of
it touches the longest window, takes the general path (`window_totals`). The
figures are the same numbers `Tracker.target_figures` gives, computed with the
same operations in the same order, so the two paths agree to the last bit.
"""

from __future__ import annotations

from collections.abc import Sequence

from slaprobe.core.history.timeline import N_STATES, History, window_totals
from slaprobe.core.intervals import Interval, clip
from slaprobe.core.model import State
from slaprobe.core.slo import Figures

Ratios = tuple[float | None, float | None]  # availability, coverage (None: undefined)
_UP, _DOWN, _MAINT, _NET = State.UP, State.DOWN, State.MAINTENANCE, State.PROBE_NETWORK


def window_ratios(history: History, maint: Sequence[Interval], lengths: Sequence[float],
                  now: float) -> list[Ratios]:
    """(availability, coverage) over `[now - length, now)` for each length."""
    if not lengths:
        return []
    longest = now - max(lengths)
    if maint and clip(maint, longest, now):
        out: list[Ratios] = []
        for length in lengths:
            a = now - length
            f = Figures.of(window_totals(history, maint, a, now, now), now - a)
            out.append((f.availability, f.coverage))
        return out
    spans = history.spans
    tail = history.tail(now)
    hi = spans._before(now) if spans.starts else None
    result: list[Ratios] = []
    for length in lengths:
        a = now - length
        if hi is not None and now > a:
            lo = spans._before(a)
            t = [hi[k] - lo[k] for k in range(N_STATES)]
        else:
            t = [0.0] * N_STATES
        if tail is not None:
            s, e = max(tail[0], a), min(tail[1], now)
            if e > s:
                t[tail[2]] += e - s
        result.append(ratios_of(t, now - a))
    return result


def run_ratios(start: float, lengths: Sequence[float], now: float) -> list[Ratios]:
    """What `window_ratios` gives a timeline that is one up run from `start` (nothing
    closed before it, no maintenance in the longest window) covering up to `now`: the
    same numbers to the last bit. There each closed span adds x - x = 0.0 to each state
    and the run adds `up = now - max(start, a)` to up; adding 0.0 changes no sum, so
    availability is up / up and coverage min(up / (now - a), 1.0). With `start` -inf it
    is the ratios of every target up throughout its longest window. Called for
    thousands of targets a scrape: written out, not through `ratios_of`."""
    out: list[Ratios] = []
    for length in lengths:
        a = now - length
        s = start if start > a else a
        up = now - s if now > s else 0.0
        span = now - a
        out.append((1.0 if up > 0 else None, min(up / span, 1.0) if span > 0 else None))
    return out


def ratios_of(t: list[float], length: float) -> Ratios:
    """What `Figures.of(t, length)` gives as availability and coverage."""
    up, down = t[_UP], t[_DOWN]
    counted = up + down
    availability = up / counted if counted > 0 else None
    if length <= 0:
        return availability, None
    return availability, min((up + down + (t[_MAINT] + t[_NET])) / length, 1.0)
