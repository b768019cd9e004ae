"""PURE: wall time checked against the monotonic clock.

The wall clock can be stepped (an operator's `date -s`, a VM restored, NTP's first
correction); the monotonic clock cannot. `WallGuard.stamp(wall, mono)` gives the time
to record: the wall time while it advances with the monotonic clock (within
`tolerance`, so NTP's slewing is followed), else:

- a step **backwards**: the monotonic-derived time (the last trusted wall time plus
  the monotonic seconds since), held until the wall clock catches up with it: no
  record is ever stamped before one already made;
- a step **forwards**: the new wall time from then on, reported with its size so
  the caller can mark the skipped span as unknown (no up or down time is invented
  for time that did not pass).

Both arguments are passed in: this module reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

TOLERANCE = 1.0  # seconds between wall and monotonic-derived time before it is a step


@dataclass(frozen=True, slots=True)
class Stamp:
    """A time to record, and what happened to the wall clock to get it."""

    at: float
    event: str | None = None  # "backward", "forward", "caught_up" or None
    step: float = 0.0         # signed seconds of the step (event backward/forward)


class WallGuard:
    def __init__(self, tolerance: float = TOLERANCE) -> None:
        self.tolerance = tolerance
        self._anchor: tuple[float, float] | None = None  # (wall, mono) last trusted
        self.held = False  # stamping by the monotonic clock after a backward step

    def stamp(self, wall: float, mono: float) -> Stamp:
        if self._anchor is None:
            self._anchor = (wall, mono)
            return Stamp(wall)
        w0, m0 = self._anchor
        expected = w0 + (mono - m0)
        drift = wall - expected
        if drift < -self.tolerance:  # behind the trusted time: hold it
            if self.held:
                return Stamp(expected)
            self.held = True
            return Stamp(expected, "backward", drift)
        if self.held:  # caught up again: trust the wall from here
            self.held = False
            self._anchor = (wall, mono)
            return Stamp(max(wall, expected), "caught_up")
        self._anchor = (wall, mono)
        if drift > self.tolerance:
            return Stamp(wall, "forward", drift)
        return Stamp(wall)

    def offset(self, wall: float, mono: float) -> float:
        """Wall time minus the time stamped now (negative while held), without stamping."""
        if self._anchor is None:
            return 0.0
        w0, m0 = self._anchor
        return wall - (w0 + (mono - m0)) if self.held else 0.0
