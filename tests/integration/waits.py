"""Waiting for real work (threads, sockets) to finish, bounded, without fixed sleeps."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from slaprobe.clock import FakeClock


async def until(pred: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0,
                every: float = 0.005) -> bool:
    """Poll `pred` every `every` seconds until true or `timeout` real seconds passed; the
    last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for _ in range(1_000_000):
        got = pred()
        if inspect.isawaitable(got):
            got = await got
        if got or loop.time() > deadline:
            return bool(got)
        await asyncio.sleep(every)
    return False


async def drive(clock: FakeClock, task: asyncio.Task[object], timeout: float = 10.0) -> None:
    """Run `task` to its end on the fake clock: whenever everything waits on the clock,
    jump to the next deadline."""
    while not task.done():
        await until(lambda: task.done() or clock.pending > 0, timeout)
        if task.done():
            break
        deadline = clock.next_deadline()
        assert deadline is not None, "the task waits on something other than the clock"
        await clock.advance(max(deadline - clock.monotonic(), 0.0))
