#!/usr/bin/env python3
"""slaprobe against blackbox_exporter + Prometheus, side by side in one run.

Setup (loopback only, every file in a temporary directory, every process
stopped at the end, on Ctrl-C and on failure):
- Debian's `nginx` (one worker, no keep-alive, access log off) answers `200 ok` on
  every path and counts requests in `stub_status`: checks are counted where they
  arrive, not trusted from either tool. Its CPU is not charged to either side.
- A (blackbox): `prometheus-blackbox-exporter` (module http_2xx, timeout 2 s) and a
  Prometheus scraping N targets through it every INTERVAL (the usual relabelling
  recipe), so every check is one `/probe` on a fresh connection.
- B (slaprobe): `slaprobe run` probing the same N URLs every INTERVAL (timeout
  2 s, retries 0, max_concurrency 100), with a Prometheus scraping its /metrics
  every 15 s. Everything slaprobe does (recording to SQLite, timelines, metrics)
  is included.

The phases alternate A B A B ... (--pairs, default 3). Each phase starts its
processes fresh, warms up (--warmup, default one interval + 10 s), then measures
a window (--window, default 60 s) and prints, per phase:
- checks: the increase of nginx's request counter over the window (and how that
  compares with N x window / INTERVAL: a side that falls short "cannot keep up");
- CPU per check: utime+stime from /proc of each process of that side, its
  Prometheus included, divided by the checks; core share (CPU / wall time);
- RSS of each process at the end of the window;
- scheduler lag p50/p99: slaprobe's `slaprobe_scheduler_lag_seconds` histogram
  (increase over the window, interpolated); for blackbox the closest analogue,
  Prometheus' own `prometheus_target_interval_length_seconds` quantiles minus the
  interval (how late scrapes, hence probes, start);
- /metrics time and size (slaprobe only; gzip, as Prometheus asks), timed after
  the window so the timing requests are not in its CPU figures, and the
  `scrape_duration_seconds` Prometheus itself saw;
then the ratio slaprobe/blackbox of CPU per check for each pair and its median.

slaprobe runs with the config a user gets by default (every [slo] window and the month
per target, latency buckets off); --lean adds the documented switch for 1,000+ targets
(`target_windows = ["1h", "30d", "month"]`).

Cases (--case): 1000x10 (default), 5000x30, 10000x60, 20000x120, or `all` (the first
three). If blackbox does not keep up at a case, the ratio is printed but flagged: it
compares unequal work.

Needs the Debian packages nginx, prometheus, prometheus-blackbox-exporter.
Figures are printed, never asserted.

With --baseline SRC (another checkout's src/, e.g. a git worktree of the previous main),
each pair also runs that slaprobe (same config, PYTHONPATH=SRC) and the summary prints
slaprobe/baseline for CPU per check and /metrics time: a regression check in one run.
--no-blackbox then leaves the blackbox side out.

Usage: .venv/bin/python benchmarks/bench_sidebyside.py
       [--case 1000x10|5000x30|10000x60|20000x120|all] [--lean] [--pairs 3]
       [--window 60] [--warmup S] [--keep] [--baseline SRC [--no-blackbox]]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    bucket_delta,
    buckets,
    free_port,
    histogram_quantile,
    http_get,
    mb,
    ms,
    parse_metrics,
    percentile,
    source_fingerprint,
    timed_get,
)
from _stack import Proc, Stack, missing_tools, nginx_requests, promql_scalar, tree_cpu

CASES = {"1000x10": (1000, 10.0), "5000x30": (5000, 30.0), "10000x60": (10000, 60.0),
         "20000x120": (20000, 120.0)}  # `all`: the first three
LAG = "slaprobe_scheduler_lag_seconds_bucket"
KEEP_UP = 0.95  # share of the expected checks a side must do to "keep up"
SLAPROBE_SCRAPE = 15.0


@dataclass
class Phase:
    side: str
    checks: float = 0.0
    expected: float = 0.0
    elapsed: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    rss_kb: dict[str, int] = field(default_factory=dict)
    lag_p50: float = math.nan
    lag_p99: float = math.nan
    metrics_s: float = math.nan
    metrics_bytes: int = 0
    metrics_plain_bytes: int = 0
    prom_scrape_s: float = math.nan
    failed: float = 0.0

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    @property
    def per_check(self) -> float:
        return self.cpu_total / self.checks if self.checks else math.nan

    @property
    def keeps_up(self) -> bool:
        return self.checks >= KEEP_UP * self.expected

    def line(self) -> str:
        cpu = ", ".join(f"{k} {v:.2f}s" for k, v in self.cpu.items())
        rss = ", ".join(f"{k} {mb(v * 1024)}" for k, v in self.rss_kb.items())
        out = (f"  {self.side:9s} checks {self.checks:.0f}/{self.expected:.0f}"
               f"{'' if self.keeps_up else ' (CANNOT KEEP UP)'}"
               f", failed {self.failed:.0f}; CPU {cpu} = {self.per_check * 1000:.3f} ms/check, "
               f"{100 * self.cpu_total / self.elapsed:.1f}% of a core; RSS {rss}; "
               f"lag p50 {ms(self.lag_p50)} p99 {ms(self.lag_p99)}")
        if self.metrics_bytes:
            out += (f"; /metrics {ms(self.metrics_s)} gzip {self.metrics_bytes / 1e6:.2f} MB"
                    f" (plain {self.metrics_plain_bytes / 1e6:.2f} MB), Prometheus saw"
                    f" {ms(self.prom_scrape_s)}")
        return out


def slaprobe_config(path: Path, *, targets: int, nginx: int, listen: int, database: Path,
                    interval: float, lean: bool = False) -> None:
    """The config a user gets by default (every window per target, latency buckets off),
    or with `lean` the documented switch for 1,000+ targets: three per-target windows."""
    lines = ["[daemon]", f'listen = "127.0.0.1:{listen}"', f'database = "{database}"',
             "max_concurrency = 100",  # the default, written out
             *(['target_windows = ["1h", "30d", "month"]'] if lean else []), "",
             "[defaults]", f'interval = "{interval:g}s"', 'timeout = "2s"', "retries = 0", ""]
    for i in range(targets):
        lines += ["[[targets]]", f'name = "t{i:05d}"',
                  f'url = "http://127.0.0.1:{nginx}/t{i:05d}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def interval_quantiles(prom_port: int, interval: float) -> tuple[float, float]:
    """Prometheus' own scrape-interval quantiles minus the interval (from its /metrics)."""
    status, body = http_get(f"http://127.0.0.1:{prom_port}/metrics")
    if status != 200:
        return math.nan, math.nan
    samples = parse_metrics(body.decode(), ["prometheus_target_interval_length_seconds"])
    q: dict[str, float] = {}
    for labels, v in samples.get("prometheus_target_interval_length_seconds", []):
        if labels.get("interval") == f"{interval:g}s":
            q[labels.get("quantile", "")] = v
    return q.get("0.5", math.nan) - interval, q.get("0.99", math.nan) - interval


def measure(side: str, procs: dict[str, Proc], nginx: int, window: float,
            expected_rate: float) -> Phase:
    ph = Phase(side)
    r0 = nginx_requests(nginx)
    c0 = {k: tree_cpu(p.pid) for k, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(window)
    c1 = {k: tree_cpu(p.pid) for k, p in procs.items()}
    t1 = time.monotonic()
    r1 = nginx_requests(nginx)
    for k, p in procs.items():
        if not p.alive():
            raise RuntimeError(f"{k} died during the window:\n{p.tail()}")
        ph.rss_kb[k] = p.rss_kb()
    ph.elapsed = t1 - t0
    ph.cpu = {k: c1[k] - c0[k] for k in procs}
    ph.checks = r1 - r0 - 1  # the second stub_status read counts itself
    ph.expected = expected_rate * ph.elapsed
    return ph


@dataclass(frozen=True)
class Run:
    n: int
    interval: float
    window: float
    warmup: float
    lean: bool = False


def run_blackbox(stack: Stack, nginx: int, run: Run, k: int) -> Phase:
    n, interval, window, warmup = run.n, run.interval, run.window, run.warmup
    bb, bb_port = stack.blackbox()
    urls = [f"http://127.0.0.1:{nginx}/t{i:05d}" for i in range(n)]
    cfg = stack.prometheus_config(f"prom-bb-{k}", blackbox=(bb_port, urls), interval=interval)
    prom, prom_port = stack.prometheus(f"prom-bb-{k}", cfg)
    try:
        time.sleep(warmup)
        ph = measure("blackbox", {"blackbox": bb, "prometheus": prom}, nginx, window,
                     n / interval)
        ph.lag_p50, ph.lag_p99 = interval_quantiles(prom_port, interval)
        ph.failed = promql_scalar(prom_port, 'count(probe_success == 0) or vector(0)')
    finally:
        stack.stop(prom)
        stack.stop(bb)
    return ph


def run_slaprobe(stack: Stack, nginx: int, run: Run, k: int, source: Path | None = None
                 ) -> Phase:
    """One slaprobe phase; `source` runs the package under another checkout's src/."""
    n, interval, window, warmup = run.n, run.interval, run.window, run.warmup
    listen = free_port()
    tag = f"slaprobe-{k}" if source is None else f"baseline-{k}"
    cfg = stack.dir / f"{tag}.toml"
    slaprobe_config(cfg, targets=n, nginx=nginx, listen=listen,
                    database=stack.dir / f"{tag}.db", interval=interval, lean=run.lean)
    sp = stack.slaprobe(cfg, listen, name=tag, source=source)
    pcfg = stack.prometheus_config(f"prom-sp-{k}", slaprobe=listen,
                                   slaprobe_interval=SLAPROBE_SCRAPE)
    prom, prom_port = stack.prometheus(f"prom-sp-{k}", pcfg)
    url = f"http://127.0.0.1:{listen}/metrics"
    try:
        time.sleep(warmup)
        m0 = parse_metrics(http_get(url, timeout=120.0)[1].decode(), [LAG])
        ph = measure("slaprobe" if source is None else "baseline",
                     {"slaprobe": sp, "prometheus": prom}, nginx, window, n / interval)
        m1 = parse_metrics(http_get(url, timeout=120.0)[1].decode(), [LAG])
        lag = bucket_delta(buckets(m1.get(LAG, [])), buckets(m0.get(LAG, [])))
        ph.lag_p50, ph.lag_p99 = histogram_quantile(0.5, lag), histogram_quantile(0.99, lag)
        times = []
        for _ in range(5):
            s, _, body = timed_get(url, timeout=120.0, gzip=True)
            times.append(s)
            ph.metrics_bytes = len(body)
        ph.metrics_plain_bytes = len(http_get(url, timeout=120.0)[1])
        ph.metrics_s = percentile(times, 0.5)
        ph.prom_scrape_s = promql_scalar(
            prom_port, 'max_over_time(scrape_duration_seconds{job="slaprobe"}[5m])')
        ph.failed = promql_scalar(
            prom_port, 'sum(increase(slaprobe_probes_total{result!="success"}[5m])) '
                       'or vector(0)')
    finally:
        stack.stop(prom)
        stack.stop(sp)
    return ph


def run_case(stack: Stack, nginx: int, n: int, interval: float, args: argparse.Namespace
             ) -> tuple[list[tuple[Phase, Phase]], list[tuple[Phase, Phase]]]:
    """(blackbox, slaprobe) pairs, and (baseline, slaprobe) pairs when --baseline is given."""
    warmup = interval + 10.0 if args.warmup is None else args.warmup
    window = max(args.window, interval) if args.window_at_least_interval else args.window
    print(f"\n== {n} targets every {interval:g}s: {args.pairs} pairs, warm-up {warmup:g}s, "
          f"window {window:g}s", flush=True)
    pairs: list[tuple[Phase, Phase]] = []
    against: list[tuple[Phase, Phase]] = []
    run = Run(n, interval, window, warmup, lean=args.lean)
    for k in range(args.pairs):
        a = None
        if not args.no_blackbox:
            a = run_blackbox(stack, nginx, run, k)
            print(a.line(), flush=True)
        c = None
        if args.baseline is not None:
            c = run_slaprobe(stack, nginx, run, k, source=args.baseline)
            print(c.line(), flush=True)
        b = run_slaprobe(stack, nginx, run, k)
        print(b.line(), flush=True)
        if a is not None:
            print(f"  pair {k + 1}: slaprobe/blackbox CPU per check = "
                  f"{b.per_check / a.per_check:.3f}", flush=True)
            pairs.append((a, b))
        if c is not None:
            print(f"  pair {k + 1}: slaprobe/baseline CPU per check = "
                  f"{b.per_check / c.per_check:.3f}, /metrics "
                  f"{b.metrics_s / c.metrics_s:.3f}", flush=True)
            against.append((c, b))
    return pairs, against


def summary(n: int, interval: float, pairs: list[tuple[Phase, Phase]],
            against: list[tuple[Phase, Phase]]) -> None:
    if against:
        cpu = [b.per_check / c.per_check for c, b in against]
        met = [b.metrics_s / c.metrics_s for c, b in against]
        print(f"\n{n} targets @ {interval:g}s: median slaprobe/baseline CPU per check "
              f"{statistics.median(cpu):.3f} (pairs: {', '.join(f'{r:.3f}' for r in cpu)}), "
              f"/metrics time {statistics.median(met):.3f} "
              f"(pairs: {', '.join(f'{r:.3f}' for r in met)})")
        table("baseline", [c for c, _ in against], [b for _, b in against])
    if not pairs:
        return
    ratios = [b.per_check / a.per_check for a, b in pairs]
    med = statistics.median(ratios)
    bb_ok = all(a.keeps_up for a, _ in pairs)
    sp_ok = all(b.keeps_up for _, b in pairs)
    print(f"\n{n} targets @ {interval:g}s: median slaprobe/blackbox CPU per check "
          f"{med:.3f} (pairs: {', '.join(f'{r:.3f}' for r in ratios)}; "
          f"aim <= {0.15 if n <= 1000 else 0.2:g})")
    if not bb_ok:
        print("  blackbox_exporter + Prometheus could NOT keep up in at least one phase: "
              "the ratio compares unequal work")
    if not sp_ok:
        print("  slaprobe could NOT keep up in at least one phase")
    table("blackbox_exporter", [a for a, _ in pairs], [b for _, b in pairs])


def table(other: str, theirs: list[Phase], ours: list[Phase]) -> None:
    def col(f: list[float], fmt: str) -> str:
        return f"{fmt.format(min(f))}-{fmt.format(max(f))}" if len(f) > 1 else fmt.format(f[0])

    print("  | side | CPU per check | core share | RSS | lag p50 / p99 | /metrics |")
    print("  |---|---|---|---|---|---|")
    for side, phases in ((f"{other} + Prometheus", theirs), ("slaprobe + Prometheus", ours)):
        per = [p.per_check * 1000 for p in phases]
        share = [100 * p.cpu_total / p.elapsed for p in phases]
        rss = " + ".join(
            col([p.rss_kb[k] / 1024 for p in phases], "{:.0f}") for k in phases[0].rss_kb)
        lag = (f"{col([p.lag_p50 * 1000 for p in phases], '{:.1f}')} / "
               f"{col([p.lag_p99 * 1000 for p in phases], '{:.1f}')} ms")
        met = "—"
        if phases[0].metrics_bytes:
            met = (f"{col([p.metrics_s * 1000 for p in phases], '{:.0f}')} ms, "
                   f"{col([p.metrics_plain_bytes / 1e6 for p in phases], '{:.2f}')} MB "
                   f"({col([p.metrics_bytes / 1e6 for p in phases], '{:.2f}')} MB gzip)")
        print(f"  | {side} | {col(per, '{:.3f}')} ms | {col(share, '{:.1f}')}% | {rss} MB | "
              f"{lag} | {met} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", default="1000x10", choices=[*CASES, "all"])
    ap.add_argument("--targets", type=int, help="override the case's number of targets")
    ap.add_argument("--interval", type=float, help="override the case's interval, s")
    ap.add_argument("--pairs", type=int, default=3, help="A/B pairs per case (3)")
    ap.add_argument("--window", type=float, default=60.0, help="measured window, s (60)")
    ap.add_argument("--warmup", type=float, help="warm-up, s (default: interval + 10)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    ap.add_argument("--lean", action="store_true",
                    help="slaprobe with the lean switch (target_windows 1h, 30d, month) "
                         "instead of the default config")
    ap.add_argument("--baseline", type=Path, metavar="SRC",
                    help="also run slaprobe from another checkout's src/ (e.g. a git worktree "
                         "of the previous main) in each pair, and print slaprobe/baseline")
    ap.add_argument("--no-blackbox", action="store_true",
                    help="skip the blackbox_exporter side (with --baseline)")
    args = ap.parse_args()
    if args.no_blackbox and args.baseline is None:
        ap.error("--no-blackbox needs --baseline")
    args.window_at_least_interval = True
    if missing := missing_tools():
        print(f"missing: {' '.join(missing)} (apt-get install {' '.join(missing)})",
              file=sys.stderr)
        return 2
    cases = list(CASES.values())[:3] if args.case == "all" else [CASES[args.case]]
    if args.targets or args.interval:
        cases = [(args.targets or cases[0][0], args.interval or cases[0][1])]
    print("bench_sidebyside: slaprobe vs prometheus-blackbox-exporter, 127.0.0.1 only; "
          f"slaprobe config: {'lean (target_windows 1h, 30d, month)' if args.lean else 'default'}")
    print(source_fingerprint())
    results = []
    try:
        with Stack("slaprobe-bench-sbs-", keep=args.keep) as stack:
            _, nginx = stack.nginx()
            for n, interval in cases:
                results.append((n, interval, run_case(stack, nginx, n, interval, args)))
    except KeyboardInterrupt:
        print("interrupted: every process started was stopped", file=sys.stderr)
        for n, interval, (pairs, against) in results:
            summary(n, interval, pairs, against)
        return 130
    for n, interval, (pairs, against) in results:
        summary(n, interval, pairs, against)
    return 0


if __name__ == "__main__":
    sys.exit(main())
