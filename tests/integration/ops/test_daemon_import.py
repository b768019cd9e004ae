"""Importing history while the daemon runs: the store and the daemon both end up true."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from faultserver import FaultServer

from slaprobe.config import parse
from slaprobe.core.history.timeline import fold
from slaprobe.core.model import Check
from slaprobe.history.store import Store
from slaprobe.ops.daemon import Daemon


def spans(h):  # type: ignore[no-untyped-def]
    return list(zip(h.spans.starts, h.spans.ends, h.spans.states, strict=True)), h.open


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
        await asyncio.sleep(1.0)
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
        await asyncio.sleep(2.0)  # the daemon notices within a second and reloads
        for i in range(5):
            name = f"t{i}"
            figures = d.tracker.target_figures(name, now - 600, now - 500, time.time())
            assert figures.down == 20.0, name  # the imported 20 s outage
        await asyncio.sleep(0.6)
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
