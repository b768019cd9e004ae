"""The HTTP face: /metrics serves the exporter's bytes as they are, plain or gzip."""

from __future__ import annotations

import gzip
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from slaprobe.metrics.exposition import CONTENT_TYPE
from slaprobe.web import server

BODY = b'# HELP slaprobe_x A test.\n# TYPE slaprobe_x gauge\nslaprobe_x{t="a"} 1.0\n' * 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def base() -> AsyncIterator[tuple[str, dict[str, bool]]]:
    state = {"ready": False}

    async def render() -> bytes:
        return BODY

    port = free_port()
    runner = await server.start(server.make_app(render, lambda: state["ready"]),
                                "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}", state
    await runner.cleanup()


async def test_metrics_are_the_rendered_bytes(base: tuple[str, dict[str, bool]]) -> None:
    url, _ = base
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        async with s.get(f"{url}/metrics", headers={"Accept-Encoding": "identity"}) as r:
            assert r.status == 200 and r.headers["Content-Type"] == CONTENT_TYPE
            assert "Content-Encoding" not in r.headers
            assert await r.read() == BODY
        async with s.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            raw = await r.read()
            assert len(raw) < len(BODY) and gzip.decompress(raw) == BODY


async def test_health_and_readiness(base: tuple[str, dict[str, bool]]) -> None:
    url, state = base
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/healthz") as r:
            assert (r.status, await r.text()) == (200, "ok\n")
        async with s.get(f"{url}/readyz") as r:
            assert r.status == 503
        state["ready"] = True
        async with s.get(f"{url}/readyz") as r:
            assert (r.status, await r.text()) == (200, "ready\n")
        async with s.get(f"{url}/") as r:
            assert "/metrics" in await r.text()
        async with s.get(f"{url}/nope") as r:
            assert r.status == 404


async def test_a_busy_address_raises_oserror() -> None:
    async def render() -> bytes:
        return b""

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(OSError):
            await server.start(server.make_app(render, lambda: True), "127.0.0.1", port)


async def test_history_pages_wait_until_the_history_is_read() -> None:
    """Until the daemon has read its history (a shared history's server reached later
    than the start), the pages that read it answer 503 saying why, HEAD too; /metrics
    and /healthz answer as ever; afterwards the page itself answers."""
    read = {"done": False}

    async def render() -> bytes:
        return BODY

    async def status(_: web.Request) -> web.Response:
        return web.Response(text="the status page\n")

    routes = server.after_history_read([web.get("/status", status)], lambda: read["done"])
    port = free_port()
    runner = await server.start(server.make_app(render, lambda: True, routes), "127.0.0.1", port)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{url}/status") as r:
                assert r.status == 503
                assert "not been read since the start" in await r.text()
            async with s.head(f"{url}/status") as r:
                assert r.status == 503
            async with s.get(f"{url}/metrics") as r, s.get(f"{url}/healthz") as h:
                assert (r.status, h.status) == (200, 200)
            read["done"] = True
            async with s.get(f"{url}/status") as r:
                assert (r.status, await r.text()) == (200, "the status page\n")
    finally:
        await runner.cleanup()
