"""Pure SLO math: availability, coverage, error budget and burn rate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slaprobe.core.model import State


@dataclass(frozen=True, slots=True)
class Figures:
    """Seconds by state over a window of `length` seconds."""

    up: float
    down: float
    maintenance: float
    probe_network: float
    length: float

    @classmethod
    def of(cls, totals: Sequence[float], length: float) -> Figures:
        return cls(
            up=totals[State.UP], down=totals[State.DOWN], maintenance=totals[State.MAINTENANCE],
            probe_network=totals[State.PROBE_NETWORK], length=length,
        )

    @property
    def excluded(self) -> float:
        return self.maintenance + self.probe_network

    @property
    def unknown(self) -> float:
        return max(self.length - self.up - self.down - self.excluded, 0.0)

    @property
    def availability(self) -> float | None:
        """up / (up + down); None (undefined) without up or down time."""
        counted = self.up + self.down
        return self.up / counted if counted > 0 else None

    @property
    def coverage(self) -> float | None:
        if self.length <= 0:
            return None
        return min((self.up + self.down + self.excluded) / self.length, 1.0)

    def budget_remaining(self, objective: float) -> float | None:
        """1 - down / ((1 - objective) x (up + down))."""
        counted = self.up + self.down
        if counted <= 0:
            return None
        return 1.0 - self.down / ((1.0 - objective) * counted)

    def burn_rate(self, objective: float) -> float | None:
        """(1 - availability) / (1 - objective)."""
        a = self.availability
        return None if a is None else (1.0 - a) / (1.0 - objective)

    def objective_met(self, objective: float) -> bool | None:
        a = self.availability
        return None if a is None else a >= objective
