#!/usr/bin/env python3
"""Cost of incidents: `slaprobe incidents --month` on a month of history, and the
scrape-time cost of the incident metrics at 1,000 targets.

1. History: T targets (default 100) x D days (default 30) of checks every 30 s
   (8.64 million checks), written through the real Store (which folds them into
   its stored timelines, as the daemon does), ending at the start of the
   current UTC hour. About 0.2% of checks fail at random, plus a few
   multi-minute outages (the first one hits every target); the calendar is the
   shipped probe.toml's (Europe/London, GB-ENG holidays, merge_gap 15m).
   Measured: `slaprobe incidents --month <the month holding most of the data>
   --format json` and `--format text` as child processes: wall and CPU time,
   peak RSS, the number of incidents (printed for sanity).
2. Scrape: N targets (default 1,000) at 30 s in a Tracker holding H hours of
   history (default 24) with random failures, as in the daemon. Between
   scrapes one interval of new checks arrives (so the incremental incident
   book has new work each time), then the collector builds every metric
   family; the same with and without the incident families. Printed: p50 and
   mean of each and the relative difference.

Aims from the issue: the month's incidents under 1 s; scrape time with the
incident metrics within 5% of without, at 1,000 targets. Printed, never asserted.

Usage: python benchmarks/bench_incidents.py [--targets 100] [--days 30]
       [--scrape-targets 1000] [--hours 24] [--scrapes 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import ms, run_measured, slaprobe_cmd

from slaprobe.config import parse
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check
from slaprobe.history.store import Store
from slaprobe.incidents.desk import IncidentDesk
from slaprobe.metrics.instruments import SlaCollector, Snapshot

IV = 30.0
SUPPORT = """
[support]
timezone = "Europe/London"
hours = "09:00-17:00"
days = "mon-fri"
holidays = "GB"
holidays_subdivision = "ENG"
merge_gap = "15m"
"""


class Quiet:
    def __getattr__(self, _: str) -> object:
        return lambda *a, **k: None


def outages(rng: random.Random, names: list[str], a: float, b: float, n: int,
            ) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {t: [] for t in names}
    for k in range(n):
        start = rng.uniform(a, b - 3600)
        hit = names if k == 0 else rng.sample(names, rng.randint(1, 5))
        for t in hit:
            out[t].append((start, start + rng.uniform(120, 1800)))
    return out


def checks_of(name: str, a: float, b: float, rng: random.Random, *, fail: float,
              down: list[tuple[float, float]]) -> list[Check]:
    out = []
    at = a
    while at < b:
        bad = rng.random() < fail or any(s <= at < e for s, e in down)
        out.append(Check(name, at, not bad, IV, error="timeout" if bad else None))
        at += IV
    return out


def history(args: argparse.Namespace, work: Path) -> tuple[Path, str]:
    rng = random.Random(args.seed)
    end = (time.time() // 3600) * 3600
    start = end - args.days * 86400
    names = [f"t{i:03d}" for i in range(args.targets)]
    cfg = work / "probe.toml"
    targets = "".join(f'[[targets]]\nname = "{n}"\nurl = "http://127.0.0.1:9/{n}"\n'
                      f'critical = {"true" if i % 4 else "false"}\n'
                      for i, n in enumerate(names))
    cfg.write_text(f'[daemon]\ndatabase = "{work / "h.db"}"\n[defaults]\ninterval = "30s"\n'
                   f"{SUPPORT}\n{targets}")
    down = outages(rng, names, start, end, args.outages)
    t0 = time.perf_counter()
    store = Store(work / "h.db")
    n = 0
    for name in names:
        batch = checks_of(name, start, end, rng, fail=args.fail_rate, down=down[name])
        for i in range(0, len(batch), 20000):
            store.write(batch[i:i + 20000])
        n += len(batch)
    store.close()
    print(f"history: {n:,} checks ({args.targets} targets x {args.days} days at 30 s) "
          f"written through the store in {time.perf_counter() - t0:.1f} s")
    mid = dt.datetime.fromtimestamp((start + end) / 2, dt.UTC)
    month = f"{mid.year:04d}-{mid.month:02d}"
    days_in = calendar.monthrange(mid.year, mid.month)[1]
    print(f"month {month} ({days_in} days; the history covers "
          f"{dt.datetime.fromtimestamp(start, dt.UTC):%Y-%m-%d %H:%M} .. "
          f"{dt.datetime.fromtimestamp(end, dt.UTC):%Y-%m-%d %H:%M} UTC)")
    return cfg, month


def bench_command(cfg: Path, month: str) -> None:
    for fmt in ("json", "text"):
        runs = [run_measured(slaprobe_cmd("incidents", "--config", str(cfg), "--month", month,
                                          "--format", fmt), timeout=600) for _ in range(3)]
        for r in runs:
            if r.returncode != 0:
                raise SystemExit(f"slaprobe incidents failed: {r.stderr}")
        best = min(runs, key=lambda r: r.wall)
        extra = ""
        if fmt == "json":
            items = json.loads(best.stdout)["incidents"]
            by = Counter((i["priority"], i["resolution"]) for i in items)
            extra = f"; {len(items)} incidents " + ", ".join(
                f"{p}/{r} {c}" for (p, r), c in sorted(by.items()))
        print(f"slaprobe incidents --month {month} --format {fmt}: wall {ms(best.wall)} "
              f"(runs {', '.join(ms(r.wall) for r in runs)}), CPU {ms(best.cpu)}, "
              f"peak RSS {best.maxrss_kb / 1024:.0f} MB{extra}")
    v = run_measured(slaprobe_cmd("--version"), timeout=60)
    print(f"  (interpreter + import overhead, `slaprobe --version`: {ms(v.wall)})")


def bench_scrape(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed + 1)
    names = [f"t{i:04d}" for i in range(args.scrape_targets)]
    raw = {"support": {"timezone": "Europe/London", "holidays": "GB", "merge_gap": "15m"},
           "targets": [{"name": n, "url": f"http://127.0.0.1:9/{n}", "critical": i % 4 != 0}
                       for i, n in enumerate(names)]}
    cfg = parse(raw, env={})
    now = time.time()
    start = now - args.hours * 3600
    tracker = Tracker({t.name: t.critical for t in cfg.targets})
    per = {n: checks_of(n, start, now + args.scrapes * IV, rng, fail=args.fail_rate, down=[])
           for n in names}
    cursor = {n: 0 for n in names}

    def feed(until: float) -> dict[str, Check]:
        last = {}
        for n in names:
            cs, i = per[n], cursor[n]
            while i < len(cs) and cs[i].at < until:
                tracker.add(cs[i])
                i += 1
            cursor[n] = i
            if i:
                last[n] = cs[i - 1]
        return last

    t = now
    last = feed(t)
    desk = IncidentDesk(cfg.support, start, Quiet())
    collector = SlaCollector(lambda: None)
    with_inc: list[float] = []
    without: list[float] = []
    inc_only: list[float] = []
    n_open = 0
    for k in range(args.scrapes):
        t += IV
        last = feed(t)
        tracker.update_credit(t)
        for sample, incl in ((without, False), (with_inc, True)) if k % 2 else (
                (with_inc, True), (without, False)):
            t0 = time.perf_counter()
            fams = desk.families(tracker, t) if incl else []
            if incl:
                inc_only.append(time.perf_counter() - t0)
            snap = Snapshot(now=t, service="svc", objective=0.999, windows=cfg.slo.windows,
                            tracker=tracker, last=last, incidents=fams)
            build = collector._build(snap, chunk=1 << 30)
            try:
                while True:
                    next(build)
            except StopIteration:
                pass
            sample.append(time.perf_counter() - t0)
            if incl:
                n_open = sum(i.open for i in desk.book.all(t))
    first = with_inc[0]
    w, wo = with_inc[1:], without[1:]
    print(f"scrape build at {args.scrape_targets} targets ({args.hours} h of history, "
          f"{args.scrapes} scrapes, one interval of new checks before each; first with "
          f"incidents {ms(first)}, taking stock of {len(desk.book.all(t))} incidents):")
    print(f"  without incident metrics: p50 {ms(statistics.median(wo))}, "
          f"mean {ms(statistics.fmean(wo))}")
    print(f"  with incident metrics:    p50 {ms(statistics.median(w))}, "
          f"mean {ms(statistics.fmean(w))}  ({n_open} open at the end)")
    share = statistics.median(inc_only[1:]) / statistics.median(wo)
    print(f"  the incident families alone: p50 {ms(statistics.median(inc_only[1:]))}, "
          f"max {ms(max(inc_only[1:]))}: {share * 100:.1f}% of a scrape without them")
    rel = statistics.median(w) / statistics.median(wo) - 1
    print(f"  difference: {rel * 100:+.1f}% (p50), "
          f"{(statistics.fmean(w) / statistics.fmean(wo) - 1) * 100:+.1f}% (mean); aim within 5%")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", type=int, default=100)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--fail-rate", type=float, default=0.002)
    p.add_argument("--outages", type=int, default=4)
    p.add_argument("--scrape-targets", type=int, default=1000)
    p.add_argument("--hours", type=float, default=24)
    p.add_argument("--scrapes", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skip-history", action="store_true", help="only the scrape part")
    args = p.parse_args()
    if not args.skip_history:
        with tempfile.TemporaryDirectory(prefix="slaprobe-bench-") as tmp:
            cfg, month = history(args, Path(tmp))
            bench_command(cfg, month)
    bench_scrape(args)


if __name__ == "__main__":
    main()
