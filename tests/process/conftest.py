"""Fixtures that run the real `slaprobe` program against local servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from procs import Daemon, Switch, free_port


@pytest.fixture(name="target")
async def _target() -> AsyncIterator[tuple[str, Switch]]:
    sw = Switch()
    app = web.Application()
    app.router.add_get("/{tail:.*}", sw.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", sw
    finally:
        await runner.cleanup()


@pytest.fixture(name="daemons")
def _daemons() -> Iterator[Callable[[Path, int], Daemon]]:
    made: list[Daemon] = []

    def make(config: Path, port: int) -> Daemon:
        d = Daemon(config, port)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()
