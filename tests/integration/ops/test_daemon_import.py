"""Importing history while the daemon runs: the store and the daemon both end up true."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from faultserver import FaultServer
from promtext import Scrape
from waits import until

from slaprobe.config import parse
from slaprobe.core.history.timeline import fold
from slaprobe.core.model import Check
from slaprobe.history.store import Store
from slaprobe.ops.daemon import Daemon


def spans(h):  # type: ignore[no-untyped-def]
    return list(zip(h.spans.starts, h.spans.ends, h.spans.states, strict=True)), h.open


async def checked(d: Daemon) -> dict[str, float]:
    scrape = Scrape(await d.rooms.exporter.render())
    return {dict(k[1])["target"]: v for k, v in scrape.samples.items()
            if k[0] == "slaprobe_probes_total" and dict(k[1])["result"] == "success"}


async def all_checked_more_than(d: Daemon, before: dict[str, float]) -> bool:
    now = await checked(d)
    return all(now.get(f"t{i}", 0.0) > before.get(f"t{i}", 0.0) for i in range(5))


async def test_import_during_run_keeps_timelines_true_to_the_checks(
    tmp_path: Path, fault_server: FaultServer,
) -> None:
    """After an import of older history mid-run, the stored and in-memory timelines both
    equal a fold of every stored check, and the imported outage counts."""
    db = tmp_path / "h.db"
    cfg = parse({
        "daemon": {"database": str(db)},
        "defaults": {"interval": "1s", "timeout": "500ms", "retries": 0},
        "targets": [{"name": f"t{i}", "url": fault_server.url("/ok")} for i in range(5)],
    }, env={})
    d = await Daemon.open(cfg, env={})
    await d.start()
    try:
        # mid-run: every target has been checked (bounded wait, not a timed one)
        assert await until(lambda: all_checked_more_than(d, {}), timeout=20.0, every=0.05)
        now = time.time()
        old = [Check(f"t{i}", now - 600 + k * 0.2, not 100 <= k < 200, 0.2)
               for i in range(5) for k in range(2900)]

        def import_elsewhere() -> tuple[int, int]:
            other = Store(db)  # a second connection, as `slaprobe import` would open
            try:
                r = other.import_checks(enumerate(old, 2))
                return r.inserted, r.skipped
            finally:
                other.close()

        assert await asyncio.to_thread(import_elsewhere) == (len(old), 0)

        def downs() -> list[float]:
            return [d.tracker.target_figures(f"t{i}", now - 600, now - 500, time.time()).down
                    for i in range(5)]

        # the daemon notices within a second and reloads: the imported 20 s outage counts
        # (no sooner than the reload; and exactly 20 s, no more, once it is there)
        await until(lambda: downs() == [20.0] * 5, timeout=20.0, every=0.05)
        assert downs() == [20.0] * 5
        # live checks go on after the reload, into the same timelines
        seen = await checked(d)
        assert await until(lambda: all_checked_more_than(d, seen), timeout=20.0, every=0.05)
    finally:
        await d.shutdown()
    store = await asyncio.to_thread(Store, db)
    try:
        for i in range(5):
            name = f"t{i}"
            stored = store.checks(name, 0, 4e9)
            assert spans(store.load(name, float("-inf"))) == spans(fold(stored)), name
            assert spans(d.tracker.histories[name]) == spans(fold(stored)), name
    finally:
        store.close()
