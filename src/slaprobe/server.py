"""The HTTP face of the daemon: /metrics, /healthz, /readyz."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

from aiohttp import web

from slaprobe.exposition import CONTENT_TYPE


def make_app(
    render: Callable[[], Awaitable[bytes]], ready: Callable[[], bool],
) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="starting\n")

    async def index(_: web.Request) -> web.Response:
        return web.Response(
            text="slaprobe: see /metrics, /healthz, /readyz\n", content_type="text/plain",
        )

    app = web.Application()
    app.router.add_get("/", index)
    async def metrics(request: web.Request) -> web.Response:
        body = await render()
        headers = {"Content-Type": CONTENT_TYPE}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body = await asyncio.to_thread(gzip.compress, body, 1)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, shutdown_timeout=2.0).start()
    return runner
