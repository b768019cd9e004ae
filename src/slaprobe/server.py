"""The HTTP face of the daemon: /metrics, /healthz, /readyz."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler


def make_app(registry: CollectorRegistry, ready: Callable[[], bool]) -> web.Application:
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
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, shutdown_timeout=2.0).start()
    return runner
