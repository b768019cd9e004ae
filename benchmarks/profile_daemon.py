#!/usr/bin/env python3
"""Where the daemon's CPU goes: `slaprobe run` against a local nginx, sampled by py-spy.

Starts Debian's nginx (as bench_sidebyside.py does) and `slaprobe run` with N
targets (default 1,000 every 10 s, timeout 2 s, no retries), scrapes /metrics
every 15 s as a Prometheus would, waits one interval plus 10 s, then samples the
daemon with `py-spy record` (pip install py-spy) for --seconds and prints the
functions with the largest share of samples: self time (the function itself
running) and inclusive (it or what it calls). Idle samples (the loop waiting in
epoll) are left out, so shares are of busy time. Loopback only; every process
started is stopped. Figures are printed, never asserted.

Usage: .venv/bin/python benchmarks/profile_daemon.py [--targets 1000] [--interval 10]
       [--seconds 30] [--top 25] [--asyncio] [--native]
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import threading
import time

from _common import free_port, http_get, source_fingerprint
from _stack import Stack, missing_tools
from bench_sidebyside import slaprobe_config

IDLE = ("select (selectors.py", "_run_once (asyncio", "epoll", "run_forever (uvloop",
        "poll (selectors.py")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--asyncio", action="store_true", help="asyncio's own loop, not uvloop")
    ap.add_argument("--native", action="store_true",
                    help="C frames too (py-spy --native; pauses the daemon to sample it)")
    args = ap.parse_args()
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        print("py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 2
    if missing := [m for m in missing_tools() if m == "nginx"]:
        print(f"missing: {' '.join(missing)}", file=sys.stderr)
        return 2
    if args.asyncio:
        os.environ["SLAPROBE_EVENT_LOOP"] = "asyncio"
    print(source_fingerprint())
    with Stack("slaprobe-profile-") as stack:
        _, nginx = stack.nginx()
        listen = free_port()
        cfg = stack.dir / "probe.toml"
        slaprobe_config(cfg, targets=args.targets, nginx=nginx, listen=listen,
                        database=stack.dir / "slaprobe.db", interval=args.interval)
        sp = stack.slaprobe(cfg, listen)
        stop = threading.Event()

        def scrape() -> None:
            while not stop.wait(15.0):
                http_get(f"http://127.0.0.1:{listen}/metrics", timeout=60.0)

        threading.Thread(target=scrape, daemon=True).start()
        time.sleep(args.interval + 10.0)
        raw = stack.dir / "profile.txt"
        how = ["--native"] if args.native else ["--nonblocking"]
        subprocess.run([spy, "record", "--pid", str(sp.pid), "--duration",
                        str(int(args.seconds)), "--rate", "200", "--format", "raw",
                        "--output", str(raw), *how], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stop.set()
        report(raw.read_text(encoding="utf-8"), args.top)
    return 0


def report(text: str, top: int) -> None:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    busy = idle = 0
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        count = int(n)
        if any(frames[-1].startswith(i) or i in frames[-1] for i in IDLE):
            idle += count
            continue
        busy += count
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    total = busy + idle
    print(f"samples {total}: busy {busy} ({100 * busy / max(total, 1):.1f}%), idle {idle}")
    for title, c in (("self", own), ("inclusive", incl)):
        print(f"\ntop {top} by {title} share of busy samples:")
        for frame, count in c.most_common(top):
            print(f"  {100 * count / max(busy, 1):5.1f}%  {frame}")


if __name__ == "__main__":
    sys.exit(main())
