#!/usr/bin/env python3
"""Steady-state cost of the slaprobe daemon against a local server.

Setup: a local aiohttp server in its own process (its CPU is not counted)
answers 200 "ok" on 127.0.0.1. A temporary probe.toml lists N targets (default
1,000, t0000..t0999, each `http://127.0.0.1:PORT/<name>`) at a 10 s interval,
timeout 2 s, retries 0 (so every check is one attempt on a fresh connection),
max_concurrency 100, a database in a temporary directory. `slaprobe run` starts
as a subprocess; once /readyz answers and a warm-up (default one interval) has
passed so every target has been probed, the measured period begins.

During the period /metrics is scraped every --scrape-interval seconds (default
15 s, as a Prometheus would; 0: never), so the CPU and lag include that cost:
slaprobe renders /metrics synchronously on its event loop.

Measured over the period (default 60 s), printed, never asserted:
- checks done (the increase of slaprobe_probes_total; retries are 0, so
  attempts = checks) and how many failed;
- daemon CPU seconds (utime + stime of all its threads, /proc/PID/stat) per
  1,000 checks, and the average CPU as % of one core;
- RSS (VmRSS) at the start and end of the period, and the peak (VmHWM);
- scheduler lag p50/p99/max-bucket, interpolated from the increase of the
  slaprobe_scheduler_lag_seconds histogram over the period;
then, after the CPU sample, the /metrics scrape time (p50/max over --scrapes
fresh-connection GETs, plain and with `Accept-Encoding: gzip` as Prometheus
sends it) and the body sizes; and finally how SIGTERM is handled (exit code,
seconds to exit).

Aims from the issue: under 20% of one core on average, p99 lag under 50 ms,
scrape under 50 ms.

Usage: .venv/bin/python benchmarks/bench_daemon.py [--targets 1000]
       [--interval 10] [--duration 60] [--warmup SECONDS] [--scrapes 20]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    DaemonProc,
    OkServer,
    bucket_delta,
    buckets,
    free_port,
    histogram_quantile,
    mb,
    ms,
    parse_metrics,
    percentile,
    source_fingerprint,
    timed_get,
)

LAG = "slaprobe_scheduler_lag_seconds_bucket"
PROBES = "slaprobe_probes_total"


def write_config(
    path: Path,
    *,
    targets: int,
    server_port: int,
    listen_port: int,
    database: Path,
    interval: float,
    timeout: float,
    concurrency: int,
) -> None:
    lines = [
        "[daemon]",
        f'listen = "127.0.0.1:{listen_port}"',
        f'database = "{database}"',
        f"max_concurrency = {concurrency}",
        "",
        "[defaults]",
        f'interval = "{interval:g}s"',
        f'timeout = "{timeout:g}s"',
        "retries = 0",
        "",
    ]
    for i in range(targets):
        name = f"t{i:04d}"
        lines += [
            "[[targets]]",
            f'name = "{name}"',
            f'url = "http://127.0.0.1:{server_port}/{name}"',
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def scrape(d: DaemonProc) -> tuple[float, dict[str, list[tuple[dict[str, str], float]]], int]:
    """(seconds, parsed lag buckets and probe counters, body bytes)."""
    seconds, status, body = timed_get(d.url("/metrics"))
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    return seconds, parse_metrics(body.decode(), [LAG, PROBES]), len(body)


def timed_scrapes(d: DaemonProc, n: int, *, gzip: bool) -> tuple[list[float], int]:
    """n scrapes: (seconds each, body bytes of the last)."""
    times: list[float] = []
    size = 0
    for _ in range(n):
        seconds, status, body = timed_get(d.url("/metrics"), gzip=gzip)
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        times.append(seconds)
        size = len(body)
    return times, size


def probes_by_result(metrics: dict[str, list[tuple[dict[str, str], float]]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for labels, v in metrics.get(PROBES, []):
        out[labels["result"]] = out.get(labels["result"], 0.0) + v
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--targets", type=int, default=1000, help="number of targets (1000)")
    ap.add_argument("--interval", type=float, default=10.0, help="check interval, s (10)")
    ap.add_argument("--timeout", type=float, default=2.0, help="attempt timeout, s (2)")
    ap.add_argument("--concurrency", type=int, default=100, help="max_concurrency (100)")
    ap.add_argument("--duration", type=float, default=60.0, help="measured period, s (60)")
    ap.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds after /readyz before measuring (default: one interval)",
    )
    ap.add_argument(
        "--scrapes",
        type=int,
        default=20,
        help="timed /metrics scrapes after the period, plain and gzip (20 each)",
    )
    ap.add_argument(
        "--scrape-interval",
        type=float,
        default=15.0,
        help="scrape /metrics this often during the period, s (15; 0: never)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (config, db, log)")
    args = ap.parse_args()
    warmup = args.interval if args.warmup is None else args.warmup

    tmp = Path(tempfile.mkdtemp(prefix="slaprobe-bench-daemon-"))
    daemon: DaemonProc | None = None
    server = OkServer()
    try:
        server.__enter__()
        listen = free_port()
        cfg = tmp / "probe.toml"
        write_config(
            cfg,
            targets=args.targets,
            server_port=server.port,
            listen_port=listen,
            database=tmp / "slaprobe.db",
            interval=args.interval,
            timeout=args.timeout,
            concurrency=args.concurrency,
        )
        daemon = DaemonProc(cfg, listen, tmp / "daemon.log")
        print(
            f"slaprobe bench_daemon: {args.targets} targets every {args.interval:g}s "
            f"(timeout {args.timeout:g}s, retries 0, max_concurrency {args.concurrency}), "
            f"server pid {server.pid} on 127.0.0.1:{server.port}, "
            f"python {sys.version.split()[0]}"
        )
        print(source_fingerprint())
        daemon.start()
        ready = daemon.wait_ok("/readyz")
        print(
            f"ready (/readyz 200) after      {ready:.2f} s; warming up {warmup:g} s, "
            f"then measuring {args.duration:g} s",
            flush=True,
        )
        time.sleep(warmup)

        _, m0, _ = scrape(daemon)
        cpu0, t0, rss0 = daemon.cpu(), time.monotonic(), daemon.rss_kb()
        in_period: list[float] = []
        end = t0 + args.duration
        while (now := time.monotonic()) < end:
            if args.scrape_interval > 0:
                time.sleep(min(args.scrape_interval, end - now))
                if time.monotonic() < end - 0.5:
                    in_period.append(scrape(daemon)[0])
            else:
                time.sleep(end - now)
        cpu1, t1, rss1, hwm = daemon.cpu(), time.monotonic(), daemon.rss_kb(), daemon.hwm_kb()
        _, m1, _ = scrape(daemon)

        times, size = timed_scrapes(daemon, args.scrapes, gzip=False)
        gz_times, gz_size = timed_scrapes(daemon, args.scrapes, gzip=True)

        r0, r1 = probes_by_result(m0), probes_by_result(m1)
        checks = sum(r1.values()) - sum(r0.values())
        failed = {k: v - r0.get(k, 0.0) for k, v in r1.items() if k != "success"}
        failed = {k: v for k, v in failed.items() if v}
        lag = bucket_delta(buckets(m1.get(LAG, [])), buckets(m0.get(LAG, [])))
        lag_n = lag[-1][1] if lag else 0.0
        over_50ms = lag_n - next((v for le, v in lag if le >= 0.05), lag_n)
        elapsed, cpu = t1 - t0, cpu1 - cpu0

        rc, stop_s = daemon.stop()

        expected = args.targets * elapsed / args.interval
        print(f"measured period                {elapsed:.1f} s")
        print(
            f"checks done                    {checks:.0f} (expected ~{expected:.0f}; "
            f"{checks / elapsed:.1f}/s)"
        )
        print(
            f"checks failed                  "
            f"{sum(failed.values()):.0f} {failed if failed else ''}".rstrip()
        )
        per_1000 = cpu / checks * 1000 if checks else math.nan
        print(f"daemon CPU                     {cpu:.2f} s = {per_1000:.3f} s per 1,000 checks")
        print(f"average CPU                    {100 * cpu / elapsed:.1f}% of one core (aim < 20%)")
        print(
            f"RSS                            {mb(rss0 * 1024)} at start, "
            f"{mb(rss1 * 1024)} at end, "
            f"peak {mb(hwm * 1024)}"
        )
        print(
            f"scheduler lag ({lag_n:.0f} obs.)      p50 {ms(histogram_quantile(0.5, lag))}, "
            f"p99 {ms(histogram_quantile(0.99, lag))} (aim < 50 ms); "
            f"{over_50ms:.0f} over 50 ms (bucket-interpolated)"
        )
        print(
            f"scrapes during the period       {len(in_period)} "
            f"({', '.join(ms(x) for x in in_period) or 'none'})"
        )
        print(
            f"/metrics scrape ({len(times)}x)         p50 {ms(percentile(times, 0.5))}, "
            f"max {ms(max(times) if times else math.nan)} (aim < 50 ms); "
            f"body {size} bytes"
        )
        print(
            f"/metrics scrape, gzip ({len(gz_times)}x)   p50 {ms(percentile(gz_times, 0.5))}, "
            f"max {ms(max(gz_times) if gz_times else math.nan)}; body {gz_size} bytes"
        )
        print(f"SIGTERM                        exit code {rc}, exited in {stop_s:.2f} s")
        return 0
    finally:
        if daemon is not None:
            daemon.kill()
        server.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
