"""A scrape serves each target's kept lines unless its figures may have changed; the
text it serves equals, byte for byte, that of a scrape made from nothing, at every
scrape of scripted and random histories: the stored history read after a minute,
outages, unknown checks, gaps, coverage running out, maintenance starting and
ending, credit moving, a month closing, a reload adding and removing targets and
changing the windows."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Generator
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import EXCUSED, Window
from slaprobe.core.model import Check
from slaprobe.core.timefmt import parse_instant
from slaprobe.metrics.exposition import Family, encode
from slaprobe.metrics.instruments import SlaFigures, Snapshot

IV = 30.0
WINDOWS = (("5m", 300.0), ("10m", 600.0))


def fresh(snap: Snapshot, tr: Tracker) -> bytes:
    """The scrape made from nothing, every target's figures computed from its timeline
    (every target named as anything but one up run: no shortcut)."""
    with mock.patch("slaprobe.metrics.instruments._run_starts",
                    lambda tr, lengths, now: dict.fromkeys(tr.critical)):
        return encode(asyncio.run(SlaFigures().families(snap, chunk=3)))


def maintenance(targets: tuple[str, ...] | None, s: float, e: float) -> Window:
    return Window(f"m{s}", s, e, s - 9e5, s - 9e5, targets, "", "config", EXCUSED, True)


def replay(rng: random.Random, start: float, n: int, seconds: int, *, every: int,
           p_change: float, windows: list[Window]) -> list[int]:
    """Scrapes every `every` seconds, each compared with a fresh one; how many targets
    each made again."""
    critical = {f"t{i}": i % 3 != 2 for i in range(n)}
    tr = Tracker(critical, windows=windows)
    last: dict[str, Check] = {}
    state = dict.fromkeys(critical, "up")
    silent: dict[str, float] = {}
    next_at = {name: start + rng.uniform(0, IV) for name in critical}
    kept = SlaFigures()
    rendered = []
    target_windows: frozenset[str] | None = None
    for sec in range(seconds):
        now = start + sec
        for name in list(tr.critical):
            if next_at.get(name, now + 1) > now:
                continue
            at = next_at[name]
            next_at[name] = at + IV
            if rng.random() < p_change:
                state[name] = rng.choice(["up", "up", "down", "network", "unknown"])
                if rng.random() < 0.15:
                    silent[name] = at + rng.uniform(IV, 4 * IV)  # no checks: coverage ends
            if silent.get(name, -1.0) > at:
                continue
            s = state[name]
            c = Check(name, at, s == "up", IV, network=s == "network", unknown=s == "unknown")
            tr.add(c)
            last[name] = c
        if sec % 3 == 0:
            tr.update_credit(now, service_step=10.0)
        if sec == seconds // 2:  # a reload: one target added, one removed, fewer windows
            critical = {**{k: v for k, v in critical.items() if k != "t0"}, "late": True}
            last.pop("t0", None)
            next_at["late"], state["late"] = now + 2.0, "up"
            tr.reconfigure(critical, {})
            target_windows = frozenset({"5m", "month"})
        if sec % every == 0:
            # the stored history not read yet (every ratio unknown): the first minute,
            # and (as a daemon whose store went away and came back) a minute late on
            snap = Snapshot(now=now, service="svc", objective=0.999, windows=WINDOWS,
                            tracker=tr, last=last, target_windows=target_windows,
                            history_read=not (sec < 60 or 640 <= sec < 700))
            got = encode(asyncio.run(kept.families(snap, chunk=3)))
            want = fresh(snap, tr)
            assert got == want, now
            rendered.append(kept.rendered)
    return rendered


def test_scripted_history_across_a_month_end_serves_what_a_fresh_scrape_serves() -> None:
    start = parse_instant("2026-12-31T23:50:00Z")  # the month window restarts inside
    windows = [maintenance(("t1",), start + 200, start + 320),
               maintenance(None, start + 700, start + 1100)]  # longer than 5m: NaN
    rendered = replay(random.Random(3), start, 7, 1200, every=5, p_change=0.05,
                      windows=windows)
    assert min(rendered) < 7  # past the month's end some targets serve their kept lines


def test_a_quiet_fleet_renders_only_what_changed() -> None:
    start = parse_instant("2026-12-10T10:00:00Z")
    names = [f"t{i:02d}" for i in range(30)]
    tr = Tracker(dict.fromkeys(names, True))
    last: dict[str, Check] = {}
    for k in range(130):  # more than the longest window (1h) of checks, all up
        for name in names:
            last[name] = c = Check(name, start + k * IV, True, IV)
            tr.add(c)
    now = start + 129 * IV + 1
    tr.update_credit(now)
    figures = SlaFigures()

    def scrape(at: float) -> bytes:
        snap = Snapshot(now=at, service="svc", objective=0.999, windows=(("1h", 3600.0),),
                        tracker=tr, last=last, target_windows=frozenset({"1h"}))
        out = encode(asyncio.run(figures.families(snap)))
        assert out == fresh(snap, tr)
        return out

    scrape(now)
    assert figures.rendered == figures.visited == 30
    scrape(now + 1)
    assert figures.rendered == figures.visited == 0  # nothing changed: nothing looked at
    last["t05"] = c = Check("t05", start + 130 * IV, False, IV)
    tr.add(c)
    scrape(now + 2)
    assert figures.rendered == figures.visited == 1  # only the target that was checked
    tr.update_credit(now + 3)  # its credit moves (the others' had no check)
    scrape(now + 3)
    assert figures.rendered == figures.visited == 1
    scrape(now + 4)  # t05 is down: not steady, looked at every scrape (its ratios slide)
    assert (figures.rendered, figures.visited) == (1, 1)
    scrape(start + 131 * IV)  # the others' coverage ran out (no check for two intervals)
    assert figures.visited == 30


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_random_histories_serve_what_a_fresh_scrape_serves(data: st.DataObject) -> None:
    start = parse_instant("2026-12-31T23:30:00Z") + data.draw(st.integers(0, 3600))
    n = data.draw(st.integers(1, 6))
    windows = []
    for _ in range(data.draw(st.integers(0, 3))):
        s = start + data.draw(st.integers(0, 500))
        who = data.draw(st.sampled_from([None, ("t0",), (f"t{n - 1}", "t1")]))
        windows.append(maintenance(who, s, s + data.draw(st.integers(1, 200))))
    replay(random.Random(data.draw(st.integers(0, 2**32))), start, n, 600,
           every=data.draw(st.sampled_from([1, 4, 15])),
           p_change=data.draw(st.sampled_from([0.02, 0.2])), windows=windows)


def _run(build: Generator[None, None, list[Family]]) -> list[Family]:
    while True:
        try:
            next(build)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def test_two_scrapes_interleaved_with_a_reload_leave_no_stale_lines() -> None:
    """Two scrapes that overlap (each yielding to the loop between slices of targets)
    with a reload between their starts: the scrape after them is what a fresh one is."""
    start = parse_instant("2026-12-10T10:00:00Z")
    names = [f"t{i:02d}" for i in range(12)]
    tr = Tracker(dict.fromkeys(names, True))
    last: dict[str, Check] = {}
    for k in range(20):  # up throughout the 5 minutes served: steady, kept lines
        for name in names:
            last[name] = c = Check(name, start + k * IV, k != 3 or name != "t03", IV)
            tr.add(c)
    figures = SlaFigures()

    def snap(at: float) -> Snapshot:
        return Snapshot(now=at, service="svc", objective=0.999, windows=(("5m", 300.0),),
                        tracker=tr, last=last, target_windows=frozenset({"5m"}))

    now = start + 19 * IV + 1
    _run(figures._build(snap(now), chunk=3))
    for name in names:  # checked again: the next scrape looks at each (in slices)
        last[name] = c = Check(name, start + 20 * IV, True, IV)
        tr.add(c)
    now += IV
    a = figures._build(snap(now + 1), chunk=3)
    next(a)
    tr.reconfigure({**dict.fromkeys(names, True), "late": True}, {})
    b = figures._build(snap(now + 2), chunk=3)
    next(b)
    _run(a)
    _run(b)
    again = snap(now + 3)
    assert encode(asyncio.run(figures.families(again))) == fresh(again, tr)
