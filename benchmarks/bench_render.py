#!/usr/bin/env python3
"""Cost of the HTML report and of /status.

HTML: a report over 31 UTC days for T targets (default 1000) whose timelines hold
a realistic scatter of outages (each target 0-6 outages of 1-40 min, some across
midnight, a maintenance window on a tenth of them, a few hours of unknown time on
some). Measured: report JSON build, per-day figures, HTML rendering, total time
and page size. Aim: under 2 s and under 5 MB.

/status: S targets (default 100) with 95 days of checks every 10 min in a real store,
served by the real aiohttp app on 127.0.0.1: time of a GET /status answered from
the cache (p50 / max over --requests), plus the time to (re)compute the page.
Aim: under 100 ms from cache.

Figures are printed, never asserted. Run as `python benchmarks/bench_render.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import types
from pathlib import Path

import aiohttp

from slaprobe.clock import SystemClock
from slaprobe.config import parse
from slaprobe.core.history.timeline import History, OpenRun
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import Check, State
from slaprobe.core.reporting import daily, htmlreport
from slaprobe.core.timefmt import iso, parse_instant
from slaprobe.history.store import Store
from slaprobe.reporting import report
from slaprobe.web import pages as webui
from slaprobe.web import server

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


def status_checks(rng: random.Random, name: str, a: float, b: float,
                  interval: float) -> list[Check]:
    out = []
    at = a
    bad = {int(rng.uniform(a, b) // interval) for _ in range(rng.randint(0, 4))}
    while at < b:
        out.append(Check(name, at, int(at // interval) not in bad, interval, latency=0.05))
        at += interval
    return out


async def bench_status(n: int, requests: int) -> None:
    rng = random.Random(2)
    now = time.time()
    a = now - 95 * DAY
    interval = 600.0
    cfg = parse({"defaults": {"interval": "10m"},
                 "targets": [{"name": f"t{i:03d}", "url": f"http://127.0.0.1:9/{i}",
                              "critical": i % 4 != 3} for i in range(n)]})
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        store = Store(Path(tmp) / "h.db")
        t0 = time.perf_counter()
        for t in cfg.targets:
            store.write(status_checks(rng, t.name, a, now, interval))
        setup = time.perf_counter() - t0
        tracker = report.load_tracker(cfg, store, now - 40 * DAY, [], now)
        source = types.SimpleNamespace(cfg=cfg, store=store, tracker=tracker,
                                       clock=SystemClock(), last={})
        views = webui.Views(source, ttl=3600.0)  # type: ignore[arg-type]

        async def no_metrics() -> bytes:
            return b""

        runner = await server.start(
            server.make_app(no_metrics, lambda: True, views.routes()), "127.0.0.1", 0)
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/status"
        times = []
        async with aiohttp.ClientSession() as http:
            t0 = time.perf_counter()
            async with http.get(url) as r:
                first = await r.read()
            compute = time.perf_counter() - t0
            for _ in range(requests):
                t0 = time.perf_counter()
                async with http.get(url, headers={"Accept-Encoding": "gzip"}) as r:
                    await r.read()
                times.append(time.perf_counter() - t0)
            # the loop while /status renders again and again in its worker thread
            views.ttl = 0.0
            busy = True

            async def churn() -> None:
                while busy:
                    async with http.get(url) as r:
                        await r.read()

            churner = asyncio.create_task(churn())
            health = []
            for _ in range(requests):
                t0 = time.perf_counter()
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    await r.read()
                health.append(time.perf_counter() - t0)
            busy = False
            await churner
        await runner.cleanup()
        store.close()
    times.sort()
    print(f"/status: {n} targets x 90 days ({setup:.1f} s to write the history)")
    print(f"  first request (render) {compute * 1000:8.1f} ms, page {len(first) / 1e6:.2f} MB")
    print(f"  from cache: p50 {times[len(times) // 2] * 1000:6.2f} ms, "
          f"max {times[-1] * 1000:6.2f} ms over {requests} GETs (aim < 100 ms)")
    health.sort()
    print(f"  /healthz while /status re-renders non-stop: p50 "
          f"{health[len(health) // 2] * 1000:6.2f} ms, max {health[-1] * 1000:6.2f} ms "
          f"({views.renders} renders)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--targets", type=int, default=1000)
    p.add_argument("--status-targets", type=int, default=100)
    p.add_argument("--requests", type=int, default=200)
    args = p.parse_args()
    bench_html(args.targets)
    asyncio.run(bench_status(args.status_targets, args.requests))


if __name__ == "__main__":
    main()
