"""Incidents (SLA sections 3-4) from target timelines: pure, `now` an argument.

An incident is a maximal period during which at least one target is down
(effective spans: maintenance and probe_network time are not down, so they
never open one). Down periods belong to one incident while the known time
between them (time during which every target that was down at the end of the
earlier period is covered by a check: up, maintenance or probe_network) is
less than `merge_gap`; unknown time between them does not count. An incident
ends at the end of its last down period once an up check of one of the targets
down at that end follows; until then it is open.

Priority is high from the first instant a critical target is down in it (the
service is down), else medium; the clocks of a high incident run from that
instant. Deadlines are the instants at which the priority's business-time
targets have passed (core.business); outcomes are judged at `now`.

The terms are those in force at each instant (DESIGN "Evidence"): whether a target
is critical where it is down (`CriticalFrom`), the merge gap at the end of the earlier
down period, the deadlines from the `[support]` in force when the clocks start, the
business seconds on the calendar in force at the incident's start (`SupportAt`). A
plain mapping or Support stands for terms that never changed.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from slaprobe.core.incidents.business import Calendar
from slaprobe.core.model import State

Span = tuple[float, float, State]
Interval = tuple[float, float]

HIGH, MEDIUM = "high", "medium"
MET, BREACHED, PENDING = "met", "breached", "pending"
H = 3600.0


@dataclass(frozen=True, slots=True)
class Targets:
    """One priority's targets in business seconds."""

    response: float
    resolution: float


@dataclass(frozen=True, slots=True)
class Support:
    """The `[support]` terms: calendar, merge gap, per-priority targets.

    `configured` is False when the config has no `[support]` (the defaults of
    the SLA on a Mon-Fri 09:00-17:00 UTC calendar without holidays apply).
    """

    calendar: Calendar = field(default_factory=Calendar)
    merge_gap: float = 900.0
    high: Targets = Targets(4 * H, 8 * H)
    medium: Targets = Targets(8 * H, 16 * H)
    configured: bool = False

    def targets(self, priority: str) -> Targets:
        return self.high if priority == HIGH else self.medium


@dataclass(frozen=True, slots=True)
class Shape:
    """What the timeline says of one incident (outcomes need `now` and acks)."""

    start: float
    last_down: float                 # end of its last down period (so far)
    closed: bool                     # an up check followed the last down period
    targets: tuple[str, ...]
    high_since: float | None         # first instant a critical target was down
    ending: tuple[str, ...] = ()     # the targets down at `last_down`
    last_start: float = 0.0          # start of its last down period

    @property
    def id(self) -> str:
        return incident_id(self.start)

    @property
    def priority(self) -> str:
        return HIGH if self.high_since is not None else MEDIUM

    @property
    def priority_since(self) -> float:
        return self.start if self.high_since is None else self.high_since


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident judged at an instant."""

    shape: Shape
    end: float | None
    seconds: float
    business_seconds: float
    response_deadline: float
    resolution_deadline: float
    acknowledged: float | None
    response: str
    resolution: str

    @property
    def id(self) -> str:
        return self.shape.id

    @property
    def priority(self) -> str:
        return self.shape.priority

    @property
    def start(self) -> float:
        return self.shape.start

    @property
    def open(self) -> bool:
        return self.end is None

    def to_json(self, iso: Any) -> dict[str, Any]:
        """DESIGN's incident JSON; `iso` formats an instant."""
        return {
            "id": self.id, "priority": self.priority, "start": iso(self.start),
            "end": None if self.end is None else iso(self.end),
            "seconds": self.seconds, "business_seconds": self.business_seconds,
            "targets": list(self.shape.targets),
            "priority_since": iso(self.shape.priority_since),
            "response_deadline": iso(self.response_deadline),
            "acknowledged": None if self.acknowledged is None else iso(self.acknowledged),
            "response": self.response,
            "resolution_deadline": iso(self.resolution_deadline),
            "resolution": self.resolution,
        }


# the first instant in [a, b) at which a target counts as critical, or None
CriticalFrom = Callable[[str, float, float], float | None]
SupportAt = Callable[[float], Support]  # the [support] terms in force at an instant


def critical_from(critical: Mapping[str, bool] | CriticalFrom) -> CriticalFrom:
    """`critical` as a CriticalFrom (a mapping: the same at every instant)."""
    if callable(critical):
        return critical
    fixed = dict(critical)
    return lambda name, a, b: a if fixed.get(name, True) else None


def support_at(support: Support | SupportAt) -> SupportAt:
    """`support` as a SupportAt (a Support: the same at every instant)."""
    if isinstance(support, Support):
        return lambda at: support
    return support


@functools.lru_cache(maxsize=4096)  # asked for every held incident, once a second
def incident_id(start: float) -> str:
    return "inc-" + dt.datetime.fromtimestamp(int(start // 1), dt.UTC).strftime("%Y%m%dT%H%M%SZ")


# --- shapes from timelines ------------------------------------------------------------


@dataclass(slots=True)
class _Period:
    start: float
    end: float
    targets: set[str]
    last: set[str]                    # targets down at `end`
    high_since: float | None


def _down_periods(timelines: Mapping[str, Sequence[Span]],
                  critical: Mapping[str, bool] | CriticalFrom) -> list[_Period]:
    crit_from = critical_from(critical)
    downs = sorted((s, e, name) for name, spans in timelines.items()
                   for s, e, st in spans if st == State.DOWN and e > s)
    out: list[_Period] = []
    for s, e, name in downs:
        high = crit_from(name, s, e)
        p = out[-1] if out else None
        if p is not None and s <= p.end:
            p.targets.add(name)
            if e > p.end:
                p.end, p.last = e, {name}
            elif e == p.end:
                p.last.add(name)
            if high is not None and (p.high_since is None or high < p.high_since):
                p.high_since = high
        else:
            out.append(_Period(s, e, {name}, {name}, high))
    return out


class _Index:
    """Per-target spans with bisectable starts."""

    def __init__(self, timelines: Mapping[str, Sequence[Span]]) -> None:
        self.spans = {n: list(sp) for n, sp in timelines.items()}
        self.starts = {n: [s for s, _, _ in sp] for n, sp in self.spans.items()}

    def _from(self, name: str, a: float) -> int:
        return max(bisect.bisect_right(self.starts[name], a) - 1, 0)

    def covered(self, name: str, a: float, b: float) -> list[Interval]:
        """Where `name` has a check's coverage (any state) inside [a, b)."""
        spans = self.spans.get(name, [])
        out: list[Interval] = []
        i = self._from(name, a) if spans else 0
        while i < len(spans) and spans[i][0] < b:
            s, e = max(spans[i][0], a), min(spans[i][1], b)
            if e > s:
                if out and out[-1][1] == s:
                    out[-1] = (out[-1][0], e)
                else:
                    out.append((s, e))
            i += 1
        return out

    def up_follows(self, name: str, a: float, b: float) -> bool:
        """Whether `name` has up time in [a, b) before it is down again."""
        spans = self.spans.get(name, [])
        i = self._from(name, a) if spans else 0
        while i < len(spans) and spans[i][0] < b:
            s, e, st = spans[i]
            if e > a:
                if st == State.UP:
                    return True
                if st == State.DOWN and s >= a:
                    return False
            i += 1
        return False


def _intersect(xs: Sequence[Interval], ys: Sequence[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        s, e = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if e > s:
            out.append((s, e))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def _known(index: _Index, names: set[str], a: float, b: float) -> float:
    """Seconds of [a, b) during which every one of `names` is covered."""
    acc: list[Interval] | None = None
    for n in sorted(names):
        cov = index.covered(n, a, b)
        acc = cov if acc is None else _intersect(acc, cov)
        if not acc:
            return 0.0
    return sum(e - s for s, e in acc or [])


def _gap_at(merge_gap: float | Callable[[float], float]) -> Callable[[float], float]:
    if callable(merge_gap):
        return merge_gap
    return lambda at: merge_gap


def shapes(timelines: Mapping[str, Sequence[Span]],
           critical: Mapping[str, bool] | CriticalFrom,
           merge_gap: float | Callable[[float], float], now: float,
           carry: Shape | None = None) -> list[Shape]:
    """Incidents in the given effective target spans (time order), up to `now`.

    `carry`: an incident whose last down period is the first one in the spans
    (they start there): the first incident found continues it.
    """
    index = _Index(timelines)
    gap_at = _gap_at(merge_gap)
    groups: list[list[_Period]] = []
    for p in _down_periods(timelines, critical):
        if groups:
            prev = groups[-1][-1]
            if _known(index, prev.last, prev.end, p.start) < gap_at(prev.end):
                groups[-1].append(p)
                continue
        groups.append([p])
    out: list[Shape] = []
    for k, g in enumerate(groups):
        last = g[-1]
        until = groups[k + 1][0].start if k + 1 < len(groups) else now
        closed = any(index.up_follows(n, last.end, until) for n in last.last)
        highs = [p.high_since for p in g if p.high_since is not None]
        out.append(Shape(
            start=g[0].start, last_down=last.end, closed=closed,
            targets=tuple(sorted(set().union(*(p.targets for p in g)))),
            high_since=min(highs) if highs else None, ending=tuple(sorted(last.last)),
            last_start=last.start,
        ))
    if carry is not None and out and out[0].start == carry.last_start:
        first = out[0]
        highs = [h for h in (carry.high_since, first.high_since) if h is not None]
        out[0] = dataclasses.replace(
            first, start=carry.start, targets=tuple(sorted({*carry.targets, *first.targets})),
            high_since=min(highs) if highs else None)
    return out


def settled(shape: Shape, timelines: Mapping[str, Sequence[Span]],
            merge_gap: float | Callable[[float], float], final: float) -> bool:
    """Whether a closed incident can no longer change: the known time after its
    end up to `final` (where the timelines stop changing) reaches merge_gap."""
    if not shape.closed:
        return False
    ending = set(shape.ending or shape.targets)
    gap = _gap_at(merge_gap)(shape.last_down)
    return _known(_Index(timelines), ending, shape.last_down, final) >= gap


# --- judging -----------------------------------------------------------------------


def _outcome(done: float | None, deadline: float, now: float) -> str:
    if done is not None:
        return MET if done <= deadline else BREACHED
    return BREACHED if now > deadline else PENDING


@functools.lru_cache(maxsize=4096)
def _deadlines(support: Support, priority: str, since: float) -> tuple[float, float]:
    terms = support.targets(priority)
    cal = support.calendar
    return cal.add(since, terms.response), cal.add(since, terms.resolution)


@functools.lru_cache(maxsize=4096)
def _business(cal: Calendar, a: float, b: float) -> float:
    return cal.seconds_between(a, b)


def judge(shape: Shape, support: Support | SupportAt, now: float,
          acknowledged: float | None = None) -> Incident:
    """An incident's deadlines and outcomes at `now` (`acknowledged`: its first ack):
    the deadlines on the support terms in force when its clocks started, its business
    seconds on the calendar in force at its start."""
    at = support_at(support)
    response_deadline, resolution_deadline = _deadlines(
        at(shape.priority_since), shape.priority, shape.priority_since)
    end = shape.last_down if shape.closed else None
    until = max(now, shape.last_down) if end is None else end
    ack = acknowledged if acknowledged is not None and acknowledged >= shape.start else None
    return Incident(
        shape=shape, end=end, seconds=until - shape.start,
        business_seconds=_business(at(shape.start).calendar, shape.start, until),
        response_deadline=response_deadline, resolution_deadline=resolution_deadline,
        acknowledged=ack,
        response=_outcome(ack, response_deadline, now),
        resolution=_outcome(end, resolution_deadline, now),
    )


def incidents(timelines: Mapping[str, Sequence[Span]],
              critical: Mapping[str, bool] | CriticalFrom,
              support: Support | SupportAt, now: float,
              acks: Mapping[str, float] | None = None) -> list[Incident]:
    """Every incident in the timelines, judged at `now`; `acks` maps an id to
    its first acknowledgement."""
    acks = acks or {}
    at = support_at(support)
    return [judge(s, at, now, acks.get(s.id))
            for s in shapes(timelines, critical, lambda t: at(t).merge_gap, now)]


def overlapping(items: Sequence[Incident], a: float, b: float, now: float) -> list[Incident]:
    """The incidents that overlap [a, b)."""
    return [i for i in items
            if i.start < b and (now if i.end is None else i.end) > a]


# --- incremental: the daemon's book ----------------------------------------------


class Timelines(Protocol):
    """What the book reads of a Tracker (effective spans, and where they are final)."""

    critical: dict[str, bool]
    maintenance: list[Any]

    def target_spans(self, name: str, a: float, b: float, now: float) -> list[Span]: ...

    def final_until(self) -> float | None: ...

    def up_since(self, name: str, at: float) -> bool:
        """Whether the target's timeline from `at` on is one up run, perhaps after
        no data (no down time: nothing to fold)."""
        ...

    def moved_since(self, at: float) -> set[str]:
        """The targets whose timeline from `at` on may be anything but one up run:
        a superset of those not `up_since(at)`, found without visiting every target."""
        ...


@dataclass(frozen=True, slots=True)
class Event:
    """A change the daemon logs: opened, escalated, acknowledged, resolved."""

    kind: str
    incident: Incident


class Book:
    """Incidents kept up to date from a live Tracker without rescanning history.

    Incidents that can no longer change are *settled* and kept; each `update`
    folds only the timelines from the `horizon` (the start of the first
    unsettled incident, or where the timelines are final) up to now. A change of
    maintenance windows or targets rebuilds from `start`.
    """

    def __init__(self, support: Support, start: float) -> None:
        self.support = support
        # the terms in force at each instant (None / the one Support: never changed)
        self.critical_from: CriticalFrom | None = None
        self.support_at: SupportAt = support_at(support)
        self.start = start
        self.horizon = start
        self.settled: list[Shape] = []
        self.live: list[Shape] = []
        self.acks: dict[str, float] = {}
        self._key: tuple[Any, ...] | None = None
        self._refs: tuple[object, object] | None = None
        self._carry: Shape | None = None  # the first live incident, folded up to `horizon`
        # settled incidents per UTC month of their start, by (priority, resolution):
        # a settled incident is closed, so its resolution outcome is fixed
        self._counts: dict[tuple[int, int], Counter[tuple[str, str]]] = {}
        # id: (priority, closed, acknowledged) as of the last update
        self._seen: dict[str, tuple[str, bool, bool]] | None = None

    def reset(self, support: Support | None = None, start: float | None = None) -> None:
        if support is not None:
            self.support = support
            if self.critical_from is None:
                self.support_at = support_at(support)
        if start is not None:
            self.start = start
        self.horizon, self.settled, self.live, self._key = self.start, [], [], None
        self._counts, self._carry = {}, None

    def set_terms(self, critical: CriticalFrom, support: SupportAt) -> None:
        """The terms in force at each instant (a new terms version): fold again."""
        self.critical_from, self.support_at = critical, support
        self.reset()

    def acknowledge(self, incident: str, at: float) -> None:
        """Record an incident's acknowledgement (the first one counts)."""
        self.acks.setdefault(incident, at)

    def update(self, tl: Timelines, now: float) -> list[Event]:
        """Fold the timelines up to `now`; the changes since the last update (none
        on the first, which only takes stock)."""
        if self._refs is None or tl.critical is not self._refs[0] or (
                tl.maintenance is not self._refs[1]):
            self._refs = (tl.critical, tl.maintenance)
            key = (tuple(tl.maintenance), tuple(sorted(tl.critical.items())))
            if key != self._key:
                self.horizon, self.settled, self._key, self._counts = self.start, [], key, {}
                self._carry = None
        final = tl.final_until()
        final = now if final is None else min(final, now)
        at = self.support_at

        def gap(t: float) -> float:
            return at(t).merge_gap

        h, carry = self.horizon, self._carry
        spans = {n: tl.target_spans(n, h, now, now) for n in sorted(tl.moved_since(h))
                 if n in tl.critical and not tl.up_since(n, h)}
        live = shapes(spans, self.critical_from or tl.critical, gap, now, carry)
        if carry is not None and (not live or live[0].start != carry.start):
            # the carried incident's last period is gone (cannot happen with final
            # data): fold again from its start
            self.horizon, self._carry = carry.start, None
            return self.update(tl, now)
        k = 0
        while k < len(live):
            s = live[k]
            nxt = live[k + 1].start if k + 1 < len(live) else None
            if not (s.closed and s.last_down <= final
                    and ((nxt is not None and nxt <= final) or settled(s, spans, gap, final))):
                break
            k += 1
        self.settled.extend(live[:k])
        for shape in live[:k]:
            inc = judge(shape, self.support_at, now, self.acks.get(shape.id))
            self._counts.setdefault(_month(shape.start), Counter())[
                (inc.priority, inc.resolution)] += 1
        self.live = live[k:]
        self._carry = None
        if not self.live:
            self.horizon = max(self.horizon, final)
        elif self.live[0].start < self.live[0].last_start <= final:
            # a long incident: fold again only from its last down period
            self.horizon, self._carry = self.live[0].last_start, self.live[0]
        else:
            self.horizon = self.live[0].start
        return self._events(now)

    def _events(self, now: float) -> list[Event]:
        held = {s.id: s for s in [*self.settled, *self.live]}
        state = {iid: (s.priority, s.closed, iid in self.acks) for iid, s in held.items()}
        events: list[Event] = []
        if self._seen is not None:
            for iid, (prio, closed, acked) in state.items():
                before = self._seen.get(iid)
                if before == (prio, closed, acked):
                    continue
                inc = judge(held[iid], self.support_at, now, self.acks.get(iid))
                if before is None:
                    events.append(Event("opened", inc))
                if prio == HIGH and (before[0] == MEDIUM if before is not None
                                     else inc.shape.priority_since != inc.start):
                    events.append(Event("escalated", inc))
                if acked and (before is None or not before[2]):
                    events.append(Event("acknowledged", inc))
                if closed and (before is None or not before[1]):
                    events.append(Event("resolved", inc))
        self._seen = state
        return events

    def all(self, now: float) -> list[Incident]:
        """Every incident the book holds, judged at `now`."""
        return [judge(s, self.support_at, now, self.acks.get(s.id))
                for s in [*self.settled, *self.live]]

    def since(self, a: float, now: float) -> list[Incident]:
        """The incidents that started at or after `a` (this month's), judged at `now`."""
        i = bisect.bisect_left([s.start for s in self.settled], a)
        return [judge(s, self.support_at, now, self.acks.get(s.id))
                for s in [*self.settled[i:], *self.live] if s.start >= a]

    def open(self, now: float) -> list[Incident]:
        """The open incidents, judged at `now`."""
        return [judge(s, self.support_at, now, self.acks.get(s.id)) for s in self.live
                if not s.closed]

    def month_counts(self, at: float, now: float) -> Counter[tuple[str, str]]:
        """Incidents that started in the UTC month of `at`, by (priority, resolution)."""
        month = _month(at)
        out = Counter(self._counts.get(month, {}))
        for s in self.live:
            if _month(s.start) == month:
                inc = judge(s, self.support_at, now, self.acks.get(s.id))
                out[(inc.priority, inc.resolution)] += 1
        return out

    def forget(self, before: float) -> None:
        """Drop settled incidents that started before `before` (their month counts
        stay until their month is older than `before`'s)."""
        if self.settled and self.settled[0].start < before:
            self.settled = [s for s in self.settled if s.start >= before]
            keep = _month(before)
            self._counts = {m: c for m, c in self._counts.items() if m >= keep}


def _month(at: float) -> tuple[int, int]:
    d = dt.datetime.fromtimestamp(at, dt.UTC)
    return d.year, d.month
