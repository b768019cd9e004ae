"""Pure half-open [start, end) interval arithmetic on floats."""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[float, float]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-empty union of the given intervals."""
    out: list[list[float]] = []
    for s, e in sorted(i for i in intervals if i[1] > i[0]):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def clip(intervals: Iterable[Interval], a: float, b: float) -> list[Interval]:
    """The non-empty parts of (sorted, disjoint) intervals inside [a, b)."""
    parts = ((max(s, a), min(e, b)) for s, e in intervals)
    return [(s, e) for s, e in parts if e > s]


def total(intervals: Iterable[Interval]) -> float:
    return sum(e - s for s, e in intervals)


def subtract(base: Interval, holes: Iterable[Interval]) -> list[Interval]:
    """`base` minus the (sorted, disjoint) holes."""
    a, b = base
    out: list[Interval] = []
    pos = a
    for s, e in holes:
        if e <= pos or s >= b:
            continue
        if s > pos:
            out.append((pos, s))
        pos = max(pos, e)
        if pos >= b:
            break
    if pos < b:
        out.append((pos, b))
    return out
