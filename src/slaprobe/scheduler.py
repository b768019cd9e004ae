"""Run jobs on fixed intervals on the monotonic clock.

Each job has its own task; slots are computed from the schedule (no drift),
missed slots are skipped (never burst), first runs are spread across the
interval, and a global semaphore bounds how many jobs run at once. A job that
hangs delays only its own next slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Awaitable, Callable

from slaprobe.clock import Clock

Job = Callable[[], Awaitable[object]]


def first_offset(key: str, interval: float) -> float:
    """A stable offset in [0, interval) from the key: spread without randomness."""
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    return (h / 2**64) * interval


def next_slot(slot: float, interval: float, now: float) -> float:
    """The first slot of the schedule after `now`, skipping the missed ones."""
    nxt = slot + interval
    if nxt <= now:
        nxt += math.ceil((now - nxt) / interval) * interval
        if nxt <= now:
            nxt += interval
    return nxt


class Scheduler:
    def __init__(
        self, clock: Clock, max_concurrency: int, *,
        on_lag: Callable[[float], None] | None = None,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self.clock = clock
        self.limit = asyncio.Semaphore(max_concurrency)
        self.on_lag = on_lag
        self.on_error = on_error
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, key: str, interval: float, job: Job, *, offset: float | None = None) -> None:
        """Schedule `job` every `interval` seconds (replacing a job of the same key)."""
        self.stop(key)
        if offset is None:
            offset = first_offset(key, interval)
        self.tasks[key] = asyncio.create_task(self._loop(key, interval, job, offset), name=key)

    def stop(self, key: str) -> None:
        task = self.tasks.pop(key, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, key: str, interval: float, job: Job, offset: float) -> None:
        slot = self.clock.monotonic() + offset
        while True:
            await self.clock.sleep(slot - self.clock.monotonic())
            async with self.limit:
                if self.on_lag is not None:
                    self.on_lag(max(self.clock.monotonic() - slot, 0.0))
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a bug in one job must not stop its schedule
                    if self.on_error is not None:
                        self.on_error(key, e)
            slot = next_slot(slot, interval, self.clock.monotonic())
