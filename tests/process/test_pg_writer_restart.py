"""One writer per location, whatever happens to the server: a real PostgreSQL restarted
under a running daemon. The daemon takes its location's lock again when its connection
comes back, so a second daemon with the same location is still refused."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
import pgserver
from procs import Daemon, Metrics, free_port, shared_config, slaprobe, switch_target

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(pgserver.binaries() is None,
                       reason="no PostgreSQL server binaries (Debian package postgresql)"),
]


def stored(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute("SELECT count(*) FROM checks").fetchone()
    return int(row[0]) if row else 0


def written(m: Metrics) -> bool:
    return m.get(("slaprobe_store_pending_checks", ()), 1.0) == 0.0


async def test_a_second_daemon_is_refused_after_the_server_restarted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pgserver.server() as srv:
        url = srv.new_database()
        monkeypatch.setenv("SLAPROBE_TEST_DB", url)
        stack = contextlib.AsyncExitStack()
        target_url, _ = await stack.enter_async_context(switch_target())
        port = free_port()
        first = Daemon(shared_config(tmp_path / "first", port=port, target=target_url), port)
        try:
            await first.launch()
            await first.wait_until(lambda m: stored(url) >= 2, "checks written")
            await asyncio.to_thread(srv.stop)
            await asyncio.to_thread(srv.start)
            before = await asyncio.to_thread(stored, url)
            # the daemon writes again: its new connection took the location's lock first
            await first.wait_until(lambda m: stored(url) >= before + 3 and written(m),
                                   "checks written after the restart", timeout=60)
            dup = shared_config(tmp_path / "second", port=free_port(), target=target_url)
            refused = await asyncio.to_thread(slaprobe, "run", "--config", str(dup),
                                              cwd=dup.parent, timeout=30)
            assert refused.returncode == 2, refused.stderr
            assert "location 'east'" in refused.stderr, refused.stderr
            assert "in use by another slaprobe run (pid " in refused.stderr
            assert f":{srv.port}/" in refused.stderr
            await first.wait_ready()  # the first one still writes, ready
        finally:
            first.stop()
            await stack.aclose()


def at_by_insertion(url: str) -> list[float]:
    with psycopg.connect(url, autocommit=True) as c:
        return [float(r[0]) for r in c.execute(
            "SELECT at FROM checks WHERE target = 'app' ORDER BY n").fetchall()]


async def test_kill_9_while_the_server_is_away_loses_no_spooled_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks the server could not take are on local disk as they come: a `kill -9`
    during the outage, a restart once the server is back, and every one is written, in
    order, the chain intact."""
    with pgserver.server() as srv:
        url = srv.new_database()
        monkeypatch.setenv("SLAPROBE_TEST_DB", url)
        stack = contextlib.AsyncExitStack()
        target_url, _ = await stack.enter_async_context(switch_target())
        port = free_port()
        cfg = shared_config(tmp_path / "d", port=port, target=target_url)
        first = Daemon(cfg, port)
        second = Daemon(cfg, port)
        try:
            await first.launch()
            await first.wait_until(lambda m: stored(url) >= 2 and written(m), "checks written")
            await asyncio.to_thread(srv.stop)
            stopped = time.time()
            m = await first.wait_until(
                lambda m: m.get(("slaprobe_store_spooled_checks", ()), 0.0) >= 6,
                "checks spooled while the server is away", timeout=60)
            spooled = m[("slaprobe_store_spooled_checks", ())]
            assert (cfg.parent / "slaprobe-east.spool").read_text().count("\n") >= spooled
            first.stop()  # SIGKILL: no graceful close writes the spool for it
            killed = time.time()
            await asyncio.to_thread(srv.start)
            await second.launch()
            await second.wait_until(lambda m: written(m) and stored(url) >= 2 + spooled + 2,
                                    "the spooled checks written after the restart", timeout=60)
            ats = await asyncio.to_thread(at_by_insertion, url)
            assert ats == sorted(ats) and len(set(ats)) == len(ats)  # in order, once each
            gaps = [b - a for a, b in itertools.pairwise(ats) if b - a > 1.5]
            # one gap at most: the kill and restart (checks in flight, the start-up)
            assert len(gaps) <= 1, gaps
            # the checks made while the server was away, before the kill, are all there
            assert sum(stopped <= a <= killed for a in ats) >= spooled
            second.stop()
            v = await asyncio.to_thread(slaprobe, "verify", "--config", str(cfg),
                                        cwd=cfg.parent)
            assert v.returncode == 0, v.stdout + v.stderr
        finally:
            first.stop()
            second.stop()
            await stack.aclose()
