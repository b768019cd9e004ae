"""Example tests of the timeline engine and Tracker on a fake clock (all time is numbers)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from slaprobe.core.history.timeline import (
    History,
    Spans,
    effective,
    fold,
    service_spans,
    window_totals,
)
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import EXCUSED, LATE_NOTICE, Window
from slaprobe.core.model import Check, State
from slaprobe.core.slo import Figures
from slaprobe.core.timefmt import month_range, month_start, parse_instant

T0 = parse_instant("2026-09-01T00:00:00Z")
DAY = 86400.0


def up(target: str, at: float, interval: float = 30.0) -> Check:
    return Check(target=target, at=at, ok=True, interval=interval)


def down(target: str, at: float, interval: float = 30.0, network: bool = False) -> Check:
    return Check(target=target, at=at, ok=False, interval=interval, network=network)


def every(target: str, start: float, end: float, interval: float = 30.0,
          ok: bool = True) -> list[Check]:
    """Checks of one target every `interval` seconds in [start, end)."""
    n = math.ceil((end - start) / interval)
    return [Check(target=target, at=start + i * interval, ok=ok, interval=interval)
            for i in range(n)]


def maint(start: float, end: float, targets: tuple[str, ...] | None = None,
          excluded: bool = True) -> Window:
    return Window(
        id=f"m{start}", start=start, end=end, announced=start - 3 * DAY,
        first_seen=start - 3 * DAY, targets=targets, reason="", source="test",
        status=EXCUSED if excluded else LATE_NOTICE, excluded=excluded,
    )


def tracker(critical: dict[str, bool], checks: list[Check],
            windows: list[Window] | None = None) -> Tracker:
    t = Tracker(critical, windows=windows or [])
    for c in sorted(checks, key=lambda c: c.at):
        t.add(c)
    return t


def service_figures(t: Tracker, a: float, b: float, now: float) -> Figures:
    return Figures.of(t.service_timeline(a, b, now).totals(a, b), b - a)


# --- one target ---------------------------------------------------------------------


def test_thirty_days_healthy_is_one_span_with_full_availability_and_coverage() -> None:
    """30 days of a healthy 30 s target fold into one span: availability 1.0, coverage 1.0."""
    end = T0 + 30 * DAY
    checks = every("app", T0, end)
    assert len(checks) == 86_400
    t = tracker({"app": True}, checks)
    h = t.histories["app"]
    assert len(h.spans) == 0 and h.open is not None
    assert t.target_spans("app", T0, end, now=end) == [(T0, end, State.UP)]
    f = t.target_figures("app", T0, end, now=end)
    assert (f.up, f.down, f.excluded, f.unknown) == (30 * DAY, 0.0, 0.0, 0.0)
    assert f.availability == 1.0
    assert f.coverage == 1.0
    s = service_figures(t, T0, end, now=end)
    assert (s.availability, s.coverage) == (1.0, 1.0)


def test_month_boundary_splits_an_outage_between_months() -> None:
    """An outage crossing midnight UTC on the 1st counts in each month only for its own part."""
    oct_a, oct_b = month_range("2026-10")
    sep_a, sep_b = month_range("2026-09")
    assert sep_b == oct_a == month_start(oct_a + 3600) == month_start(oct_a)
    assert month_start(oct_a - 1) == sep_a
    checks = every("app", oct_a - 3600, oct_a + 3600, interval=60)
    checks = [
        Check(c.target, c.at, ok=not (oct_a - 120 <= c.at < oct_a + 180), interval=60)
        for c in checks
    ]
    now = oct_a + 3600
    t = tracker({"app": True}, checks)
    sep = t.target_figures("app", sep_a, sep_b, now)
    oct_ = t.target_figures("app", oct_a, oct_b, now)
    assert (sep.up, sep.down) == (3600 - 120, 120)
    assert (oct_.up, oct_.down) == (3600 - 180, 180)
    assert oct_.availability == pytest.approx((3600 - 180) / 3600)
    assert oct_.coverage == pytest.approx(3600 / (oct_b - oct_a))
    assert oct_.unknown == (oct_b - oct_a) - 3600


def test_restart_gap_is_unknown_beyond_two_intervals() -> None:
    """A 10-minute gap is unknown beyond 2 x interval: coverage < 1, availability intact."""
    before = every("app", T0, T0 + 3600)
    last = before[-1].at
    after = every("app", last + 600, T0 + 7200)
    t = tracker({"app": True}, before + after)
    f = t.target_figures("app", T0, T0 + 7200, now=T0 + 7200)
    assert f.unknown == 600 - 60
    assert f.down == 0
    assert f.availability == 1.0
    assert f.coverage == pytest.approx((7200 - 540) / 7200)
    assert f.coverage is not None and f.coverage < 1.0
    spans = t.target_spans("app", T0, T0 + 7200, now=T0 + 7200)
    assert spans == [(T0, last + 60, State.UP), (last + 600, T0 + 7200, State.UP)]


def test_a_check_covers_at_most_two_intervals() -> None:
    """A lone check covers 2 x interval, however late `now` is; a nearer next check ends it."""
    h = fold([up("app", 0.0, interval=10)])
    assert h.totals(0, 1000, now=1000)[State.UP] == 20
    assert h.totals(0, 1000, now=5)[State.UP] == 5  # provisional: up to now
    h = fold([up("app", 0.0, interval=10), down("app", 15.0, interval=10)])
    assert h.between(0, 1000, now=1000) == [(0.0, 15.0, State.UP), (15.0, 35.0, State.DOWN)]
    h = fold([up("app", 0.0, interval=10), up("app", 20.0, interval=10)])  # exactly at the cap
    assert h.between(0, 1000, now=1000) == [(0.0, 40.0, State.UP)]
    h = fold([up("app", 0.0, interval=10), up("app", 21.0, interval=10)])  # one second late
    assert h.between(0, 1000, now=1000) == [(0.0, 20.0, State.UP), (21.0, 41.0, State.UP)]


def test_the_cap_uses_each_checks_own_interval() -> None:
    """Each check's coverage is capped by its own interval, even inside one run."""
    h = fold([up("app", 0.0, interval=1), up("app", 2.0, interval=100), up("app", 150.0)])
    assert h.between(0, 1000, now=1000) == [(0.0, 210.0, State.UP)]
    h = fold([up("app", 0.0, interval=100), up("app", 10.0, interval=1), up("app", 15.0)])
    assert h.between(0, 1000, now=1000) == [(0.0, 12.0, State.UP), (15.0, 75.0, State.UP)]


def test_checks_out_of_order_raise_and_duplicates_are_ignored() -> None:
    """An older check raises ValueError; a second check at the same time is ignored."""
    h = fold([up("app", 0.0), up("app", 30.0)])
    assert h.add(down("app", 30.0)) is None
    assert h.open is not None and h.open.state is State.UP
    with pytest.raises(ValueError, match="older"):
        h.add(up("app", 10.0))


def test_a_window_without_data_has_undefined_availability() -> None:
    """No up or down time: availability is None (NaN when exposed), never 1; coverage 0."""
    t = tracker({"app": True}, [up("app", 1000.0)])
    f = t.target_figures("app", 0, 500, now=2000)
    assert f.availability is None
    assert f.coverage == 0.0
    assert f.budget_remaining(0.999) is None
    assert f.burn_rate(0.999) is None
    assert f.objective_met(0.999) is None
    empty = Tracker({"app": True})
    g = empty.target_figures("app", 0, 500, now=2000)
    assert (g.availability, g.coverage, g.unknown) == (None, 0.0, 500)
    assert service_figures(empty, 0, 500, now=2000).availability is None


def test_maintenance_only_window_has_undefined_availability_but_full_coverage() -> None:
    """A window wholly in maintenance (data or not) has coverage 1 and no availability."""
    t = tracker({"app": True}, [down("app", 100.0)], [maint(0, 500)])
    f = t.target_figures("app", 0, 500, now=1000)
    assert (f.maintenance, f.down, f.availability, f.coverage) == (500, 0, None, 1.0)


def test_probe_network_failures_are_excluded_not_down() -> None:
    """A failure with every control failing is excluded as probe_network, not down."""
    t = tracker({"app": True}, [up("app", 0.0), down("app", 30.0, network=True), up("app", 60.0)])
    f = t.target_figures("app", 0, 90, now=90)
    assert (f.up, f.down, f.probe_network, f.maintenance) == (60, 0, 30, 0)
    assert f.availability == 1.0
    assert f.coverage == 1.0


def test_maintenance_overlays_any_state_and_unknown_time() -> None:
    """Inside an excluded window everything is maintenance: up, down and unknown time alike."""
    checks = [up("app", 0.0, 10), down("app", 10.0, 10)]  # down until 30, unknown after
    t = tracker({"app": True}, checks, [maint(5, 50)])
    f = t.target_figures("app", 0, 100, now=100)
    assert (f.up, f.down, f.maintenance, f.unknown) == (5, 0, 45, 50)
    assert t.target_spans("app", 0, 100, now=100) == [(0, 5, State.UP), (5, 50, State.MAINTENANCE)]
    late = tracker({"app": True}, checks, [maint(5, 50, excluded=False)])
    g = late.target_figures("app", 0, 100, now=100)
    assert (g.up, g.down, g.maintenance) == (10, 20, 0)


def test_window_totals_equals_effective_spans() -> None:
    """window_totals and the effective spans agree on a mixed history."""
    h = fold([up("app", 0.0, 10), down("app", 12.0, 10), up("app", 20.0, 10),
              down("app", 60.0, 10, network=True)])
    windows = [(5.0, 15.0), (50.0, 65.0)]
    got = window_totals(h, windows, 0, 100, now=100)
    spans = effective(h.between(0, 100, now=100), windows, 0, 100)
    summed = [0.0] * 4
    for s, e, st in spans:
        summed[st] += e - s
    assert got == summed == [25.0, 5.0, 15.0, 25.0]


def test_spans_merge_contiguous_runs_and_refuse_overlap() -> None:
    """Spans.append merges a contiguous span of the same state and rejects overlaps."""
    sp = Spans()
    sp.append(0, 10, State.UP)
    sp.append(10, 20, State.UP)
    sp.append(20, 20, State.DOWN)  # empty: ignored
    sp.append(25, 30, State.DOWN)
    assert (sp.starts, sp.ends) == ([0, 25], [20, 30])
    assert sp.totals(5, 27) == [15, 2, 0, 0]
    with pytest.raises(ValueError, match="starts before"):
        sp.append(29, 40, State.UP)


# --- the service --------------------------------------------------------------------


def test_critical_down_makes_the_service_down() -> None:
    """A critical target down makes the service down, whatever a non-critical one does."""
    t = tracker({"app": True, "docs": False}, [down("app", 0.0), up("docs", 0.0)])
    f = service_figures(t, 0, 60, now=60)
    assert (f.up, f.down) == (0, 60)
    assert t.service_state(30) is State.DOWN


def test_non_critical_down_leaves_the_service_up() -> None:
    """A non-critical target down does not touch the service."""
    t = tracker({"app": True, "docs": False}, [up("app", 0.0), down("docs", 0.0)])
    f = service_figures(t, 0, 60, now=60)
    assert (f.up, f.down) == (60, 0)
    assert t.service_state(30) is State.UP
    assert t.target_figures("docs", 0, 60, now=60).down == 60


def test_critical_in_maintenance_with_another_up_excludes_the_service() -> None:
    """One critical target in maintenance, another up: the service time is excluded."""
    t = tracker({"app": True, "api": True}, [up("app", 0.0), up("api", 0.0)],
                [maint(0, 60, targets=("app",))])
    f = service_figures(t, 0, 60, now=60)
    assert (f.up, f.maintenance, f.availability) == (0, 60, None)
    assert t.service_state(30) is State.MAINTENANCE
    assert t.effective_state("api", 30) is State.UP


def test_maintenance_of_a_non_critical_target_leaves_the_service_alone() -> None:
    """A window for a non-critical target only does not exclude service time."""
    t = tracker({"app": True, "docs": False}, [up("app", 0.0), up("docs", 0.0)],
                [maint(0, 60, targets=("docs",))])
    assert service_figures(t, 0, 60, now=60).up == 60
    assert t.target_figures("docs", 0, 60, now=60).maintenance == 60


def test_critical_down_beats_maintenance_of_another() -> None:
    """Down wins over another critical target's maintenance; maintenance over probe_network."""
    t = tracker({"app": True, "api": True, "web": True},
                [down("app", 0.0), up("api", 0.0), down("web", 0.0, network=True)],
                [maint(0, 60, targets=("api",))])
    assert service_figures(t, 0, 60, now=60).down == 60
    t2 = tracker({"api": True, "web": True}, [up("api", 0.0), down("web", 0.0, network=True)],
                 [maint(0, 60, targets=("api",))])
    f = service_figures(t2, 0, 60, now=60)
    assert (f.maintenance, f.probe_network) == (60, 0)
    assert t2.service_state(30) is State.MAINTENANCE


def test_critical_unknown_makes_the_service_unknown() -> None:
    """A critical target without data makes the service unknown (neither up nor down)."""
    t = tracker({"app": True, "api": True}, [up("app", 0.0, interval=100)])
    f = service_figures(t, 0, 60, now=60)
    assert (f.up, f.down, f.unknown, f.availability) == (0, 0, 60, None)
    assert t.service_state(30) is None
    assert t.probe_state("api", 30) is None


def test_service_without_critical_targets_is_empty() -> None:
    """With no critical target, the service has no spans and no state."""
    t = tracker({"docs": False}, [up("docs", 0.0)])
    assert t.service_timeline(0, 60, now=60).between(0, 60) == []
    assert t.service_state(30) is None
    assert service_spans([], 0, 60) == []


def test_current_state_follows_the_cap_and_maintenance() -> None:
    """probe_state is unknown past the cap; effective_state is MAINTENANCE inside a window."""
    t = tracker({"app": True}, [down("app", 0.0, interval=10)], [maint(100, 200)])
    assert t.probe_state("app", 19.9) is State.DOWN
    assert t.probe_state("app", 20.0) is None
    assert t.effective_state("app", 150) is State.MAINTENANCE
    assert t.effective_state("app", 200) is None


# --- counters -----------------------------------------------------------------------


def credited(t: Tracker, name: str) -> tuple[float, float, float, float]:
    s = t.credit[name].seconds
    return (s[State.UP], s[State.DOWN], s[State.PROBE_NETWORK], s[State.MAINTENANCE])


def test_credit_starts_at_the_first_final_point_and_counts_only_final_time() -> None:
    """update_credit counts nothing before its first call and only time up to the last check."""
    t = Tracker({"app": True})
    t.update_credit(now=0)
    assert t.credit["app"].until is None
    for c in every("app", 0, 120):  # checks at 0, 30, 60, 90
        t.add(c)
    t.update_credit(now=100)
    assert t.credit["app"].until == 90 and credited(t, "app") == (0, 0, 0, 0)
    t.add(up("app", 120))
    t.update_credit(now=130)
    assert t.credit["app"].until == 120 and credited(t, "app") == (30, 0, 0, 0)
    assert t.service_credit.until == 120 and t.service_credit.seconds[State.UP] == 30


def test_credit_is_monotonic_through_a_state_change_after_a_long_retry() -> None:
    """A failed check that arrives late (long retries) is credited once, never retracted."""
    t = Tracker({"app": True})
    for c in every("app", 0, 120):
        t.add(c)
    t.update_credit(now=95)  # until = 90
    history = []
    # the check starting at 120 retries until 170; meanwhile scrapes happen
    for now in (121, 130, 150, 169):
        t.update_credit(now)
        history.append(credited(t, "app"))
    assert history == [(0, 0, 0, 0)] * 4  # nothing past the last check (90) is credited
    t.add(down("app", 120))  # arrives at 170, stamped with its first attempt
    t.update_credit(now=170)
    assert credited(t, "app") == (30, 0, 0, 0)  # [90, 120): up, final since the 120 check
    t.add(up("app", 150))  # the next one was in flight too
    t.add(up("app", 180))
    t.update_credit(now=181)
    assert credited(t, "app") == (60, 30, 0, 0)  # then [120, 150) down, [150, 180) up
    assert t.service_credit.seconds[State.DOWN] == 30


def test_credit_when_now_lags_the_last_check() -> None:
    """A clock behind the last check (skew) does not lose credited seconds."""
    t = Tracker({"app": True})
    t.add(up("app", 0))
    t.update_credit(now=0)
    for c in every("app", 30, 300):
        t.add(c)
    t.update_credit(now=10)  # `now` earlier than the checks
    assert credited(t, "app") == (270, 0, 0, 0)


def test_credit_splits_maintenance_and_network() -> None:
    """Credited seconds go to maintenance and probe_network, per target and for the service."""
    t = Tracker({"app": True, "docs": False}, windows=[maint(30, 60, targets=("app",))])
    t.add(up("app", 0))
    t.add(up("docs", 0))
    t.update_credit(now=0)
    for at, ok, net in ((30, True, False), (60, False, True), (90, False, False),
                        (120, True, False)):
        t.add(Check("app", at, ok=ok, interval=30, network=net))
        t.add(Check("docs", at, ok=False, interval=30))
    t.update_credit(now=120)
    assert credited(t, "app") == (30, 30, 30, 30)
    assert credited(t, "docs") == (30, 90, 0, 0)
    svc = t.service_credit.seconds
    assert [svc[s] for s in (State.UP, State.DOWN, State.PROBE_NETWORK, State.MAINTENANCE)] == [
        30, 30, 30, 30]


def test_service_credit_waits_for_every_critical_target() -> None:
    """Service credit advances only to the earliest final point among critical targets."""
    t = Tracker({"app": True, "api": True})
    t.add(up("app", 0))
    t.update_credit(now=0)
    assert t.service_credit.until is None  # api has no check yet
    t.add(up("api", 0))
    for c in every("app", 30, 300):
        t.add(c)
    t.add(up("api", 60))
    t.update_credit(now=300)
    assert t.service_credit.until == 60  # the first final point of both: credit starts here
    assert t.service_credit.seconds[State.UP] == 0
    for c in every("api", 90, 300):
        t.add(c)
    t.update_credit(now=300)
    assert t.service_credit.until == 270
    assert t.service_credit.seconds[State.UP] == 210


def test_history_reloaded_from_spans_and_open_run_matches() -> None:
    """A History rebuilt from stored spans and the open run answers like the original."""
    checks = [up("app", 0.0), down("app", 30.0), down("app", 60.0), up("app", 200.0)]
    h = fold(checks)
    copy = History()
    for s, e, st in zip(h.spans.starts, h.spans.ends, h.spans.states, strict=True):
        copy.spans.append(s, e, st)
    copy.open = replace(h.open) if h.open is not None else None
    assert copy.between(0, 300, now=250) == h.between(0, 300, now=250)
    copy.add(up("app", 230.0))
    assert copy.totals(0, 300, now=300) == [120.0, 90.0, 0.0, 0.0]


def test_empty_or_inverted_window_counts_nothing() -> None:
    """A window with b <= a counts no seconds in any state, maintenance included."""
    t = tracker({"app": True}, [down("app", 0.0)], [maint(0, 100)])
    for a, b in ((50, 50), (60, 40)):
        f = t.target_figures("app", a, b, now=100)
        assert (f.up, f.down, f.maintenance, f.probe_network) == (0, 0, 0, 0)
        assert t.target_spans("app", a, b, now=100) == []
        assert t.service_timeline(a, b, now=100).between(a, b) == []


def test_service_credit_in_steps_credits_the_same_time() -> None:
    """Crediting the service only once `service_step` more seconds are final moves
    it in coarser steps, never to other totals."""
    fine, coarse = (Tracker({"a": True, "b": True}) for _ in range(2))
    for t in range(0, 600, 10):
        for tr in (fine, coarse):
            tr.add(Check("a", 1000.0 + t, True, 10.0))
            tr.add(Check("b", 1003.0 + t, t % 200 != 100, 10.0))
        fine.update_credit(1000.0 + t + 5)
        coarse.update_credit(1000.0 + t + 5, service_step=60.0)
        assert coarse.service_credit.until is not None
        assert fine.service_credit.until is not None
        assert fine.service_credit.until - coarse.service_credit.until < 60.0
    fine.update_credit(1700.0)
    coarse.update_credit(1700.0)  # no step: up to the same final point
    assert coarse.service_credit.until == fine.service_credit.until
    assert coarse.service_credit.seconds == pytest.approx(fine.service_credit.seconds)
    assert coarse.service_credit.seconds[State.DOWN] > 0
