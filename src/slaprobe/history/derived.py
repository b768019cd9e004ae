"""The derived tables (`spans`, `open_runs`) recomputed from the chained checks and
compared, for `verify` (the comparison itself: `slaprobe.core.evidence.derived`).

One SQL statement per database walks the checks of each location and target in time
order with window functions and returns only the checks where something happens
(a run starts, the prune horizon is crossed, the last check): a few rows per run, not
one per check, so the work stays in the database engine. Both databases run the same
text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from slaprobe.core.evidence.derived import Marker, Run, Span, compare
from slaprobe.history.sql import Sql

_STATE = "CASE WHEN unknown THEN -1 WHEN ok THEN 0 WHEN network THEN 2 ELSE 1 END"
_MARKERS = f"""
WITH c AS (
    SELECT location, target, at, {_STATE} AS st, at + 2 * interval AS cap,
           LAG({_STATE}) OVER w AS pst, LAG(at + 2 * interval) OVER w AS pcap,
           LAG(at) OVER w AS pat, LEAD(at) OVER w AS nat
    FROM checks WHERE at >= ? WINDOW w AS (PARTITION BY location, target ORDER BY at)
)
SELECT location, target, at, st, cap, pcap,
       CASE WHEN pst IS NULL OR st <> pst OR at > pcap THEN 1 ELSE 0 END,
       CASE WHEN nat IS NULL THEN 1 ELSE 0 END,
       CASE WHEN at >= ? AND (pat IS NULL OR pat < ?) THEN 1 ELSE 0 END
FROM c
WHERE pst IS NULL OR st <> pst OR at > pcap OR nat IS NULL OR (at >= ? AND (pat IS NULL OR pat < ?))
ORDER BY location, target, at
"""  # noqa: S608

Key = tuple[str, str]


def _markers(db: Sql, horizon: float, since: float) -> dict[Key, list[Marker]]:
    out: dict[Key, list[Marker]] = defaultdict(list)
    for loc, target, at, st, cap, pcap, start, last, first in db.stream(
            _MARKERS, (since, horizon, horizon, horizon, horizon)):
        out[(str(loc), str(target))].append(Marker(
            float(at), int(st), float(cap), None if pcap is None else float(pcap),
            bool(start), bool(last), bool(first)))
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


def check(db: Sql, horizon: float | None, *, since: float | None = None) -> str:
    """'' when every location's and target's stored spans and open run agree with
    the checks held; else the first that does not, named (table, target, time).
    `horizon`: the latest prune horizon (None: nothing was ever pruned); `since`: only
    the timelines from the first check at or after it (a month about to be frozen)."""
    cut = max((t for t in (horizon, since) if t is not None), default=None)
    lo = float("-inf") if since is None else since
    markers = _markers(db, float("-inf") if cut is None else cut, lo)
    spans, runs = _stored(db, lo)
    keys: Iterable[Key] = sorted(set(markers) | set(spans) | set(runs))
    for loc, target in keys:
        problem = compare(f"target {target} at location {loc}", spans.get((loc, target), []),
                          runs.get((loc, target)), markers.get((loc, target), []),
                          pruned=cut is not None)
        if problem:
            return problem
    return ""
