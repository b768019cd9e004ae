#!/usr/bin/env python3
"""Cost of a /metrics scrape and of the once-a-second sweeps, per number of targets.

In memory, no network: N targets (default 1,000, 5,000 and 10,000) checked every
--interval seconds (60), each with --days (31) days of timeline behind it (a scatter of
outages on one in twenty, a few hours of unknown time on one in fifty, a
maintenance window on one in a hundred), fed check by check on a simulated clock:
0.2% of checks fail at random and one target in 500 is down for --outage seconds
during the run. Each simulated second does what housekeeping does (credit, the
incident book, the systemd status counts); every --scrape-every seconds (15) a full
/metrics is rendered (`Exporter.render`, as the daemon serves it).

Printed per N: the first scrape, then p50 / max of the later ones (ms) and the body
size; the mean milliseconds of one housekeeping second. Figures are printed, never
asserted; the machine's load average is printed with them.

Usage: .venv/bin/python benchmarks/bench_scrape.py [--targets 1000 5000 10000]
       [--interval 60] [--seconds 120] [--scrape-every 15] [--outage 180] [--days 31]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import time

import structlog
from _common import loadavg

from slaprobe.core.history.latest import LatestChecks
from slaprobe.core.history.timeline import History, OpenRun
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.incidents.rules import Support
from slaprobe.core.maintenance.rules import EXCUSED, Window
from slaprobe.core.model import Check, State
from slaprobe.incidents.desk import IncidentDesk
from slaprobe.metrics.instruments import Exporter, Instruments, Snapshot
from slaprobe.ops.rooms import states

START = 1_800_000_000.0  # 2027-01-15
DAY = 86400.0
TARGET_WINDOWS = frozenset({"1h", "30d", "month"})  # the benchmarks' lean choice
WINDOWS = (("1h", 3600.0), ("1d", 86400.0), ("7d", 604800.0), ("30d", 2592000.0))


def past(rng: random.Random, a: float, b: float, interval: float) -> History:
    """31 days of one target's timeline as the store would give it, open up to b."""
    h = History()
    events: list[tuple[float, float, State | None]] = []
    if b - a < 7 * 3600:  # a young history (a daemon started lately): one up run
        h.open = OpenRun(a + rng.uniform(0, interval), State.UP, b - interval / 2,
                         b + 1.5 * interval)
        return h
    if rng.random() < 0.05:
        for _ in range(rng.randint(1, 4)):
            s = rng.uniform(a, b - 3600)
            events.append((s, s + rng.uniform(60, 1800), State.DOWN))
    if rng.random() < 0.02:
        s = rng.uniform(a, b - 6 * 3600)
        events.append((s, s + rng.uniform(600, 4 * 3600), None))
    events.sort()
    at = a
    for s, e, st in events:
        if s < at:
            continue
        h.spans.append(at, s, State.UP)
        if st is not None:
            h.spans.append(s, e, st)
        at = e
    last = b - rng.uniform(0, interval)
    h.open = OpenRun(at, State.UP, last, last + 2 * interval)
    return h


async def run(n: int, args: argparse.Namespace) -> None:
    rng = random.Random(n)
    names = [f"t{i:05d}" for i in range(n)]
    now = START
    windows = [Window(f"m-{x}", now - 5 * DAY, now - 5 * DAY + 7200, now - 9 * DAY,
                      now - 9 * DAY, (x,), "upgrade", "probe.toml", EXCUSED, True)
               for x in names[::100]]
    hist = {x: past(rng, now - args.days * DAY, now, args.interval) for x in names}
    tracker = Tracker({x: i % 5 != 4 for i, x in enumerate(names)}, hist, windows)
    inst = Instruments(latency_histogram=False)
    desk = IncidentDesk(Support(), now - 31 * DAY, structlog.get_logger())
    last: dict[str, Check] = LatestChecks()  # as the recorder keeps them
    clock = [now]

    def snapshot() -> Snapshot:
        at = clock[0]
        return Snapshot(now=at, service="bench", objective=0.999, windows=WINDOWS,
                        tracker=tracker, last=last, incidents=desk.families(tracker, at),
                        target_windows=None if args.all_windows else TARGET_WINDOWS)

    exporter = Exporter(inst, snapshot)
    slot = {x: hist[x].open.last_at for x in names}  # type: ignore[union-attr]
    downs = {x: now + rng.uniform(0, args.seconds / 2) for x in names[::500]}
    tracker.update_credit(now)
    desk.update(tracker, now)
    t0 = time.perf_counter()
    body = await exporter.render()
    first = time.perf_counter() - t0
    scrapes: list[float] = []
    rendered: list[int] = []
    visited: list[int] = []
    house: list[float] = []
    for sec in range(1, int(args.seconds) + 1):
        now = clock[0] = START + sec
        for x in names:
            if slot[x] + args.interval <= now:
                at = slot[x] = slot[x] + args.interval
                d = downs.get(x)
                ok = not (d is not None and d <= at < d + args.outage) and rng.random() >= 0.002
                c = Check(x, at, ok, args.interval, latency=0.01, status=200 if ok else 503,
                          error=None if ok else "bad_status")
                tracker.add(c)
                last[x] = c
                inst.probe.observe(x, "success" if ok else "bad_status", 0.01)
        t0 = time.perf_counter()
        tracker.update_credit(now, service_step=10.0)
        desk.update(tracker, now)
        states(last)
        house.append(time.perf_counter() - t0)
        if sec % args.scrape_every == 0:
            t0 = time.perf_counter()
            body = await exporter.render()
            scrapes.append(time.perf_counter() - t0)
            rendered.append(getattr(exporter.figures, "rendered", n))
            visited.append(getattr(exporter.figures, "visited", n))
    print(f"{n:6d} targets @ {args.interval:g} s: scrape first {first * 1000:7.1f} ms, "
          f"then p50 {statistics.median(scrapes) * 1000:7.1f} ms, "
          f"max {max(scrapes) * 1000:7.1f} ms ({len(scrapes)} scrapes), "
          f"{len(body) / 1e6:5.2f} MB, {statistics.mean(visited):.0f} targets looked at and "
          f"{statistics.mean(rendered):.0f} targets' lines made again per scrape; "
          f"housekeeping second "
          f"{statistics.mean(house) * 1000:6.2f} ms mean", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", type=int, nargs="+", default=[1000, 5000, 10000])
    p.add_argument("--interval", type=float, default=60.0)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--scrape-every", type=int, default=15)
    p.add_argument("--outage", type=float, default=180.0)
    p.add_argument("--days", type=float, default=31.0,
                   help="days of timeline behind each target (31; e.g. 0.01: a daemon "
                        "started a quarter of an hour ago, every target one up run)")
    p.add_argument("--all-windows", action="store_true",
                   help="per-target ratios for every window (the default config) instead "
                        "of the lean 1h, 30d and month")
    args = p.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    print(f"load average {loadavg()}")
    for n in args.targets:
        asyncio.run(run(n, args))
    print(f"load average {loadavg()}")


if __name__ == "__main__":
    main()
