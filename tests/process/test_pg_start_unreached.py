"""A daemon on a shared PostgreSQL history starts while the server is down: real
processes, a real server stopped and started under them. It serves /metrics and
/healthz at once, /readyz is 503 until the history is reached, it probes on schedule
with every check on local disk from the first, and when the server comes the checks
made meanwhile are written to the shared history, in order; a `kill -9` meanwhile
loses none, SIGTERM stops it with the spool kept. A config mistake still exits 2."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
import sys
import time
from pathlib import Path

import aiohttp
import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
import pgserver
from procs import Daemon, Metrics, free_port, sample, shared_config, slaprobe, switch_target

SECRET = "s3cret-pw"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(pgserver.binaries() is None,
                       reason="no PostgreSQL server binaries (Debian package postgresql)"),
]


def with_password(url: str, password: str = SECRET) -> str:
    """The URL with a password (the tests' server trusts local logins: it is ignored,
    but it must never show in a log or an error)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.replace('@', f':{password}@', 1)}"


def spooled(cfg: Path) -> list[float]:
    """The check times of `app` in the daemon's spool file, in its order."""
    path = cfg.parent / "slaprobe-east.spool"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [row[1] for row in rows if row[0] == "app"]


def stored(url: str, target: str = "app") -> list[float]:
    """A target's check times in the shared history, in insertion order."""
    with psycopg.connect(url, autocommit=True) as c:
        return [float(r[0]) for r in c.execute(
            "SELECT at FROM checks WHERE target = %s ORDER BY n", (target,)).fetchall()]


def written(m: Metrics) -> bool:
    return m.get(("slaprobe_store_pending_checks", ()), 1.0) == 0.0


async def status(url: str) -> int:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status


def in_order(kept: list[float], history: list[float]) -> bool:
    """Every check of `kept` is in `history`, in the same order."""
    where = {at: i for i, at in enumerate(history)}
    return all(at in where for at in kept) and [where[at] for at in kept] == sorted(
        where[at] for at in kept)


async def serving(d: Daemon, timeout: float = 20) -> None:
    """Start the daemon and wait until it serves /healthz (not ready: no history)."""
    d.start()
    deadline = time.monotonic() + timeout
    while True:
        assert d.proc is not None
        if d.proc.poll() is not None:
            raise AssertionError(f"daemon exited {d.proc.returncode}: {d.logs()}")
        with contextlib.suppress(aiohttp.ClientError):
            if await status(f"{d.url}/healthz") == 200:
                return
        assert time.monotonic() < deadline, f"not serving: {d.logs()}"
        await asyncio.sleep(0.1)


def clean(d: Daemon) -> None:
    logs = d.logs()
    assert "Traceback" not in logs, logs[-3000:]
    assert SECRET not in logs


async def test_a_daemon_starts_while_the_server_is_down_and_writes_when_it_comes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pgserver.server() as srv:
        url = with_password(srv.new_database())
        monkeypatch.setenv("SLAPROBE_TEST_DB", url)
        await asyncio.to_thread(srv.stop)
        async with switch_target() as (target, switch):
            port = free_port()
            cfg = shared_config(tmp_path / "d", port=port, target=target)
            d = Daemon(cfg, port)
            await serving(d)
            try:
                m = await d.wait_until(
                    lambda m: sample(m, "slaprobe_store_spooled_checks") >= 3,
                    "checks kept on local disk while the server is down")
                assert sample(m, "slaprobe_probe_success", target="app") == 1.0
                assert switch.hits >= 3  # the target was probed, on schedule
                # the past is in the history that was not read: the windows are unknown
                for w in ("1h", "30d"):
                    assert math.isnan(sample(m, "slaprobe_availability_ratio",
                                             target="app", window=w))
                    assert math.isnan(sample(m, "slaprobe_error_budget_remaining_ratio",
                                             service="CloneNer", window=w))
                assert await status(f"{d.url}/healthz") == 200
                assert await status(f"{d.url}/readyz") == 503
                for page in ("/status", "/api/v1/report?from=now-1h"):  # say why, no 500
                    async with aiohttp.ClientSession() as s, s.get(d.url + page) as r:
                        assert r.status == 503 and "history not available" in await r.text()
                [event] = d.events("store_unavailable_at_start")
                assert "Connection refused" in event["error"]
                assert event["database"] == url.replace(SECRET, "***")
                assert d.events("store_reached") == []
                # a reload meanwhile: the new target is probed (its past read later)
                cfg.write_text(cfg.read_text() + f'\n[[targets]]\nname = "api"\n'
                                                  f'url = "{target}/api"\n')
                d.signal(signal.SIGHUP)
                await d.wait_until(
                    lambda m: sample(m, "slaprobe_probe_success", target="api") == 1.0,
                    "the target added by a reload probed")
                assert d.events("config_reloaded") and not d.events("config_reload_failed")
                kept = spooled(cfg)  # durable from the first check
                assert len(kept) >= 3
                await asyncio.to_thread(srv.start)
                await d.wait_ready(timeout=60)
                await d.wait_until(lambda m: written(m) and len(stored(url)) > len(kept),
                                   "the checks made while the server was down written")
                history = await asyncio.to_thread(stored, url)
                assert history == sorted(history) and len(set(history)) == len(history)
                assert in_order(kept, history)
                assert history[:len(kept)] == kept  # nothing before them: a new history
                assert len(d.events("store_reached")) == 1
                assert await status(f"{d.url}/api/v1/report?from=now-1h") == 200
                assert await asyncio.to_thread(stored, url, "api")  # the added target's
                m = await d.metrics()
                assert not math.isnan(sample(m, "slaprobe_availability_ratio",
                                             target="app", window="1h"))
            finally:
                d.signal(signal.SIGTERM)
                assert await asyncio.to_thread(d.wait, 20) == 0
            clean(d)
            verify = await asyncio.to_thread(slaprobe, "verify", "--config", str(cfg),
                                             cwd=cfg.parent)
            assert verify.returncode == 0, verify.stdout + verify.stderr


async def test_kill_9_before_the_server_came_loses_no_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pgserver.server() as srv:
        url = with_password(srv.new_database())
        monkeypatch.setenv("SLAPROBE_TEST_DB", url)
        await asyncio.to_thread(srv.stop)
        async with switch_target() as (target, _):
            port = free_port()
            cfg = shared_config(tmp_path / "d", port=port, target=target)
            first, second = Daemon(cfg, port), Daemon(cfg, port)
            try:
                await serving(first)
                await first.wait_until(
                    lambda m: sample(m, "slaprobe_store_spooled_checks") >= 3,
                    "checks kept on local disk while the server is down")
                kept = spooled(cfg)
                first.stop()  # SIGKILL: no graceful close writes the spool for it
                await asyncio.to_thread(srv.start)
                await second.launch()
                await second.wait_until(lambda m: written(m) and len(stored(url)) > len(kept),
                                        "the spooled checks written")
                history = await asyncio.to_thread(stored, url)
                assert history == sorted(history) and len(set(history)) == len(history)
                assert in_order(kept, history) and history[:len(kept)] == kept
                assert second.events("store_unavailable_at_start") == []
            finally:
                first.stop()
                second.stop()
            clean(first)
            clean(second)


async def test_sigterm_while_waiting_for_the_server_keeps_the_spool(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pgserver.server() as srv:
        url = with_password(srv.new_database())
        monkeypatch.setenv("SLAPROBE_TEST_DB", url)
        await asyncio.to_thread(srv.stop)
        async with switch_target() as (target, _):
            port = free_port()
            cfg = shared_config(tmp_path / "d", port=port, target=target)
            d = Daemon(cfg, port)
            try:
                await serving(d)
                m = await d.wait_until(
                    lambda m: sample(m, "slaprobe_store_spooled_checks") >= 2,
                    "checks kept on local disk while the server is down")
                before = spooled(cfg)
                d.signal(signal.SIGTERM)
                # within the unit's stop timeout (TimeoutStopSec=20s), exit 0
                assert await asyncio.to_thread(d.wait, 20) == 0
            finally:
                d.stop()
            after = spooled(cfg)
            assert after[:len(before)] == before and len(after) >= m[
                ("slaprobe_store_spooled_checks", ())]
            assert d.events("pending_writes_kept")
            clean(d)
            # the next start, with the server back, writes them
            await asyncio.to_thread(srv.start)
            again = Daemon(cfg, port)
            try:
                await again.launch()
                await again.wait_until(lambda m: written(m) and len(stored(url)) > len(after),
                                       "the kept checks written")
                assert in_order(after, await asyncio.to_thread(stored, url))
            finally:
                again.stop()


async def test_config_mistakes_still_exit_2(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong password, a missing database, a location another daemon writes: no
    retry fixes them, so the daemon says so and exits 2 (the password never shown)."""
    with pgserver.server() as srv:
        login = srv.password_login("probe", "right-one")
        cases = [
            (with_password(login), "password authentication failed"),
            (with_password(srv.url("no_such_db")), 'database "no_such_db" does not exist'),
        ]
        cfg = shared_config(tmp_path / "d", port=free_port(), target="http://127.0.0.1:9")
        for url, what in cases:
            monkeypatch.setenv("SLAPROBE_TEST_DB", url)
            r = await asyncio.to_thread(slaprobe, "run", "--config", str(cfg),
                                        cwd=cfg.parent, timeout=30)
            assert r.returncode == 2, r.stdout + r.stderr
            assert what in r.stderr and SECRET not in r.stderr + r.stdout
            assert "Traceback" not in r.stderr
        url = with_password(srv.new_database())
        monkeypatch.setenv("SLAPROBE_TEST_DB", url)
        async with switch_target() as (target, _):
            port = free_port()
            first = Daemon(shared_config(tmp_path / "first", port=port, target=target), port)
            try:
                await first.launch()
                dup = shared_config(tmp_path / "second", port=free_port(), target=target)
                r = await asyncio.to_thread(slaprobe, "run", "--config", str(dup),
                                            cwd=dup.parent, timeout=30)
                assert r.returncode == 2, r.stderr
                assert "location 'east'" in r.stderr and "in use by another slaprobe run" \
                    in r.stderr
                assert SECRET not in r.stderr and "Traceback" not in r.stderr
            finally:
                first.stop()
