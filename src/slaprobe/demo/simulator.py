"""A simulated CloneNer on 127.0.0.1 that answers as the demo's story says."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from aiohttp import web

from slaprobe.demo import story


def free_port() -> int:
    """A port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CloneNer:
    """The three endpoints; `elapsed()` says how far into the live part we are."""

    def __init__(self, duration: float, interval: float,
                 elapsed: Callable[[], float] | None = None) -> None:
        self.duration = duration
        self.interval = interval
        started = time.monotonic()
        self.elapsed = elapsed or (lambda: time.monotonic() - started)
        self.paths = {path: name for name, _, path in story.TARGETS}
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        name = self.paths.get(request.path)
        if name is None:
            return web.Response(status=404, text="not found\n")
        ans = story.live_answer(name, self.elapsed(), self.duration, self.interval)
        await asyncio.sleep(ans.delay)
        return web.Response(status=ans.status, text=ans.body + "\n")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, shutdown_timeout=0.5).start()
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
