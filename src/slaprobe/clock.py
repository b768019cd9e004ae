"""Where time enters: wall time for records, the monotonic clock for waits and deadlines.

Every wait, deadline and timestamp of the daemon's rooms goes through a `Clock`.
`SystemClock` is the real one; `FakeClock` is a hand-written test clock (a few dozen
lines: `looptime` fakes the whole loop's time, which would also stretch the real
timeouts of real sockets and threads in the same tests), whose `advance()` wakes
sleepers and fires timeouts in deadline order.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> float:
        """UTC wall time as Unix seconds."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps."""

    async def sleep(self, seconds: float) -> None: ...

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[Any]:
        """A block cut after `seconds` (raising TimeoutError), as asyncio.timeout."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[Any]:
        return asyncio.timeout(max(seconds, 0.0))


class FakeClock:
    """A clock that moves only when told: `await clock.advance(seconds)`.

    Sleepers and timeouts wake in deadline order; after each wake-up the loop is
    allowed to run (`settle`), so whatever the woken task schedules next (another
    sleep, a timeout) is seen before later deadlines fire.
    """

    def __init__(self, start: float = 1_800_000_000.0, *, settle: int = 20) -> None:
        self._wall0 = start
        self._mono = 0.0
        self._settle = settle
        self._seq = itertools.count()
        self._due: list[tuple[float, int, Callable[[], None]]] = []

    def now(self) -> float:
        return self._wall0 + self._mono

    def monotonic(self) -> float:
        return self._mono

    @property
    def pending(self) -> int:
        """How many sleeps and timeouts wait on this clock."""
        return len(self._due)

    def next_deadline(self) -> float | None:
        return self._due[0][0] if self._due else None

    def _at(self, deadline: float, wake: Callable[[], None]) -> None:
        heapq.heappush(self._due, (deadline, next(self._seq), wake))

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        self._at(self._mono + max(seconds, 0.0), wake)
        try:
            await fut
        finally:
            self._due = [d for d in self._due if d[2] is not wake]
            heapq.heapify(self._due)

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[Any]:
        return self._timeout(seconds)

    @asynccontextmanager
    async def _timeout(self, seconds: float) -> AsyncIterator[None]:
        task = asyncio.current_task()
        assert task is not None
        fired: list[bool] = []

        def wake() -> None:
            fired.append(True)
            task.cancel()

        self._at(self._mono + max(seconds, 0.0), wake)
        try:
            yield
        except asyncio.CancelledError:
            if fired and task.uncancel() == 0:
                raise TimeoutError from None
            raise
        finally:
            self._due = [d for d in self._due if d[2] is not wake]
            heapq.heapify(self._due)

    async def settle(self) -> None:
        """Let every task that can run, run (a few loop turns)."""
        for _ in range(self._settle):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers and firing timeouts in deadline order."""
        target = self._mono + seconds
        await self.settle()
        while self._due and self._due[0][0] <= target:
            deadline, _, wake = heapq.heappop(self._due)
            self._mono = max(self._mono, deadline)
            wake()
            await self.settle()
        self._mono = target
        await self.settle()
