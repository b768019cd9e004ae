"""Prometheus metrics: instruments for events, a collector for derived figures.

Events that happen in the process (attempts, lag, store errors, reloads) are
direct instruments. Figures derived from the timelines (availability, budget,
burn rate, time credited) are computed at scrape time by SlaCollector from a
snapshot, so removed targets vanish on their own.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from slaprobe import __version__
from slaprobe.maintenance import STATUSES, active, counts
from slaprobe.model import Check, State
from slaprobe.slo import Figures
from slaprobe.timefmt import month_start
from slaprobe.tracker import Tracker

BURN_WINDOWS: tuple[tuple[str, float], ...] = (
    ("5m", 300.0), ("30m", 1800.0), ("1h", 3600.0), ("2h", 7200.0), ("6h", 21600.0),
    ("1d", 86400.0), ("3d", 259200.0),
)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
NAN = math.nan

disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series double the output and no rule uses them


class Instruments:
    """The daemon's directly instrumented metrics on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.probe_duration = Histogram(
            "slaprobe_probe_duration_seconds", "Latency of probe attempts.", ["target"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.probes = Counter(
            "slaprobe_probes_total", "Probe attempts by result (success or an error kind).",
            ["target", "result"], registry=registry,
        )
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
        self.build_info = Gauge(
            "slaprobe_build_info", "Build information.", ["version"], registry=registry,
        )
        self.build_info.labels(__version__).set(1)
        self.reload_ok.set(1)

    def collect(self) -> Iterable[Metric]:
        """Every instrument's samples (thread-safe: prometheus_client locks them)."""
        for m in (self.probe_duration, self.probes, self.scheduler_lag, self.store_errors,
                  self.store_pending, self.reloads, self.reload_ok, self.reload_time,
                  self.feed_errors, self.build_info):
            yield from m.collect()

    def forget_target(self, name: str) -> None:
        """Drop the labelled series of a target removed from the config."""
        for metric in (self.probe_duration, self.probes):
            for labels in list(metric._metrics):  # no public way to list children
                if labels[0] == name:
                    metric.remove(*labels)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the collector reads: taken on the event loop at scrape time."""

    now: float
    service: str
    objective: float
    windows: Sequence[tuple[str, float]]
    tracker: Tracker
    last: Mapping[str, Check]


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
                yield from done.value
                return

    async def collect_async(self, chunk: int = 50) -> list[Metric]:
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
                families: list[Metric] = done.value
                return families
            await asyncio.sleep(0)

    def _build(self, snap: Snapshot, chunk: int) -> Generator[None, None, list[Metric]]:
        now, tr = snap.now, snap.tracker
        windows = [*snap.windows, ("month", now - month_start(now))]

        success = GaugeMetricFamily("slaprobe_probe_success", "Last check: 1 ok, 0 failed.",
                                    labels=["target"])
        last_ts = GaugeMetricFamily("slaprobe_last_check_timestamp_seconds",
                                    "When the last check started.", labels=["target"])
        up = GaugeMetricFamily("slaprobe_target_up",
                               "Current state: 1 up, 0 down, NaN unknown or probe_network.",
                               labels=["target"])
        critical = GaugeMetricFamily("slaprobe_target_critical",
                                     "1 if the target counts against the SLA (critical).",
                                     labels=["target"])
        maint = GaugeMetricFamily("slaprobe_maintenance_active",
                                  "1 inside an excluded maintenance window.", labels=["target"])
        up_s = CounterMetricFamily("slaprobe_up_seconds", "Seconds credited as up.",
                                   labels=["target"])
        down_s = CounterMetricFamily("slaprobe_down_seconds", "Seconds credited as down.",
                                     labels=["target"])
        excl_s = CounterMetricFamily("slaprobe_excluded_seconds", "Seconds excluded, by reason.",
                                     labels=["target", "reason"])
        avail = GaugeMetricFamily("slaprobe_availability_ratio",
                                  "Time-weighted availability per window.",
                                  labels=["target", "window"])
        cover = GaugeMetricFamily("slaprobe_coverage_ratio", "Share of the window with data.",
                                  labels=["target", "window"])
        for i, name in enumerate(list(tr.critical)):
            if i % chunk == chunk - 1:
                yield
            if name not in tr.critical:
                continue  # removed by a reload while this scrape was yielding
            check = snap.last.get(name)
            if check is not None:
                success.add_metric([name], 1.0 if check.ok else 0.0)
                last_ts.add_metric([name], check.at)
            st = tr.probe_state(name, now)
            up.add_metric([name], {State.UP: 1.0, State.DOWN: 0.0}.get(st, NAN)
                          if st is not None else NAN)
            critical.add_metric([name], 1.0 if tr.critical[name] else 0.0)
            maint.add_metric([name], 1.0 if active(tr.maintenance, name, now) else 0.0)
            c = tr.credit[name].seconds
            up_s.add_metric([name], c[State.UP])
            down_s.add_metric([name], c[State.DOWN])
            excl_s.add_metric([name, "maintenance"], c[State.MAINT])
            excl_s.add_metric([name, "probe_network"], c[State.NET])
            for label, length in windows:
                f = tr.target_figures(name, now - length, now, now)
                avail.add_metric([name, label], _num(f.availability))
                cover.add_metric([name, label], _num(f.coverage))
        return [success, last_ts, up, critical, maint, up_s, down_s, excl_s, avail, cover,
                *self._service(snap, windows)]

    def _service(self, snap: Snapshot, windows: list[tuple[str, float]]) -> Iterable[Metric]:
        now, tr, svc, obj = snap.now, snap.tracker, snap.service, snap.objective
        longest = max(length for _, length in [*windows, *BURN_WINDOWS])
        timeline = tr.service_timeline(now - longest, now, now)

        def figures(length: float) -> Figures:
            return Figures.of(timeline.totals(now - length, now), length)

        state = tr.service_state(now)
        s_up = GaugeMetricFamily("slaprobe_service_up", "Service state: 1 up, 0 down, NaN else.",
                                 labels=["service"])
        s_up.add_metric([svc], {State.UP: 1.0, State.DOWN: 0.0}.get(state, NAN)
                        if state is not None else NAN)
        c = tr.service_credit.seconds
        su = CounterMetricFamily("slaprobe_service_up_seconds",
                                 "Seconds credited to the service as up.", labels=["service"])
        su.add_metric([svc], c[State.UP])
        sd = CounterMetricFamily("slaprobe_service_down_seconds",
                                 "Seconds credited to the service as down.", labels=["service"])
        sd.add_metric([svc], c[State.DOWN])
        se = CounterMetricFamily("slaprobe_service_excluded_seconds",
                                 "Service seconds excluded, by reason.",
                                 labels=["service", "reason"])
        se.add_metric([svc, "maintenance"], c[State.MAINT])
        se.add_metric([svc, "probe_network"], c[State.NET])
        objective = GaugeMetricFamily("slaprobe_slo_objective_ratio", "The SLO objective.",
                                      labels=["service"])
        objective.add_metric([svc], obj)
        s_avail = GaugeMetricFamily("slaprobe_service_availability_ratio",
                                    "The SLA figure: service availability per window.",
                                    labels=["service", "window"])
        budget = GaugeMetricFamily("slaprobe_error_budget_remaining_ratio",
                                   "Error budget remaining per window.",
                                   labels=["service", "window"])
        s_cover = GaugeMetricFamily("slaprobe_service_coverage_ratio",
                                    "Share of the window with service data.",
                                    labels=["service", "window"])
        burn = GaugeMetricFamily("slaprobe_burn_rate", "Error budget burn rate per window.",
                                 labels=["service", "window"])
        seen: set[str] = set()
        for label, length in windows:
            f = figures(length)
            s_avail.add_metric([svc, label], _num(f.availability))
            budget.add_metric([svc, label], _num(f.budget_remaining(obj)))
            s_cover.add_metric([svc, label], _num(f.coverage))
            burn.add_metric([svc, label], _num(f.burn_rate(obj)))
            seen.add(label)
        for label, length in BURN_WINDOWS:
            if label not in seen:
                burn.add_metric([svc, label], _num(figures(length).burn_rate(obj)))
        mw = GaugeMetricFamily("slaprobe_maintenance_windows", "Known windows by status.",
                               labels=["status"])
        n = counts(tr.maintenance)
        for status in STATUSES:
            mw.add_metric([status], n[status])
        yield from (s_up, su, sd, se, objective, s_avail, budget, s_cover, burn, mw)
