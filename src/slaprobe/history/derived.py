"""The derived tables (`spans`, `open_runs`) recomputed from the chained checks and
compared, for `verify` (the comparison itself: `slaprobe.core.evidence.derived`).

One pass over the checks in storage order (no sort, no index: the cheapest read
either database has; window functions in SQL cost three to four times as much) keeps
only the checks where something happens (a run starts, the prune horizon is crossed,
the last check): a few markers per run. Both databases run the same text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from slaprobe.core.evidence.derived import Marker, Run, Span, compare
from slaprobe.history.sql import Sql
from slaprobe.history.storeapi import Stop, until_stopped

_STATE = "CASE WHEN unknown THEN -1 WHEN ok THEN 0 WHEN network THEN 2 ELSE 1 END"
_SEP = "\x1f"  # between location and target in one key column
_ROWS = (f"SELECT location || CAST(? AS TEXT) || target, at, {_STATE},"  # noqa: S608
         " at + 2 * interval FROM checks WHERE at >= ?")

Key = tuple[str, str]


class _Folder:
    """The markers of every location's and target's checks, fed in any order that
    keeps each one's checks in time order (a target whose checks come out of order is
    set aside, to be fed again alone, in time order)."""

    def __init__(self, horizon: float) -> None:
        self.horizon = horizon
        self.last: dict[str, tuple[float, int, float]] = {}
        self.out: dict[str, list[Marker]] = defaultdict(list)
        self.unsorted: set[str] = set()

    def feed(self, rows: Iterable[tuple[Any, ...]]) -> None:
        last, out, horizon, unsorted = self.last, self.out, self.horizon, self.unsorted
        for key, at, st, cap in rows:
            p = last.get(key)
            if p is None:
                starts, prev_cap, first = True, None, at >= horizon
            elif at <= p[0]:
                unsorted.add(key)
                continue
            else:
                starts, prev_cap = st != p[1] or at > p[2], p[2]
                first = at >= horizon > p[0]
            if starts or first:
                out[key].append(Marker(at, st, cap, prev_cap, starts, False, first))
            last[key] = (at, st, cap)

    def markers(self) -> dict[Key, list[Marker]]:
        done: dict[Key, list[Marker]] = {}
        for key, (at, st, cap) in self.last.items():
            if key not in self.unsorted:
                loc, _, target = key.partition(_SEP)
                done[(loc, target)] = [*self.out[key], Marker(at, st, cap, None, False, True,
                                                              False)]
        return done


def _markers(db: Sql, horizon: float, since: float, stop: Stop | None = None,
             ) -> dict[Key, list[Marker]]:
    """One pass over the checks in storage order (no sort: the daemon writes each
    target's checks in time order); a target imported out of order is read again
    alone, sorted."""
    folder = _Folder(horizon)
    folder.feed(until_stopped(db.stream(_ROWS + " ORDER BY n", (_SEP, since)), stop))
    out = folder.markers()
    for key in sorted(folder.unsorted):
        again = _Folder(horizon)
        loc, _, target = key.partition(_SEP)
        again.feed(db.all(_ROWS + " AND location = ? AND target = ? ORDER BY at",
                          (_SEP, since, loc, target)))
        out.update(again.markers())
    return out


def _stored(db: Sql, since: float) -> tuple[dict[Key, list[Span]], dict[Key, Run]]:
    spans: dict[Key, list[Span]] = defaultdict(list)
    for loc, target, s, e, st in db.stream(
            'SELECT location, target, start, "end", state FROM spans WHERE "end" > ?'
            " ORDER BY location, target, start", (since,)):
        spans[(str(loc), str(target))].append((float(s), float(e), int(st)))
    runs = {(str(loc), str(target)): Run(float(s), int(st), float(la), float(cap))
            for loc, target, s, st, la, cap in db.all(
                "SELECT location, target, start, state, last_at, cap_end FROM open_runs")}
    return spans, runs


def check(db: Sql, horizon: float | None, *, since: float | None = None,
          stop: Stop | None = None) -> str:
    """'' when every location's and target's stored spans and open run agree with
    the checks held; else the first that does not, named (table, target, time).
    `horizon`: the latest prune horizon (None: nothing was ever pruned); `since`: only
    the timelines from the first check at or after it (a month about to be frozen)."""
    cut = max((t for t in (horizon, since) if t is not None), default=None)
    lo = float("-inf") if since is None else since
    markers = _markers(db, float("-inf") if cut is None else cut, lo, stop)
    spans, runs = _stored(db, lo)
    keys: Iterable[Key] = sorted(set(markers) | set(spans) | set(runs))
    for loc, target in keys:
        problem = compare(f"target {target} at location {loc}", spans.get((loc, target), []),
                          runs.get((loc, target)), markers.get((loc, target), []),
                          pruned=cut is not None)
        if problem:
            return problem
    return ""
