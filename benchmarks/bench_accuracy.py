#!/usr/bin/env python3
"""How close to the truth: slaprobe and blackbox_exporter + Prometheus, one outage story.

Setup (loopback only, files in a temporary directory, every process stopped at
the end, on Ctrl-C and on failure):
- a local target (this script's `serve` mode, its own process) follows a scripted
  story relative to a start time T0: 200 `ok` while up, 503 while down:

      up 30 s, down 20 s, up 40 s, down 30 s, up 40 s, down 20 s, up 50 s  (230 s)

  The ground truth is the story itself: the share of [T0 + 5 s, T0 + 225 s] it is up.
- slaprobe probes it every 1 s (timeout 0.8 s, retries 0); blackbox_exporter probes
  it for a Prometheus scraping `/probe` every 1 s; the same Prometheus scrapes
  slaprobe's /metrics every 1 s.
- In the middle of the second outage (T0 + 105 s) Prometheus is stopped (SIGTERM)
  and started again on the same data directory; in the middle of the third
  (T0 + 170 s) slaprobe is killed (SIGKILL) and started again on the same database.
  --pause S waits S seconds before each restart (default 0: straight away).

At the end it prints, for the range, each figure and its error against the truth:
- slaprobe's report (`slaprobe report --format json`, the target's availability;
  its unknown seconds are shown: the time slaprobe says it could not know);
- slaprobe's counters through PromQL: increase(up) / (increase(up) + increase(down));
- blackbox's `avg_over_time(probe_success[range])` through PromQL.
--runs N repeats the story and prints the mean absolute error of each.

Needs the Debian packages prometheus and prometheus-blackbox-exporter.
Figures are printed, never asserted.

Usage: .venv/bin/python benchmarks/bench_accuracy.py [--runs 1] [--pause 0] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import signal
import statistics
import subprocess
import sys
import time

from _common import free_port, slaprobe_cmd, source_fingerprint
from _stack import BLACKBOX, PROMETHEUS, Stack, missing_tools, promql_scalar

STORY: tuple[tuple[float, bool], ...] = (
    (30, True), (20, False), (40, True), (30, False), (40, True), (20, False), (50, True))
RANGE = (5.0, 225.0)
PROM_STOP = 105.0
SLAPROBE_KILL = 170.0
TARGET = "web"


def up_at(t: float) -> bool:
    """The story's state `t` seconds after T0 (up before and after it)."""
    edge = 0.0
    for length, up in STORY:
        edge += length
        if t < edge:
            return up
    return True


def truth(a: float, b: float) -> float:
    """The share of [a, b) (seconds after T0) the story is up."""
    up, edge = 0.0, 0.0
    for length, is_up in STORY:
        lo, hi = max(a, edge), min(b, edge + length)
        if is_up and hi > lo:
            up += hi - lo
        edge += length
    return up / (b - a)


def serve(t0: float) -> None:
    from aiohttp import web  # noqa: PLC0415 (only the target process needs it)

    async def handle(_: web.Request) -> web.Response:
        if up_at(time.time() - t0):
            return web.Response(text="ok")
        return web.Response(status=503, text="down")

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


def rfc3339(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def sleep_until(t: float) -> None:
    while (left := t - time.time()) > 0:
        time.sleep(min(left, 1.0))


def start_target(stack: Stack, t0: float) -> str:
    """The story's target (this script's `serve` mode) in `stack`; its URL."""
    target = stack.start("target", [sys.executable, __file__, "serve", f"{t0:.0f}"])
    port_line = ""
    deadline = time.monotonic() + 20
    while not port_line.strip().isdigit() and time.monotonic() < deadline:
        time.sleep(0.1)
        port_line = target.log_path.read_text(encoding="utf-8").strip()
    if not port_line.isdigit():
        raise RuntimeError(f"target did not start: {target.tail()}")
    return f"http://127.0.0.1:{port_line}/health"


def one_run(k: int, pause: float, keep: bool) -> dict[str, float]:
    with Stack(f"slaprobe-bench-accuracy-{k}-", keep=keep) as stack:
        t0 = math.ceil(time.time()) + 8.0  # time to start everything before the story
        url = start_target(stack, t0)
        _, bb_port = stack.blackbox(timeout=0.8)
        listen = free_port()
        cfg = stack.dir / "probe.toml"
        cfg.write_text("\n".join([
            "[daemon]", f'listen = "127.0.0.1:{listen}"',
            f'database = "{stack.dir / "slaprobe.db"}"', "",
            "[defaults]", 'interval = "1s"', 'timeout = "800ms"', "retries = 0", "",
            "[[targets]]", f'name = "{TARGET}"', f'url = "{url}"', ""]), encoding="utf-8")
        sp = stack.slaprobe(cfg, listen)
        pcfg = stack.prometheus_config("prometheus", blackbox=(bb_port, [url]), interval=1.0,
                                       slaprobe=listen, slaprobe_interval=1.0)
        prom_port = free_port()
        prom, _ = stack.prometheus("prometheus", pcfg, port=prom_port)
        print(f"run {k + 1}: story starts {rfc3339(t0)}; {sum(s for s, _ in STORY):.0f} s",
              flush=True)

        sleep_until(t0 + PROM_STOP)
        stack.stop(prom)
        print(f"  T0+{time.time() - t0:.0f}s Prometheus stopped", flush=True)
        time.sleep(pause)
        prom, _ = stack.prometheus("prometheus", pcfg, port=prom_port,
                                   data=stack.dir / "prometheus-data")
        print(f"  T0+{time.time() - t0:.0f}s Prometheus ready again", flush=True)

        sleep_until(t0 + SLAPROBE_KILL)
        stack.stop(sp, signal.SIGKILL)
        print(f"  T0+{time.time() - t0:.0f}s slaprobe killed (-9)", flush=True)
        time.sleep(pause)
        sp = stack.slaprobe(cfg, listen)
        print(f"  T0+{time.time() - t0:.0f}s slaprobe ready again", flush=True)

        a, b = t0 + RANGE[0], t0 + RANGE[1]
        sleep_until(b + 5.0)  # the last checks written and scraped
        length = f"{RANGE[1] - RANGE[0]:.0f}s"
        out = subprocess.run(
            slaprobe_cmd("report", "--config", str(cfg), "--from", rfc3339(a), "--to",
                         rfc3339(b), "--format", "json"),
            capture_output=True, text=True, check=False, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"slaprobe report failed: {out.stderr[-2000:]}")
        scope = json.loads(out.stdout)["targets"][TARGET]
        up = promql_scalar(prom_port, f'increase(slaprobe_up_seconds_total{{target="{TARGET}"}}'
                                      f'[{length}])', at=b)
        down = promql_scalar(
            prom_port, f'increase(slaprobe_down_seconds_total{{target="{TARGET}"}}[{length}])',
            at=b)
        bbx = promql_scalar(prom_port, f'avg_over_time(probe_success{{job="blackbox"}}'
                                       f'[{length}])', at=b)
        samples = promql_scalar(prom_port, f'count_over_time(probe_success{{job="blackbox"}}'
                                           f'[{length}])', at=b)
        gt = truth(*RANGE)
        res = {
            "truth": gt,
            "slaprobe report": float(scope["availability"]),
            "slaprobe counters (PromQL)": up / (up + down) if up + down else math.nan,
            "blackbox avg_over_time": bbx,
        }
        print(f"  range {rfc3339(a)} .. {rfc3339(b)} ({length})")
        for name, v in res.items():
            err = "" if name == "truth" else f"   error {v - gt:+.4f}"
            print(f"  {name:28s} {v:.4f}{err}")
        print(f"  slaprobe unknown seconds     {scope['unknown_seconds']:.1f} "
              f"(coverage {scope['coverage']:.4f}); blackbox samples in range {samples:.0f} "
              f"of {RANGE[1] - RANGE[0]:.0f} scrape slots", flush=True)
        return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1, help="repeat the story (1)")
    ap.add_argument("--pause", type=float, default=0.0,
                    help="seconds before restarting Prometheus and slaprobe (0)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    args = ap.parse_args()
    if missing := [m for m in missing_tools() if m in (BLACKBOX, PROMETHEUS)]:
        print(f"missing: {' '.join(missing)} (apt-get install {' '.join(missing)})",
              file=sys.stderr)
        return 2
    print("bench_accuracy: one scripted outage story, 127.0.0.1 only")
    print(source_fingerprint())
    runs: list[dict[str, float]] = []
    try:
        for k in range(args.runs):
            runs.append(one_run(k, args.pause, args.keep))
    except KeyboardInterrupt:
        print("interrupted: every process started was stopped", file=sys.stderr)
    if runs:
        print(f"\nmean absolute error over {len(runs)} run(s):")
        print("| figure | mean abs. error | errors |")
        print("|---|---|---|")
        for name in list(runs[0])[1:]:
            errs = [r[name] - r["truth"] for r in runs]
            print(f"| {name} | {statistics.mean(abs(e) for e in errs):.4f} | "
                  f"{', '.join(f'{e:+.4f}' for e in errs)} |")
    return 0 if len(runs) == args.runs else 130


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(float(sys.argv[2]))
    else:
        sys.exit(main())
