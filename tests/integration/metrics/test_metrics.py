"""The /metrics output: numbers from a known history, and promtool's lint."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess

import pytest
import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from promtext import Scrape

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.incidents.rules import Support
from slaprobe.core.maintenance.rules import Seen, resolve
from slaprobe.core.model import Attempt, Check, ErrorKind
from slaprobe.core.reporting import catalogue
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.incidents.desk import IncidentDesk
from slaprobe.metrics.exposition import Family, encode
from slaprobe.metrics.instruments import (
    Exporter,
    Instruments,
    ProbeStats,
    SlaFigures,
    Snapshot,
    family,
)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
WINDOWS = (("1h", 3600.0), ("1d", 86400.0))


def tracker_for(checks: list[Check], windows: list[MaintenanceSpec] = ()) -> Tracker:
    tracker = Tracker({"app": True, "docs": False, "idle": True})
    for c in checks:  # as the daemon does: credit follows the checks as they arrive
        tracker.add(c)
        tracker.update_credit(c.at)
    seen = {w.id: [Seen(w.id, w.start, w.end, w.announced, w.targets, w.announced)]
            for w in windows}
    tracker.set_maintenance(resolve(windows, seen, notice=48 * 3600, allow_retroactive=False))
    tracker.update_credit(NOW)
    return tracker


def exporter(checks: list[Check], windows: list[MaintenanceSpec] = ()) -> Exporter:
    tracker = tracker_for(checks, windows)
    inst = Instruments()
    inst.probe.observe("app", "success", 0.12)
    inst.probe.observe("docs", str(ErrorKind.TIMEOUT), 10.0)
    inst.probe.observe("docs", str(ErrorKind.TIMEOUT), 99.0)
    last = {c.target: c for c in checks}
    desk = IncidentDesk(Support(), NOW - 2 * 86400, structlog.get_logger())  # as the daemon
    # as the daemon on one location serves them: its newest check and the silence limit
    newest, silence = family(catalogue.LOCATION_LAST_CHECK), family(catalogue.LOCATION_SILENCE)
    if last:
        newest.add(["default"], max(c.at for c in last.values()))
    silence.add([], 90.0)
    return Exporter(inst, lambda: Snapshot(
        now=NOW, service="CloneNer", objective=0.999, windows=WINDOWS, tracker=tracker,
        last=last, incidents=desk.families(tracker, NOW), locations=[newest, silence],
    ))


async def build(checks: list[Check], windows: list[MaintenanceSpec] = ()) -> Scrape:
    """The bytes /metrics would serve for this history, parsed."""
    return Scrape(await exporter(checks, windows).render())


def history() -> list[Check]:
    out = []
    for i in range(120):  # the last hour at a 30 s interval; app down 5 minutes of it
        at = NOW - 3600 + i * 30
        out.append(Check("app", at, not 40 <= i < 50, 30.0))
        out.append(Check("docs", at, False, 30.0, error="timeout"))
    return out


async def test_figures_from_a_known_hour() -> None:
    """Availability, budget, burn rate and credit match the hour's history."""
    v = (await build(history())).value
    assert v("slaprobe_availability_ratio", {"target": "app", "window": "1h"}) == \
        pytest.approx(3300 / 3600)
    assert v("slaprobe_coverage_ratio", {"target": "app", "window": "1h"}) == 1.0
    assert v("slaprobe_coverage_ratio", {"target": "app", "window": "1d"}) == \
        pytest.approx(3600 / 86400)
    assert v("slaprobe_target_up", {"target": "app"}) == 1.0
    assert v("slaprobe_target_up", {"target": "docs"}) == 0.0
    assert v("slaprobe_target_critical", {"target": "app"}) == 1.0
    assert v("slaprobe_target_critical", {"target": "docs"}) == 0.0
    assert math.isnan(v("slaprobe_target_up", {"target": "idle"}))
    assert math.isnan(v("slaprobe_availability_ratio", {"target": "idle", "window": "1h"}))
    # `idle` is critical with no data: the service is unknown while app is up, yet
    # down while app is down, so its only counted time is down time
    svc = {"service": "CloneNer", "window": "1h"}
    assert v("slaprobe_service_availability_ratio", svc) == 0.0
    assert v("slaprobe_service_coverage_ratio", svc) == pytest.approx(300 / 3600)
    assert v("slaprobe_burn_rate", svc) == pytest.approx(1000.0)
    assert v("slaprobe_up_seconds_total", {"target": "app"}) == pytest.approx(3600 - 300 - 30)
    assert v("slaprobe_down_seconds_total", {"target": "app"}) == 300
    assert v("slaprobe_slo_objective_ratio", {"service": "CloneNer"}) == 0.999
    assert v("slaprobe_probe_success", {"target": "docs"}) == 0.0
    assert v("slaprobe_probes_total", {"target": "docs", "result": "timeout"}) == 2
    assert v("slaprobe_probe_duration_seconds_bucket", {"target": "app", "le": "0.1"}) == 0
    assert v("slaprobe_probe_duration_seconds_bucket", {"target": "app", "le": "0.25"}) == 1
    assert v("slaprobe_probe_duration_seconds_bucket", {"target": "docs", "le": "10.0"}) == 1
    assert v("slaprobe_probe_duration_seconds_bucket", {"target": "docs", "le": "+Inf"}) == 2
    assert v("slaprobe_probe_duration_seconds_sum", {"target": "docs"}) == 109.0
    assert v("slaprobe_probe_duration_seconds_count", {"target": "docs"}) == 2
    for w in ("5m", "30m", "2h", "6h", "3d", "month"):
        assert v("slaprobe_burn_rate", {"service": "CloneNer", "window": w}) is not None


async def test_service_burn_rate_and_maintenance() -> None:
    """With every critical target probed, the service figures follow them; an
    excused window marks its target and is counted by status."""
    checks = history() + [Check("idle", NOW - 3600 + i * 30, True, 30.0) for i in range(120)]
    window = MaintenanceSpec("upgrade", NOW - 600, NOW + 600, NOW - 7 * 86400, ("docs",))
    late = MaintenanceSpec("late", NOW + 60, NOW + 600, NOW - 3600, ("app",))
    v = (await build(sorted(checks, key=lambda c: c.at), [window, late])).value
    svc = {"service": "CloneNer", "window": "1h"}
    assert v("slaprobe_service_availability_ratio", svc) == pytest.approx(3300 / 3600)
    assert v("slaprobe_burn_rate", svc) == pytest.approx((300 / 3600) / 0.001)
    assert v("slaprobe_error_budget_remaining_ratio", svc) == pytest.approx(
        1 - 300 / (0.001 * 3600))
    assert v("slaprobe_maintenance_active", {"target": "docs"}) == 1.0
    assert v("slaprobe_maintenance_active", {"target": "app"}) == 0.0
    assert v("slaprobe_maintenance_windows", {"status": "excused"}) == 1
    assert v("slaprobe_maintenance_windows", {"status": "late_notice"}) == 1
    assert v("slaprobe_availability_ratio", {"target": "docs", "window": "1h"}) == 0.0
    assert v("slaprobe_coverage_ratio", {"target": "docs", "window": "1h"}) == 1.0


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool missing (Debian package prometheus; .ci/run installs it)")
async def test_promtool_finds_no_problem() -> None:
    """`promtool check metrics` accepts the whole exposition as the daemon serves it."""
    text = await exporter(history()).render()
    r = await asyncio.to_thread(subprocess.run, ["promtool", "check", "metrics"], input=text,
                                capture_output=True, check=False)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert r.stdout.strip() == b"" and r.stderr.strip() == b"", r.stderr.decode()


async def test_every_catalogue_metric_is_served_as_catalogued() -> None:
    """Each catalogue entry appears with its type and help, and nothing else is served."""
    scrape = await build(history())
    served = {f.name: f for f in scrape.families}
    for m in catalogue.ALL:
        fam = served.pop(m.name)
        assert (fam.type, fam.documentation) == (m.kind, m.help), m.name
        for s in fam.samples:
            assert set(s.labels) - {"le"} == set(m.labels), (m.name, s.labels)
    assert served == {}


class _AsMetrics:
    """A registry collector presenting our families as prometheus_client Metrics."""

    def __init__(self, families: list[Family]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        out = []
        for f in self.families:
            m = Metric(f.name, f.doc, f.kind)
            for suffix, values, value in f.all_rows():
                m.samples.append(Sample(f.sample_name(suffix),
                                        dict(zip(f.label_names(suffix), values, strict=True)),
                                        value))
            out.append(m)
        return out


async def test_lean_encoder_matches_prometheus_client() -> None:
    """The daemon's encoder gives the same samples as prometheus_client's, NaN and awkward
    label values included."""
    exp = exporter(history())
    odd = Family("slaprobe_test_odd", "gauge", "odd\nvalues", ("v",))
    odd.add(['a"b\\c\nd'], math.inf)
    families = [*await SlaFigures().families(exp.snapshot()), *exp.instruments.probe.families(),
                odd]
    reg = CollectorRegistry()
    reg.register(_AsMetrics(families))

    def parse(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], str]:
        return {(s.name, tuple(sorted(s.labels.items()))): repr(s.value)
                for fam in text_string_to_metric_families(text.decode()) for s in fam.samples}

    ours, theirs = parse(encode(families)), parse(generate_latest(reg))
    assert ours == theirs
    assert ours[("slaprobe_test_odd", (("v", 'a"b\\c\nd'),))] == "inf"


async def test_a_scrape_never_moves_credit() -> None:
    """Rendering reads: the credited seconds are those of the last housekeeping."""
    tracker = tracker_for(history())
    before = (list(tracker.credit["app"].seconds), list(tracker.service_credit.seconds))
    exp = Exporter(Instruments(), lambda: Snapshot(
        now=NOW + 600, service="CloneNer", objective=0.999, windows=WINDOWS, tracker=tracker,
        last={}))
    first = Scrape(await exp.render()).value("slaprobe_up_seconds_total", {"target": "app"})
    second = Scrape(await exp.render()).value("slaprobe_up_seconds_total", {"target": "app"})
    assert first == second
    assert (list(tracker.credit["app"].seconds), list(tracker.service_credit.seconds)) == before


def test_attempt_kinds_are_the_design_list() -> None:
    """The target's error kinds, plus probe_error for every own-side kind, are exactly
    DESIGN's `result` label values."""
    results = {"probe_error" if k.own else k.value for k in ErrorKind}
    assert results == {
        "timeout", "connect_error", "tls_error", "dns_error", "bad_status", "body_mismatch",
        "too_slow", "protocol_error", "answer_mismatch", "probe_error",
    }
    assert {k.value for k in ErrorKind if k.own} == {
        "probe_error", "probe_fd_exhausted", "probe_overloaded", "probe_out_of_memory",
        "probe_clock_step"}
    assert Attempt(ok=True, latency=0.1).error is None


@pytest.mark.parametrize("buckets", [True, False])
def test_latency_histogram_keeps_its_design_name_with_buckets_off(buckets: bool) -> None:
    """`target_latency_histogram = false` drops the buckets, never the metric: the +Inf
    bucket, `_sum` and `_count` stay per target (average latency still computable)."""
    stats = ProbeStats(histogram=buckets)
    for latency in (0.004, 0.2, 3.0):
        stats.observe("app", "success", latency)
    m = Scrape(encode(stats.families()))
    inf = {"target": "app", "le": "+Inf"}
    assert m.value("slaprobe_probe_duration_seconds_bucket", inf) == 3.0
    assert m.value("slaprobe_probe_duration_seconds_count", {"target": "app"}) == 3.0
    assert m.value("slaprobe_probe_duration_seconds_sum", {"target": "app"}) == pytest.approx(
        3.204)
    les = set(m.by("slaprobe_probe_duration_seconds_bucket", "le"))
    assert (len(les) > 1) is buckets
    stats.switch(not buckets)  # a reload: the histogram restarts in the other shape
    stats.observe("app", "success", 0.1)
    again = Scrape(encode(stats.families()))
    assert again.value("slaprobe_probe_duration_seconds_count", {"target": "app"}) == 1.0
    assert (len(set(again.by("slaprobe_probe_duration_seconds_bucket", "le"))) > 1) is (
        not buckets)


async def test_window_figures_are_unknown_until_the_history_is_read() -> None:
    """A daemon whose shared history's server was not reached at start knows only its
    own checks since then: every window figure is unknown (NaN), never the 100% those
    checks alone would make it; the instant states and the credit are still served."""
    checks = [Check("app", NOW - 60 + 10.0 * k, True, 10.0) for k in range(6)]
    tracker = tracker_for(checks)
    last = {"app": checks[-1]}

    def scrape(read: bool) -> Exporter:
        return Exporter(Instruments(), lambda: Snapshot(
            now=NOW, service="CloneNer", objective=0.999, windows=WINDOWS, tracker=tracker,
            last=last, history_read=read))

    known = Scrape(await scrape(True).render()).value
    assert known("slaprobe_availability_ratio", {"target": "app", "window": "1h"}) == 1.0
    v = Scrape(await scrape(False).render()).value
    for w in ("1h", "1d", "month"):
        assert math.isnan(v("slaprobe_availability_ratio", {"target": "app", "window": w}))
        assert math.isnan(v("slaprobe_coverage_ratio", {"target": "app", "window": w}))
        svc = {"service": "CloneNer", "window": w}
        for name in ("slaprobe_service_availability_ratio", "slaprobe_service_coverage_ratio",
                     "slaprobe_error_budget_remaining_ratio", "slaprobe_burn_rate"):
            assert math.isnan(v(name, svc)), (name, w)
    for w in ("5m", "30m", "2h", "6h", "3d"):
        assert math.isnan(v("slaprobe_burn_rate", {"service": "CloneNer", "window": w}))
    assert v("slaprobe_target_up", {"target": "app"}) == 1.0  # what the last check says
    assert v("slaprobe_probe_success", {"target": "app"}) == 1.0
