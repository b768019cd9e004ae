"""A hung PostgreSQL (every server process stopped with SIGSTOP): the daemon says so within
seconds and stops in time, keeping what it could not write on local disk.

A real daemon probes a local target every second into a real PostgreSQL history. With
the server stopped, a write gets no answer: within seconds `/readyz` answers 503, the
`store_write_failed` event is logged and `slaprobe_store_errors_total` counts, while
`/metrics` keeps answering. SIGTERM then ends the daemon well within the unit's
TimeoutStopSec (20 s), the unwritten checks in its spool file. With the server running
again (SIGCONT), a new daemon writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import psycopg
import pytest

HERE = Path(__file__).resolve().parent
for sub in ("process", "contract"):
    path = str(HERE.parent / sub)
    if path not in sys.path:
        sys.path.insert(0, path)

import pgserver  # noqa: E402
from procs import Daemon, free_port, shared_config, switch_target  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
STOP_TIMEOUT = 20.0  # deploy/systemd/slaprobe.service TimeoutStopSec


def cluster_pids(srv: pgserver.Server) -> list[int]:
    """The postmaster and every process it started."""
    master = int((srv.data / "postmaster.pid").read_text().split()[0])
    out = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                out.append(int(entry.name))
    return out


def hang(srv: pgserver.Server, sig: signal.Signals) -> None:
    for pid in cluster_pids(srv):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@pytest.fixture
def pg() -> Iterator[pgserver.Server]:
    if pgserver.binaries() is None:
        pytest.fail("no PostgreSQL server binaries (Debian package postgresql)")
    with pgserver.server() as srv:
        try:
            yield srv
        finally:
            hang(srv, signal.SIGCONT)  # never leave it stopped for its own shutdown


@pytest.fixture
async def target() -> AsyncIterator[str]:
    async with switch_target() as (url, _):
        yield url


async def readyz(d: Daemon) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"{d.url}/readyz") as r:
        return r.status


def checks_in(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as c:
        row = c.execute("SELECT count(*) FROM checks").fetchone()
        return int(row[0]) if row else 0


def advisory_locks(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as c:
        row = c.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        return int(row[0]) if row else 0


async def test_a_hung_server_is_an_error_within_seconds_and_a_stop_keeps_the_checks(
        pg: pgserver.Server, target: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg.new_database()
    monkeypatch.setenv("SLAPROBE_TEST_DB", url)
    port = free_port()
    cfg = shared_config(tmp_path, port=port, target=target)
    d = Daemon(cfg, port)
    again = Daemon(cfg, d.port)
    try:
        await d.launch()
        await d.wait_until(lambda m: (m.get(("slaprobe_probes_total", (
            ("result", "success"), ("target", "app")))) or 0) >= 3, "three checks")
        await d.wait_for_value("slaprobe_store_pending_checks", 0)

        hang(pg, signal.SIGSTOP)
        stopped = time.monotonic()
        deadline = stopped + 30
        while await readyz(d) == 200:
            assert time.monotonic() < deadline, "still ready 30 s after the server hung"
            await asyncio.sleep(0.2)
        noticed = time.monotonic() - stopped
        print(f"hung server noticed after {noticed:.1f} s")
        assert noticed < 15, noticed  # the call deadline (5 s), a connection try, a check
        failed = d.events("store_write_failed")
        assert failed and "no answer within" in failed[0]["error"], failed
        assert "SLAPROBE_TEST_DB" not in str(failed)
        errors = await d.value("slaprobe_store_errors_total")
        assert errors is not None and errors >= 1
        await d.wait_until(lambda m: (m.get(("slaprobe_store_pending_checks", ())) or 0) >= 3,
                           "checks waiting")

        d.signal(signal.SIGTERM)
        asked = time.monotonic()
        code = await asyncio.to_thread(d.wait, STOP_TIMEOUT + 10)
        took = time.monotonic() - asked
        assert code == 0, d.logs()[-3000:]
        print(f"stop took {took:.1f} s")
        assert took < STOP_TIMEOUT - 5, f"the stop took {took:.1f} s"
        assert d.events("pending_writes_kept") and not d.events("pending_writes_lost")
        spool = tmp_path / "slaprobe-east.spool"
        on_disk = spool.read_text().count("\n")
        assert on_disk >= 3, d.logs()[-3000:]

        hang(pg, signal.SIGCONT)
        before = await asyncio.to_thread(checks_in, url)
        deadline = time.monotonic() + 30
        while await asyncio.to_thread(advisory_locks, url):  # the old sessions end
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await again.launch()
        await again.wait_for_value("slaprobe_store_pending_checks", 0, timeout=30)
        after = await asyncio.to_thread(checks_in, url)
        assert after >= before + on_disk
    finally:
        hang(pg, signal.SIGCONT)
        d.stop()
        again.stop()
