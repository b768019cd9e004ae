"""`slaprobe demo`: the first five minutes, in one command.

A simulated CloneNer (app, api, docs) starts on 127.0.0.1 and follows a short
script (`story`); a month of plausible history is written into a database in a
new temporary folder; the real daemon then probes the simulation for a minute or
two while a summary is drawn on the terminal; at the end the report is written in
every format into the same folder and its path printed. Ctrl-C ends it at any
point. Nothing is written outside that folder and nothing leaves the machine.

The demo's history is simulated, first sight of maintenance windows included: a
window announced days ahead is recorded as seen when it was announced, as a
daemon running then would have seen it. Everything else is the real daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from slaprobe import logs
from slaprobe.config import load
from slaprobe.core.reporting import figfmt
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.core.timefmt import iso
from slaprobe.demo import story
from slaprobe.demo.simulator import CloneNer, free_port
from slaprobe.history.store import Store
from slaprobe.ops import daemon as daemon_mod

FORMATS = ("text", "json", "markdown", "html", "csv")
EXT = {"text": "txt", "json": "json", "markdown": "md", "html": "html", "csv": "csv"}


# A slaprobe command line run in this process: argv in, exit status out (the CLI's main).
Command = Callable[[list[str]], int]

def _toml_time(at: float) -> str:
    return iso(round(at))


def write_config(folder: Path, base: str, port: int, interval: float,
                 windows: Sequence[MaintenanceSpec]) -> Path:
    """The demo's probe.toml, in the folder."""
    lines = [
        "# slaprobe demo: a simulated CloneNer on 127.0.0.1",
        "[daemon]", f'listen = "127.0.0.1:{port}"',
        f"database = {json.dumps(str(folder / 'demo.db'))}",
        'service = "CloneNer"', "",
        "[slo]", "objective = 0.999", 'windows = ["1h", "1d", "7d", "30d"]',
        'maintenance_notice = "48h"', "",
        "[defaults]", f'interval = "{interval:g}s"', f'timeout = "{max(interval * 0.8, 0.5):g}s"',
        "retries = 0", "",
    ]
    for name, critical, where in story.TARGETS:
        lines += ["[[targets]]", f'name = "{name}"', f'url = "{base}{where}"',
                  f"critical = {'true' if critical else 'false'}"]
        if name == "docs":
            lines.append(f'max_latency = "{int(story.SLOW_LIMIT * 1000)}ms"')
        lines.append("")
    for w in windows:
        lines += ["[[maintenance]]", f'id = "{w.id}"', f"start = {_toml_time(w.start)}",
                  f"end = {_toml_time(w.end)}", f"announced = {_toml_time(w.announced)}"]
        if w.targets is not None:
            lines.append("targets = [" + ", ".join(f'"{t}"' for t in w.targets) + "]")
        lines += [f"reason = {json.dumps(w.reason)}", ""]
    path = folder / "probe.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def backfill(db: Path, t0: float) -> int:
    """Write the month of simulated history ending at `t0`."""
    store = Store(db)
    n = 0
    try:
        batch = []
        for c in story.history(t0):
            batch.append(c)
            if len(batch) >= 20000:
                store.write(batch)
                n += len(batch)
                batch = []
        if batch:
            store.write(batch)
            n += len(batch)
    finally:
        store.close()
    return n


def see_windows(db: Path, windows: Sequence[MaintenanceSpec]) -> None:
    """Record each window as first seen when it was announced (simulated history)."""
    store = Store(db)
    try:
        for w in windows:
            store.record_seen([w], w.announced)
    finally:
        store.close()


class Summary:
    """The live terminal summary, read from the daemon's own HTTP endpoints."""

    def __init__(self, base: str, out: TextIO, duration: float) -> None:
        self.base = base
        self.out = out
        self.duration = duration
        self.tty = out.isatty()
        self.lines = 0

    async def fetch(self, session: aiohttp.ClientSession) -> tuple[dict[str, Any] | None,
                                                                 dict[str, float],
                                                                 list[Any] | None]:
        rep = None
        states: dict[str, float] = {}
        incidents = None
        try:
            async with session.get(f"{self.base}/api/v1/report",
                                   params={"from": "now-30d"}) as r:
                if r.status == 200:
                    rep = await r.json()
            async with session.get(f"{self.base}/metrics") as r:
                text = await r.text()
            for fam in text_string_to_metric_families(text):
                if fam.name == "slaprobe_target_up":
                    for s in fam.samples:
                        states.setdefault(s.labels["target"], s.value)
                if fam.name == "slaprobe_maintenance_active":
                    for s in fam.samples:
                        if s.value == 1:
                            states[s.labels["target"]] = -1.0  # in excused maintenance
            async with session.get(f"{self.base}/api/v1/incidents",
                                   params={"from": "now-30d"}) as r:
                if r.status == 200:
                    incidents = (await r.json()).get("incidents", [])
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        return rep, states, incidents

    def draw(self, elapsed: float, rep: dict[str, Any] | None, states: dict[str, float],
             incidents: list[Any] | None) -> None:
        rows = [f"slaprobe demo  {elapsed:5.0f}s of {self.duration:.0f}s   "
                f"story: {story.live_note(elapsed, self.duration)}"]
        if rep is not None:
            s = rep["service"]
            open_ = ("n/a" if incidents is None else
                     str(sum(1 for i in incidents if i.get("end") is None)))
            rows.append(
                f"  CloneNer (service)  30d availability {_pct(s['availability'])}  "
                f"error budget left {_pct(s['error_budget_remaining_ratio'], 1)}  "
                f"open incidents {open_}")
            for name, critical, _ in story.TARGETS:
                t = rep["targets"].get(name, {})
                up = states.get(name)
                state = ("unknown" if up is None or math.isnan(up) else
                         "maint." if up < 0 else "up" if up == 1 else "DOWN")
                rows.append(f"  {name:<5} {'critical' if critical else 'non-critical':<13}"
                            f"{state:<8} 30d {_pct(t.get('availability'))}  down "
                            f"{figfmt.duration(t.get('down_seconds', 0.0))}")
        else:
            rows.append("  (waiting for the daemon)")
        if self.tty and self.lines:
            self.out.write(f"\x1b[{self.lines}F\x1b[J")
        self.out.write("\n".join(rows) + "\n")
        self.out.flush()
        self.lines = len(rows) if self.tty else 0


def _pct(x: float | None, decimals: int = 3) -> str:
    return "n/a" if x is None else figfmt.percent(x, decimals) + "%"


async def live(folder: Path, duration: float, interval: float, out: TextIO) -> bool:
    """Backfill, then run the daemon against the simulation; False if interrupted."""
    t_hist = float(int(time.time() // 60) * 60)  # whole minutes read better
    out.write(f"slaprobe demo: writing a month of simulated history into {folder} ...\n")
    out.flush()
    n = await asyncio.to_thread(backfill, folder / "demo.db", t_hist)
    sim = CloneNer(duration, interval)
    base = await sim.start()
    port = free_port()
    t_live = time.time()
    windows = story.maintenance(t_live, duration)
    cfg_path = write_config(folder, base, port, interval, windows)
    await asyncio.to_thread(see_windows, folder / "demo.db", [
        w for w in windows if w.announced < t_live])
    cfg = load(cfg_path, env={})
    out.write(f"  {n} checks over 30 days; simulated CloneNer at {base}; daemon on "
              f"http://127.0.0.1:{port} (/status, /metrics, /api/v1/report)\n")
    out.flush()
    d = await daemon_mod.Daemon.open(cfg, env={})
    started = time.monotonic()
    sim.elapsed = lambda: time.monotonic() - started
    task = asyncio.create_task(d.run())
    summary = Summary(f"http://127.0.0.1:{port}", out, duration)
    every = 1.0 if summary.tty else max(duration / 6, 2.0)
    interrupted = False
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            next_draw = 0.0
            while not task.done() and not d.stopping.is_set():  # Ctrl-C sets stopping
                elapsed = time.monotonic() - started
                if elapsed >= duration:
                    break
                if elapsed >= next_draw and elapsed > 1.0:
                    summary.draw(elapsed, *await summary.fetch(session))
                    next_draw = elapsed + every
                await asyncio.sleep(0.2)
            interrupted = d.stopping.is_set() or task.done()
            if not interrupted:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    summary.draw(time.monotonic() - started, *await summary.fetch(session))
                    async with session.get(f"http://127.0.0.1:{port}/status") as r:
                        if r.status == 200:
                            (folder / "status.html").write_bytes(await r.read())
    finally:
        d.stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sim.stop()
    return not interrupted


def write_reports(folder: Path, command: Command) -> list[Path]:
    """The report of the last 30 UTC days (today so far included) in every format,
    beside the database, each made by the `slaprobe report` command (`command`)."""
    start = iso(story.day0(time.time()) - 29 * story.DAY)[:10]
    out = []
    for fmt in FORMATS:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = command(
                ["report", "--config", str(folder / "probe.toml"), "--from", start,
                 "--format", fmt])
        if rc == 0:
            path = folder / f"report.{EXT[fmt]}"
            path.write_text(buf.getvalue(), encoding="utf-8")
            out.append(path)
    return out


def main(duration: float, interval: float, command: Command,
         out: TextIO = sys.stdout) -> int:
    """The tour; `command` runs a slaprobe command line (the CLI's main), for the reports."""
    folder = Path(tempfile.mkdtemp(prefix="slaprobe-demo-"))
    log = (folder / "daemon.log").open("w", encoding="utf-8")
    logs.setup(json=True, level="info", journal=False, file=log)
    completed = False
    try:
        completed = asyncio.run(live(folder, duration, interval, out))
    except KeyboardInterrupt:
        out.write("\nslaprobe demo: interrupted\n")
    finally:
        log.close()
    if not (folder / "probe.toml").exists():
        out.write(f"slaprobe demo: stopped before the daemon started; nothing to report "
                  f"(what was written is in {folder})\n")
        return 130
    try:
        files = write_reports(folder, command)
    except KeyboardInterrupt:
        out.write("\nslaprobe demo: interrupted while writing the reports\n")
        return 130
    done = "done" if completed else "stopped early"
    out.write(f"\nslaprobe demo: {done}. The report in every format is in {folder}:\n")
    for p in [*files, folder / "status.html", folder / "probe.toml", folder / "daemon.log"]:
        if p.exists():
            out.write(f"  {p}\n")
    out.write(f"Open {folder / 'report.html'} in a browser. To point slaprobe at your own "
              "endpoints, copy probe.toml, edit its [[targets]] and run "
              "`slaprobe run --config probe.toml`.\n")
    return 0 if completed else 130
