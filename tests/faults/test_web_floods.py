"""Nobody on the network can blind the monitoring: floods of slow report requests and
of wrong passwords, on 127.0.0.1, bounded in count and time, while /metrics and
/healthz keep answering (their latency printed, not asserted).

The server runs on an event loop of its own (a thread), as in the daemon; the flood
and the scraper run on the test's loop."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import web
from structlog.testing import capture_logs
from waits import until

from slaprobe.web import admission, server
from slaprobe.web.webauth import BasicAuth

pytestmark = pytest.mark.timeout(120)

BODY = b"# TYPE slaprobe_up gauge\nslaprobe_up 1\n" * 50
FLOOD = 300          # clients
FLOOD_SECONDS = 4.0  # how long they keep at it


class ServerThread:
    """server.start on its own loop in a thread; `hold` keeps the slow handler busy."""

    def __init__(self, routes: Sequence[web.RouteDef] = (), middlewares: Sequence[Any] = ()
                 ) -> None:
        self.routes, self.middlewares = routes, middlewares
        self.loop = asyncio.new_event_loop()
        self.hold = asyncio.Event()
        self.started = threading.Event()
        self.app: web.Application | None = None
        self.port = 0
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),))

    async def _render(self) -> bytes:
        return await asyncio.to_thread(lambda: BODY)  # the default pool, like the exporter

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.app = server.make_app(self._render, lambda: True, self.routes,
                                   middlewares=self.middlewares)
        runner = await server.start(self.app, "127.0.0.1", 0)
        site = next(iter(runner.sites))
        assert isinstance(site, server.LimitedSite)
        self.port = site._bound_port or 0
        self.started.set()
        await self._stop.wait()
        self.hold.set()
        await runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self.started.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)
        self.loop.close()


@contextlib.contextmanager
def slow_report_server() -> Iterator[ServerThread]:
    holder: list[ServerThread] = []

    async def slow(_: web.Request) -> web.Response:  # a report that takes "forever"
        await holder[0].hold.wait()
        return web.Response(text="{}")

    with ServerThread([web.get("/api/v1/report", slow)]) as st:
        holder.append(st)
        yield st


async def _timed_get(session: aiohttp.ClientSession, url: str,
                     headers: dict[str, str] | None = None) -> tuple[int, float]:
    started = time.monotonic()
    try:
        async with session.get(url, headers=headers) as r:
            await r.read()
            return r.status, time.monotonic() - started
    except (aiohttp.ClientError, TimeoutError):
        return 0, time.monotonic() - started


def _print(what: str, latencies: list[float]) -> None:
    ms = sorted(x * 1000 for x in latencies)
    print(f"\n{what}: n={len(ms)} median {statistics.median(ms):.1f} ms, "
          f"max {ms[-1]:.1f} ms")


async def _report_client(port: int, deadline: float, answers: dict[int, int]) -> None:
    """Asks for the slow report again and again until the deadline (a new connection
    each time it is answered), counting the answers by status."""
    request = (b"GET /api/v1/report?from=1990-01-01&to=2200-01-01 HTTP/1.1\r\n"
               b"Host: x\r\n\r\n")
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        try:
            writer.write(request)
            line = await asyncio.wait_for(reader.readline(),
                                          max(0.01, deadline - time.monotonic()))
            status = int(line.split()[1]) if line.startswith(b"HTTP/") else 0
            answers[status] = answers.get(status, 0) + 1
        except (TimeoutError, OSError, ValueError, IndexError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await asyncio.sleep(0.02)


async def test_slow_report_flood_never_blinds_the_scrape() -> None:
    """Before: 300 connections asking for a long report took every connection slot;
    every /metrics and /healthz got 503 while they lasted."""
    with slow_report_server() as st:
        deadline = time.monotonic() + FLOOD_SECONDS
        answers: dict[int, int] = {}
        flood = [asyncio.create_task(_report_client(st.port, deadline, answers))
                 for _ in range(FLOOD)]
        assert st.app is not None
        gate = st.app[server.ADMISSION]
        # the flood is on: the report's slots and queue are full, the rest refused
        assert await until(lambda: sum(gate.refused.values()) >= FLOOD, timeout=20)
        statuses: list[int] = []
        latencies: list[float] = []
        conn = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=conn,
                                         timeout=aiohttp.ClientTimeout(total=10)) as c:
            while time.monotonic() < deadline - 0.3:
                for path in ("/metrics", "/healthz", "/readyz"):
                    status, took = await _timed_get(c, st.url + path)
                    statuses.append(status)
                    latencies.append(took)
                await asyncio.sleep(0.05)
        await asyncio.gather(*flood)
        _print("scrape during a slow-report flood", latencies)
        print(f"report answers by status: {dict(sorted(answers.items()))}; "
              f"refused by the server: {gate.refused}")
        assert len(statuses) >= 9 and set(statuses) == {200}, statuses
        # the reports ran a few at a time; the others were told at once
        assert answers.get(429, 0) + answers.get(503, 0) > FLOOD, answers


async def test_expensive_requests_never_take_the_reserve() -> None:
    """However the slow requests arrive, at most limit - reserve run or wait, and
    once the queue is full the next is 429 at once."""
    with slow_report_server() as st:
        assert st.app is not None
        gate = st.app[server.ADMISSION]
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn,
                                         timeout=aiohttp.ClientTimeout(total=10)) as c:
            n = admission.KIND_CONCURRENCY["api"] + admission.KIND_QUEUE["api"]
            held = [asyncio.create_task(_timed_get(c, f"{st.url}/api/v1/report"))
                    for _ in range(n)]
            assert await until(lambda: gate.non_cheap() == n, timeout=10)
            status, took = await _timed_get(c, f"{st.url}/api/v1/report")
            assert status == 429 and took < 2.0, (status, took)
            assert (await _timed_get(c, f"{st.url}/healthz"))[0] == 200
            st.loop.call_soon_threadsafe(st.hold.set)
            assert {s for s, _ in await asyncio.gather(*held)} == {200}


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("spread", [False, True], ids=["one-address", "50-addresses"])
async def test_wrong_password_flood_leaves_the_right_scrape_fast(spread: bool) -> None:
    """Before: wrong passwords queued bcrypt in asyncio's default pool, the one that
    renders /metrics and writes the store: the right password's scrape took 6-15 s.
    Now bcrypt has its own bounded pool (429 when its queue is full) and each client a
    failure budget (429, one event). Spread over 50 loopback addresses, no budget is
    spent in time: the pool's bound alone keeps the scrape fast."""
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=10))
    auth = BasicAuth({"prometheus": hashed})
    good = _basic("prometheus", "right")
    with capture_logs() as logs, ServerThread(middlewares=[auth.middleware]) as st:
        conn = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=conn,
                                         timeout=aiohttp.ClientTimeout(total=30)) as c:
            assert (await _timed_get(c, f"{st.url}/metrics", good))[0] == 200
            deadline = time.monotonic() + FLOOD_SECONDS
            answers: dict[int, int] = {}

            async def guesser(i: int) -> None:
                n = 0
                local = aiohttp.TCPConnector(
                    limit=0, force_close=True,
                    local_addr=(f"127.0.0.{2 + i}", 0) if spread else None)
                async with aiohttp.ClientSession(connector=local) as mine:
                    while time.monotonic() < deadline:
                        n += 1
                        status, _ = await _timed_get(mine, f"{st.url}/metrics",
                                                     _basic("prometheus", f"guess-{i}-{n}"))
                        answers[status] = answers.get(status, 0) + 1

            flood = [asyncio.create_task(guesser(i)) for i in range(50)]
            latencies: list[float] = []
            while time.monotonic() < deadline - 0.3:
                status, took = await _timed_get(c, f"{st.url}/metrics", good)
                assert status == 200
                latencies.append(took)
                await asyncio.sleep(0.05)
            await asyncio.gather(*flood)
    auth.close()
    _print("right password's scrape during a wrong-password flood", latencies)
    print(f"wrong-password answers by status ({'50 addresses' if spread else 'one address'}):"
          f" {dict(sorted(answers.items()))}")
    assert answers.get(429, 0) > 0 and answers.get(401, 0) > 0, answers
    throttled = [e for e in logs if e["event"] == "auth_failures_throttled"]
    if not spread:
        assert len(throttled) == 1, throttled  # one client (127.0.0.1), one event


async def test_bcrypt_never_runs_in_the_default_pool() -> None:
    seen: list[str] = []

    def checkpw(password: bytes, hashed: bytes) -> bool:
        seen.append(threading.current_thread().name)
        return bcrypt.checkpw(password, hashed)

    auth = BasicAuth({"u": bcrypt.hashpw(b"p", bcrypt.gensalt(rounds=4))}, checkpw=checkpw)
    assert await auth.allowed("Basic " + base64.b64encode(b"u:p").decode())
    assert not await auth.allowed("Basic " + base64.b64encode(b"nobody:p").decode())
    auth.close()
    assert seen and all(name.startswith("slaprobe-auth") for name in seen), seen


def test_unknown_users_take_as_long_as_known_ones_whatever_the_cost() -> None:
    """Before: the dummy hash for unknown users always had cost 10; a user at cost 13
    took 498 ms, an unknown name 64 ms."""
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=12))
    auth = BasicAuth({"alice": hashed})

    def timed(user: str) -> float:
        started = time.perf_counter()
        auth._check(b"wrong", auth.users.get(user))
        return time.perf_counter() - started

    pairs = [(timed("alice"), timed("mallory")) for _ in range(4)]  # interleaved
    known, unknown = min(k for k, _ in pairs), min(u for _, u in pairs)  # the least noisy
    auth.close()
    print(f"\nbcrypt cost 12: known user {known * 1000:.0f} ms, unknown {unknown * 1000:.0f} ms")
    assert 0.6 < unknown / known < 1.6, (known, unknown)
