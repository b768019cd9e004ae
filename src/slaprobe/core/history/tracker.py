"""Pure SLA state for a set of targets: timelines, maintenance, service, credit.

The daemon feeds checks in and asks for figures at scrape time; the report
builds one from the store. Time is always an argument. The timelines, the
maintenance laid over them and the service are `TargetTimelines`
(`slaprobe.core.history.targets`); the tracker adds what feeds them and the
incremental credit: the seconds of each state that can no longer change, moved
on by housekeeping, looking only at the targets a check moved since.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from slaprobe.core.history.degraded import Degraded, is_degraded, within_up
from slaprobe.core.history.targets import TargetTimelines
from slaprobe.core.history.timeline import N_STATES, History, Span, window_totals
from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import Check


@dataclass(slots=True)
class Credit:
    """Seconds credited to each state so far (the _seconds_total counters)."""

    seconds: list[float] = field(default_factory=lambda: [0.0] * N_STATES)
    until: float | None = None

    def add(self, totals: Sequence[float]) -> None:
        for k in range(N_STATES):
            self.seconds[k] += totals[k]


class Tracker(TargetTimelines):
    """Timelines of the configured targets, the service built from them, their credit."""

    def __init__(
        self,
        critical: Mapping[str, bool],
        histories: Mapping[str, History] | None = None,
        windows: Iterable[Window] = (),
    ) -> None:
        super().__init__(critical, histories, windows)
        self.credit = {name: Credit() for name in self.critical}
        self.service_credit = Credit()
        # targets whose timeline may have moved since the last credit update (None: all)
        self._moved: set[str] | None = None
        self._service_tried = -math.inf  # `now` of the last look at the service's credit
        # each location's own view, when these timelines are the consensus of several
        self.locations: dict[str, Tracker] = {}
        # degraded time of the targets that have a degraded_latency (`core.degraded`),
        # and the seconds of it credited so far (slaprobe_degraded_seconds_total)
        self.degraded: dict[str, Degraded] = {}
        self.degraded_credit: dict[str, float] = {}

    def reconfigure(
        self, critical: Mapping[str, bool], histories: Mapping[str, History], *,
        replace: bool = False,
    ) -> None:
        """Follow a new target set: kept targets keep their timelines and credit
        (unless `replace`), new ones take the given histories."""
        super().reconfigure(critical, histories, replace=replace)
        self.credit = {n: self.credit.get(n) or Credit() for n in self.critical}
        for name in [n for n in self.degraded if n not in self.critical]:
            del self.degraded[name]
            self.degraded_credit.pop(name, None)
        self._moved = None

    # --- inputs -------------------------------------------------------------------

    def add(self, check: Check) -> Span | None:
        """Fold a check into its target's timeline; the span it closed, if any."""
        closed = self.histories[check.target].add(check)
        self.index.note(check.target)
        self.touch(check.target)
        deg = self.degraded.get(check.target)
        if deg is None and is_degraded(check):
            deg = self.degraded[check.target] = Degraded()
        if deg is not None:
            deg.add(check)
        if self._moved is not None:
            self._moved.add(check.target)
        return closed

    def set_history(self, name: str, history: History) -> None:
        """Replace one target's timeline (its consensus, computed again); its credit
        goes on from where it was."""
        self.histories[name] = history
        self.index.note(name)
        self.touch(name)
        if self._moved is not None:
            self._moved.add(name)

    def degraded_seconds(self, name: str, a: float, b: float, now: float) -> float:
        """A target's degraded seconds in [a, b), maintenance left out (0: never degraded)."""
        deg = self.degraded.get(name)
        return 0.0 if deg is None else deg.seconds(a, b, now, self._maint.get(name, ()))

    def service_degraded_seconds(self, up: Sequence[tuple[float, float]], a: float, b: float,
                                 now: float) -> float:
        """Seconds of the service's `up` spans during which a critical target was degraded."""
        parts = [deg.outside(a, b, now, self._maint.get(name, ()))
                 for name, deg in self.degraded.items() if self.critical.get(name)]
        return within_up(parts, up) if parts else 0.0

    def trim(self, before: float) -> None:
        super().trim(before)
        for deg in self.degraded.values():
            deg.trim(before)

    # --- counters -----------------------------------------------------------------

    def update_credit(self, now: float, *, service_step: float = 0.0) -> None:
        """Credit time that can no longer change to the per-state counters.

        The service is credited once at least `service_step` seconds more of it are
        final, looked at every `service_step` seconds of `now` (0: whenever any is):
        extending the service timeline reads every critical target, so the daemon
        does it every few seconds, not every second. Only targets with a check since
        the last update are looked at (only a check moves a timeline's final point).
        """
        moved, self._moved = self._moved, set()
        for name in self.credit if moved is None else [n for n in moved if n in self.credit]:
            credit, h = self.credit[name], self.histories[name]
            final = h.final_until()
            if final is None:
                continue
            if credit.until is None:
                credit.until = final
                continue
            if final > credit.until:
                credit.add(window_totals(h, self._maint[name], credit.until, final, now))
                if (deg := self.degraded.get(name)) is not None:
                    self.degraded_credit[name] = self.degraded_credit.get(name, 0.0) + (
                        deg.seconds(credit.until, final, now, self._maint[name]))
                credit.until = final
                self.touch(name)
        if service_step and now - self._service_tried < 0.9 * service_step:
            return
        self._service_tried = now
        final = self.service_final()
        if final is None:
            return
        sc = self.service_credit
        if sc.until is None:
            sc.until = final
        elif final > sc.until and final - sc.until >= service_step:
            sc.add(self.service_timeline(sc.until, final, now).totals(sc.until, final))
            sc.until = final

