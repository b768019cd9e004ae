"""Run jobs on fixed intervals on the monotonic clock, woken in coalesced ticks.

Every job's slots lie on its own schedule (a stable offset plus whole
intervals: no drift), rounded up onto a grid of `tick` seconds (100 ms), and
one driver task wakes once per grid slot that has work and starts every job due
in it. So a thousand targets at a 10 s interval cost ten wake-ups a second
instead of a hundred timers, each target keeps its own slot, and first runs
stay spread across the interval. Lag is measured from the grid slot a job was
due in to the moment it starts (after the concurrency limit admitted it), so
what it reports is the loop's own delay, not the rounding.

Missed slots are skipped (never burst) and a job that hangs delays only its
own next slot: a job is put back on the wheel only when it has finished. A
global semaphore bounds how many jobs run at once. Hand-written because asyncio
has no timer wheel and a per-job `sleep` costs one loop wake-up per check.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from slaprobe.clock import Clock

Job = Callable[[], Awaitable[object]]
TICK = 0.1  # seconds: the wheel's grid


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


def grid_index(t: float, tick: float) -> int:
    """The grid slot a time falls due in: the first grid point at or after `t`
    (a hair of float error below a grid point still counts as that point)."""
    return math.ceil(t / tick - 1e-9)


@dataclass(eq=False, slots=True)
class _Entry:
    key: str
    interval: float
    job: Job
    slot: float = 0.0  # the exact slot of the schedule (before rounding onto the grid)
    stopped: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Scheduler:
    def __init__(
        self, clock: Clock, max_concurrency: int, *,
        on_lag: Callable[[float], None] | None = None,
        on_error: Callable[[str, BaseException], None] | None = None,
        tick: float = TICK,
    ) -> None:
        self.clock = clock
        self.limit = asyncio.Semaphore(max_concurrency)
        self.on_lag = on_lag
        self.on_error = on_error
        self.tick = tick
        self.jobs: dict[str, _Entry] = {}
        self._wheel: dict[int, list[_Entry]] = {}  # grid index -> entries due then
        self._heap: list[int] = []  # the wheel's indexes, earliest first
        self._driver: asyncio.Task[None] | None = None
        self._driver_at: int | None = None  # the index the driver sleeps towards
        self.wakeups = 0  # driver wake-ups that started at least one job

    def start(self, key: str, interval: float, job: Job, *, offset: float | None = None) -> None:
        """Schedule `job` every `interval` seconds (replacing a job of the same key)."""
        self.stop(key)
        if offset is None:
            offset = first_offset(key, interval)
        entry = _Entry(key, interval, job)
        self.jobs[key] = entry
        self._enqueue(entry, self.clock.monotonic() + offset)

    def stop(self, key: str) -> None:
        entry = self.jobs.pop(key, None)
        if entry is not None:
            entry.stopped = True  # a wheel slot holding it skips it
            if entry.task is not None:
                entry.task.cancel()

    async def close(self) -> None:
        entries = list(self.jobs.values())
        for key in list(self.jobs):
            self.stop(key)
        tasks = [e.task for e in entries if e.task is not None]
        if self._driver is not None:
            self._driver.cancel()
            tasks.append(self._driver)
            self._driver = None
        self._wheel.clear()
        self._heap.clear()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- the wheel --------------------------------------------------------------------

    def _enqueue(self, entry: _Entry, slot: float) -> None:
        entry.slot = slot
        idx = grid_index(slot, self.tick)
        due = self._wheel.get(idx)
        if due is None:
            self._wheel[idx] = [entry]
            heapq.heappush(self._heap, idx)
        else:
            due.append(entry)
        if self._driver is None or (self._driver_at is not None and idx < self._driver_at):
            if self._driver is not None:
                self._driver.cancel()  # it sleeps towards a later slot: wake earlier
            self._driver_at = idx
            self._driver = asyncio.create_task(self._drive(), name="scheduler")

    async def _drive(self) -> None:
        while self._heap:
            idx = self._heap[0]
            self._driver_at = idx
            delay = idx * self.tick - self.clock.monotonic()
            if delay > 0:
                await self.clock.sleep(delay)
            now = self.clock.monotonic()
            started = False
            while self._heap and self._heap[0] * self.tick <= now + 1e-9:
                i = heapq.heappop(self._heap)
                for entry in self._wheel.pop(i, ()):
                    if not entry.stopped:
                        entry.task = asyncio.create_task(self._run(entry, i * self.tick))
                        started = True
            self.wakeups += started
        self._driver = None
        self._driver_at = None

    async def _run(self, entry: _Entry, due: float) -> None:
        async with self.limit:
            if self.on_lag is not None:
                self.on_lag(max(self.clock.monotonic() - due, 0.0))
            try:
                await entry.job()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug in one job must not stop its schedule
                if self.on_error is not None:
                    self.on_error(entry.key, e)
        entry.task = None
        if not entry.stopped:
            self._enqueue(entry, self._next(entry, self.clock.monotonic()))

    def _next(self, entry: _Entry, now: float) -> float:
        """The job's next slot after a run that ended at `now`: a slot counts as missed
        only when its grid slot has passed, so rounding onto the grid never costs a
        check its slot (a check may take up to its interval, as without the grid)."""
        nxt = next_slot(entry.slot, entry.interval, now - self.tick)
        while grid_index(nxt, self.tick) * self.tick <= now:
            nxt += entry.interval
        return nxt
