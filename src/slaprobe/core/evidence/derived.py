"""The derived timelines checked against the checks they come from (pure).

Reports, metrics, statements and incidents read a target's stored run-length spans
and its open run (`spans`, `open_runs`), not its raw checks. Those tables are not
chained, so `verify` recomputes them from the chained checks and compares. The SQL
side (`slaprobe.history.derived`) hands over, per location and target, only the
checks where something happens, in time order: each check that starts a run (its
state differs from the check before, or it comes after the coverage of the one
before ended), the first check at or after the prune horizon, and the last check.
From those rows the timeline is exactly the one `timeline.History` folds.

After pruning, the checks before the horizon are partly gone, so the comparison
starts at the first check held at or after it (from there on, the state at each
instant depends only on checks that are still held). Spans are compared as time
laid out in states: contiguous spans of one state count as one, as they do in
every figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slaprobe.core.timefmt import iso

UNKNOWN = -1  # the state of a check of unknown outcome (a gap, no span)
STATE_NAMES = {0: "up", 1: "down", 2: "probe_network", UNKNOWN: "unknown"}

Span = tuple[float, float, int]  # start, end, state


@dataclass(frozen=True, slots=True)
class Marker:
    """One check where something happens (see the module doc)."""

    at: float
    state: int  # UNKNOWN for an unknown outcome
    cap: float  # at + 2 x interval
    prev_cap: float | None  # the check before's cap (None: the first check)
    starts_run: bool
    last: bool
    first_held: bool  # the first check at or after the prune horizon


@dataclass(frozen=True, slots=True)
class Run:
    start: float
    state: int
    last_at: float
    cap_end: float


def timeline(markers: Sequence[Marker]) -> tuple[list[Span], Run | None, float | None]:
    """The closed spans and open run the checks fold into, and the time of the first
    check held at or after the prune horizon (None: no such check)."""
    spans: list[Span] = []
    run: tuple[float, int] | None = None
    first_held = None
    last: Marker | None = None
    for m in markers:
        if m.first_held and first_held is None:
            first_held = m.at
        if m.starts_run:
            if run is not None and run[1] != UNKNOWN:
                assert m.prev_cap is not None
                spans.append((run[0], min(m.at, m.prev_cap), run[1]))
            run = (m.at, m.state)
        if m.last:
            last = m
    if run is None or last is None:
        return spans, None, first_held
    return spans, Run(run[0], run[1], last.at, last.cap), first_held


def _laid_out(spans: Sequence[Span], since: float) -> list[Span]:
    """Spans clipped to [since, ...), contiguous spans of one state merged."""
    out: list[Span] = []
    for start, e, st in sorted(spans):
        s = max(start, since)
        if e <= s:
            continue
        if out and out[-1][1] == s and out[-1][2] == st:
            out[-1] = (out[-1][0], e, st)
        else:
            out.append((s, e, st))
    return out


def _span_text(span: Span | None) -> str:
    if span is None:
        return "nothing"
    s, e, st = span
    return f"{STATE_NAMES.get(st, str(st))} {iso(s)} .. {iso(e)}"


def _run_text(run: Run | None) -> str:
    if run is None:
        return "no open run"
    return (f"{STATE_NAMES.get(run.state, str(run.state))} since {iso(run.start)}, last check "
            f"{iso(run.last_at)}, covered to {iso(run.cap_end)}")


def compare(where: str, stored_spans: Sequence[Span], stored_run: Run | None,
            markers: Sequence[Marker], *, pruned: bool) -> str:
    """'' when the stored timeline of one target at one location (`where`) agrees with
    its checks; else the table and the first difference, named. `pruned`: checks
    before a prune horizon may be gone (then the comparison starts at the first check
    held after it, and a timeline with no such check cannot be compared)."""
    spans, run, first_held = timeline(markers)
    since = float("-inf")
    if pruned:
        if first_held is None:
            return ""  # every check of it is past retention: nothing to recompute from
        since = first_held
    mine, theirs = _laid_out(stored_spans, since), _laid_out(spans, since)
    for i in range(max(len(mine), len(theirs))):
        a = mine[i] if i < len(mine) else None
        b = theirs[i] if i < len(theirs) else None
        if a != b:
            at = min(x[0] for x in (a, b) if x is not None)  # the first instant they differ
            if a is not None and b is not None and a[0] == b[0]:
                at = min(a[1], b[1]) if a[2] == b[2] else a[0]
            return (f"table spans, {where}, from {iso(at)}: stored {_span_text(a)}, but its "
                    f"checks give {_span_text(b)}: changed outside slaprobe")
    if pruned and stored_run is not None and run is not None:
        stored_run = Run(max(stored_run.start, since), stored_run.state, stored_run.last_at,
                         stored_run.cap_end)
        run = Run(max(run.start, since), run.state, run.last_at, run.cap_end)
    if stored_run != run:
        return (f"table open_runs, {where}: stored {_run_text(stored_run)}, but its checks "
                f"give {_run_text(run)}: changed outside slaprobe")
    return ""
