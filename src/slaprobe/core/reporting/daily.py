"""Pure per-day figures: one row per UTC day and scope (the service, each target).

The spans come from the same Tracker the JSON report reads, so the per-day
seconds add up to the report's totals. A range that starts or ends inside a day
gives that day a shorter length (only the part inside the range counts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from slaprobe.core.history.timeline import N_STATES, Span
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.slo import Figures

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Day:
    """One scope's figures over one UTC day (clipped to the range)."""

    day: str          # YYYY-MM-DD (UTC)
    start: float
    end: float
    figures: Figures


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str         # "service" or "target"
    name: str
    critical: bool
    days: tuple[Day, ...]


def day_bounds(a: float, b: float) -> list[tuple[str, float, float]]:
    """The UTC days touching [a, b), each clipped to it: (YYYY-MM-DD, start, end)."""
    out: list[tuple[str, float, float]] = []
    d = dt.datetime.fromtimestamp(a, dt.UTC).date()
    while True:
        start = dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()
        if start >= b:
            break
        s, e = max(start, a), min(start + DAY, b)
        if e > s:
            out.append((d.isoformat(), s, e))
        d += dt.timedelta(days=1)
    return out


def bucket(spans: Iterable[Span], bounds: Sequence[tuple[str, float, float]]) -> list[list[float]]:
    """Seconds of each state per bucket; spans in time order, buckets in time order."""
    out = [[0.0] * N_STATES for _ in bounds]
    i = 0
    for s, e, st in spans:
        while i < len(bounds) and bounds[i][2] <= s:
            i += 1
        j = i
        while j < len(bounds) and bounds[j][1] < e:
            lo, hi = max(s, bounds[j][1]), min(e, bounds[j][2])
            if hi > lo:
                out[j][st] += hi - lo
            j += 1
    return out


def _days(spans: Sequence[Span], bounds: Sequence[tuple[str, float, float]]) -> tuple[Day, ...]:
    totals = bucket(spans, bounds)
    return tuple(Day(label, s, e, Figures.of(t, e - s))
                 for (label, s, e), t in zip(bounds, totals, strict=True))


def build(tracker: Tracker, service: str, a: float, b: float, now: float) -> list[Scope]:
    """Per-day figures over [a, b): the service first, then each target in order.

    As in the report, time after `now` has no history yet and counts as unknown.
    """
    bounds = day_bounds(a, b)
    end = max(min(b, now), a)
    svc = tracker.service_timeline(a, end, now).between(a, end)
    out = [Scope("service", service, True, _days(svc, bounds))]
    for name, critical in tracker.critical.items():
        out.append(Scope("target", name, critical,
                         _days(tracker.target_spans(name, a, end, now), bounds)))
    return out
