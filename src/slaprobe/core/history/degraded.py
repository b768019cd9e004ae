"""PURE: degraded time (DESIGN "Check kinds, certificates, degraded, JSON").

A successful check slower than its target's `degraded_latency` is *degraded*: up for
availability (the SLA figure never changes for it) and recorded in the history as an
ok check whose error text is `degraded` (ok checks had none before, so a history
without degraded checks reads, and its hash chain verifies, exactly as before).

A degraded check covers the time a check covers (until the next check of its target,
at most 2 x interval); a target's degraded seconds over a window are that time inside
the window, maintenance left out (as up time is). The latency SLI is the share of up
time that was not degraded: time-weighted like availability, so a check interval
changed mid-window does not skew it, and 1 - SLI is exactly the degraded share of
`up_seconds` over the same window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from slaprobe.core.intervals import Interval, clip, merge, subtract
from slaprobe.core.model import Check

DEGRADED = "degraded"  # the error text of a degraded (ok) check


def is_degraded(check: Check) -> bool:
    return check.ok and not check.unknown and check.error == DEGRADED


class Degraded:
    """One target's degraded intervals, fed check by check (in time order)."""

    __slots__ = ("closed", "last_at", "open")

    def __init__(self) -> None:
        self.closed: list[Interval] = []
        self.open: Interval | None = None  # (start, cap) of a degraded last check
        self.last_at = -math.inf

    def add(self, check: Check) -> None:
        """Fold one check in; one not newer than the last is ignored."""
        if check.at <= self.last_at:
            return
        self.last_at = check.at
        if self.open is not None:
            self._close(self.open[0], min(check.at, self.open[1]))
            self.open = None
        if is_degraded(check):
            self.open = (check.at, check.at + 2 * check.interval)

    def add_covered(self, start: float, interval: float, next_at: float | None) -> None:
        """A stored degraded check (in time order) and the time of the check after it."""
        if next_at is None:
            self.open, self.last_at = (start, start + 2 * interval), start
        else:
            self._close(start, min(next_at, start + 2 * interval))
            self.open, self.last_at = None, max(self.last_at, next_at)

    def _close(self, s: float, e: float) -> None:
        if e <= s:
            return
        if self.closed and self.closed[-1][1] == s:
            self.closed[-1] = (self.closed[-1][0], e)
        else:
            self.closed.append((s, e))

    def intervals(self, a: float, b: float, now: float) -> list[Interval]:
        """Degraded time in [a, b): the last check's counted up to `now` (at most its cap)."""
        out = clip(self.closed, a, b)
        if self.open is not None:
            s, e = max(self.open[0], a), min(self.open[1], now, b)
            if e > s:
                out.append((s, e))
        return out

    def seconds(self, a: float, b: float, now: float, maint: Sequence[Interval] = ()) -> float:
        """Degraded seconds in [a, b), maintenance left out."""
        return sum(e - s for s, e in self.outside(a, b, now, maint))

    def outside(self, a: float, b: float, now: float, maint: Sequence[Interval] = ()
                ) -> list[Interval]:
        """The degraded intervals in [a, b) with maintenance taken out."""
        holes = clip(maint, a, b)
        if not holes:
            return self.intervals(a, b, now)
        return [p for iv in self.intervals(a, b, now) for p in subtract(iv, holes)]

    def trim(self, before: float) -> None:
        self.closed = [iv for iv in self.closed if iv[1] > before]


def fold(checks: Iterable[Check]) -> Degraded:
    d = Degraded()
    for c in checks:
        d.add(c)
    return d


def within_up(degraded: Iterable[Sequence[Interval]], up: Sequence[Interval]) -> float:
    """Seconds of `up` (sorted, disjoint) during which any of the degraded interval lists
    holds: the service's degraded time (up, with a critical target degraded)."""
    union = merge(iv for ivs in degraded for iv in ivs)
    total, j = 0.0, 0
    for s, e in up:
        while j < len(union) and union[j][1] <= s:
            j += 1
        k = j
        while k < len(union) and union[k][0] < e:
            total += min(e, union[k][1]) - max(s, union[k][0])
            k += 1
    return total


def sli(up: float, degraded: float) -> float | None:
    """The latency SLI: the share of up time that was not degraded (None: no up time)."""
    return None if up <= 0 else max(0.0, 1.0 - degraded / up)
