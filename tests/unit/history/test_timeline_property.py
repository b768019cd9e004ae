"""Property tests: the timeline engine agrees to the second with a brute-force reference.

The reference works on integer seconds: for each second it finds each target's
covering check by scanning the history, lays maintenance over, and applies the
service rule. Everything the engine answers (figures, spans, credit) must match.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from slaprobe.core.history.timeline import N_STATES, Span, Spans, fold
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import EXCUSED, LATE_NOTICE, Window
from slaprobe.core.model import Check, State
from slaprobe.history.store import Store

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the brute-force reference ------------------------------------------------------


def dedupe(checks: Sequence[Check]) -> list[Check]:
    """Checks in time order; of several at one time the first one counts."""
    out: list[Check] = []
    for c in checks:
        if not out or c.at > out[-1].at:
            out.append(c)
    return out


def ref_probe_state(checks: Sequence[Check], s: int, now: float) -> State | None:
    """The state of second s: the latest check at or before s, if it still covers s."""
    j = -1
    for i, c in enumerate(checks):
        if c.at <= s:
            j = i
    if j < 0:
        return None
    c = checks[j]
    nxt = checks[j + 1].at if j + 1 < len(checks) else now  # the last check: known until now
    return c.state if s < min(nxt, c.at + 2 * c.interval) else None


def ref_target_state(
    checks: Sequence[Check], windows: Sequence[Window], name: str, s: int, now: float,
) -> State | None:
    if any(w.excluded and w.covers(name) and w.start <= s < w.end for w in windows):
        return State.MAINTENANCE
    return ref_probe_state(checks, s, now)


def ref_service_state(states: Iterable[State | None]) -> State | None:
    st_ = list(states)
    for state in (State.DOWN, State.MAINTENANCE, State.PROBE_NETWORK):
        if state in st_:
            return state
    if None in st_:
        return None
    return State.UP


@dataclass
class Reference:
    """Per-second states of every target and of the service over [a, b)."""

    targets: dict[str, list[State | None]]
    service: list[State | None]
    a: int

    def totals(self, states: Sequence[State | None]) -> list[float]:
        out = [0.0] * N_STATES
        for st_ in states:
            if st_ is not None:
                out[st_] += 1.0
        return out

    def runs(self, states: Sequence[State | None]) -> list[Span]:
        """Maximal runs of one (known) state, as spans."""
        out: list[Span] = []
        for i, st_ in enumerate(states):
            if st_ is None:
                continue
            t = float(self.a + i)
            if out and out[-1][1] == t and out[-1][2] == st_:
                out[-1] = (out[-1][0], t + 1, st_)
            else:
                out.append((t, t + 1, st_))
        return out


def reference(
    checks: Mapping[str, Sequence[Check]], critical: Mapping[str, bool],
    windows: Sequence[Window], a: int, b: int, *, now: float,
) -> Reference:
    hist = {n: dedupe(cs) for n, cs in checks.items()}
    targets = {
        n: [ref_target_state(hist[n], windows, n, s, now) for s in range(a, b)] for n in critical
    }
    crit = [n for n, c in critical.items() if c]
    service = [ref_service_state(targets[n][i] for n in crit) for i in range(b - a)]
    return Reference(targets, service, a)


# --- strategies ---------------------------------------------------------------------


@dataclass
class Scenario:
    critical: dict[str, bool]
    checks: dict[str, list[Check]]
    windows: list[Window]
    a: int
    b: int
    now: int

    @property
    def last_at(self) -> float:
        return max((c.at for cs in self.checks.values() for c in cs), default=0.0)


def window(wid: str, start: float, end: float, targets: tuple[str, ...] | None,
           excluded: bool) -> Window:
    return Window(
        id=wid, start=start, end=end, announced=0.0, first_seen=0.0, targets=targets,
        reason="", source="test", status=EXCUSED if excluded else LATE_NOTICE, excluded=excluded,
    )


@st.composite
def histories(draw: st.DrawFn, name: str) -> list[Check]:
    """A target's checks at integer times: random gaps (0 = a duplicate), intervals, flags."""
    t = draw(st.integers(0, 20))
    out: list[Check] = []
    for _ in range(draw(st.integers(0, 12))):
        ok, network, unknown = draw(st.sampled_from([
            (True, False, False), (True, False, False), (True, True, False),
            (False, False, False), (False, True, False), (False, True, False),
            (False, False, True),  # slaprobe's own failure: outcome unknown
        ]))
        out.append(Check(
            target=name, at=float(t), ok=ok,
            interval=float(draw(st.sampled_from([1, 2, 5, 10]))), network=network,
            unknown=unknown, error="probe_error" if unknown else None,
        ))
        t += draw(st.sampled_from([0, 1, 2, 3, 5, 10, 15, 20, 25]))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(1, 4))
    names = [f"t{i}" for i in range(n)]
    flags = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if not any(flags):
        flags[draw(st.integers(0, n - 1))] = True
    checks = {name: draw(histories(name)) for name in names}
    windows = []
    for i in range(draw(st.integers(0, 4))):
        start = draw(st.integers(-10, 300))
        end = start + draw(st.integers(0, 80))
        targets = draw(st.one_of(
            st.none(), st.sampled_from(names).map(lambda n: (n,)),
            st.lists(st.sampled_from(names), min_size=1, unique=True).map(tuple),
        ))
        windows.append(window(f"w{i}", float(start), float(end), targets, draw(st.booleans())))
    a = draw(st.integers(-20, 320))
    b = a + draw(st.integers(0, 200))
    last = max((c.at for cs in checks.values() for c in cs), default=0.0)
    now = draw(st.one_of(st.integers(0, 400), st.integers(int(last), int(last) + 30)))
    return Scenario(dict(zip(names, flags, strict=True)), checks, windows, a, b, now)


def tracker_for(sc: Scenario) -> Tracker:
    t = Tracker(sc.critical, windows=sc.windows)
    for cs in sc.checks.values():
        for c in cs:
            t.add(c)
    return t


def approx_list(xs: Sequence[float]) -> object:
    return pytest.approx(list(xs), abs=1e-6)


# --- the properties -----------------------------------------------------------------


@SETTINGS
@given(scenarios())
def test_target_figures_match_reference(sc: Scenario) -> None:
    """Per-target up/down/excluded/unknown seconds, availability and coverage match."""
    ref = reference(sc.checks, sc.critical, sc.windows, sc.a, sc.b, now=sc.now)
    tracker = tracker_for(sc)
    for name in sc.critical:
        states = ref.targets[name]
        want = ref.totals(states)
        got = tracker.target_figures(name, sc.a, sc.b, sc.now)
        assert [got.up, got.down, got.probe_network, got.maintenance] == approx_list(want)
        assert got.length == sc.b - sc.a
        unknown = sum(1 for x in states if x is None)
        assert got.unknown == pytest.approx(unknown, abs=1e-6)
        counted = want[State.UP] + want[State.DOWN]
        if counted == 0:
            assert got.availability is None
        else:
            assert got.availability == pytest.approx(want[State.UP] / counted, abs=1e-9)
        if sc.b > sc.a:
            assert got.coverage == pytest.approx((len(states) - unknown) / len(states), abs=1e-9)
        else:
            assert got.coverage is None


@SETTINGS
@given(scenarios())
def test_target_spans_match_reference(sc: Scenario) -> None:
    """Each target's effective spans are exactly the reference's maximal runs."""
    ref = reference(sc.checks, sc.critical, sc.windows, sc.a, sc.b, now=sc.now)
    tracker = tracker_for(sc)
    for name in sc.critical:
        assert tracker.target_spans(name, sc.a, sc.b, sc.now) == ref.runs(ref.targets[name])


MAINT_BEATS_NET = Scenario(
    critical={"t0": True, "t1": True, "t2": False},
    checks={
        "t0": [Check("t0", 0.0, ok=False, interval=10.0, network=True)],
        "t1": [Check("t1", 0.0, ok=True, interval=10.0)],
        "t2": [Check("t2", 0.0, ok=False, interval=10.0)],
    },
    windows=[window("w0", 5.0, 25.0, ("t1",), excluded=True)],
    a=0, b=40, now=40,
)


@SETTINGS
@given(scenarios())
@example(MAINT_BEATS_NET)
def test_service_timeline_matches_reference(sc: Scenario) -> None:
    """The service timeline's spans and totals follow the service rule second by second."""
    ref = reference(sc.checks, sc.critical, sc.windows, sc.a, sc.b, now=sc.now)
    timeline = tracker_for(sc).service_timeline(sc.a, sc.b, sc.now)
    assert timeline.between(sc.a, sc.b) == ref.runs(ref.service)
    assert timeline.totals(sc.a, sc.b) == approx_list(ref.totals(ref.service))
    # any sub-window of the service timeline, too
    mid = (sc.a + sc.b) // 2
    assert timeline.totals(sc.a, mid) == approx_list(ref.totals(ref.service[: mid - sc.a]))


@SETTINGS
@given(scenarios())
def test_current_states_match_reference(sc: Scenario) -> None:
    """Current probe, effective and service states after the last check match the reference."""
    tracker = tracker_for(sc)
    hist = {n: dedupe(cs) for n, cs in sc.checks.items()}
    start = int(sc.last_at)
    for t in range(start, start + 25):
        states = {}
        for name in sc.critical:
            assert tracker.probe_state(name, t) == ref_probe_state(hist[name], t, now=math.inf)
            states[name] = ref_target_state(hist[name], sc.windows, name, t, now=math.inf)
            assert tracker.effective_state(name, t) == states[name]
        want = ref_service_state(states[n] for n, c in sc.critical.items() if c)
        assert tracker.service_state(t) == want


@SETTINGS
@given(scenarios())
def test_window_totals_match_reference_for_subwindows(sc: Scenario) -> None:
    """window_totals over several sub-windows of [a, b) matches the reference's counts."""
    ref = reference(sc.checks, sc.critical, sc.windows, sc.a, sc.b, now=sc.now)
    tracker = tracker_for(sc)
    cuts = sorted({sc.a, sc.b, sc.a + (sc.b - sc.a) // 3, sc.a + 2 * (sc.b - sc.a) // 3})
    for name in sc.critical:
        for lo, hi in itertools.pairwise(cuts):
            f = tracker.target_figures(name, lo, hi, sc.now)
            want = ref.totals(ref.targets[name][lo - sc.a: hi - sc.a])
            assert [f.up, f.down, f.probe_network, f.maintenance] == approx_list(want)


@SETTINGS
@given(scenarios(), st.data())
def test_store_folds_batches_into_the_folded_history(sc: Scenario, data: st.DataObject) -> None:
    """Checks written to the store in batches of any size give back exactly fold(checks),
    and the tracker folding the same checks agrees."""
    tracker = Tracker(sc.critical)
    merged = sorted((c for cs in sc.checks.values() for c in cs), key=lambda c: c.at)
    store = Store(":memory:")
    try:
        i = 0
        while i < len(merged):
            n = data.draw(st.integers(1, 5))
            batch = merged[i:i + n]
            for c in batch:
                tracker.add(c)
            store.write(batch)
            i += n
        for name, cs in sc.checks.items():
            folded = fold(cs)
            for h in (tracker.histories[name], store.load(name, float("-inf"))):
                assert list(zip(h.spans.starts, h.spans.ends, h.spans.states, strict=True)) == (
                    list(zip(folded.spans.starts, folded.spans.ends, folded.spans.states,
                             strict=True)))
                assert h.open == folded.open
                assert h.totals(sc.a, sc.b, sc.now) == approx_list(
                    folded.totals(sc.a, sc.b, sc.now))
    finally:
        store.close()


@SETTINGS
@given(scenarios(), st.data())
def test_credit_is_monotonic_and_exact(sc: Scenario, data: st.DataObject) -> None:
    """update_credit at any `now` never decreases and credits exactly the final seconds."""
    tracker = Tracker(sc.critical, windows=sc.windows)
    queues = {n: list(cs) for n, cs in sc.checks.items() if cs}
    starts: dict[str, float] = {}
    service_start: float | None = None
    prev = {n: list(c.seconds) for n, c in tracker.credit.items()}
    prev_service = list(tracker.service_credit.seconds)
    while queues:
        name = data.draw(st.sampled_from(sorted(queues)))
        check = queues[name].pop(0)
        if not queues[name]:
            del queues[name]
        tracker.add(check)
        now = check.at + data.draw(st.sampled_from([-5, 0, 1, 7, 30]))
        tracker.update_credit(now)
        for n, credit in tracker.credit.items():
            if credit.until is not None:
                starts.setdefault(n, credit.until)
            assert all(x >= y for x, y in zip(credit.seconds, prev[n], strict=True))
            prev[n] = list(credit.seconds)
        sc_credit = tracker.service_credit
        if sc_credit.until is not None and service_start is None:
            service_start = sc_credit.until
        assert all(x >= y for x, y in zip(sc_credit.seconds, prev_service, strict=True))
        prev_service = list(sc_credit.seconds)
    # credited ranges against the reference built from the whole history
    for n, credit in tracker.credit.items():
        if credit.until is None:
            continue
        lo, hi = int(starts[n]), int(credit.until)
        assert hi == max(c.at for c in sc.checks[n])
        ref = reference(sc.checks, sc.critical, sc.windows, lo, hi, now=hi)
        assert credit.seconds == approx_list(ref.totals(ref.targets[n]))
    sc_credit = tracker.service_credit
    if sc_credit.until is not None:
        assert service_start is not None
        lo, hi = int(service_start), int(sc_credit.until)
        ref = reference(sc.checks, sc.critical, sc.windows, lo, hi, now=hi)
        assert sc_credit.seconds == approx_list(ref.totals(ref.service))


@st.composite
def span_lists(draw: st.DrawFn) -> list[Span]:
    t = draw(st.integers(-50, 50))
    out: list[Span] = []
    for _ in range(draw(st.integers(0, 15))):
        t += draw(st.integers(0, 5))
        length = draw(st.integers(0, 10))
        out.append((float(t), float(t + length), draw(st.sampled_from(list(State)))))
        t += length
    return out


@SETTINGS
@given(span_lists(), st.integers(-60, 200), st.integers(0, 200))
def test_spans_totals_equal_sum_of_between(spans: list[Span], a: int, length: int) -> None:
    """Spans.totals(a, b) equals summing Spans.between(a, b), and a per-second count."""
    sp = Spans()
    for span in spans:
        sp.append(*span)
    b = a + length
    summed = [0.0] * N_STATES
    for s, e, st_ in sp.between(a, b):
        assert a <= s < e <= b
        summed[st_] += e - s
    assert sp.totals(a, b) == approx_list(summed)
    per_second = [0.0] * N_STATES
    for x in range(a, b):
        for s, e, st_ in spans:
            if s <= x < e:
                per_second[st_] += 1
    assert summed == approx_list(per_second)


@SETTINGS
@given(span_lists(), st.integers(-60, 200))
def test_spans_trim_keeps_later_totals(spans: list[Span], before: int) -> None:
    """Trimming old spans leaves the totals of any window after the horizon unchanged."""
    sp, trimmed = Spans(), Spans()
    for span in spans:
        sp.append(*span)
        trimmed.append(*span)
    trimmed.trim(before)
    assert all(e > before for e in trimmed.ends)
    assert trimmed.totals(before, before + 300) == approx_list(sp.totals(before, before + 300))


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.floats(0.0, 1.0, allow_nan=False), st.sampled_from([1.7e9, 0.0]))
def test_fractional_times_match_reference_scaled(
    sc: Scenario, frac: float, base: float,
) -> None:
    """An epoch-sized fractional time shift changes no figure and yields no negative total."""
    off = base + frac
    shifted = {
        n: [Check(c.target, c.at + off, c.ok, c.interval, network=c.network, unknown=c.unknown)
            for c in cs]
        for n, cs in sc.checks.items()
    }
    windows = [window(w.id, w.start + off, w.end + off, w.targets, w.excluded)
               for w in sc.windows]
    plain, moved = tracker_for(sc), Tracker(sc.critical, windows=windows)
    for cs in shifted.values():
        for c in cs:
            moved.add(c)
    for name in sc.critical:
        f = plain.target_figures(name, sc.a, sc.b, sc.now)
        g = moved.target_figures(name, sc.a + off, sc.b + off, sc.now + off)
        got = [g.up, g.down, g.probe_network, g.maintenance]
        assert got == pytest.approx([f.up, f.down, f.probe_network, f.maintenance], abs=1e-5)
        assert min(got) >= 0.0
    s1 = plain.service_timeline(sc.a, sc.b, sc.now).totals(sc.a, sc.b)
    s2 = moved.service_timeline(sc.a + off, sc.b + off, sc.now + off).totals(sc.a + off, sc.b + off)
    assert s2 == pytest.approx(s1, abs=1e-5)
