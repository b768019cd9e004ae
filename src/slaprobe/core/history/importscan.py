"""Pure checking of one target's import rows against its recorded checks, one row at a
time (a file of any size is checked in constant memory).

Both inputs are in time order: the file's rows of the target (one per time, the
smallest line of a time) and the target's recorded checks at the location from the
last one before the first row to the first one after the last row. A row identical
to the recorded check at its time is a duplicate (skipped); any other row is kept,
and a kept row overlaps when it starts inside the time the latest recorded check at
or before it covers: [at, min(next recorded, at + 2 x interval)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from slaprobe.core.model import Check


def same(a: Check, b: Check) -> bool:
    """Whether two checks at one time say the same thing (location aside)."""
    return (a.ok, a.latency, a.status, a.error, a.interval, a.network, a.unknown) == (
        b.ok, b.latency, b.status, b.error, b.interval, b.network, b.unknown)


@dataclass(frozen=True, slots=True)
class Overlap:
    """A row (its line) starting inside the time a recorded check covers."""

    line: int
    check: Check
    start: float  # the recorded check's time
    end: float    # where its coverage ends


@dataclass(frozen=True, slots=True)
class Closed:
    """A row (its line) in a closed month."""

    line: int
    check: Check
    month: str


class TargetScan:
    """One target's rows checked as they stream by. Iterate `kept(rows, recorded)`
    for the rows to insert; afterwards `skipped`, `overlap` (smallest line), `closed`
    (per closed month, the smallest line in it) and the filled figures (`start`,
    `end`, `seconds`: what the kept rows cover, each up to the next check in time,
    kept or recorded) tell the rest."""

    def __init__(self, months: Sequence[tuple[str, float, float]]) -> None:
        self.months = months  # closed months: (name, start, end)
        self.skipped = 0
        self.count = 0  # rows kept
        self.overlap: Overlap | None = None
        self.closed: dict[str, Closed] = {}
        self.start = math.inf
        self.end = -math.inf
        self.seconds = 0.0
        self._pending: Check | None = None  # the last kept row, its coverage not yet ended

    def _cover(self, until: float) -> None:
        """End the last kept row's coverage at the next check's time `until`."""
        if (c := self._pending) is not None:
            end = min(c.at + 2 * c.interval, until)
            self.start = min(self.start, c.at)
            self.end = max(self.end, end)
            self.seconds += end - c.at
            self._pending = None

    def kept(self, rows: Iterable[tuple[int, Check]], recorded: Iterable[Check],
             ) -> Iterator[tuple[int, Check]]:
        rec = iter(recorded)
        latest: Check | None = None  # the latest recorded check at or before the row
        after = next(rec, None)      # the first recorded check after it
        for line, c in rows:
            while after is not None and after.at <= c.at:
                self._cover(after.at)
                latest, after = after, next(rec, None)
            self._cover(c.at)
            if latest is not None and latest.at == c.at and same(latest, c):
                self.skipped += 1
                continue
            self._refuse(line, c, latest, after)
            self._pending = c
            self.count += 1
            yield line, c
        self._cover(math.inf if after is None else after.at)

    def _refuse(self, line: int, c: Check, latest: Check | None, after: Check | None) -> None:
        for month, a, b in self.months:
            if a <= c.at < b:
                seen = self.closed.get(month)
                if seen is None or line < seen.line:
                    self.closed[month] = Closed(line, c, month)
        if latest is not None:
            end = min(latest.at + 2 * latest.interval, math.inf if after is None else after.at)
            if end > c.at and (self.overlap is None or line < self.overlap.line):
                self.overlap = Overlap(line, c, latest.at, end)
