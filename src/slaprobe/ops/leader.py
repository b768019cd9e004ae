"""The leader room: whether this daemon holds the history's once-only duties.

Every `every` seconds the leader lock (`history.leaderlock`) is tried, or confirmed
when held, off the event loop. A change is one log event (`leader_acquired`,
`leader_lost`) and moves `slaprobe_leader`. Housekeeping asks `leading` before it
freezes a closed month's statement: when the leader dies, another daemon takes the
lock within one `every` of the server dropping it and closes the month itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slaprobe.clock import Clock
from slaprobe.history.leaderlock import Leadership
from slaprobe.metrics.instruments import Instruments

EVERY = 5.0  # seconds between tries of the leader lock


class Leader:
    def __init__(self, lock: Leadership, clock: Clock, instruments: Instruments, log: Any, *,
                 location: str, every: float = EVERY) -> None:
        self.lock = lock
        self.clock = clock
        self.instruments = instruments
        self.log = log
        self.location = location
        self.every = every
        self.leading = False
        instruments.leader.set(0)

    async def poll(self) -> bool:
        """Try (or confirm) the lock once; whether this daemon leads now."""
        now = await asyncio.to_thread(self.lock.poll)
        if now != self.leading:
            if now:
                self.log.info("leader_acquired", location=self.location)
            else:
                self.log.warning("leader_lost", location=self.location,
                                 error=getattr(self.lock, "error", "") or None)
        self.leading = now
        self.instruments.leader.set(1 if now else 0)
        return now

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.every)
            try:
                await self.poll()
            except Exception as e:  # an unexpected failure: not leading, try again later
                if self.leading:
                    self.log.warning("leader_lost", location=self.location, error=repr(e))
                self.leading = False
                self.instruments.leader.set(0)

    def release(self) -> None:
        """Give the lock up (blocking: call off the event loop at shutdown)."""
        self.lock.release()
        self.leading = False
        self.instruments.leader.set(0)
