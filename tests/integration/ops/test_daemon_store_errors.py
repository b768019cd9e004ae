"""A database that refuses writes never stops probing; nothing is dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

from faultserver import FaultServer
from promtext import Scrape
from waits import until

from slaprobe.config import parse
from slaprobe.history.store import Store
from slaprobe.ops.daemon import Daemon


async def test_write_errors_are_counted_retried_and_probing_goes_on(
    tmp_path: Path, fault_server: FaultServer,
) -> None:
    """While SQLite refuses writes, checks queue up and errors are counted; then all land."""
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db")},
        "defaults": {"interval": "1s", "timeout": "500ms", "retries": 0},
        "targets": [{"name": "app", "url": fault_server.url("/ok")}],
    }, env={})
    d = await Daemon.open(cfg, env={})

    async def scrape() -> Scrape:
        return Scrape(await d.rooms.exporter.render())

    success = {"target": "app", "result": "success"}
    await d.start()
    try:
        d.store.backend.conn.execute("PRAGMA query_only = ON")  # real SQLite refusing every write

        async def refused_a_while() -> bool:
            m = await scrape()
            return ((m.value("slaprobe_store_errors_total") or 0) >= 1
                    and (m.value("slaprobe_probes_total", success) or 0) >= 3
                    and (m.value("slaprobe_store_pending_checks") or 0) >= 1)

        # bounded: until writes failed, three checks were made and checks wait unwritten
        await until(refused_a_while, timeout=20, every=0.05)
        m = await scrape()
        errors = m.value("slaprobe_store_errors_total")
        pending = m.value("slaprobe_store_pending_checks")
        probed = m.value("slaprobe_probes_total", success)
        assert errors is not None and errors >= 1
        assert probed is not None and probed >= 3  # probing went on
        d.store.backend.conn.execute("PRAGMA query_only = OFF")
        # the writer backs off, then retries the same batch
        assert await until(
            lambda: _pending_is_zero(scrape()), timeout=20)
        done = (await scrape()).value("slaprobe_probes_total", success)
    finally:
        await d.shutdown()
    store = await asyncio.to_thread(Store, tmp_path / "h.db")
    try:
        stored = len(store.checks("app", 0, 4e9))
    finally:
        store.close()
    assert done is not None and stored >= done - 1
    assert pending is not None and pending >= 1  # they queued up meanwhile


async def _pending_is_zero(scrape: Awaitable[Scrape]) -> bool:
    return (await scrape).value("slaprobe_store_pending_checks") == 0
