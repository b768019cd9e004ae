#!/usr/bin/env python3
"""Memory over a compressed soak: a day (or more) of simulated time on a FakeClock.

The daemon's rooms after the network, on `slaprobe.clock.FakeClock`: checks of N
targets (default 1,000 every 60 s, 0.2% failing at random, one 5-minute outage per
target every 4 hours) go through the real `Recorder` (the live timelines, and
batches written to a real SQLite store in a temporary directory), the attempt
statistics are counted, housekeeping's credit moves every simulated second, a
full /metrics (`Exporter.render`) is made every --scrape-every simulated seconds
(300), and every simulated hour the store is pruned past --retention hours and
the timelines trimmed past --horizon hours (defaults 6 and 6, so both happen
within the run), as the daemon's hourly prune does. Time moves only when the
soak says, so a day takes minutes.

Printed per simulated hour: objects the garbage collector tracks, RSS, spans kept
in memory, checks in the store, wall seconds. Flat means: once the horizon is
reached, objects, spans and RSS stop growing. Figures are printed, never asserted.

Usage: .venv/bin/python benchmarks/bench_soak.py [--targets 1000] [--interval 60]
       [--hours 24] [--horizon 6] [--retention 6]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import structlog
from _common import mb

from slaprobe.clock import FakeClock
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check
from slaprobe.history.recorder import Recorder
from slaprobe.history.store import Store
from slaprobe.metrics.instruments import Exporter, Instruments, Snapshot

START = 1_800_000_000.0
WINDOWS = (("1h", 3600.0), ("1d", 86400.0), ("7d", 604800.0), ("30d", 2592000.0))


async def soak(args: argparse.Namespace, folder: Path) -> None:
    rng = random.Random(1)
    clock = FakeClock(START, settle=3)
    names = [f"t{i:05d}" for i in range(args.targets)]
    store = Store(folder / "soak.db")
    tracker = Tracker(dict.fromkeys(names, True))
    inst = Instruments(latency_histogram=False)
    log = structlog.get_logger().bind()
    recorder = Recorder(store, tracker, clock, inst, log, horizon=args.horizon * 3600.0,
                        generation=store.generation())
    writer = asyncio.create_task(recorder.run())
    exporter = Exporter(inst, lambda: Snapshot(
        now=clock.now(), service="soak", objective=0.999, windows=WINDOWS, tracker=tracker,
        last=recorder.last, target_windows=None))  # every window: the default config
    slot = {n: int(rng.random() * args.interval) for n in names}
    due: dict[int, list[str]] = {}
    for n, s in slot.items():
        due.setdefault(s, []).append(n)
    outage_every = 4 * 3600.0
    outages = {n: rng.random() * outage_every for n in names}
    seconds = int(args.hours * 3600)
    scrape_bytes = 0
    t0 = time.perf_counter()
    print(f"{args.targets} targets every {args.interval:g}s for {args.hours:g} simulated hours;"
          f" timelines trimmed past {args.horizon:g} h, the store pruned past"
          f" {args.retention:g} h")
    print("sim hour | gc objects | RSS     | spans kept | checks stored | /metrics | wall s")
    for sec in range(1, seconds + 1):
        at = clock.now()
        for n in due.get(sec % int(args.interval), ()):
            in_outage = 0 <= (at - START - outages[n]) % outage_every < 300.0
            ok = not in_outage and rng.random() >= 0.002
            inst.probe.observe(n, "success" if ok else "bad_status", 0.01)
            recorder.record(Check(n, at, ok, args.interval, latency=0.01,
                                  status=200 if ok else 503,
                                  error=None if ok else "bad_status"))
        await clock.advance(1.0)
        tracker.update_credit(clock.now(), service_step=10.0)
        if sec % args.scrape_every == 0:
            scrape_bytes = len(await exporter.render())
        if sec % 3600 == 0:
            await _drained(recorder)
            await recorder.prune(args.retention * 3600.0)
            gc.collect()
            spans = sum(len(h.spans) for h in tracker.histories.values())
            stored = _count(folder / "soak.db")
            print(f"{sec / 3600:8.0f} | {len(gc.get_objects()):10d} | {_rss():>7} | "
                  f"{spans:10d} | {stored:13d} | {scrape_bytes / 1e6:5.2f} MB |"
                  f" {time.perf_counter() - t0:6.1f}", flush=True)
    await recorder.close(writer)
    store.close()


async def _drained(recorder: Recorder) -> None:
    """Wait until the writer (a real thread behind the fake clock) wrote everything."""
    for _ in range(100_000):
        if not recorder.pending:
            return
        await asyncio.sleep(0.01)


def _count(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM checks").fetchone()[0])
    finally:
        db.close()


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
    ap.add_argument("--scrape-every", type=int, default=300)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--horizon", type=float, default=6.0)
    ap.add_argument("--retention", type=float, default=6.0)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory(prefix="slaprobe-soak-") as folder:
        asyncio.run(soak(args, Path(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
