"""Pure SLA state for a set of targets: timelines, maintenance, service, credit.

The daemon feeds checks in and asks for figures at scrape time; the report
builds one from the store. Time is always an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from slaprobe.intervals import Interval
from slaprobe.maintenance import Window, excluded_intervals
from slaprobe.model import Check, State
from slaprobe.slo import Figures
from slaprobe.timeline import (
    N_STATES,
    History,
    Span,
    Spans,
    Write,
    effective,
    service_spans,
    window_totals,
)


@dataclass(slots=True)
class Credit:
    """Seconds credited to each state so far (the _seconds_total counters)."""

    seconds: list[float] = field(default_factory=lambda: [0.0] * N_STATES)
    until: float | None = None

    def add(self, totals: Sequence[float]) -> None:
        for k in range(N_STATES):
            self.seconds[k] += totals[k]


class Tracker:
    """Timelines of the configured targets and the service built from them."""

    def __init__(
        self,
        critical: Mapping[str, bool],
        histories: Mapping[str, History] | None = None,
        windows: Iterable[Window] = (),
    ) -> None:
        self.critical = dict(critical)
        self.histories = {name: History() for name in self.critical}
        self.histories.update({k: v for k, v in (histories or {}).items() if k in self.critical})
        self.maintenance: list[Window] = []
        self._maint: dict[str, list[Interval]] = {}
        self.set_maintenance(windows)
        self.credit = {name: Credit() for name in self.critical}
        self.service_credit = Credit()

    def reconfigure(
        self, critical: Mapping[str, bool], histories: Mapping[str, History], *,
        replace: bool = False,
    ) -> None:
        """Follow a new target set: kept targets keep their timelines and credit
        (unless `replace`), new ones take the given histories."""
        self.critical = dict(critical)
        self.histories = {
            n: (histories.get(n) if replace or n not in self.histories else self.histories[n])
            or History()
            for n in self.critical
        }
        self.credit = {n: self.credit.get(n) or Credit() for n in self.critical}
        self.set_maintenance(self.maintenance)

    # --- inputs -------------------------------------------------------------------

    def add(self, check: Check) -> Write:
        """Fold a check into its target's timeline; what to store for it."""
        h = self.histories[check.target]
        closed = h.add(check)
        run = h.open
        return Write(check=check, closed=closed, open=None if run is None else replace(run))

    def set_maintenance(self, windows: Iterable[Window]) -> None:
        self.maintenance = list(windows)
        self._maint = {n: excluded_intervals(self.maintenance, n) for n in self.critical}

    def maint_intervals(self, target: str) -> list[Interval]:
        return self._maint.get(target, [])

    # --- figures ------------------------------------------------------------------

    def target_figures(self, name: str, a: float, b: float, now: float) -> Figures:
        totals = window_totals(self.histories[name], self._maint[name], a, b, now)
        return Figures.of(totals, b - a)

    def target_spans(self, name: str, a: float, b: float, now: float) -> list[Span]:
        """Effective spans (maintenance laid over) of one target within [a, b)."""
        return effective(self.histories[name].between(a, b, now), self._maint[name], a, b)

    def service_timeline(self, a: float, b: float, now: float) -> Spans:
        """The service's spans in [a, b), with prefix sums for window queries."""
        parts = [self.target_spans(n, a, b, now) for n, crit in self.critical.items() if crit]
        out = Spans()
        for s, e, st in service_spans(parts, a, b):
            out.append(s, e, st)
        return out

    def probe_state(self, name: str, now: float) -> State | None:
        """The target's last known state at `now` (None: unknown), maintenance aside."""
        run = self.histories[name].open
        return None if run is None or now >= run.cap_end else run.state

    def effective_state(self, name: str, now: float) -> State | None:
        """MAINT inside an excluded maintenance window, else the probe state."""
        if any(s <= now < e for s, e in self._maint[name]):
            return State.MAINT
        return self.probe_state(name, now)

    def service_state(self, now: float) -> State | None:
        states = [self.effective_state(n, now) for n, c in self.critical.items() if c]
        if not states:
            return None
        if State.DOWN in states:
            return State.DOWN
        if State.MAINT in states:
            return State.MAINT
        if State.NET in states:
            return State.NET
        if None in states:
            return None
        return State.UP

    # --- counters -----------------------------------------------------------------

    def update_credit(self, now: float) -> None:
        """Credit time that can no longer change to the per-state counters."""
        finals: list[float] = []
        for name, credit in self.credit.items():
            h = self.histories[name]
            final = h.final_until()
            if final is None:
                continue
            if self.critical[name]:
                finals.append(final)
            if credit.until is None:
                credit.until = final
                continue
            if final > credit.until:
                credit.add(window_totals(h, self._maint[name], credit.until, final, now))
                credit.until = final
        n_critical = sum(self.critical.values())
        if n_critical == 0 or len(finals) < n_critical:
            return
        final = min(finals)
        sc = self.service_credit
        if sc.until is None:
            sc.until = final
        elif final > sc.until:
            sc.add(self.service_timeline(sc.until, final, now).totals(sc.until, final))
            sc.until = final

