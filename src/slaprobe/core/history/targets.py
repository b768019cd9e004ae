"""Pure SLA state for a set of targets: their timelines, maintenance laid over, the service.

`TargetTimelines` holds each configured target's timeline, the maintenance windows
excluded from it and the SLA terms in force, and answers the figures, spans and
states of a target or of the service built from the critical ones (the service's
final part cached, see `service_timeline`). Feeding checks and crediting time are
the tracker's (`slaprobe.core.history.tracker`). Time is always an argument.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from slaprobe.core.evidence.terms import TermsHistory, weighted_objective
from slaprobe.core.history.runindex import RunIndex
from slaprobe.core.history.timeline import (
    N_STATES,
    History,
    Span,
    Spans,
    effective,
    service_rule,
    service_spans,
    window_totals,
)
from slaprobe.core.intervals import Interval
from slaprobe.core.maintenance.rules import Window, excluded_intervals
from slaprobe.core.model import State
from slaprobe.core.slo import Figures


@dataclass(frozen=True, slots=True)
class ServiceTimeline:
    """The service's spans: a cached final head up to `split`, a fresh tail after."""

    head: Spans
    split: float
    tail: Spans

    def totals(self, a: float, b: float) -> list[float]:
        """Seconds of each state inside [a, b)."""
        out = self.head.totals(a, min(b, self.split))
        more = self.tail.totals(max(a, self.split), b)
        return [x + y for x, y in zip(out, more, strict=True)]

    def between(self, a: float, b: float) -> list[Span]:
        """The spans clipped to [a, b), runs across the split joined."""
        out = self.head.between(a, min(b, self.split))
        for sp in self.tail.between(max(a, self.split), b):
            if out and out[-1][1] == sp[0] and out[-1][2] == sp[2]:
                out[-1] = (out[-1][0], sp[1], sp[2])
            else:
                out.append(sp)
        return out


class TargetTimelines:
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
        self.terms: TermsHistory | None = None  # None: `critical` applies to all time
        self._maint: dict[str, list[Interval]] = {}
        self._svc: Spans | None = None  # cached final part of the service timeline
        self._svc_start = self._svc_until = 0.0
        self.index = RunIndex(self.histories, self.critical)
        # each target's latest touch (its figures' inputs moved: a check, credit), in
        # the order of those touches, for readers that make again only what moved
        self._touched: dict[str, int] = {}
        self._seq = 0  # the sequence number of the latest touch
        self._floor = 0  # a reader from before this must read every target
        self.set_maintenance(windows)

    # --- what moved ---------------------------------------------------------------

    def touch(self, name: str) -> None:
        """An input of `name`'s figures moved (a check folded in, its credit, its latest
        check recorded): readers of `changes_since` are told."""
        self._seq += 1
        touched = self._touched
        touched.pop(name, None)  # (to the end: the dict stays in the order of touches)
        touched[name] = self._seq

    def touch_all(self) -> None:
        """Every target's figures may have moved (targets, maintenance, a trim)."""
        self._seq += 1
        self._floor = self._seq
        self._touched = {}  # (names no longer configured are forgotten too)

    def changes_since(self, seq: int) -> tuple[set[str] | None, int]:
        """The targets touched after sequence number `seq` (None: every target may have
        moved since), and the sequence number to ask from next. Costs the answer's
        size, not the number of targets."""
        if seq < self._floor:
            return None, self._seq
        out: set[str] = set()
        for name, at in reversed(self._touched.items()):
            if at <= seq:
                break
            out.add(name)
        return out, self._seq

    def reconfigure(
        self, critical: Mapping[str, bool], histories: Mapping[str, History], *,
        replace: bool = False,
    ) -> None:
        """Follow a new target set: kept targets keep their timelines (unless
        `replace`), new ones take the given histories."""
        self.critical = dict(critical)
        self.histories = {
            n: (histories.get(n) if replace or n not in self.histories else self.histories[n])
            or History()
            for n in self.critical
        }
        self.index = RunIndex(self.histories, self.critical)
        self.set_maintenance(self.maintenance)
        self.touch_all()

    # --- maintenance and terms ------------------------------------------------------

    def set_maintenance(self, windows: Iterable[Window]) -> None:
        windows = list(windows)
        if windows != self.maintenance:
            self.touch_all()
        self.maintenance = windows
        self._maint = {n: excluded_intervals(self.maintenance, n) for n in self.critical}
        self._maint_named = [n for n, spans in self._maint.items() if spans]
        self._svc = None  # the service timeline depends on both

    def set_terms(self, terms: TermsHistory) -> None:
        """The SLA terms history: which targets were critical when (the service)."""
        if self.terms is not None and self.terms.versions == terms.versions:
            return
        self.terms = terms
        self._svc = None

    def maint_intervals(self, target: str) -> list[Interval]:
        return self._maint.get(target, [])

    # --- figures ------------------------------------------------------------------

    def target_figures(self, name: str, a: float, b: float, now: float) -> Figures:
        return Figures.of(self.target_totals(name, a, b, now), b - a)

    def target_totals(self, name: str, a: float, b: float, now: float) -> list[float]:
        """Seconds per State of one target in [a, b), maintenance laid over."""
        return window_totals(self.histories[name], self._maint[name], a, b, now)

    def target_spans(self, name: str, a: float, b: float, now: float) -> list[Span]:
        """Effective spans (maintenance laid over) of one target within [a, b)."""
        return effective(self.histories[name].between(a, b, now), self._maint[name], a, b)

    def critical_parts(self, a: float, b: float) -> list[tuple[float, float, list[str]]]:
        """[a, b) cut where the critical set changed, each part with the configured
        targets that were critical then (the terms in force, not today's config)."""
        terms = self.terms
        if terms is None or len(terms.versions) == 1:
            return [(a, b, [n for n, crit in self.critical.items() if crit])]
        return [(s, e, [n for n, crit in self.critical.items()
                        if t.critical.get(n, terms.critical_at(n, s, crit))])
                for s, e, t in terms.segments(a, b)]

    def maintained(self, a: float, b: float) -> list[str]:
        """The targets with excluded maintenance inside [a, b)."""
        out = []
        for name in self._maint_named:
            spans = self._maint[name]
            i = bisect.bisect_right(spans, (a, math.inf)) - 1
            if (i >= 0 and spans[i][1] > a) or (i + 1 < len(spans) and spans[i + 1][0] < b):
                out.append(name)
        return out

    def _service_sweep(self, a: float, b: float, now: float) -> Spans:
        out = Spans()
        terms = self.terms
        unsteady = self.index.unsteady(a, b, now) if b > a else None
        if unsteady is not None and (terms is None or len(terms.versions) == 1):
            # one critical set throughout: the targets up throughout [a, b) (and not in
            # maintenance there) only count as up; only the others' spans are read
            unsteady.update(self.maintained(a, b))
            names = [n for n in unsteady if self.critical.get(n)]
            parts = [self.target_spans(n, a, b, now) for n in names]
            for sp in service_spans(parts, a, b, steady=self.index.n_critical - len(names)):
                out.append(*sp)
            return out
        for pa, pb, names in self.critical_parts(a, b):
            parts = [self.target_spans(n, pa, pb, now) for n in names]
            for s, e, st in service_spans(parts, pa, pb):
                out.append(s, e, st)
        return out

    def objective(self, a: float, b: float, totals: Callable[[float, float], Sequence[float]],
                  default: float) -> float:
        """The objective over [a, b), weighted by counted time where it changed inside
        (`totals` gives seconds per State of the scope in a part of the range)."""
        if self.terms is None:
            return default

        def counted(s: float, e: float) -> float:
            t = totals(s, e)
            return t[State.UP] + t[State.DOWN]

        return weighted_objective(self.terms, a, b, counted)

    def service_final(self) -> float | None:
        """Up to when the service timeline can no longer change as checks arrive."""
        return self.index.service_final()

    def up_since(self, name: str, at: float) -> bool:
        """Whether the target's timeline from `at` on is one up run, after no data
        at all (so it has no down time there, whatever maintenance says): nothing
        closed ends after `at`, and the open run is up. A target first checked
        after `at` (every target in the daemon's first interval) is one."""
        h = self.histories[name]
        run, end = h.open, h.spans.end
        return run is not None and run.state == State.UP and (end is None or end <= at)

    def final_until(self) -> float | None:
        """Up to when no target's timeline can change as checks arrive."""
        return self.index.final_until()

    def moved_since(self, at: float) -> set[str]:
        """The targets whose timeline from `at` on may be anything but one up run
        (a superset of those not `up_since(at)`), without visiting every target."""
        return self.index.moved_since(at)

    def service_timeline(self, a: float, b: float, now: float) -> ServiceTimeline:
        """The service's timeline for queries inside [a, b).

        The final part is cached and extended as checks arrive (a scrape sweeps
        only the last few seconds, not 31 days of every critical target); the
        cache is dropped when maintenance or the target set changes.
        """
        final = self.service_final()
        if final is None or final <= a:
            return ServiceTimeline(Spans(), a, self._service_sweep(a, b, now))
        if self._svc is None or a < self._svc_start:
            self._svc, self._svc_start, self._svc_until = Spans(), a, a
        if final > self._svc_until:
            for sp in self._service_sweep(self._svc_until, final, now).between(
                    self._svc_until, final):
                self._svc.append(*sp)
            self._svc_until = final
        split = min(b, self._svc_until)
        tail = self._service_sweep(split, b, now) if b > split else Spans()
        return ServiceTimeline(self._svc, split, tail)

    def trim(self, before: float) -> None:
        """Forget timeline spans that end before `before` (the in-memory horizon)."""
        for h in self.histories.values():
            h.spans.trim(before)
        self.index = RunIndex(self.histories, self.critical)
        self.touch_all()
        if self._svc is not None:
            self._svc.trim(before)
            self._svc_start = max(self._svc_start, before)

    def probe_state(self, name: str, now: float) -> State | None:
        """The target's last known state at `now` (None: unknown), maintenance aside."""
        run = self.histories[name].open
        return None if run is None or now >= run.cap_end else run.state

    def in_maintenance(self, name: str, at: float) -> bool:
        """Whether the target is inside an excluded maintenance window at `at`."""
        spans = self._maint[name]
        i = bisect.bisect_right(spans, (at, math.inf)) - 1
        return i >= 0 and spans[i][0] <= at < spans[i][1]

    def effective_state(self, name: str, now: float) -> State | None:
        """MAINTENANCE inside an excluded maintenance window, else the probe state."""
        if self.in_maintenance(name, now):
            return State.MAINTENANCE
        return self.probe_state(name, now)

    def service_state(self, now: float) -> State | None:
        """The service's state at `now` from its critical targets' effective states: the
        targets up at `now` and not in maintenance (all but those the run index and the
        maintenance windows name) only count as up."""
        n = self.index.n_critical
        if not n:
            return None
        names = self.index.not_up_at(now)
        names.update(self.maintained(now, math.nextafter(now, math.inf)))
        counts = [0] * N_STATES
        read = 0
        for name in names:
            if self.critical.get(name):
                read += 1
                st = self.effective_state(name, now)
                if st is not None:
                    counts[st] += 1
        counts[State.UP] += n - read
        return service_rule(counts, n)
