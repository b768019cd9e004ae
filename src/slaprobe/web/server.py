"""The HTTP face of the daemon: /metrics, /healthz, /readyz, plus the read-only
pages it is given (/status, /api/v1/...).

A hostile or careless client must not take descriptors or CPU from the probes:
- a connection has `HEADER_TIMEOUT` to send its request headers (aiohttp's keep-alive
  timer runs from the connection's start and closes it while no request is
  complete), and lives at most `CONNECTION_TIMEOUT`;
- at most `connection_limit()` connections are open at once (aiohttp has no such
  limit: hence the small protocol factory below). At the limit, a connection that
  holds its slot for nothing is closed to make room: the oldest that has not sent a
  whole request for `STALLED` seconds (reads aiohttp's per-connection request
  count), else a request waiting in an expensive kind's queue, else a kept-alive
  connection idle for `STALLED` seconds; when there is none, the new client gets an
  immediate 503 and its descriptor is released at once;
- slots by kind (`admission`): /metrics, /healthz and /readyz have a reserve no
  other request can take; /api/v1 and /status run a few at a time, with a short
  queue, 429 beyond it;
- concurrent scrapes of /metrics share one rendering (`Shared`).
"""

from __future__ import annotations

import asyncio
import gzip
import resource
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from slaprobe.history.storeapi import StoreError
from slaprobe.metrics.exposition import CONTENT_TYPE
from slaprobe.web.admission import Admission

HEADER_TIMEOUT = 10.0      # seconds for a connection to send its request (and idle keep-alive)
CONNECTION_TIMEOUT = 60.0  # seconds a connection may stay open at all
MAX_CONNECTIONS = 256      # open connections at once, at most
STALLED = 1.0              # seconds without a whole request: evictable when at the limit
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 5\r\n"
         b"Content-Type: text/plain\r\n\r\nbusy\n")


def connection_limit() -> int:
    """MAX_CONNECTIONS, but never more than a quarter of the soft descriptor limit:
    the rest stays for probes, the database and the logs."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(4, min(MAX_CONNECTIONS, soft // 4))


class Shared:
    """One rendering at a time; scrapes arriving meanwhile wait for it and share it."""

    def __init__(self, render: Callable[[], Awaitable[bytes]]) -> None:
        self._render = render
        self._current: asyncio.Future[tuple[bytes, list[bytes]]] | None = None
        self.renders = 0  # how many renderings ran (for tests and benchmarks)

    async def get(self, *, gzipped: bool) -> bytes:
        fut = self._current
        if fut is None:
            fut = self._current = asyncio.ensure_future(self._run())
            fut.add_done_callback(self._done)
        body, packed = await asyncio.shield(fut)
        if not gzipped:
            return body
        if not packed:  # the first gzip client of this rendering compresses it for all
            packed.append(await asyncio.to_thread(gzip.compress, body, 1))
        return packed[0]

    async def _run(self) -> tuple[bytes, list[bytes]]:
        self.renders += 1
        return await self._render(), []

    def _done(self, fut: asyncio.Future[tuple[bytes, list[bytes]]]) -> None:
        if self._current is fut:
            self._current = None
        if not fut.cancelled():
            fut.exception()  # retrieved: a failed rendering is the waiters' 500, not a warning


@web.middleware
async def history_away(request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                       ) -> web.StreamResponse:
    """A page that reads the history while its database cannot be read (a shared
    history's server away, or not reached since the start): 503 saying why (the
    database named without its password), not a 500 and a traceback."""
    try:
        return await handler(request)
    except StoreError as e:
        why = f"history not available: {e}"
        if request.path.startswith("/api/"):
            return web.json_response({"error": why}, status=503)
        return web.Response(status=503, text=why + "\n")


def after_history_read(routes: Sequence[web.RouteDef], history_read: Callable[[], bool],
                       ) -> list[web.RouteDef]:
    """The pages that read the history (/status, the API, badges, the feed), answering
    503 (through `history_away`) until the daemon has read its history: a shared
    history's server not reached since the start, or reached but its maintenance windows
    and terms not read yet (a page would count maintenance as down)."""
    def guard(handler: Any) -> Any:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not history_read():
                raise StoreError("the history has not been read since the start (its "
                                 "server not reached yet)")
            resp: web.StreamResponse = await handler(request)
            return resp
        return guarded
    return [web.route(r.method, r.path, guard(r.handler), **r.kwargs)
            for r in routes]


def make_app(
    render: Callable[[], Awaitable[bytes]], ready: Callable[[], bool],
    routes: Sequence[web.RouteDef] = (),
    *, middlewares: Iterable[Any] = (),
) -> web.Application:
    shared = Shared(render)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready\n")

    async def index(_: web.Request) -> web.Response:
        return web.Response(
            text="slaprobe: see /status, /metrics, /healthz, /readyz, "
                 "/api/v1/report?from=now-7d\n", content_type="text/plain",
        )

    async def metrics(request: web.Request) -> web.Response:
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
        body = await shared.get(gzipped=gzipped)
        headers = {"Content-Type": CONTENT_TYPE}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    admission = Admission()
    app = web.Application(middlewares=[admission.middleware, history_away, *middlewares])
    app[SHARED] = shared
    app[ADMISSION] = admission
    app.router.add_get("/", index)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_routes(routes)
    return app


SHARED = web.AppKey("shared", Shared)
ADMISSION = web.AppKey("admission", Admission)


class _Busy(asyncio.Protocol):
    """Answers 503 and closes: a connection beyond the limit holds nothing."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_BUSY)
        transport.close()


class LimitedSite(web.TCPSite):
    """A TCPSite that caps open connections and their lifetime."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, limit: int,
                 lifetime: float = CONNECTION_TIMEOUT, admission: Admission | None = None,
                 **kw: Any) -> None:
        super().__init__(runner, host, port, **kw)
        self.limit = limit
        self.admission = admission
        self.lifetime = lifetime
        self.refused = 0
        self._born: dict[RequestHandler, float] = {}  # open connections, oldest first

    def _factory(self) -> asyncio.BaseProtocol:
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        if len(server.connections) >= self.limit and not self._evict_stalled(loop.time()):
            self.refused += 1
            return _Busy()
        handler = server()
        self._born[handler] = loop.time()
        loop.call_later(self.lifetime, self._expire, handler)
        return handler

    def _expire(self, handler: RequestHandler) -> None:
        self._close(handler)

    def _close(self, handler: RequestHandler) -> None:
        self._born.pop(handler, None)
        if self.admission is not None:
            self.admission.forget(handler)
        handler.force_close()

    def _evict_stalled(self, now: float) -> bool:
        """Close one connection that holds its slot for nothing, to make room: the
        oldest that has not sent one whole request in STALLED seconds, else one whose
        request waits in a queue, else one kept alive idle for STALLED seconds. Slow
        clients and queued requests cannot lock out a scraper."""
        server = self._runner.server
        assert server is not None
        live = set(server.connections)
        for handler, born in list(self._born.items()):
            if handler not in live:
                self._born.pop(handler, None)
                if self.admission is not None:
                    self.admission.forget(handler)
            elif now - born >= STALLED and getattr(handler, "_request_count", 1) == 0:
                self._close(handler)
                return True
        if self.admission is not None:
            for handler in self.admission.evictable(now, STALLED):
                if handler in live:
                    self._close(handler)
                    return True
                self.admission.forget(handler)
        return False

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._factory, self._host, self._port, ssl=self._ssl_context,
            backlog=self._backlog, reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        self._bound_port = int(self._server.sockets[0].getsockname()[1])


async def start(
    app: web.Application, host: str, port: int, *, header_timeout: float = HEADER_TIMEOUT,
    lifetime: float = CONNECTION_TIMEOUT, limit: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           keepalive_timeout=header_timeout, shutdown_timeout=2.0)
    await runner.setup()
    cap = connection_limit() if limit is None else limit
    # asyncio accepts up to `backlog` sockets per wake-up, before any protocol runs:
    # keep that burst small too, so accepting can never use up the descriptors
    admission = app.get(ADMISSION)
    if admission is not None:
        admission.limit = cap
    site = LimitedSite(runner, host, port, limit=cap, lifetime=lifetime, admission=admission,
                       backlog=min(128, max(8, cap // 2)), ssl_context=ssl_context)
    await site.start()
    return runner
