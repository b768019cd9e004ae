"""A scriptable local HTTP server that misbehaves on request, for prober tests.

Routes (all GET; aiohttp adds HEAD):
  /ok                       200 "ok"
  /status/{code}            that status, body "status {code}"
  /text?body=..             200 with that body
  /json                     200 '{"status": "healthy", "version": "1.2.3"}'
  /slow?delay=S             sleeps S seconds, then 200 "ok"
  /reset                    declares 1000 bytes, sends 100, then aborts the connection
  /big?size=N&tail=T        N bytes of "x" streamed in chunks (never built in memory), then T
  /drip                     chunked, one byte every 0.1 s, forever
  /loop                     302 to /loop
  /redirect                 301 to /ok
  /flaky?fail=N             503 for the first N requests, then 200 "ok"
  /auth                     "authorization: present" or "authorization: absent"
  /method                   any method; echoes it

Only ever bound to 127.0.0.1 on an ephemeral port.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

CHUNK = b"x" * (64 * 1024)


@dataclass
class Stats:
    """What the server saw and did, for assertions."""

    hits: Counter[str] = field(default_factory=Counter)  # requests per route name
    body_bytes_sent: int = 0  # by /big
    authorization: list[str | None] = field(default_factory=list)  # by /auth
    peers: list[tuple[str, int]] = field(default_factory=list)  # client address per request


STATS = web.AppKey("stats", Stats)


def make_app(stats: Stats) -> web.Application:
    app = web.Application(middlewares=[_record])
    app[STATS] = stats
    app.router.add_get("/ok", _ok, name="ok")
    app.router.add_get("/status/{code:\\d+}", _status, name="status")
    app.router.add_get("/text", _text, name="text")
    app.router.add_get("/json", _json, name="json")
    app.router.add_get("/slow", _slow, name="slow")
    app.router.add_get("/reset", _reset, name="reset")
    app.router.add_get("/big", _big, name="big")
    app.router.add_get("/drip", _drip, name="drip")
    app.router.add_get("/loop", _loop, name="loop")
    app.router.add_get("/redirect", _redirect, name="redirect")
    app.router.add_get("/flaky", _flaky, name="flaky")
    app.router.add_get("/auth", _auth, name="auth")
    app.router.add_route("*", "/method", _method, name="method")
    return app


@dataclass
class FaultServer:
    """A running fault server: build URLs with `url(path)`, inspect `stats`."""

    base: str
    stats: Stats

    def url(self, path: str) -> str:
        return self.base + path


@asynccontextmanager
async def serve(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[FaultServer]:
    """Run the fault app on 127.0.0.1:<ephemeral> (TLS when given a context)."""
    stats = Stats()
    server = TestServer(make_app(stats), host="127.0.0.1")
    await server.start_server(ssl=ssl_context)
    try:
        yield FaultServer(str(server.make_url("")).rstrip("/"), stats)
    finally:
        await server.close()


@web.middleware
async def _record(request: web.Request, handler: Handler) -> web.StreamResponse:
    stats = request.app[STATS]
    route = request.match_info.route.name or "?"
    stats.hits[route] += 1
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if peer:
        stats.peers.append((peer[0], peer[1]))
    return await handler(request)


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return web.Response(status=code, text=f"status {code}")


async def _text(request: web.Request) -> web.Response:
    return web.Response(text=request.query.get("body", ""))


async def _json(request: web.Request) -> web.Response:
    return web.json_response({"status": "healthy", "version": "1.2.3"})


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("delay", "2")))
    return web.Response(text="ok")


async def _reset(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    resp.content_length = 1000
    await resp.prepare(request)
    await resp.write(b"x" * 100)
    await asyncio.sleep(0.05)  # let the client see the headers and part of the body
    assert request.transport is not None
    request.transport.abort()
    return resp


async def _big(request: web.Request) -> web.StreamResponse:
    stats = request.app[STATS]
    size = int(request.query.get("size", str(100 * 1024 * 1024)))
    tail = request.query.get("tail", "").encode()
    resp = web.StreamResponse()
    resp.content_length = size + len(tail)
    await resp.prepare(request)
    left = size
    while left > 0:
        chunk = CHUNK if left >= len(CHUNK) else CHUNK[:left]
        await resp.write(chunk)
        stats.body_bytes_sent += len(chunk)
        left -= len(chunk)
    await resp.write(tail)
    stats.body_bytes_sent += len(tail)
    await resp.write_eof()
    return resp


async def _drip(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    while True:
        await resp.write(b".")
        await asyncio.sleep(0.1)


async def _loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/ok")


async def _flaky(request: web.Request) -> web.Response:
    fail = int(request.query.get("fail", "2"))
    if request.app[STATS].hits["flaky"] <= fail:
        return web.Response(status=503, text="not yet")
    return web.Response(text="ok")


async def _auth(request: web.Request) -> web.Response:
    value = request.headers.get("Authorization")
    request.app[STATS].authorization.append(value)
    return web.Response(text=f"authorization: {'present' if value else 'absent'}")


async def _method(request: web.Request) -> web.Response:
    return web.Response(text=f"method {request.method}")
