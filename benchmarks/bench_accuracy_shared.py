#!/usr/bin/env python3
"""How close to the truth when a daemon dies: three locations (quorum 2) against one daemon.

Setup (loopback only, files in a temporary directory, every process stopped at the
end, on Ctrl-C, SIGTERM and on failure):
- the local target of bench_accuracy.py follows its scripted story relative to a start
  time T0 (up 30 s, down 20 s, up 40 s, down 30 s, up 40 s, down 20 s, up 50 s); the
  truth is the share of [T0 + 5 s, T0 + 225 s] it is up;
- shared side: a PostgreSQL cluster of its own (as bench_locations.py starts it) and
  three `slaprobe run` daemons, locations east, north and west, `[slo] quorum = 2`;
- single side: one daemon on SQLite (default location, quorum 1);
- every daemon probes the target every 1 s (timeout 0.8 s, retries 0).
- Kills: four times, at about T0 + 24, 80, 113 and 170 s (each a few seconds earlier
  at random), one shared daemon in turn (east, north, west, east) and the single
  daemon get SIGKILL together; both are started again 10 to 30 s later (at random;
  the same for both). The kills straddle outage edges: the two locations left must
  see the edge.

At the end it prints, against the truth, over the range:
- the consensus (`slaprobe report --format json` on the shared history): availability,
  its error, coverage and unknown seconds; and each location's own figures;
- the single daemon's (its report on its SQLite file);
- the consensus recomputed from the recorded checks (`core.history.consensus`, the
  same function the report uses) under the rule as it is, and under an alternative
  that calls a disagreement without a quorum either way (one location up, one down,
  the third silent) unknown instead of up; the two must agree with the report and
  with each other except where two locations disagree;
- for each outage, how late the recorded down period starts and ends (consensus,
  single daemon) and which location was dead then.
--runs N repeats it (other random kill times) and prints the mean absolute errors.
Figures are printed, never asserted.

Usage: .venv/bin/python benchmarks/bench_accuracy_shared.py [--runs 1] [--seed 1] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from _common import free_port, loadavg, slaprobe_cmd, source_fingerprint
from _stack import Proc, Stack, wait_http
from bench_accuracy import RANGE, STORY, TARGET, rfc3339, sleep_until, start_target, truth
from bench_locations import LOCATIONS, cluster
from bench_shared import probe_config

from slaprobe.core.history import consensus
from slaprobe.core.history.timeline import History, Span
from slaprobe.core.model import State
from slaprobe.history.pgstore import PgStore
from slaprobe.history.store import Store

QUORUM = 2
KILLS = (24.0, 80.0, 113.0, 170.0)  # roughly: before the onsets at 30 and 90, the ends
DEAD = (10.0, 30.0)                 # at 120 and 180; then dead for 10 to 30 s
PROBE = ('interval = "1s"', 'timeout = "800ms"', "retries = 0")
SINCE = 120.0  # history loaded from this long before the range


def strict_rule(counts: Sequence[int], quorum: int) -> State | None:
    """The alternative: up only when `quorum` locations see it up; a disagreement with
    no quorum either way is unknown (else as the rule is)."""
    if counts[State.DOWN] >= quorum:
        return State.DOWN
    if counts[State.UP] >= quorum:
        return State.UP
    if counts[State.PROBE_NETWORK] and counts[State.UP] + counts[State.DOWN] < quorum:
        return State.PROBE_NETWORK
    return None


@dataclass(frozen=True)
class Figure:
    availability: float
    coverage: float
    unknown: float


def of_spans(spans: Sequence[Span], a: float, b: float) -> Figure:
    tot = [0.0] * len(State)
    for s, e, st in spans:
        lo, hi = max(s, a), min(e, b)
        if hi > lo:
            tot[st] += hi - lo
    known = sum(tot)
    up, down = tot[State.UP], tot[State.DOWN]
    return Figure(up / (up + down) if up + down else math.nan, known / (b - a), b - a - known)


def of_scope(scope: dict[str, float]) -> Figure:
    avail = scope["availability"]
    return Figure(math.nan if avail is None else float(avail), float(scope["coverage"]),
                  float(scope["unknown_seconds"]))


def downs(spans: Sequence[Span]) -> list[tuple[float, float]]:
    """Down periods, adjacent down spans merged."""
    out: list[tuple[float, float]] = []
    for s, e, st in spans:
        if st != State.DOWN:
            continue
        if out and out[-1][1] >= s:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def unknown_parts(spans: Sequence[Span], a: float, b: float) -> list[tuple[float, float]]:
    """The gaps of [a, b) that no span covers."""
    out, edge = [], a
    for s, e, _ in spans:
        if s > edge:
            out.append((edge, min(s, b)))
        edge = max(edge, e)
    if edge < b:
        out.append((edge, b))
    return out


def outages() -> list[tuple[float, float]]:
    out, edge = [], 0.0
    for length, up in STORY:
        if not up:
            out.append((edge, edge + length))
        edge += length
    return out


def report(cfg: Path, a: float, b: float) -> dict[str, object]:
    out = subprocess.run(
        slaprobe_cmd("report", "--config", str(cfg), "--from", rfc3339(a), "--to", rfc3339(b),
                     "--format", "json"),
        capture_output=True, text=True, check=False, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"slaprobe report failed: {out.stderr[-2000:]}")
    rep: dict[str, object] = json.loads(out.stdout)
    return rep


def consensus_of(histories: dict[str, History], a: float, b: float, now: float,
                 *, strict: bool) -> list[Span]:
    """The consensus spans over [a, b) from the locations' recorded timelines, by the
    rule as it is or (strict) by `strict_rule` in its place."""
    parts = [h.between(a, b, now) for h in histories.values()]
    if not strict:
        return consensus.consensus_spans(parts, QUORUM, a, b)
    with mock.patch.object(consensus, "rule", strict_rule):
        return consensus.consensus_spans(parts, QUORUM, a, b)


@dataclass
class Daemon:
    name: str
    cfg: Path
    listen: int
    state: Path
    proc: Proc | None = None

    def start(self, stack: Stack) -> None:
        self.proc = stack.slaprobe(self.cfg, self.listen, name=self.name,
                                   state_dir=self.state, wait=False)

    def ready(self) -> None:
        assert self.proc is not None
        wait_http(f"http://127.0.0.1:{self.listen}/readyz", self.proc, timeout=120.0)


def schedule(rng: random.Random) -> list[tuple[float, float, str]]:
    """(kill at, restart at, shared location) after T0."""
    out = []
    for i, at in enumerate(KILLS):
        kill = at - rng.uniform(0.0, 4.0)
        out.append((kill, kill + rng.uniform(*DEAD), LOCATIONS[(0, 1, 2, 0)[i]]))
    return out


def one_run(k: int, seed: int, keep: bool) -> dict[str, Figure]:
    rng = random.Random(seed + k)
    kills = schedule(rng)
    with Stack(f"slaprobe-bench-accuracy-shared-{k}-", keep=keep) as stack, \
            cluster() as (database, _):
        t0 = math.ceil(time.time()) + 20.0  # time to start everything before the story
        url = start_target(stack, t0)
        urls = [(TARGET, url)]
        shared: dict[str, Daemon] = {}
        for loc in LOCATIONS:
            listen = free_port()
            cfg = probe_config(stack.dir / f"{loc}.toml", listen=listen, database=database,
                               urls=urls, daemon=(f'location = "{loc}"',),
                               slo=(f"quorum = {QUORUM}",), defaults=PROBE)
            shared[loc] = Daemon(f"daemon-{loc}", cfg, listen, stack.dir / f"state-{loc}")
        listen = free_port()
        single = Daemon("daemon-single", probe_config(
            stack.dir / "single.toml", listen=listen, database=str(stack.dir / "single.db"),
            urls=urls, defaults=PROBE), listen, stack.dir / "state-single")
        try:
            for d in (*shared.values(), single):
                d.start(stack)
                d.ready()  # one by one: the first creates the schema
            if time.time() > t0:
                raise RuntimeError("the daemons took longer to start than the lead time")
            print(f"run {k + 1}: story starts {rfc3339(t0)}; load average {loadavg()}; "
                  "kills " + ", ".join(f"{loc} T0+{a:.1f}..{b:.1f}s" for a, b, loc in kills),
                  flush=True)
            dead: list[tuple[float, float, str]] = []
            for kill, restart, loc in kills:
                sleep_until(t0 + kill)
                for d in (shared[loc], single):
                    assert d.proc is not None
                    stack.stop(d.proc, signal.SIGKILL)
                killed = time.time() - t0
                sleep_until(t0 + restart)
                for d in (shared[loc], single):
                    d.start(stack)
                started = time.time() - t0
                for d in (shared[loc], single):
                    d.ready()
                dead.append((killed, started, loc))
                print(f"  T0+{killed:.1f}s {loc} and the single daemon killed (-9); started "
                      f"again T0+{started:.1f}s, ready T0+{time.time() - t0:.1f}s", flush=True)
            sleep_until(t0 + RANGE[1] + 5.0)  # the last checks written
            res = figures(shared, single, database, t0, dead)
        finally:
            for d in (*shared.values(), single):
                if d.proc is not None:
                    stack.stop(d.proc)
        print(f"  load average {loadavg()}", flush=True)
        return res


def figures(shared: dict[str, Daemon], single: Daemon, database: str, t0: float,
            dead: list[tuple[float, float, str]]) -> dict[str, Figure]:
    a, b = t0 + RANGE[0], t0 + RANGE[1]
    gt = truth(*RANGE)
    rep = report(shared[LOCATIONS[0]].cfg, a, b)
    one = report(single.cfg, a, b)
    targets = rep["targets"]
    assert isinstance(targets, dict)
    res = {"consensus (report)": of_scope(targets[TARGET])}
    locs = rep.get("locations")
    assert isinstance(locs, dict)
    for loc in LOCATIONS:
        res[f"{loc} alone (report)"] = of_scope(locs[loc]["targets"][TARGET])
    single_targets = one["targets"]
    assert isinstance(single_targets, dict)
    res["single daemon (report)"] = of_scope(single_targets[TARGET])
    now = time.time()
    pg = PgStore(database, read_only=True)
    try:
        histories = pg.load_locations(TARGET, a - SINCE)
    finally:
        pg.close()
    sq = Store(str(single.cfg.parent / "single.db"), read_only=True)
    try:
        mine = sq.load(TARGET, a - SINCE).between(a, b, now)
    finally:
        sq.close()
    as_is = consensus_of(histories, a, b, now, strict=False)
    strict = consensus_of(histories, a, b, now, strict=True)
    res["consensus (recomputed)"] = of_spans(as_is, a, b)
    res["consensus, 1-vs-1 unknown"] = of_spans(strict, a, b)
    print(f"  range {rfc3339(a)} .. {rfc3339(b)} ({b - a:.0f} s); truth {gt:.4f}")
    print("  | figure | availability | error | coverage | unknown s |")
    print("  |---|---|---|---|---|")
    for name, f in res.items():
        print(f"  | {name} | {f.availability:.4f} | {f.availability - gt:+.4f} | "
              f"{f.coverage:.4f} | {f.unknown:.1f} |")
    gaps = [(x - t0, y - t0) for x, y in unknown_parts(as_is, a, b) if y - x >= 0.5]
    print("  consensus unknown (s after T0, 0.5 s or more): "
          + (", ".join(f"{x:.1f}..{y:.1f}" for x, y in gaps) or "none"))
    print("  outages (s after T0): recorded down start/end minus the truth's (the consensus,"
          " the single daemon, each location alone); the location dead then")
    for s, e in outages():
        line = f"    true {s:.0f}..{e:.0f}:"
        views = [("consensus", as_is), ("single", mine),
                 *((loc, histories[loc].between(a, b, now)) for loc in sorted(histories))]
        for name, spans in views:
            hit = [(x - t0, y - t0) for x, y in downs(spans) if x - t0 < e + 5 and y - t0 > s - 5]
            if hit:
                line += (f"  {name} {hit[0][0] - s:+.2f}/{hit[-1][1] - e:+.2f}"
                         f"{f' ({len(hit)} parts)' if len(hit) > 1 else ''}")
            else:
                line += f"  {name} none"
        gone = [loc for x, y, loc in dead if x <= e + 2 and y >= s - 2]
        line += f"  dead: {', '.join(gone) or '-'}"
        print(line)
    sys.stdout.flush()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1, help="repeat the story (1)")
    ap.add_argument("--seed", type=int, default=1, help="of the kill times (1)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    args = ap.parse_args()
    print("bench_accuracy_shared: one scripted outage story, three locations (quorum 2) "
          "and one daemon, kills; 127.0.0.1 only")
    print(source_fingerprint())
    print(f"load average before {loadavg()}", flush=True)
    runs: list[dict[str, Figure]] = []
    try:
        for k in range(args.runs):
            runs.append(one_run(k, args.seed, args.keep))
    except KeyboardInterrupt:
        print("interrupted: every process started was stopped", file=sys.stderr)
    gt = truth(*RANGE)
    if runs:
        print(f"\nover {len(runs)} run(s), truth {gt:.4f}:")
        print("| figure | mean abs. error | errors | coverage |")
        print("|---|---|---|---|")
        for name in runs[0]:
            errs = [r[name].availability - gt for r in runs]
            cov = [r[name].coverage for r in runs]
            print(f"| {name} | {statistics.mean(abs(e) for e in errs):.4f} | "
                  f"{', '.join(f'{e:+.4f}' for e in errs)} | "
                  f"{', '.join(f'{c:.3f}' for c in cov)} |")
    return 0 if len(runs) == args.runs else 130


if __name__ == "__main__":
    sys.exit(main())
