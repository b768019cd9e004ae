#!/usr/bin/env python3
"""CPU end to end: three `slaprobe run` daemons on one PostgreSQL against one on SQLite.

Setup (loopback only, every file in a temporary directory, every process stopped
at the end, on Ctrl-C, SIGTERM and on failure):
- Debian's `nginx` (one worker, no keep-alive, access log off) answers `200 ok` on
  every path and counts requests in `stub_status`: checks are counted where they
  arrive. Its CPU is charged to neither side.
- Shared side: a PostgreSQL cluster of its own (initdb + pg_ctl on a free port, as
  bench_locations.py starts it; as the `postgres` user when run as root) and three
  real daemons, locations east, north and west, `[slo] quorum = 2`, each with its own
  config, listen port and state directory, all probing the same N targets every
  INTERVAL. Started one after the other (the first creates the schema).
- SQLite side: one daemon, the same targets, the default location and quorum, its
  history in a SQLite file.
Everything else is the default config (timeout, retries, windows, concurrency).

Each side warms up (--warmup), then over a window (--window) it measures the CPU
(utime+stime from /proc) of every daemon and, on the shared side, of every process of
the PostgreSQL cluster (the postmaster, its live children and the ones it reaped),
and the checks made (the increase of nginx's request counter); it prints CPU per
check and the share of a core. After the window (so the timing requests are not in
the CPU figures) it times --scrapes GETs of /metrics on one daemon (gzip, as
Prometheus asks; median and max) and gives its size: on the shared side that is the
consensus of three locations' checks. The load average is printed before and after.
Aim from the issue: CPU per check of the shared side within 1.5x of SQLite's.
Figures are printed, never asserted.

Usage: .venv/bin/python benchmarks/bench_shared.py [--targets 1000] [--interval 30]
       [--warmup 60] [--window 150] [--scrapes 5] [--keep]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import free_port, http_get, loadavg, source_fingerprint, timed_get
from _stack import NGINX, Proc, Stack, missing_tools, nginx_requests
from bench_locations import LOCATIONS, cluster, server_cpu

QUORUM = 2


def probe_config(path: Path, *, listen: int, database: str, urls: list[tuple[str, str]],
                 daemon: tuple[str, ...] = (), slo: tuple[str, ...] = (),
                 defaults: tuple[str, ...] = ()) -> Path:
    """A probe.toml: `[daemon]` listen and database (plus `daemon` lines), `[slo]` and
    `[defaults]` lines, and one target per (name, url)."""
    lines = ["[daemon]", f'listen = "127.0.0.1:{listen}"', f'database = "{database}"',
             *daemon, "", "[slo]", *slo, "", "[defaults]", *defaults, ""]
    for name, url in urls:
        lines += ["[[targets]]", f'name = "{name}"', f'url = "{url}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class Side:
    name: str
    elapsed: float = 0.0
    checks: float = 0.0
    expected: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    metrics: list[float] = field(default_factory=list)
    metrics_gzip: int = 0
    metrics_plain: int = 0

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    @property
    def per_check(self) -> float:
        return self.cpu_total / self.checks if self.checks else math.nan

    def lines(self) -> list[str]:
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in self.cpu.items())
        return [
            f"  {self.name}: {self.checks:.0f} checks of {self.expected:.0f} expected in "
            f"{self.elapsed:.0f} s; CPU {parts} = {self.cpu_total:.2f} s, "
            f"{self.per_check * 1e3:.3f} ms per check, "
            f"{100 * self.cpu_total / self.elapsed:.1f}% of a core",
            f"  {self.name}: GET /metrics x{len(self.metrics)}: median "
            f"{statistics.median(self.metrics) * 1e3:.0f} ms, max {max(self.metrics) * 1e3:.0f}"
            f" ms; {self.metrics_gzip / 1e3:.0f} kB gzip, {self.metrics_plain / 1e6:.2f} MB"
            " plain",
        ]


def cpu_of(procs: dict[str, Proc], postmaster: int | None) -> dict[str, float]:
    out = {k: p.cpu() for k, p in procs.items()}
    if postmaster is not None:
        out["postgresql"] = server_cpu(postmaster)
    return out


def measure(side: Side, procs: dict[str, Proc], postmaster: int | None, nginx: int,
            args: argparse.Namespace, *, scraped: Proc, listen: int) -> Side:
    """Warm up, then the window's CPU and checks, then the /metrics timings."""
    time.sleep(args.warmup)
    r0, c0, t0 = nginx_requests(nginx), cpu_of(procs, postmaster), time.monotonic()
    time.sleep(args.window)
    c1, t1, r1 = cpu_of(procs, postmaster), time.monotonic(), nginx_requests(nginx)
    for k, p in procs.items():
        if not p.alive():
            raise RuntimeError(f"{k} died during the window:\n{p.tail()}")
    side.elapsed = t1 - t0
    side.cpu = {k: c1[k] - c0[k] for k in c0}
    side.checks = r1 - r0 - 1  # the second stub_status read counts itself
    side.expected = len(procs) * args.targets * side.elapsed / args.interval
    url = f"http://127.0.0.1:{listen}/metrics"
    for _ in range(args.scrapes):
        s, status, body = timed_get(url, timeout=120.0, gzip=True)
        if status != 200 or not scraped.alive():
            raise RuntimeError(f"/metrics answered {status}:\n{scraped.tail()}")
        side.metrics.append(s)
        side.metrics_gzip = len(body)
    side.metrics_plain = len(http_get(url, timeout=120.0)[1])
    return side


def shared_side(stack: Stack, nginx: int, urls: list[tuple[str, str]],
                args: argparse.Namespace) -> Side:
    side = Side(f"PostgreSQL, {len(LOCATIONS)} daemons, quorum {QUORUM}")
    with cluster() as (database, postmaster):
        procs: dict[str, Proc] = {}
        listens: dict[str, int] = {}
        try:
            for loc in LOCATIONS:
                listens[loc] = free_port()
                cfg = probe_config(
                    stack.dir / f"{loc}.toml", listen=listens[loc], database=database,
                    urls=urls, daemon=(f'location = "{loc}"',), slo=(f"quorum = {QUORUM}",),
                    defaults=(f'interval = "{args.interval:g}s"',))
                procs[loc] = stack.slaprobe(cfg, listens[loc], name=f"daemon-{loc}",
                                            state_dir=stack.dir / f"state-{loc}")
            print(f"  3 daemons ready ({', '.join(f'{k} pid {p.pid}' for k, p in procs.items())}"
                  f"; postmaster pid {postmaster}); load average {loadavg()}", flush=True)
            first = LOCATIONS[0]
            return measure(side, procs, postmaster, nginx, args, scraped=procs[first],
                           listen=listens[first])
        finally:
            for p in procs.values():
                stack.stop(p)


def sqlite_side(stack: Stack, nginx: int, urls: list[tuple[str, str]],
                args: argparse.Namespace) -> Side:
    side = Side("SQLite, 1 daemon")
    listen = free_port()
    cfg = probe_config(stack.dir / "sqlite.toml", listen=listen,
                       database=str(stack.dir / "sqlite.db"), urls=urls,
                       defaults=(f'interval = "{args.interval:g}s"',))
    p = stack.slaprobe(cfg, listen, name="daemon-sqlite", state_dir=stack.dir / "state-sqlite")
    print(f"  daemon ready (pid {p.pid}); load average {loadavg()}", flush=True)
    try:
        return measure(side, {"daemon": p}, None, nginx, args, scraped=p, listen=listen)
    finally:
        stack.stop(p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=1000, help="targets (1000)")
    ap.add_argument("--interval", type=float, default=30.0, help="check interval, s (30)")
    ap.add_argument("--warmup", type=float, default=60.0, help="warm-up per side, s (60)")
    ap.add_argument("--window", type=float, default=150.0, help="measured window, s (150)")
    ap.add_argument("--scrapes", type=int, default=5, help="timed GETs of /metrics (5)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    args = ap.parse_args()
    if NGINX in missing_tools():
        print(f"missing: {NGINX} (apt-get install {NGINX})", file=sys.stderr)
        return 2
    print("bench_shared: 3 daemons on one PostgreSQL vs 1 on SQLite, 127.0.0.1 only")
    print(source_fingerprint())
    print(f"{args.targets} targets @ {args.interval:g} s, warm-up {args.warmup:g} s, window "
          f"{args.window:g} s per side, {os.cpu_count()} CPUs; load average before "
          f"{loadavg()}", flush=True)
    sides: list[Side] = []
    try:
        with Stack("slaprobe-bench-shared-", keep=args.keep) as stack:
            _, nginx = stack.nginx()
            urls = [(f"t{i:05d}", f"http://127.0.0.1:{nginx}/t{i:05d}")
                    for i in range(args.targets)]
            for run in (shared_side, sqlite_side):
                side = run(stack, nginx, urls, args)
                sides.append(side)
                print("\n".join(side.lines()), flush=True)
    except KeyboardInterrupt:
        print("interrupted: every process started was stopped", file=sys.stderr)
        return 130
    pg, sq = sides
    print(f"\nload average after {loadavg()}")
    print("| side | checks / expected | CPU (s) | CPU per check | core share | "
          "GET /metrics median / max | size gzip / plain |")
    print("|---|---|---|---|---|---|---|")
    for s in sides:
        print(f"| {s.name} | {s.checks:.0f} / {s.expected:.0f} | "
              f"{' + '.join(f'{v:.2f}' for v in s.cpu.values())} | "
              f"{s.per_check * 1e3:.3f} ms | {100 * s.cpu_total / s.elapsed:.1f}% | "
              f"{statistics.median(s.metrics) * 1e3:.0f} / {max(s.metrics) * 1e3:.0f} ms | "
              f"{s.metrics_gzip / 1e3:.0f} kB / {s.metrics_plain / 1e6:.2f} MB |")
    print(f"CPU per check, PostgreSQL (3 daemons + server) / SQLite (1 daemon): "
          f"{pg.per_check / sq.per_check:.2f}  (aim: within 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
