"""Half-open interval arithmetic: merge, clip, subtract, total, against a set model."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.core.intervals import Interval, clip, merge, subtract, total


def points(intervals: list[Interval]) -> set[int]:
    """The integer seconds covered by (integer) half-open intervals."""
    return {x for s, e in intervals for x in range(int(s), int(e))}


@pytest.mark.parametrize(
    ("given_", "want"),
    [
        ([], []),
        ([(0, 1)], [(0, 1)]),
        ([(5, 7), (0, 2)], [(0, 2), (5, 7)]),
        ([(0, 2), (2, 4)], [(0, 4)]),  # touching intervals join
        ([(0, 5), (1, 2)], [(0, 5)]),  # nested
        ([(0, 3), (2, 6), (8, 9)], [(0, 6), (8, 9)]),
        ([(3, 3), (4, 2)], []),  # empty and inverted dropped
    ],
)
def test_merge(given_: list[Interval], want: list[Interval]) -> None:
    """merge gives the sorted, disjoint, non-empty union."""
    assert merge(given_) == want


@pytest.mark.parametrize(
    ("given_", "a", "b", "want"),
    [
        ([(0, 10)], 2, 5, [(2, 5)]),
        ([(0, 2), (4, 6), (8, 10)], 1, 9, [(1, 2), (4, 6), (8, 9)]),
        ([(0, 2)], 2, 5, []),
        ([(5, 8)], 2, 5, []),
        ([(0, 10)], 3, 3, []),  # empty window
        ([(0, 10)], 5, 3, []),  # inverted window
    ],
)
def test_clip(given_: list[Interval], a: float, b: float, want: list[Interval]) -> None:
    """clip keeps only the non-empty parts inside [a, b)."""
    assert clip(given_, a, b) == want


@pytest.mark.parametrize(
    ("base", "holes", "want"),
    [
        ((0, 10), [], [(0, 10)]),
        ((0, 10), [(2, 3)], [(0, 2), (3, 10)]),
        ((0, 10), [(-5, 3), (8, 20)], [(3, 8)]),
        ((0, 10), [(-5, 20)], []),
        ((0, 10), [(0, 10)], []),
        ((0, 10), [(10, 12), (-3, 0)], [(0, 10)]),
        ((0, 10), [(1, 2), (2, 3), (5, 6)], [(0, 1), (3, 5), (6, 10)]),
    ],
)
def test_subtract(base: Interval, holes: list[Interval], want: list[Interval]) -> None:
    """subtract removes sorted holes from base, leaving the pieces in order."""
    assert subtract(base, holes) == want


def test_total() -> None:
    """total sums the lengths."""
    assert total([]) == 0
    assert total([(0, 2), (5, 5.5)]) == 2.5


ints = st.integers(-30, 30)
raw = st.lists(st.tuples(ints, ints), max_size=8)


@settings(max_examples=300, deadline=None)
@given(raw, raw, ints, ints, st.tuples(ints, ints))
def test_against_set_model(
    xs: list[tuple[int, int]], hs: list[tuple[int, int]], a: int, b: int,
    base: tuple[int, int],
) -> None:
    """merge/clip/subtract/total agree with the same operations on sets of integer seconds."""
    m = merge(xs)
    assert points(m) == points([(s, e) for s, e in xs if e > s])
    assert all(s < e for s, e in m)
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(m))  # sorted, apart
    assert total(m) == len(points(m))
    c = clip(m, a, b)
    assert points(c) == points(m) & set(range(a, b))
    assert all(a <= s < e <= b for s, e in c)
    holes = merge(hs)
    lo, hi = base
    d = subtract(base, holes)
    assert points(d) == set(range(lo, hi)) - points(holes)
    assert all(lo <= s < e <= hi for s, e in d)
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(d))
