"""The daemon verifies its history in the background: a hand edit lowers the metric,
probing goes on."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from faultserver import FaultServer
from promtext import Scrape
from waits import until

from slaprobe.config import parse
from slaprobe.evidence import verifier
from slaprobe.ops.daemon import Daemon


async def value(d: Daemon, name: str, labels: dict[str, str] | None = None) -> float | None:
    return Scrape(await d.rooms.exporter.render()).value(name, labels)


async def wait_for(d: Daemon, name: str, want: float, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if await value(d, name) == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} = {await value(d, name)}, wanted {want}")


def first_check_stored(db: Path) -> bool:
    with closing(sqlite3.connect(db, timeout=10)) as c:
        return c.execute("SELECT count(*) FROM checks WHERE n = 1").fetchone()[0] == 1


def edit_first_check(db: Path) -> int:
    with closing(sqlite3.connect(db, timeout=10)) as c:
        edited = c.execute("UPDATE checks SET ok = 0 WHERE n = 1").rowcount
        c.commit()
        return edited


async def test_an_edited_check_lowers_history_verified(
    tmp_path: Path, fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(verifier, "VERIFY_EVERY", 0.2)
    db = tmp_path / "h.db"
    cfg = parse({
        "daemon": {"database": str(db)},
        "defaults": {"interval": "1s", "timeout": "150ms", "retries": 0},
        "targets": [{"name": "app", "url": fault_server.url("/ok")}],
    }, env={})
    d = await Daemon.open(cfg, env={})
    await d.start()
    try:
        assert await until(lambda: asyncio.to_thread(first_check_stored, db), timeout=20.0,
                           every=0.05)
        await wait_for(d, "slaprobe_history_verified", 1.0)
        stamp = await value(d, "slaprobe_history_verified_timestamp_seconds")
        assert stamp is not None and stamp > 0
        assert await asyncio.to_thread(edit_first_check, db) == 1
        await wait_for(d, "slaprobe_history_verified", 0.0)
        success = {"target": "app", "result": "success"}
        before = await value(d, "slaprobe_probes_total", success)
        assert before is not None
        after = before
        deadline = time.monotonic() + 10  # interval 1 s; a loaded machine may be slow
        while after <= before and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            after = await value(d, "slaprobe_probes_total", success) or before
        assert after > before  # still probing
    finally:
        await d.shutdown()
