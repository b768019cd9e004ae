"""Prometheus metrics: instruments for events, figures derived from the timelines.

Events that happen in the process (attempts, lag, store errors, reloads) are
direct instruments. Figures derived from the timelines (availability, budget,
burn rate, time credited) are computed at scrape time by SlaFigures from a
snapshot, so removed targets vanish on their own. A scrape only reads: credit is
advanced by housekeeping. `Exporter.render` makes the bytes /metrics serves, the
only path from the figures to text. Names, types and help come from
`slaprobe.core.reporting.catalogue`.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import Metric

from slaprobe import __version__
from slaprobe.core.history.degraded import sli
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.history.windows import Ratios, run_ratios, window_ratios
from slaprobe.core.maintenance.rules import STATUSES, counts
from slaprobe.core.model import CertExpiry, Check, State
from slaprobe.core.reporting import catalogue as cat
from slaprobe.core.reporting.catalogue import MetricDef
from slaprobe.core.slo import Figures
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import month_start
from slaprobe.metrics import exposition
from slaprobe.metrics.exposition import Family, Row, sample_prefix, value_text
from slaprobe.metrics.targetlines import Series, TargetLines

BURN_WINDOWS: tuple[tuple[str, float], ...] = (
    ("5m", 300.0), ("30m", 1800.0), ("1h", 3600.0), ("2h", 7200.0), ("6h", 21600.0),
    ("1d", 86400.0), ("3d", 259200.0),
)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
NAN = math.nan

disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series double the output and no rule uses them


def family(d: MetricDef) -> Family:
    return Family(d.name, d.kind, d.help, d.labels)


class ProbeStats:
    """Per-target attempt counts and latency histograms, kept as plain numbers.

    Updated on the event loop and turned into text there: each target's histogram
    and each (target, result) count keeps its lines until an attempt of that target
    changes them, so a scrape makes again only the lines of the targets attempted
    since the last one (a thousand targets' histograms are 15,000 samples:
    prometheus_client's per-child objects made that the largest part of a scrape).
    """

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS, *,
                 histogram: bool = True) -> None:
        self.histogram = histogram  # off: +Inf bucket, sum and count only (3 series, not 15)
        self.buckets = tuple(float(b) for b in buckets)
        self._le = (*(repr(b) for b in self.buckets), "+Inf")
        self.latency: dict[str, list[float]] = {}  # bucket counts..., +Inf, sum
        self.results: dict[tuple[str, str], float] = {}
        self.certs: dict[str, CertExpiry] = {}  # the last TLS handshake's, per target
        # each target's histogram rows and their text, each count's row and line (in
        # the order of `latency` and `results`), and what changed since they were made;
        # each target's histogram line prefixes (made once)
        self._blocks: dict[str, tuple[list[Row], str]] = {}
        self._prefixes: dict[str, tuple[str, ...]] = {}
        self._counts: dict[tuple[str, str], tuple[Row, str]] = {}
        self._dirty: dict[str, None] = {}
        self._dirty_counts: dict[tuple[str, str], None] = {}

    def observe(self, target: str, result: str, latency: float) -> None:
        h = self.latency.get(target)
        if h is None:
            h = self.latency[target] = [0.0] * (len(self.buckets) + 2 if self.histogram else 2)
        h[bisect.bisect_left(self.buckets, latency) if self.histogram else 0] += 1
        h[-1] += latency
        key = (target, result)
        self.results[key] = self.results.get(key, 0.0) + 1
        self._dirty[target] = None
        self._dirty_counts[key] = None

    def cert(self, target: str, cert: CertExpiry) -> None:
        """The certificates seen by a TLS attempt of `target` (the last one stands)."""
        self.certs[target] = cert

    def forget(self, target: str) -> None:
        self.latency.pop(target, None)
        self.certs.pop(target, None)
        self._blocks.pop(target, None)
        self._prefixes.pop(target, None)
        self._dirty.pop(target, None)
        for key in [k for k in self.results if k[0] == target]:
            del self.results[key]
            self._counts.pop(key, None)
            self._dirty_counts.pop(key, None)

    def switch(self, histogram: bool) -> None:
        """Turn the per-target buckets on or off (a reload): the histograms restart."""
        if histogram != self.histogram:
            self.latency.clear()
            self._blocks.clear()
            self._prefixes.clear()  # (another number of buckets)
            self._dirty.clear()
        self.histogram = histogram

    def families(self) -> list[Family]:
        """The families: only the lines of what was attempted since the last call are
        made again (new targets' and results' appended, as in `latency` and `results`)."""
        duration, probes = family(cat.PROBE_DURATION), family(cat.PROBES)
        les = self._le if self.histogram else ("+Inf",)
        for target in self._dirty:
            h = self.latency.get(target)
            if h is None:
                continue
            rows: list[Row] = []
            total = 0.0
            for le, n in zip(les, h[:-1], strict=True):
                total += n
                rows.append(("_bucket", (target, le), total))
            rows.append(("_sum", (target,), h[-1]))
            rows.append(("_count", (target,), total))
            pre = self._prefixes.get(target)
            if pre is None:
                pre = self._prefixes[target] = tuple(
                    sample_prefix(duration.sample_name(suffix),
                                  tuple(zip(duration.label_names(suffix), values, strict=True)))
                    for suffix, values, _ in rows)
            self._blocks[target] = (rows, "".join(
                [p + value_text(v) + "\n" for p, (_, _, v) in zip(pre, rows, strict=True)]))
        for key in self._dirty_counts:
            if key in self.results:
                row: Row = ("", key, self.results[key])
                self._counts[key] = (row, probes.line(*row))
        self._dirty, self._dirty_counts = {}, {}
        blocks, counts = list(self._blocks.values()), list(self._counts.values())
        duration.lines = [text for _, text in blocks]
        duration.make_rows = lambda: [r for rows, _ in blocks for r in rows]
        probes.lines = [line for _, line in counts]
        probes.make_rows = lambda: [row for row, _ in counts]
        leaf, chain = family(cat.TLS_LEAF_EXPIRY), family(cat.TLS_CHAIN_EXPIRY)
        for target, c in self.certs.items():
            leaf.add((target,), c.leaf)
            if c.chain is not None:
                chain.add((target,), c.chain)
        return [duration, probes, leaf, chain]


class Instruments:
    """The daemon's directly instrumented metrics (on a registry of their own)."""

    def __init__(self, *, latency_histogram: bool = True) -> None:
        registry = CollectorRegistry(auto_describe=False)
        self.probe = ProbeStats(histogram=latency_histogram)
        self.scheduler_lag = Histogram(
            cat.SCHEDULER_LAG.name, cat.SCHEDULER_LAG.help, buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.store_errors = Counter(cat.STORE_ERRORS.name, cat.STORE_ERRORS.help,
                                    registry=registry)
        self.store_pending = Gauge(cat.STORE_PENDING.name, cat.STORE_PENDING.help,
                                   registry=registry)
        self.store_spooled = Gauge(cat.STORE_SPOOLED.name, cat.STORE_SPOOLED.help,
                                   registry=registry)
        self.spool_dropped = Counter(cat.SPOOL_DROPPED.name, cat.SPOOL_DROPPED.help,
                                     registry=registry)
        self.reloads = Counter(cat.RELOADS.name, cat.RELOADS.help, cat.RELOADS.labels,
                               registry=registry)
        self.reload_ok = Gauge(cat.RELOAD_OK.name, cat.RELOAD_OK.help, registry=registry)
        self.reload_success_at = Gauge(cat.RELOAD_TIME.name, cat.RELOAD_TIME.help,
                                       registry=registry)
        self.feed_errors = Counter(cat.FEED_ERRORS.name, cat.FEED_ERRORS.help,
                                   cat.FEED_ERRORS.labels, registry=registry)
        self.maintenance_file_problems = Gauge(cat.MAINTENANCE_FILE_PROBLEMS.name,
                                               cat.MAINTENANCE_FILE_PROBLEMS.help,
                                               registry=registry)
        self.unknown_checks = Counter(cat.UNKNOWN_CHECKS.name, cat.UNKNOWN_CHECKS.help,
                                      cat.UNKNOWN_CHECKS.labels, registry=registry)
        self.history_verified = Gauge(cat.HISTORY_VERIFIED.name, cat.HISTORY_VERIFIED.help,
                                      registry=registry)
        self.history_verified_time = Gauge(cat.HISTORY_VERIFIED_TIME.name,
                                           cat.HISTORY_VERIFIED_TIME.help, registry=registry)
        self.statement_info = Gauge(cat.STATEMENT_INFO.name, cat.STATEMENT_INFO.help,
                                    cat.STATEMENT_INFO.labels, registry=registry)
        self.clock_steps = Counter(cat.CLOCK_STEPS.name, cat.CLOCK_STEPS.help,
                                   cat.CLOCK_STEPS.labels, registry=registry)
        self.clock_offset = Gauge(cat.CLOCK_OFFSET.name, cat.CLOCK_OFFSET.help,
                                  registry=registry)
        self.store_file_ok = Gauge(cat.STORE_FILE_OK.name, cat.STORE_FILE_OK.help,
                                   registry=registry)
        self.store_file_ok.set(1)
        self.build_info = Gauge(cat.BUILD_INFO.name, cat.BUILD_INFO.help, cat.BUILD_INFO.labels,
                                registry=registry)
        self.build_info.labels(__version__).set(1)
        self.leader = Gauge(cat.LEADER.name, cat.LEADER.help, registry=registry)
        self.reload_ok.set(1)
        self._unknown_seen: set[tuple[str, str]] = set()

    def reloaded(self, ok: bool, at: float) -> None:
        """A config reload's outcome (success also stamps `at`)."""
        self.reloads.labels("success" if ok else "failure").inc()
        self.reload_ok.set(1 if ok else 0)
        if ok:
            self.reload_success_at.set(at)

    def collect(self) -> Iterable[Metric]:
        """The daemon's own instruments (thread-safe: prometheus_client locks them)."""
        for m in (self.scheduler_lag, self.store_errors,
                  self.store_pending, self.store_spooled, self.spool_dropped, self.reloads,
                  self.reload_ok, self.reload_success_at,
                  self.feed_errors, self.maintenance_file_problems, self.unknown_checks,
                  self.history_verified, self.history_verified_time, self.statement_info,
                  self.store_file_ok,
                  self.clock_steps, self.clock_offset, self.build_info, self.leader):
            yield from m.collect()

    def reconfigure(self, cfg: Config) -> None:
        """A reloaded config: the series of targets it no longer names are dropped, the
        latency buckets follow `target_latency_histogram`."""
        named = set(self.probe.latency)
        named.update(k[0] for k in self.probe.results)
        named.update(self.probe.certs)
        named.update(k[0] for k in self._unknown_seen)
        for name in sorted(named - {t.name for t in cfg.targets}):
            self.forget_target(name)
        self.probe.switch(cfg.daemon.target_latency_histogram)

    def forget_target(self, name: str) -> None:
        """Drop the labelled series of a target removed from the config."""
        self.probe.forget(name)
        for labels in [k for k in self._unknown_seen if k[0] == name]:
            self.unknown_checks.remove(*labels)
            self._unknown_seen.discard(labels)

    def count_unknown(self, target: str, reason: str) -> None:
        self._unknown_seen.add((target, reason))
        self.unknown_checks.labels(target, reason).inc()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the collector reads: taken on the event loop at scrape time."""

    now: float
    service: str
    objective: float
    windows: Sequence[tuple[str, float]]
    tracker: Tracker
    last: Mapping[str, Check]
    incidents: Sequence[Family] = ()  # the incident families, judged when the snapshot was taken
    locations: Sequence[Family] = ()  # each location's newest check and the silence limit
    target_windows: frozenset[str] | None = None  # the per-target ratios' windows (None: all)
    latency_objectives: Mapping[str, float] = dataclasses.field(default_factory=dict)
    # the stored history was read (a shared history's server reached): the window
    # figures need it; until then they are unknown (NaN), never what the checks since
    # the start alone would make them
    history_read: bool = True


def _num(x: float | None) -> float:
    return NAN if x is None else x


@functools.lru_cache(maxsize=8)
def _target_series(windows: tuple[str, ...]) -> tuple[Series, ...]:
    """The per-target series of a scrape, in order: each family and the labels after
    `target` (the per-target ratios for `windows`)."""
    return (
        (cat.PROBE_SUCCESS, ()), (cat.LAST_CHECK, ()), (cat.TARGET_UP, ()),
        (cat.TARGET_CRITICAL, ()), (cat.MAINTENANCE_ACTIVE, ()), (cat.UP_SECONDS, ()),
        (cat.DOWN_SECONDS, ()), (cat.EXCLUDED_SECONDS, (("reason", "maintenance"),)),
        (cat.EXCLUDED_SECONDS, (("reason", "probe_network"),)),
        *((cat.AVAILABILITY, (("window", w),)) for w in windows),
        *((cat.COVERAGE, (("window", w),)) for w in windows),
    )


def _degraded(snap: Snapshot, windows: Sequence[tuple[str, float]]) -> list[Family]:
    """Degraded seconds credited and the latency SLI per window, for the targets that
    have degraded time (`core.degraded`): the share of up time that was not degraded."""
    now, tr = snap.now, snap.tracker
    credited, ratio = family(cat.DEGRADED_SECONDS), family(cat.LATENCY_SLI)
    objective = family(cat.LATENCY_OBJECTIVE)
    for name, obj in snap.latency_objectives.items():
        objective.add((name,), obj)
    for name in tr.degraded:
        if name not in tr.critical:
            continue
        credited.add((name,), tr.degraded_credit.get(name, 0.0))
        for label, length in windows:
            if not snap.history_read:
                ratio.add((name, label), NAN)
                continue
            up = tr.target_totals(name, now - length, now, now)[State.UP]
            ratio.add((name, label), _num(sli(up, tr.degraded_seconds(
                name, now - length, now, now))))
    return [credited, ratio, objective]


_UP, _DOWN, _MAINT, _NET = State.UP, State.DOWN, State.MAINTENANCE, State.PROBE_NETWORK


def _key(tr: Tracker, check: Check | None, name: str, now: float) -> tuple[Any, ...]:
    """What a target's lines other than its ratios are made of: (latest check, probe
    state, critical, in maintenance, credited seconds of up, down, maintenance, network)."""
    c = tr.credit[name].seconds
    return (check, tr.probe_state(name, now), tr.critical[name], tr.in_maintenance(name, now),
            c[_UP], c[_DOWN], c[_MAINT], c[_NET])


def _values(key: tuple[Any, ...], ratios: Sequence[Ratios]) -> list[float | None]:
    """A target's values, one per series (None: no sample), from what they are made of:
    (latest check, probe state, critical, in maintenance, credit...) and its ratios."""
    check, st = key[0], key[1]
    return [
        None if check is None else (1.0 if check.ok else 0.0),
        None if check is None else check.at,
        NAN if st is None else _STATE_VALUE.get(st, NAN),
        1.0 if key[2] else 0.0,
        1.0 if key[3] else 0.0,
        *key[4:],
        *(_num(av) for av, _ in ratios),
        *(_num(cv) for _, cv in ratios),
    ]


_STATE_VALUE = {State.UP: 1.0, State.DOWN: 0.0}
_RATIOS = 9  # a target's values: 5 of its state, 4 of its credit, then its ratios


def _run_starts(tr: Tracker, lengths: Sequence[float], now: float
                ) -> dict[str, float | None] | None:
    """The targets whose timeline may be anything but one up run over the longest
    window, or have maintenance in it (None: every target may), each with the start
    of the up run it is, if it is one up run with nothing before it (a target first
    checked inside the longest window: every target of a daemon younger than it)
    and no maintenance in the window (run_ratios gives its ratios), else None."""
    if not lengths:
        return {}
    longest = now - max(lengths)
    moved = tr.index.unsteady(longest, now, now)
    if moved is None:
        return None
    maintained = tr.maintained(longest, now)
    out: dict[str, float | None] = dict.fromkeys(maintained)
    for name in moved:
        if name in out:
            continue
        h = tr.histories[name]
        run = h.open
        out[name] = (run.start if run is not None and run.state == State.UP
                     and h.spans.end is None and run.cap_end >= now else None)
    return out


class SlaFigures:
    """Availability, coverage, error budget and burn rate, computed at scrape time.

    Each target's lines are kept from the last scrape with what they were made of
    (its latest check, state, maintenance, credit): a target whose inputs did not
    change and whose timeline is one up run over its longest window (the run index
    says which are not, without visiting them) serves its kept lines; the ratios of
    all those targets are one computation (`run_ratios`); a target whose timeline is
    one up run since it was first checked (a young history) only makes its moving
    coverage lines again, from the run's start alone. The others' ratios are
    computed (`core.windows`, O(log n) each) and only changed values formatted.
    """

    def __init__(self) -> None:
        self._lines: TargetLines | None = None
        self._shared: list[tuple[str, str]] = []  # the steady ratios last served, as text
        # what the last scrape stood on: its tracker, where in the tracker's log of
        # touched targets it read up to, its `now`, the targets it found not steady
        self._last: tuple[Tracker, int, float, dict[str, float | None], TargetLines] | None = None
        self.rendered = 0  # targets whose lines the last scrape made again (for benchmarks)
        self.visited = 0  # targets the last scrape looked at (for benchmarks)

    async def families(self, snap: Snapshot, chunk: int = 500) -> list[Family]:
        """The figures' families, yielding to the event loop every `chunk` targets, so a
        scrape of a thousand targets never stalls the probes' schedule."""
        build = self._build(snap, chunk=chunk)
        while True:
            try:
                next(build)
            except StopIteration as done:
                families: list[Family] = done.value
                return families
            await asyncio.sleep(0)

    def _build(self, snap: Snapshot, chunk: int
               ) -> Generator[None, None, list[Family]]:
        now, tr = snap.now, snap.tracker
        windows = [*snap.windows, ("month", now - month_start(now))]
        per_target = [(label, length) for label, length in windows
                      if snap.target_windows is None or label in snap.target_windows]
        labels = tuple(label for label, _ in per_target)
        lengths = [length for _, length in per_target]
        series = _target_series(labels)
        names = list(tr.critical)
        cols = self._lines
        if cols is None or cols.series is not series or cols.names != names:
            # the first scrape, or a reload changed the targets or windows: made anew
            cols = self._lines = TargetLines(series, names)
        shared = run_ratios(-math.inf, lengths, now)
        shared_text = [(repr(x), repr(y)) for x, y in shared]
        same_shared = shared_text == self._shared
        starts = _run_starts(tr, lengths, now) if snap.history_read else None
        todo, seq = self._todo(tr, cols, now, starts, same_shared)
        n_w = len(lengths)
        rendered = 0
        keys, cell_starts = cols.keys, cols.starts
        for n, i in enumerate(todo):
            if n % chunk == chunk - 1:
                yield
            name = names[i]
            if name not in tr.critical:
                continue  # removed by a reload while this scrape was yielding
            key = _key(tr, snap.last.get(name), name, now)
            # the start of the one up run its timeline is (-inf: throughout its longest
            # window), else None; until the stored history is read every ratio is unknown
            start = None if starts is None else starts.get(name, -math.inf)
            if start is not None and cell_starts[i] == start and same_shared \
                    and keys[i] == key:
                if start == -math.inf:
                    continue  # nothing moved: the kept lines
                # one up run since `start`: only its ratios move (the coverage of the
                # windows reaching before it), only their lines are made again
                for j, (av, cv) in enumerate(run_ratios(start, lengths, now)):
                    cols.set(_RATIOS + j, i, _num(av))
                    cols.set(_RATIOS + n_w + j, i, _num(cv))
                continue
            rendered += 1
            if start is not None:
                ratios = run_ratios(start, lengths, now)
            elif snap.history_read:
                ratios = window_ratios(tr.histories[name], tr.maint_intervals(name), lengths, now)
            else:
                ratios = [(None, None)] * n_w
            keys[i], cell_starts[i] = key, start
            cols.write(i, _values(key, ratios))
        self.rendered, self.visited = rendered, len(todo)
        self._shared = shared_text
        self._last = None if starts is None else (tr, seq, now, starts, cols)
        moved = list(tr.critical) != names  # a reload while this scrape was yielding
        if moved:
            self._lines = self._last = None
        families = cols.families(only=set(tr.critical) if moved else None)
        families += _degraded(snap, per_target)  # (empty unless a target has degraded time)
        return [*families, *self._service(snap, windows), *snap.incidents, *snap.locations]

    def _todo(self, tr: Tracker, cols: TargetLines, now: float,
              starts: dict[str, float | None] | None, same_shared: bool
              ) -> tuple[Sequence[int], int]:
        """The targets whose lines this scrape may have to make again (their positions)
        and the tracker's log position after them: those touched since the last scrape
        (a check, credit), those whose coverage ran out or maintenance began or ended
        since, and those not steady now or then; every target after a reload, when
        the steady ratios moved, or when the history is not read."""
        last = self._last
        if last is None or last[0] is not tr or last[4] is not cols:
            return range(len(cols.names)), tr.changes_since(-1)[1]
        _, seq, then, was, _ = last
        touched, seq = tr.changes_since(seq)
        if touched is None or starts is None or not same_shared or now < then:
            return range(len(cols.names)), seq
        touched.update(starts, was)
        touched.update(tr.index.capped_between(then, now))
        touched.update(tr.maintained(then, math.nextafter(now, math.inf)))
        pos = cols.pos
        return sorted(i for name in touched if (i := pos.get(name)) is not None), seq

    def _service(self, snap: Snapshot, windows: list[tuple[str, float]]) -> Iterable[Family]:
        now, tr, svc, obj = snap.now, snap.tracker, snap.service, snap.objective
        longest = max(length for _, length in [*windows, *BURN_WINDOWS])
        timeline = tr.service_timeline(now - longest, now, now)

        def figures(length: float) -> Figures:
            return Figures.of(timeline.totals(now - length, now), length)

        def objective_over(length: float) -> float:
            """The objective of each instant in the window, weighted by counted time."""
            return tr.objective(now - length, now, timeline.totals, obj)

        state = tr.service_state(now)
        s_up = family(cat.SERVICE_UP)
        s_up.add([svc], {State.UP: 1.0, State.DOWN: 0.0}.get(state, NAN)
                        if state is not None else NAN)
        c = tr.service_credit.seconds
        su = family(cat.SERVICE_UP_SECONDS)
        su.add([svc], c[State.UP])
        sd = family(cat.SERVICE_DOWN_SECONDS)
        sd.add([svc], c[State.DOWN])
        se = family(cat.SERVICE_EXCLUDED_SECONDS)
        se.add([svc, "maintenance"], c[State.MAINTENANCE])
        se.add([svc, "probe_network"], c[State.PROBE_NETWORK])
        objective = family(cat.OBJECTIVE)
        objective.add([svc], obj)
        s_avail = family(cat.SERVICE_AVAILABILITY)
        budget = family(cat.BUDGET_REMAINING)
        s_cover = family(cat.SERVICE_COVERAGE)
        burn = family(cat.BURN_RATE)
        seen: set[str] = set()
        for label, length in windows:
            seen.add(label)
            if not snap.history_read:  # unknown: the stored history was not read yet
                for fam in (s_avail, budget, s_cover, burn):
                    fam.add([svc, label], NAN)
                continue
            f = figures(length)
            o = objective_over(length)
            s_avail.add([svc, label], _num(f.availability))
            budget.add([svc, label], _num(f.budget_remaining(o)))
            s_cover.add([svc, label], _num(f.coverage))
            burn.add([svc, label], _num(f.burn_rate(o)))
        for label, length in BURN_WINDOWS:
            if label not in seen:
                burn.add([svc, label], _num(figures(length).burn_rate(objective_over(length)))
                         if snap.history_read else NAN)
        mw = family(cat.MAINTENANCE_WINDOWS)
        n = counts(tr.maintenance)
        for status in STATUSES:
            mw.add([status], n[status])
        yield from (s_up, su, sd, se, objective, s_avail, budget, s_cover, burn, mw)


class Exporter:
    """The bytes of /metrics: the figures read on the loop (in slices of 500 targets,
    each target's lines made as its figures are read), the instruments and the text
    in a worker thread. Each series' line is kept from the last scrape
    (`exposition.Encoder`), so what the thread does is mostly joining text."""

    def __init__(self, instruments: Instruments, snapshot: Callable[[], Snapshot]) -> None:
        self.instruments = instruments
        self.snapshot = snapshot
        self.figures = SlaFigures()
        self.encoder = exposition.Encoder()

    async def render(self) -> bytes:
        inst = self.instruments
        families = [*await self.figures.families(self.snapshot()), *inst.probe.families()]
        return await asyncio.to_thread(
            lambda: self.encoder.encode(itertools.chain(inst.collect(), families)))
