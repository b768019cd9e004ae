"""Self-inflicted failures are unknown, not down; the HTTP face cannot starve the probes.

- descriptor exhaustion during a probe is `probe_fd_exhausted` (a child process with
  a lowered RLIMIT_NOFILE that has used up its descriptors);
- a loop too busy to judge a timeout is `probe_overloaded`;
- the HTTP server closes connections that do not send their request in time, caps
  open connections (503 beyond), and concurrent /metrics scrapes share one rendering;
- a real daemon under a lowered descriptor limit, hit by slowloris clients and a burst
  of concurrent scrapes, records no false down check;
- repeated identical errors are logged once per change, with a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import structlog
from aiohttp import web
from clirun import child_env
from faultserver import FaultServer
from procs import Daemon, Switch, free_port, write_config
from promtext import Scrape
from waits import until

from slaprobe.config import parse
from slaprobe.core.model import ErrorKind
from slaprobe.core.spec import ProbeSpec
from slaprobe.ops.daemon import Daemon as InProcessDaemon
from slaprobe.probe import prober
from slaprobe.web import server

pytestmark = pytest.mark.timeout(90)
REPO = Path(__file__).resolve().parents[2]

EXHAUST = r"""
import asyncio, os, resource, sys
from slaprobe.probe import prober
from slaprobe.core.spec import ProbeSpec
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

async def main():
    held = []
    try:
        while True:  # the process has used up its descriptors
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    spec = ProbeSpec(name="t", url=sys.argv[1], retries=0, timeout=2.0)
    a = await prober.attempt(spec)
    for fd in held:
        os.close(fd)
    print(a.error, a.unknown, a.detail, sep="|")

asyncio.run(main())
"""


async def test_descriptor_exhaustion_is_unknown_not_down(fault_server: FaultServer) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", EXHAUST, fault_server.url("/ok"), env=child_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    kind, unknown, detail = out.decode().strip().split("|")
    assert kind == "probe_fd_exhausted" and unknown == "True", (out, err)
    assert "Too many open files" in detail or "descriptor" in detail.lower()


async def test_a_loop_too_late_to_judge_a_timeout_is_overloaded(
    fault_server: FaultServer,
) -> None:
    """The event loop blocked (a real 1.5 s stall) while an attempt waits on a slow target:
    the timeout fires a second late, so the attempt cannot say the target was slow."""
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, time.sleep, 1.5)
    spec = ProbeSpec(name="t", url=fault_server.url("/slow?delay=5"), retries=0, timeout=0.3)
    a = await prober.attempt(spec)
    assert a.error is ErrorKind.OVERLOADED and a.unknown, a
    # on time, the same slow target is a timeout (the target's fault)
    b = await prober.attempt(spec)
    assert b.error is ErrorKind.TIMEOUT and not b.unknown, b


async def _serve(render: object, **kw: object) -> tuple[web.AppRunner, int]:
    port = free_port()
    app = server.make_app(render, lambda: True)  # type: ignore[arg-type]
    runner = await server.start(app, "127.0.0.1", port, **kw)  # type: ignore[arg-type]
    return runner, port


def _half_request(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
    return s


def _closed_within(s: socket.socket, seconds: float) -> bool:
    s.settimeout(seconds)
    try:
        return s.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


async def test_server_closes_a_connection_that_never_finishes_its_request() -> None:
    async def render() -> bytes:
        return b"x 1\n"

    runner, port = await _serve(render, header_timeout=0.5)
    try:
        s = await asyncio.to_thread(_half_request, port)
        started = time.monotonic()
        assert await asyncio.to_thread(_closed_within, s, 5.0)
        assert time.monotonic() - started < 4.0
        s.close()
    finally:
        await runner.cleanup()


async def test_server_caps_open_connections_and_answers_busy_beyond() -> None:
    async def render() -> bytes:
        return b"x 1\n"

    runner, port = await _serve(render, limit=4)
    held = [await asyncio.to_thread(_half_request, port) for _ in range(4)]
    try:
        extra = await asyncio.to_thread(socket.create_connection, ("127.0.0.1", port), 5)
        extra.settimeout(5)
        answer = await asyncio.to_thread(extra.recv, 1024)
        assert answer.startswith(b"HTTP/1.1 503"), answer
        extra.close()
        for s in held:
            s.close()

        async def served() -> bool:  # once the server has seen the closes
            with contextlib.suppress(aiohttp.ClientError):
                async with aiohttp.ClientSession() as c, \
                        c.get(f"http://127.0.0.1:{port}/metrics") as r:
                    return r.status == 200
            return False

        assert await until(served, timeout=10, every=0.05)
    finally:
        for s in held:
            s.close()
        await runner.cleanup()


async def test_concurrent_scrapes_share_one_rendering() -> None:
    calls = 0

    async def render() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.3)
        return b"slaprobe_x 1\n" * 1000

    runner, port = await _serve(render)
    try:
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as c:
            async def one(gz: bool) -> bytes:
                headers = {"Accept-Encoding": "gzip" if gz else "identity"}
                async with c.get(f"http://127.0.0.1:{port}/metrics", headers=headers) as r:
                    assert r.status == 200
                    return await r.read()

            bodies = await asyncio.gather(*(one(i % 2 == 0) for i in range(40)))
    finally:
        await runner.cleanup()
    assert all(b == b"slaprobe_x 1\n" * 1000 for b in bodies)
    assert calls <= 3, calls  # 40 scrapes, one (or a few) renderings


# The child lowers its own descriptor limit, then becomes `slaprobe run`.
LIMIT_THEN_EXEC = (
    "import os, resource, sys; n = int(sys.argv[1]);"
    " resource.setrlimit(resource.RLIMIT_NOFILE, (n, n));"
    " os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


class LimitedDaemon(Daemon):
    """`slaprobe run` with a lowered descriptor limit (resource.setrlimit in the child)."""

    nofile = 128

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", LIMIT_THEN_EXEC, str(self.nofile),
                 "-m", "slaprobe", "run", "--config", str(self.config), "--log-format", "json"],
                cwd=self.config.parent, stdout=out, stderr=subprocess.STDOUT, env=child_env(),
            )


async def _slowloris(port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        with contextlib.suppress(OSError):
            out.append(await asyncio.to_thread(_half_request, port))
    return out


async def test_slowloris_and_a_scrape_burst_fake_no_downtime(
    tmp_path: Path, target: tuple[str, Switch],
) -> None:
    """Before: 300 half-finished requests held 300 descriptors (no header timeout, no
    limit) of the daemon's 128, and every probe failed 'Too many open files': down."""
    url, sw = target
    port = free_port()
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "app"
url = "{url}/ok"
""")
    d = LimitedDaemon(cfg, port)
    try:
        await d.launch()
        await d.wait_for_value("slaprobe_target_up", 1.0, target="app")
        held = await _slowloris(port, 300)
        conn = aiohttp.TCPConnector(limit=0, force_close=True)
        statuses: list[int] = []
        async with aiohttp.ClientSession(connector=conn,
                                         timeout=aiohttp.ClientTimeout(total=20)) as c:
            async def scrape() -> None:
                try:
                    async with c.get(f"{d.url}/metrics") as r:
                        await r.read()
                        statuses.append(r.status)
                except aiohttp.ClientError:
                    statuses.append(0)

            for _ in range(3):  # a burst, three times over, while the slow clients hang on
                await asyncio.gather(*(scrape() for _ in range(200)))
                hits = sw.hits  # and between bursts the daemon checks the target again
                assert await until(lambda hits=hits: sw.hits > hits, timeout=20), d.logs()[-3000:]
        for s in held:
            s.close()

        async def responsive() -> bool:
            with contextlib.suppress(aiohttp.ClientError):
                async with aiohttp.ClientSession() as c, c.get(f"{d.url}/metrics") as r:
                    return r.status == 200
            return False

        assert await until(responsive, timeout=20, every=0.1)  # responsive afterwards
        assert 200 in statuses  # some scrapes served during the storm
        assert await until(lambda: sw.hits >= 6, timeout=20)  # checks go on
        d.signal(signal.SIGTERM)
        assert d.wait(15) == 0
    finally:
        d.stop()
    with contextlib.closing(sqlite3.connect(tmp_path / "history.db")) as db:
        rows = db.execute("SELECT ok, unknown, error FROM checks WHERE target = 'app'").fetchall()
    assert len(rows) >= 5, d.logs()
    false_down = [r for r in rows if not r[0] and not r[1]]
    assert not false_down, (false_down, d.logs()[-3000:])
    assert sw.hits >= 5
    lines = d.logs().splitlines()
    assert len(lines) < 200, f"{len(lines)} log lines"
    for line in lines:
        json.loads(line)  # structlog events only, no stray tracebacks


async def test_repeated_store_errors_are_logged_once_with_a_count(
    tmp_path: Path, fault_server: FaultServer,
) -> None:
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db")},
        "defaults": {"interval": "1s", "timeout": "500ms", "retries": 0},
        "targets": [{"name": "app", "url": fault_server.url("/ok")}],
    }, env={})
    d = await InProcessDaemon.open(cfg, env={})

    async def store_errors() -> float:
        return Scrape(await d.rooms.exporter.render()).value("slaprobe_store_errors_total") or 0

    with structlog.testing.capture_logs() as logs:
        await d.start()
        try:
            d.store.backend.conn.execute("PRAGMA query_only = ON")  # real SQLite refusing writes
            for _ in range(100):
                await asyncio.sleep(0.1)
                if await store_errors() >= 3:
                    break
            d.store.backend.conn.execute("PRAGMA query_only = OFF")
            for _ in range(200):
                await asyncio.sleep(0.1)
                if any(e["event"] == "store_write_recovered" for e in logs):
                    break
            errors = await store_errors()
        finally:
            await d.shutdown()
    assert errors >= 3
    failed = [e for e in logs if e["event"] == "store_write_failed"]
    recovered = [e for e in logs if e["event"] == "store_write_recovered"]
    assert len(failed) == 1, failed
    assert len(recovered) == 1 and recovered[0]["failures"] == errors


def test_the_unit_raises_the_descriptor_limit() -> None:
    unit = (REPO / "deploy" / "systemd" / "slaprobe.service").read_text()
    values = [line.split("=", 1)[1] for line in unit.splitlines()
              if line.startswith("LimitNOFILE=")]
    assert values and int(values[-1]) >= 8192
