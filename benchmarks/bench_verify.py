#!/usr/bin/env python3
"""Cost of `slaprobe verify` on a long history: 30 days x 100 targets at 30 s.

Setup (not measured): a fresh database in a temporary directory; 8.64 million checks
(100 targets, one check each 30 s for 30 days, 0.2% random failures) inserted in
time order by one SQL statement, then chained as the daemon chains them: blocks of
at most 4,096 checks (`chainstore.chain_range`), plus one terms record; the spans and
open runs folded from them.

Measured, printed, never asserted: the wall and CPU time of `Store.verify()` (the
whole walk: every record's digest, every block's content recomputed from its raw
checks, rows in no block, first-seen and terms tables cross-checked, the spans and
open runs recomputed from the checks and compared), then of
`slaprobe verify` as a process (interpreter start-up included), and the database
size. Aim from the issue: under 10 s.

Usage: python benchmarks/bench_verify.py [--days 30] [--targets 100] [--interval 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from slaprobe.core.evidence.terms import Terms
from slaprobe.history import chainstore, sqlstore
from slaprobe.history.store import Store

T0 = 1790812800.0  # 2026-10-01T00:00:00Z


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--interval", type=float, default=30)
    args = ap.parse_args()
    slots = int(args.days * 86400 / args.interval)
    tmp = Path(tempfile.mkdtemp(prefix="slaprobe-bench-verify-"))
    try:
        db = tmp / "history.db"
        t = time.monotonic()
        store = Store(db)
        store.record_terms(Terms(0.999, 172800.0, False,
                                 {f"t{i:03d}": True for i in range(args.targets)}), T0)
        with store.backend.write() as sql:  # setup only: the daemon writes batch by batch
            sql.run(f"""
                WITH RECURSIVE
                k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < {slots - 1}),
                t(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM t WHERE j < {args.targets - 1})
                INSERT INTO checks (target, at, ok, latency, status, error, interval, network,
                                    unknown)
                SELECT printf('t%03d', j), {T0} + i * {args.interval} + j * 0.25,
                       abs(random()) % 500 != 0, 0.05, 200, NULL, {args.interval}, 0, 0
                FROM k, t ORDER BY i, j""")
            top = sql.value("SELECT max(n) FROM checks")
            chainstore.chain_range(sql, 1, int(top))
            for i in range(args.targets):  # the timelines, as the daemon keeps them
                sqlstore.rebuild(sql, "default", f"t{i:03d}")
        store.close()
        print(f"setup: {top:,} checks in {time.monotonic() - t:.1f} s; database "
              f"{os.path.getsize(db) / 1e6:.0f} MB")

        store = Store(db, read_only=True)
        wall, c0 = time.monotonic(), cpu()
        verdict = store.verify()
        wall, used = time.monotonic() - wall, cpu() - c0
        store.close()
        print(f"Store.verify(): {wall:.2f} s wall, {used:.2f} s CPU; ok={verdict.ok} "
              f"records={verdict.records:,} checks={verdict.checks:,}   (aim < 10 s)")

        cfg = tmp / "probe.toml"
        cfg.write_text(f'[daemon]\ndatabase = "{db}"\n\n' + "".join(
            f'[[targets]]\nname = "t{i:03d}"\nurl = "http://127.0.0.1:9/"\n\n'
            for i in range(args.targets)))
        wall = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "slaprobe", "verify", "--config", str(cfg)],
                           capture_output=True, text=True, check=False)
        wall = time.monotonic() - wall
        print(f"slaprobe verify: {wall:.2f} s wall, exit {r.returncode}: "
              f"{(r.stdout or r.stderr).strip()[:120]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
