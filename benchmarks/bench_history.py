#!/usr/bin/env python3
"""Cost of a long check history: import, database size, daemon start-up, RSS,
/metrics scrape and SLA report time.

Setup: a CSV in the DESIGN import format (target,time,ok,latency_seconds,
status_code,error) with T targets (default 100) x D days (default 30) of checks
every 30 s (default 8.64 million rows), ending at the start of the current UTC
hour, written in time order as another monitor would export it. Failures are
realistic: about 0.2% of checks fail at random (timeout, connect_error, 5xx),
plus a few multi-minute outages (the first hits every target, i.e. the
service; the others 1-5 targets). A temporary probe.toml has the same targets
at interval "30s" (timeout 2s, retries 0) pointing at a local 200-ok server
that runs in its own process, so the daemon's live checks succeed.

Measured and printed (never asserted):
- CSV generation time and size (context only);
- `slaprobe import FILE --config ...`: wall and CPU time, peak RSS (the child's
  own rusage), and the database size (db + wal + shm) per check;
- `slaprobe report --month <the month holding most of the data> --format json`
  and `--from <first check> --to <end>` over the whole range: wall and CPU time,
  peak RSS, and a sanity figure (service availability, downtime periods);
- `slaprobe run` on an EMPTY database and then on the imported one, same
  targets: start-up time (process start to the first successful /metrics),
  RSS then and after the timed scrapes (VmRSS, VmHWM), --scrapes /metrics GETs
  (p50/max, plain), body size; the RSS growth due to history is the
  difference; SIGTERM exit code and time to exit.
Interpreter + import overhead (`slaprobe --version`) is printed for context.

Aims from the issue: start-up under 3 s, RSS growth for that history under
50 MB, scrape under 50 ms, a month's report under 2 s.

Usage: .venv/bin/python benchmarks/bench_history.py [--targets 100]
       [--days 30] [--interval 30] [--fail-rate 0.002] [--outages 4] [--seed 1] [--scrapes 20]
"""

from __future__ import annotations

import argparse
import calendar
import json
import math
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    DaemonProc,
    Measured,
    OkServer,
    free_port,
    mb,
    ms,
    parse_metrics,
    percentile,
    run_measured,
    slaprobe_cmd,
    source_fingerprint,
    timed_get,
)

DAY = 86400


# --- the CSV -----------------------------------------------------------------------------


@dataclass
class Generated:
    rows: int = 0
    failed_random: int = 0
    failed_outage: int = 0
    first: int = 0
    end: int = 0
    outages: list[tuple[int, int, int]] = field(default_factory=list)  # start, end, targets
    seconds: float = 0.0
    size: int = 0


def names_for(targets: int) -> list[str]:
    return [f"t{i:03d}" for i in range(targets)]


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def generate_csv(
    path: Path,
    *,
    targets: int,
    days: float,
    end: int,
    fail_rate: float,
    outages: int,
    rng: random.Random,
    interval: int = 30,
) -> Generated:
    """Write the CSV in time order; the last slot starts just before `end`."""
    t_start = time.perf_counter()
    names = names_for(targets)
    slots = int(days * DAY) // interval
    start = end - slots * interval
    offsets = [rng.randrange(interval) for _ in names]  # each target's phase, whole seconds
    gen = Generated(first=start + min(offsets), end=end)

    # outages: slot -> target indexes failing then
    down: dict[int, set[int]] = {}
    for n in range(outages):
        length = rng.randint(3 * 60, 30 * 60) // interval  # 3 to 30 minutes of checks
        k0 = rng.randrange(max(slots - length, 1))
        hit = (
            range(targets)
            if n == 0
            else rng.sample(range(targets), min(targets, rng.randint(1, 5)))
        )
        for k in range(k0, k0 + length):
            down.setdefault(k, set()).update(hit)
        gen.outages.append((start + k0 * interval, start + (k0 + length) * interval, len(hit)))

    hms = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(DAY)]
    days_cache: dict[int, str] = {}
    latencies = [f"{0.015 + rng.expovariate(1 / 0.04):.3f}" for _ in range(4096)]
    failures = [  # (latency, status, error): what another monitor would record
        ("2.000", "", "timeout"),
        ("0.001", "", "connect_error"),
        ("0.120", "503", "bad_status"),
        ("0.080", "502", "bad_status"),
        ("0.300", "500", "bad_status"),
    ]
    rand = rng.random
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("target,time,ok,latency_seconds,status_code,error\n")
        buf: list[str] = []
        for k in range(slots):
            base = start + k * interval
            out = down.get(k, ())
            for i, name in enumerate(names):
                t = base + offsets[i]
                day, sec = divmod(t, DAY)
                prefix = days_cache.get(day)
                if prefix is None:
                    prefix = time.strftime("%Y-%m-%dT", time.gmtime(day * DAY))
                    days_cache[day] = prefix
                r = rand()
                if i in out or r < fail_rate:
                    if i in out:
                        lat, status, err = failures[1] if k % 2 else failures[2]
                        gen.failed_outage += 1
                    else:
                        lat, status, err = failures[
                            int(r / fail_rate * len(failures)) % len(failures)
                        ]
                        gen.failed_random += 1
                    buf.append(f"{name},{prefix}{hms[sec]},0,{lat},{status},{err}\n")
                else:
                    buf.append(f"{name},{prefix}{hms[sec]},1,{latencies[int(r * 4096)]},200,\n")
            if len(buf) >= 100_000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    gen.rows = slots * targets
    gen.seconds = time.perf_counter() - t_start
    gen.size = path.stat().st_size
    return gen


def month_with_most(a: float, b: float) -> str:
    """The UTC calendar month (YYYY-MM) holding most of [a, b)."""
    best, best_len = "", -1.0
    t = a
    while t < b:
        g = time.gmtime(t)
        y, m = g.tm_year + (g.tm_mon == 12), g.tm_mon % 12 + 1
        nxt = min(float(calendar.timegm((y, m, 1, 0, 0, 0))), b)
        if nxt - t > best_len:
            best, best_len = f"{g.tm_year:04d}-{g.tm_mon:02d}", nxt - t
        t = nxt
    return best


# --- config and runs ---------------------------------------------------------------------------


def write_config(
    path: Path, *, targets: int, server_port: int, listen_port: int, database: Path,
    interval: int = 30,
) -> None:
    lines = [
        "[daemon]",
        f'listen = "127.0.0.1:{listen_port}"',
        f'database = "{database}"',
        "",
        "[defaults]",
        f'interval = "{interval}s"',
        'timeout = "2s"',
        "retries = 0",
        "",
    ]
    for name in names_for(targets):
        lines += [
            "[[targets]]",
            f'name = "{name}"',
            f'url = "http://127.0.0.1:{server_port}/{name}"',
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


def db_size(db: Path) -> tuple[int, int, int]:
    def size(p: Path) -> int:
        return p.stat().st_size if p.exists() else 0

    return size(db), size(Path(f"{db}-wal")), size(Path(f"{db}-shm"))


def show_run(label: str, m: Measured, extra: str = "") -> None:
    print(
        f"{label:<34} {m.wall:7.2f} s wall, {m.cpu:6.2f} s CPU, peak RSS "
        f"{mb(m.maxrss_kb * 1024)}, exit {m.returncode}{extra}"
    )
    if m.returncode != 0:
        print(f"  stderr: {m.stderr.strip()[:2000]}")


@dataclass
class DaemonFigures:
    startup: float
    rss_start_kb: int
    rss_after_kb: int
    hwm_kb: int
    scrapes: list[float]
    body: int
    stop_rc: int | None
    stop_s: float
    availability_30d: float | None


def measure_daemon(
    cfg: Path, *, targets: int, server_port: int, database: Path, log: Path, scrapes: int,
    interval: int,
) -> DaemonFigures:
    listen = free_port()
    write_config(
        cfg, targets=targets, server_port=server_port, listen_port=listen, database=database,
        interval=interval,
    )
    d = DaemonProc(cfg, listen, log)
    try:
        d.start()
        startup = d.wait_ok("/metrics", timeout=120.0, poll=0.01)
        rss_start = d.rss_kb()
        times: list[float] = []
        body = b""
        for _ in range(scrapes):
            seconds, status, body = timed_get(d.url("/metrics"))
            if status != 200:
                raise RuntimeError(f"/metrics answered {status}")
            times.append(seconds)
        rss_after, hwm = d.rss_kb(), d.hwm_kb()
        avail = None
        for labels, v in parse_metrics(body.decode(), ["slaprobe_service_availability_ratio"]).get(
            "slaprobe_service_availability_ratio", []
        ):
            if labels.get("window") == "30d":
                avail = v
        rc, stop_s = d.stop()
        return DaemonFigures(
            startup, rss_start, rss_after, hwm, times, len(body), rc, stop_s, avail
        )
    finally:
        d.kill()


def show_daemon(label: str, f: DaemonFigures) -> None:
    print(
        f"{label}: start-up to first /metrics {f.startup:.2f} s; RSS {mb(f.rss_start_kb * 1024)}"
        f" then, {mb(f.rss_after_kb * 1024)} after scrapes (peak {mb(f.hwm_kb * 1024)})"
    )
    print(
        f"  /metrics ({len(f.scrapes)}x) p50 {ms(percentile(f.scrapes, 0.5))}, max "
        f"{ms(max(f.scrapes) if f.scrapes else math.nan)}, body {f.body} bytes; "
        f"service availability 30d {f.availability_30d}; SIGTERM exit {f.stop_rc} "
        f"in {f.stop_s:.2f} s"
    )


def report_summary(m: Measured) -> str:
    try:
        rep = json.loads(m.stdout)
    except ValueError:
        return ""
    svc = rep.get("service", {})
    a = svc.get("availability")
    return (
        f"; {len(m.stdout)} bytes, service availability "
        f"{'n/a' if a is None else f'{a * 100:.4f}%'}, coverage "
        f"{svc.get('coverage', 0) * 100:.2f}%, {len(rep.get('downtime', []))} downtime periods"
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--targets", type=int, default=100, help="number of targets (100)")
    ap.add_argument("--days", type=float, default=30.0, help="days of history (30)")
    ap.add_argument("--interval", type=int, default=30, help="seconds between checks (30)")
    ap.add_argument(
        "--fail-rate", type=float, default=0.002, help="share of checks failing at random (0.002)"
    )
    ap.add_argument("--outages", type=int, default=4, help="multi-minute outages (4)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (1)")
    ap.add_argument("--scrapes", type=int, default=20, help="timed /metrics scrapes (20)")
    ap.add_argument(
        "--import-timeout",
        type=float,
        default=1800.0,
        help="give up on the import after this many seconds (1800)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (CSV, db, logs)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="slaprobe-bench-history-"))
    server = OkServer()
    try:
        server.__enter__()
        print(
            f"slaprobe bench_history: {args.targets} targets x {args.days:g} days every "
            f"{args.interval}s, python {sys.version.split()[0]}"
        )
        print(source_fingerprint())
        end = int(time.time()) // 3600 * 3600
        csv_path = tmp / "history.csv"
        gen = generate_csv(
            csv_path,
            targets=args.targets,
            days=args.days,
            end=end,
            fail_rate=args.fail_rate,
            outages=args.outages,
            rng=random.Random(args.seed),
            interval=args.interval,
        )
        print(
            f"CSV: {gen.rows:,} checks {_utc(gen.first)} .. {_utc(gen.end)}, "
            f"{gen.failed_random:,} random failures + {gen.failed_outage:,} in outages, "
            f"{mb(gen.size)} ({gen.size / max(gen.rows, 1):.1f} B/check), "
            f"written in {gen.seconds:.1f} s"
        )
        for s, e, n in sorted(gen.outages):
            print(f"  outage {_utc(s)} .. {_utc(e)} ({(e - s) // 60} min), {n} target(s)")

        base = run_measured(slaprobe_cmd("--version"), timeout=60)
        show_run("baseline `slaprobe --version`", base)

        hist_db, empty_db = tmp / "history.db", tmp / "empty.db"
        cfg = tmp / "probe.toml"
        write_config(
            cfg,
            targets=args.targets,
            server_port=server.port,
            listen_port=free_port(),
            database=hist_db,
            interval=args.interval,
        )
        imp = run_measured(
            slaprobe_cmd("import", str(csv_path), "--config", str(cfg)), timeout=args.import_timeout
        )
        rate = gen.rows / imp.wall if imp.wall else math.nan
        show_run("import", imp, f"; {rate:,.0f} checks/s")
        print(f"  {imp.stdout.strip()}")
        if imp.returncode != 0:
            return 1
        db, wal, shm = db_size(hist_db)
        print(
            f"database: {mb(db)} db + {mb(wal)} wal + {mb(shm)} shm = "
            f"{(db + wal + shm) / gen.rows:.1f} bytes per check"
        )

        month = month_with_most(gen.first, gen.end)
        rep_m = run_measured(
            slaprobe_cmd("report", "--config", str(cfg), "--month", month, "--format", "json"),
            timeout=600,
        )
        show_run(f"report --month {month} (json)", rep_m, report_summary(rep_m))
        frm, to = _utc(gen.first), _utc(gen.end)
        rep_r = run_measured(
            slaprobe_cmd(
                "report", "--config", str(cfg), "--from", frm, "--to", to, "--format", "json"
            ),
            timeout=600,
        )
        show_run(f"report --from/--to {args.days:g} days (json)", rep_r, report_summary(rep_r))

        empty = measure_daemon(
            tmp / "empty.toml",
            targets=args.targets,
            server_port=server.port,
            database=empty_db,
            log=tmp / "daemon-empty.log",
            scrapes=args.scrapes,
            interval=args.interval,
        )
        show_daemon("daemon, EMPTY database", empty)
        hist = measure_daemon(
            cfg,
            targets=args.targets,
            server_port=server.port,
            database=hist_db,
            log=tmp / "daemon-history.log",
            scrapes=args.scrapes,
            interval=args.interval,
        )
        show_daemon("daemon, imported history", hist)
        growth = (hist.rss_start_kb - empty.rss_start_kb) * 1024
        growth_after = (hist.rss_after_kb - empty.rss_after_kb) * 1024
        print(
            f"RSS growth due to history: {mb(growth)} after start-up, "
            f"{mb(growth_after)} after scrapes, peak "
            f"{mb((hist.hwm_kb - empty.hwm_kb) * 1024)} (aim < 50 MB)"
        )
        print(
            f"aims: start-up {hist.startup:.2f} s (< 3 s), scrape p50 "
            f"{ms(percentile(hist.scrapes, 0.5))} (< 50 ms), month report "
            f"{rep_m.wall:.2f} s (< 2 s)"
        )
        return 0
    finally:
        server.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
