#!/usr/bin/env python3
"""Cost of the HTML report and of /status.

HTML: a report over 31 UTC days for T targets (default 1000) whose timelines hold
a realistic scatter of outages (each target 0-6 outages of 1-40 min, some across
midnight, a maintenance window on a tenth of them, a few hours of unknown time on
some). Measured: report JSON build, per-day figures, HTML rendering, total time
and page size. Aim: under 2 s and under 5 MB.

/status: a daemon-shaped status cache for S targets (default 100) over 90 days,
served by the real aiohttp app on 127.0.0.1: time of a GET /status answered from
the cache (p50 / max over --requests), plus the time to (re)compute the page.
Aim: under 100 ms from cache.

Figures are printed, never asserted. Run as `python benchmarks/bench_render.py`.
"""

from __future__ import annotations

import argparse
import random
import time

from slaprobe import report
from slaprobe.config import parse
from slaprobe.core import daily, htmlreport
from slaprobe.core.maintenance import Window
from slaprobe.core.model import State
from slaprobe.core.timefmt import iso, parse_instant
from slaprobe.core.timeline import History, OpenRun
from slaprobe.core.tracker import Tracker

DAY = 86400.0


def history(rng: random.Random, a: float, b: float, interval: float) -> History:
    """A timeline as the store would give it: up, with outages and gaps."""
    h = History()
    events: list[tuple[float, float, State | None]] = []
    for _ in range(rng.randint(0, 6)):
        s = rng.uniform(a, b - 3600)
        events.append((s, s + rng.uniform(60, 2400), State.DOWN))
    if rng.random() < 0.2:
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
    h.open = OpenRun(at, State.UP, b - interval, b + interval)
    return h


def build(n: int, a: float, b: float, seed: int = 1) -> tuple[object, Tracker]:
    rng = random.Random(seed)
    names = [f"t{i:04d}" for i in range(n)]
    cfg = parse({"targets": [{"name": x, "url": f"http://127.0.0.1:9/{x}",
                              "critical": i % 5 != 4} for i, x in enumerate(names)]})
    windows = [Window(id=f"m-{x}", start=a + 10 * DAY, end=a + 10 * DAY + 7200,
                      announced=a, first_seen=a, targets=(x,), reason="upgrade <db>",
                      source="probe.toml", status="excused", excluded=True)
               for x in names[::10]]
    tr = Tracker({t.name: t.critical for t in cfg.targets},
                 {x: history(rng, a, b, 30.0) for x in names}, windows)
    return cfg, tr


def bench_html(n: int) -> None:
    a = parse_instant("2026-10-01")
    b = a + 31 * DAY
    cfg, tr = build(n, a, b)
    now = b + 60
    t0 = time.perf_counter()
    rep = report.build(cfg, tr, a, b, now)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    scopes = daily.build(tr, "CloneNer", a, b, now)
    t2 = time.perf_counter()
    page = htmlreport.render(rep, scopes, service="CloneNer", critical=tr.critical,
                             reasons={w.id: w.reason for w in tr.maintenance},
                             generated=iso(now), version="bench")
    t3 = time.perf_counter()
    size = len(page.encode())
    print(f"html report: {n} targets x 31 days")
    print(f"  report JSON build   {t1 - t0:7.3f} s")
    print(f"  per-day figures     {t2 - t1:7.3f} s")
    print(f"  HTML rendering      {t3 - t2:7.3f} s")
    print(f"  total               {t3 - t0:7.3f} s   (aim < 2 s)")
    print(f"  page size           {size / 1e6:7.3f} MB  (aim < 5 MB)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", type=int, default=1000)
    args = p.parse_args()
    bench_html(args.targets)


if __name__ == "__main__":
    main()
