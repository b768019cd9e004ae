"""A database that refuses writes never stops probing; nothing is dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path

from faultserver import FaultServer
from prometheus_client import CollectorRegistry

from slaprobe.config import parse
from slaprobe.daemon import Daemon
from slaprobe.store import Store


async def test_write_errors_are_counted_retried_and_probing_goes_on(
    tmp_path: Path, fault_server: FaultServer,
) -> None:
    """While SQLite refuses writes, checks queue up and errors are counted; then all land."""
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db")},
        "defaults": {"interval": "1s", "timeout": "500ms", "retries": 0},
        "targets": [{"name": "app", "url": fault_server.url("/ok")}],
    }, env={})
    registry = CollectorRegistry()
    d = Daemon(cfg, registry=registry, env={})
    await d.start()
    try:
        assert d.store is not None
        d.store._db.execute("PRAGMA query_only = ON")  # real SQLite refusing every write
        await asyncio.sleep(3.5)
        errors = registry.get_sample_value("slaprobe_store_errors_total")
        pending = registry.get_sample_value("slaprobe_store_pending_checks")
        probed = registry.get_sample_value(
            "slaprobe_probes_total", {"target": "app", "result": "success"})
        assert errors is not None and errors >= 1
        assert probed is not None and probed >= 3  # probing went on
        d.store._db.execute("PRAGMA query_only = OFF")
        for _ in range(100):  # the writer backs off, then retries the same batch
            await asyncio.sleep(0.1)
            if registry.get_sample_value("slaprobe_store_pending_checks") == 0:
                break
        assert registry.get_sample_value("slaprobe_store_pending_checks") == 0
    finally:
        await d.shutdown(None)
    store = Store(tmp_path / "h.db")
    try:
        stored = len(store.checks("app", 0, 4e9))
    finally:
        store.close()
    done = registry.get_sample_value("slaprobe_probes_total",
                                     {"target": "app", "result": "success"})
    assert done is not None and stored >= done - 1
    assert pending is not None
