"""A Clock whose wall time is checked against its monotonic time (core.walltime).

Wraps the daemon's clock: `now()` is the guarded time; `monotonic()`, `sleep()` and
`timeout()` pass through. Every wall-clock step is reported once to `on_step(stamp)`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from slaprobe.clock import Clock
from slaprobe.core.walltime import Stamp, WallGuard


class GuardedClock:
    def __init__(self, inner: Clock, on_step: Callable[[Stamp], None] | None = None) -> None:
        self.inner = inner
        self.guard = WallGuard()
        self.on_step = on_step
        self._last = float("-inf")

    def now(self) -> float:
        stamp = self.guard.stamp(self.inner.now(), self.inner.monotonic())
        if stamp.event is not None and self.on_step is not None:
            self.on_step(stamp)
        # never before a time already handed out (the monotonic clock's resolution)
        self._last = max(self._last, stamp.at)
        return self._last

    def monotonic(self) -> float:
        return self.inner.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[Any]:
        return self.inner.timeout(seconds)

    def offset(self) -> float:
        """Seconds the wall clock is behind the time stamped (0 unless held)."""
        return self.guard.offset(self.inner.now(), self.inner.monotonic())
