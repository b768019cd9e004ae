"""Prometheus metrics: instruments for events, a collector for derived figures.

Events that happen in the process (attempts, lag, store errors, reloads) are
direct instruments. Figures derived from the timelines (availability, budget,
burn rate, time credited) are computed at scrape time by SlaCollector from a
snapshot, so removed targets vanish on their own.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import Metric

from slaprobe import __version__
from slaprobe.core.maintenance import STATUSES, counts
from slaprobe.core.model import Check, State
from slaprobe.core.slo import Figures
from slaprobe.core.timefmt import month_start
from slaprobe.core.tracker import Tracker
from slaprobe.exposition import Family

BURN_WINDOWS: tuple[tuple[str, float], ...] = (
    ("5m", 300.0), ("30m", 1800.0), ("1h", 3600.0), ("2h", 7200.0), ("6h", 21600.0),
    ("1d", 86400.0), ("3d", 259200.0),
)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
NAN = math.nan

disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series double the output and no rule uses them


class ProbeStats:
    """Per-target attempt counts and latency histograms, kept as plain numbers.

    Updated on the event loop and turned into rows there (a thousand targets'
    histograms are 15,000 samples: prometheus_client's per-child objects made that
    the largest part of a scrape).
    """

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(float(b) for b in buckets)
        self._le = (*(repr(b) for b in self.buckets), "+Inf")
        self.latency: dict[str, list[float]] = {}  # bucket counts..., +Inf, sum
        self.results: dict[tuple[str, str], float] = {}

    def observe(self, target: str, result: str, latency: float) -> None:
        h = self.latency.get(target)
        if h is None:
            h = self.latency[target] = [0.0] * (len(self.buckets) + 2)
        h[bisect.bisect_left(self.buckets, latency)] += 1
        h[-1] += latency
        key = (target, result)
        self.results[key] = self.results.get(key, 0.0) + 1

    def forget(self, target: str) -> None:
        self.latency.pop(target, None)
        for key in [k for k in self.results if k[0] == target]:
            del self.results[key]

    def families(self) -> list[Family]:
        duration = Family("slaprobe_probe_duration_seconds", "histogram",
                          "Latency of probe attempts.", ("target",))
        for target, h in self.latency.items():
            total = 0.0
            for le, n in zip(self._le, h, strict=False):
                total += n
                duration.add((target, le), total, "_bucket")
            duration.add((target,), h[-1], "_sum")
            duration.add((target,), total, "_count")
        probes = Family("slaprobe_probes", "counter",
                        "Probe attempts by result (success or an error kind).",
                        ("target", "result"))
        for key, n in self.results.items():
            probes.add(key, n)
        return [duration, probes]

    def collect(self) -> Iterable[Metric]:
        return [f.metric() for f in self.families()]


class Instruments:
    """The daemon's directly instrumented metrics on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.probe = ProbeStats()
        registry.register(self.probe)
        self.scheduler_lag = Histogram(
            "slaprobe_scheduler_lag_seconds", "How late checks start after their slot.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5), registry=registry,
        )
        self.store_errors = Counter(
            "slaprobe_store_errors_total", "Failed database writes (retried).", registry=registry,
        )
        self.store_pending = Gauge(
            "slaprobe_store_pending_checks", "Checks waiting to be written.", registry=registry,
        )
        self.reloads = Counter(
            "slaprobe_config_reloads_total", "Config reloads by result.", ["result"],
            registry=registry,
        )
        self.reload_ok = Gauge(
            "slaprobe_config_last_reload_successful", "1 if the last config reload worked.",
            registry=registry,
        )
        self.reload_time = Gauge(
            "slaprobe_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully.", registry=registry,
        )
        self.feed_errors = Counter(
            "slaprobe_maintenance_feed_errors_total", "Failed maintenance feed fetches.",
            ["source"], registry=registry,
        )
        self.maintenance_file_problems = Gauge(
            "slaprobe_maintenance_file_problems", "Problems found in the maintenance file at"
            " its last read (0: valid); while above 0 its last good windows apply.",
            registry=registry,
        )
        self.clock_steps = Counter(
            "slaprobe_clock_steps", "Wall-clock steps seen against the monotonic clock,"
            " by direction (backward, forward).", ["direction"], registry=registry,
        )
        self.clock_offset = Gauge(
            "slaprobe_clock_offset_seconds", "Wall clock minus the time slaprobe records:"
            " negative while it holds the monotonic-derived time after a step back.",
            registry=registry,
        )
        self.store_file_ok = Gauge(
            "slaprobe_store_file_ok", "1 while the database file is the one slaprobe opened;"
            " 0 when it was removed or replaced (writes would be lost).", registry=registry,
        )
        self.store_file_ok.set(1)
        self.unknown_checks = Counter(
            "slaprobe_unknown_checks", "Checks of unknown outcome (slaprobe's own failure),"
            " by reason; their time is unknown, never down.", ["target", "reason"],
            registry=registry,
        )
        self.history_verified = Gauge(
            "slaprobe_history_verified", "1 if the last verification of the history's hash"
            " chain found it intact, 0 if a record was changed, deleted or inserted outside"
            " slaprobe.", registry=registry,
        )
        self.history_verified_time = Gauge(
            "slaprobe_history_verified_timestamp_seconds",
            "When the history's hash chain was last verified intact.", registry=registry,
        )
        self.build_info = Gauge(
            "slaprobe_build_info", "Build information.", ["version"], registry=registry,
        )
        self.build_info.labels(__version__).set(1)
        self.reload_ok.set(1)
        self._unknown_seen: set[tuple[str, str]] = set()

    def collect(self) -> Iterable[Metric]:
        """The daemon's own instruments (thread-safe: prometheus_client locks them)."""
        for m in (self.scheduler_lag, self.store_errors,
                  self.store_pending, self.reloads, self.reload_ok, self.reload_time,
                  self.feed_errors, self.maintenance_file_problems, self.unknown_checks,
                  self.history_verified, self.history_verified_time, self.store_file_ok,
                  self.clock_steps, self.clock_offset, self.build_info):
            yield from m.collect()

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


def _num(x: float | None) -> float:
    return NAN if x is None else x


class SlaCollector:
    """Availability, coverage, error budget and burn rate, computed at scrape time."""

    def __init__(self, snapshot: Callable[[], Snapshot | None]) -> None:
        self.snapshot = snapshot

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        snap = self.snapshot()
        if snap is None:
            return
        build = self._build(snap, chunk=1 << 30)
        while True:
            try:
                next(build)
            except StopIteration as done:
                yield from (f.metric() for f in done.value)
                return

    async def collect_async(self, chunk: int = 50) -> list[Family]:
        """Like collect, yielding to the event loop every `chunk` targets, so a scrape
        of a thousand targets never stalls the probes' schedule."""
        snap = self.snapshot()
        if snap is None:
            return []
        build = self._build(snap, chunk=chunk)
        while True:
            try:
                next(build)
            except StopIteration as done:
                families: list[Family] = done.value
                return families
            await asyncio.sleep(0)

    def _build(self, snap: Snapshot, chunk: int) -> Generator[None, None, list[Family]]:
        now, tr = snap.now, snap.tracker
        windows = [*snap.windows, ("month", now - month_start(now))]

        success = Family(
            "slaprobe_probe_success", "gauge",
            "Last check: 1 ok, 0 failed.", ("target",),
        )
        last_ts = Family(
            "slaprobe_last_check_timestamp_seconds", "gauge",
            "When the last check started.", ("target",),
        )
        up = Family(
            "slaprobe_target_up", "gauge",
            "Current state: 1 up, 0 down, NaN unknown or probe_network.", ("target",),
        )
        critical = Family(
            "slaprobe_target_critical", "gauge",
            "1 if the target counts against the SLA (critical).", ("target",),
        )
        maint = Family(
            "slaprobe_maintenance_active", "gauge",
            "1 inside an excluded maintenance window.", ("target",),
        )
        up_s = Family("slaprobe_up_seconds", "counter", "Seconds credited as up.", ("target",))
        down_s = Family(
            "slaprobe_down_seconds", "counter",
            "Seconds credited as down.", ("target",),
        )
        excl_s = Family(
            "slaprobe_excluded_seconds", "counter",
            "Seconds excluded, by reason.", ("target", "reason"),
        )
        avail = Family(
            "slaprobe_availability_ratio", "gauge",
            "Time-weighted availability per window.", ("target", "window"),
        )
        cover = Family(
            "slaprobe_coverage_ratio", "gauge",
            "Share of the window with data.", ("target", "window"),
        )
        for i, name in enumerate(list(tr.critical)):
            if i % chunk == chunk - 1:
                yield
            if name not in tr.critical:
                continue  # removed by a reload while this scrape was yielding
            check = snap.last.get(name)
            if check is not None:
                success.add([name], 1.0 if check.ok else 0.0)
                last_ts.add([name], check.at)
            st = tr.probe_state(name, now)
            up.add([name], {State.UP: 1.0, State.DOWN: 0.0}.get(st, NAN)
                   if st is not None else NAN)
            critical.add([name], 1.0 if tr.critical[name] else 0.0)
            maint.add([name], 1.0 if tr.in_maintenance(name, now) else 0.0)
            c = tr.credit[name].seconds
            up_s.add([name], c[State.UP])
            down_s.add([name], c[State.DOWN])
            excl_s.add([name, "maintenance"], c[State.MAINT])
            excl_s.add([name, "probe_network"], c[State.NET])
            for label, length in windows:
                f = tr.target_figures(name, now - length, now, now)
                avail.add([name, label], _num(f.availability))
                cover.add([name, label], _num(f.coverage))
        return [success, last_ts, up, critical, maint, up_s, down_s, excl_s, avail, cover,
                *self._service(snap, windows), *snap.incidents]

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
        s_up = Family(
            "slaprobe_service_up", "gauge",
            "Service state: 1 up, 0 down, NaN else.", ("service",),
        )
        s_up.add([svc], {State.UP: 1.0, State.DOWN: 0.0}.get(state, NAN)
                        if state is not None else NAN)
        c = tr.service_credit.seconds
        su = Family(
            "slaprobe_service_up_seconds", "counter",
            "Seconds credited to the service as up.", ("service",),
        )
        su.add([svc], c[State.UP])
        sd = Family(
            "slaprobe_service_down_seconds", "counter",
            "Seconds credited to the service as down.", ("service",),
        )
        sd.add([svc], c[State.DOWN])
        se = Family(
            "slaprobe_service_excluded_seconds", "counter",
            "Service seconds excluded, by reason.", ("service", "reason"),
        )
        se.add([svc, "maintenance"], c[State.MAINT])
        se.add([svc, "probe_network"], c[State.NET])
        objective = Family(
            "slaprobe_slo_objective_ratio", "gauge",
            "The SLO objective.", ("service",),
        )
        objective.add([svc], obj)
        s_avail = Family(
            "slaprobe_service_availability_ratio", "gauge",
            "The SLA figure: service availability per window.", ("service", "window"),
        )
        budget = Family(
            "slaprobe_error_budget_remaining_ratio", "gauge",
            "Error budget remaining per window.", ("service", "window"),
        )
        s_cover = Family(
            "slaprobe_service_coverage_ratio", "gauge",
            "Share of the window with service data.", ("service", "window"),
        )
        burn = Family(
            "slaprobe_burn_rate", "gauge",
            "Error budget burn rate per window.", ("service", "window"),
        )
        seen: set[str] = set()
        for label, length in windows:
            f = figures(length)
            o = objective_over(length)
            s_avail.add([svc, label], _num(f.availability))
            budget.add([svc, label], _num(f.budget_remaining(o)))
            s_cover.add([svc, label], _num(f.coverage))
            burn.add([svc, label], _num(f.burn_rate(o)))
            seen.add(label)
        for label, length in BURN_WINDOWS:
            if label not in seen:
                burn.add([svc, label], _num(figures(length).burn_rate(objective_over(length))))
        mw = Family(
            "slaprobe_maintenance_windows", "gauge",
            "Known windows by status.", ("status",),
        )
        n = counts(tr.maintenance)
        for status in STATUSES:
            mw.add([status], n[status])
        yield from (s_up, su, sd, se, objective, s_avail, budget, s_cover, burn, mw)
