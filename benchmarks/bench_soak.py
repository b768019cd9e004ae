#!/usr/bin/env python3
"""Memory over a compressed soak: a day (or more) of simulated time in seconds.

The daemon's in-memory path without the network or the disk: checks of N
targets (default 1,000 every 60 s, 0.2% failing at random, one 5-minute outage
per target every few hours) are folded into the `Tracker` in time order, with
credit updated after every round of checks, the attempt statistics counted, a
full /metrics rendered every --scrape-every simulated seconds (300), and the
timelines trimmed every simulated hour as the daemon's prune does (with a
horizon of --horizon hours, default 6, so trimming happens within the run).
Time is a number passed in (a fake clock), so a day takes a minute or two.

Printed per simulated hour: objects the garbage collector tracks, RSS, spans
kept. Flat means: after the first horizon, objects and RSS stop growing. Figures are
printed, never asserted.

Usage: .venv/bin/python benchmarks/bench_soak.py [--targets 1000] [--interval 60]
       [--hours 24] [--horizon 6]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import time

from _common import mb
from prometheus_client import CollectorRegistry

from slaprobe import exposition
from slaprobe.core.model import Check
from slaprobe.core.tracker import Tracker
from slaprobe.metrics import Instruments, SlaCollector, Snapshot

START = 1_800_000_000.0
WINDOWS = (("1h", 3600.0), ("1d", 86400.0), ("7d", 604800.0), ("30d", 2592000.0))


async def soak(args: argparse.Namespace) -> None:
    rng = random.Random(1)
    names = [f"t{i:05d}" for i in range(args.targets)]
    tracker = Tracker(dict.fromkeys(names, True))
    inst = Instruments(CollectorRegistry(), latency_histogram=False)
    last: dict[str, Check] = {}
    now = START
    sla = SlaCollector(lambda: Snapshot(
        now=now, service="soak", objective=0.999, windows=WINDOWS, tracker=tracker, last=last,
        target_windows=frozenset({"1h", "30d", "month"})))
    offsets = {n: rng.random() * args.interval for n in names}
    outage_every = 4 * 3600.0
    outages = {n: rng.random() * outage_every for n in names}
    end = START + args.hours * 3600.0
    t0 = time.perf_counter()
    print(f"{args.targets} targets every {args.interval:g}s for {args.hours:g} simulated hours, "
          f"horizon {args.horizon:g} h")
    print("sim hour | gc objects  | RSS     | spans kept | wall s")
    tick = START
    next_scrape, next_hour = START + args.scrape_every, START + 3600.0
    while tick < end:
        tick += args.interval
        for n in names:
            at = tick + offsets[n] - args.interval
            in_outage = 0 <= (at - START - outages[n]) % outage_every < 300.0
            ok = not in_outage and rng.random() >= 0.002
            c = Check(n, at, ok, args.interval, latency=0.01, status=200 if ok else 503,
                      error=None if ok else "bad_status")
            tracker.add(c)
            last[n] = c
            inst.probe.observe(n, "success" if ok else "bad_status", 0.01)
        now = tick
        tracker.update_credit(now)
        if tick >= next_scrape:
            next_scrape += args.scrape_every
            fams = [*await sla.collect_async(), *inst.probe.families()]
            exposition.encode([*inst.collect(), *fams])
        if tick >= next_hour:
            next_hour += 3600.0
            tracker.trim(now - args.horizon * 3600.0)
            gc.collect()
            objects = len(gc.get_objects())
            spans = sum(len(h.spans) for h in tracker.histories.values())
            print(f"{(tick - START) / 3600:8.0f} | {objects:11d} | {_rss():>7} | "
                  f"{spans:10d} | {time.perf_counter() - t0:6.1f}", flush=True)


def _rss() -> str:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return mb(int(line.split()[1]) * 1024)
    return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=60.0)
    ap.add_argument("--scrape-every", type=float, default=300.0)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--horizon", type=float, default=6.0)
    args = ap.parse_args()
    asyncio.run(soak(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
