"""The run index answers without visiting every target: which timelines moved since
an instant, which may not be up throughout a stretch, the earliest final instant.
Whatever it leaves out, the service timeline swept with it equals the sweep of every
critical target, the service's state at an instant equals the one from every critical
target, and the final instants equal a scan of every timeline, at every
step of scripted and random histories (checks up, down, probe_network, unknown,
gaps of no data, maintenance, targets added by a reload)."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.core.history.targets import TargetTimelines
from slaprobe.core.history.timeline import Spans, service_rule, service_spans
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import EXCUSED, Window
from slaprobe.core.model import Check, State

IV = 30.0
A = 1_800_000_000.0


def full_sweep(tr: TargetTimelines, a: float, b: float, now: float) -> Spans:
    """The service's spans in [a, b) from every critical target's spans."""
    out = Spans()
    for pa, pb, names in tr.critical_parts(a, b):
        for sp in service_spans([tr.target_spans(n, pa, pb, now) for n in names], pa, pb):
            out.append(*sp)
    return out


def spans_of(s: Spans) -> list[tuple[float, float, int]]:
    return list(zip(s.starts, s.ends, s.states, strict=True))


def scan_final(tr: TargetTimelines, critical_only: bool) -> float | None:
    finals = [tr.histories[n].final_until() for n, c in tr.critical.items()
              if c or not critical_only]
    if critical_only:
        return None if not finals or None in finals else min(f for f in finals if f)
    known = [f for f in finals if f is not None]
    return min(known) if known else None


def agree(tr: Tracker, now: float, rng: random.Random) -> None:
    assert tr.final_until() == scan_final(tr, False), now
    for at in (now, now + 0.5, now + IV, now + 3 * IV):  # coverage runs out by time alone
        assert tr.service_state(at) == scan_state(tr, at), (now, at)
    assert tr.service_final() == scan_final(tr, True), now
    for at in (now - 10 * IV, now - 3 * IV, now - IV, now - 7.5, now, A - 100.0):
        moved = tr.moved_since(at)
        assert {n for n in tr.critical if not tr.up_since(n, at)} <= moved, (now, at)
    for _ in range(4):
        a = rng.choice([A - 50.0, now - 40 * IV, now - rng.uniform(0, 20 * IV),
                        now - 2 * IV, now - 1.0])
        b = rng.choice([now, now - rng.uniform(0, 2 * IV), a + rng.uniform(0, 3 * IV)])
        b = min(b, now)
        got = spans_of(tr._service_sweep(a, b, now))
        assert got == spans_of(full_sweep(tr, a, b, now)), (now, a, b)


def replay(rng: random.Random, n: int, seconds: int, *, p_change: float,
           windows: list[Window], critical: dict[str, bool]) -> None:
    tr = Tracker(critical, windows=windows)
    state = dict.fromkeys(critical, "up")
    silent: dict[str, float] = {}
    next_at = {name: A + rng.uniform(0, IV) for name in critical}
    first: float | None = None  # where the service's credit starts
    for sec in range(seconds):
        now = A + sec
        for name in critical:
            if next_at[name] > now:
                continue
            at = next_at[name]
            next_at[name] = at + IV
            if rng.random() < p_change:
                state[name] = rng.choice(["up", "up", "down", "network", "unknown"])
                if rng.random() < 0.2:
                    silent[name] = at + rng.uniform(IV, 5 * IV)  # no checks: a gap
            if silent.get(name, -math.inf) > at:
                continue
            s = state[name]
            tr.add(Check(name, at, s == "up", IV, network=s == "network",
                         unknown=s == "unknown"))
        if sec % 7 == 0:
            agree(tr, now, rng)
        if sec % 11 == 0:
            tr.update_credit(now, service_step=10.0)
            sc = tr.service_credit
            if first is None:
                first = sc.until
            elif sec < seconds // 2:  # the credited service time equals the full sweep's
                want = full_sweep(tr, first, sc.until, now).totals(first, sc.until)
                assert [round(x, 6) for x in sc.seconds] == [round(x, 6) for x in want], now
        if sec == seconds // 2:  # a reload adds a target
            critical = {**critical, "late": True}
            state["late"] = "up"
            next_at["late"] = now + 1.0
            tr.reconfigure(critical, {})


def maintenance(targets: tuple[str, ...] | None, s: float, e: float) -> Window:
    return Window(f"m{s}", s, e, A - 9e5, A - 9e5, targets, "", "config", EXCUSED, True)


def test_scripted_outages_gaps_and_maintenance_sweep_like_every_target() -> None:
    critical = {f"t{i}": i % 4 != 3 for i in range(8)}
    windows = [maintenance(("t1",), A + 200, A + 400), maintenance(None, A + 900, A + 960)]
    replay(random.Random(7), 8, 1500, p_change=0.08, windows=windows, critical=critical)


def test_a_quiet_fleet_reads_only_the_targets_that_moved() -> None:
    critical = {f"t{i:02d}": True for i in range(40)}
    tr = Tracker(critical)
    for k in range(10):
        for name in critical:
            tr.add(Check(name, A + k * IV, not (name == "t07" and k >= 8), IV))
    now = A + 9 * IV + 1
    assert tr.moved_since(A + 5 * IV) == {"t07"}
    assert tr.index.unsteady(A + 5 * IV, now, now) == {"t07"}
    assert spans_of(tr._service_sweep(A + 5 * IV, now, now)) == spans_of(
        full_sweep(tr, A + 5 * IV, now, now))
    # a target whose checks stopped: its coverage ends, it is read again
    later = A + 9 * IV + 2 * IV + 5
    assert tr.index.unsteady(A + 5 * IV, later, later) == set(critical)
    assert spans_of(tr._service_sweep(A + 5 * IV, later, later)) == spans_of(
        full_sweep(tr, A + 5 * IV, later, later))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_random_histories_sweep_like_every_target(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 7))
    critical = {f"t{i}": data.draw(st.booleans()) for i in range(n)}
    windows = []
    for _ in range(data.draw(st.integers(0, 3))):
        s = A + data.draw(st.integers(0, 600))
        who = data.draw(st.sampled_from([None, ("t0",), (f"t{n - 1}", "t0")]))
        windows.append(maintenance(who, s, s + data.draw(st.integers(1, 300))))
    replay(random.Random(data.draw(st.integers(0, 2**32))), n, 700,
           p_change=data.draw(st.sampled_from([0.02, 0.1, 0.4])), windows=windows,
           critical=critical)


def scan_state(tr: TargetTimelines, now: float) -> object:
    """The service's state at `now` from every critical target's effective state."""
    counts = [0] * len(State)
    names = [n for n, c in tr.critical.items() if c]
    for name in names:
        st = tr.effective_state(name, now)
        if st is not None:
            counts[st] += 1
    return service_rule(counts, len(names)) if names else None
