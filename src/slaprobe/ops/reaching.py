"""The reach room: a shared history whose server could not be reached at start.

The daemon starts anyway (`history.stores.open_writer` returns the store not yet
reached): it probes, its checks wait in the spool (on local disk from the start) and
the timelines hold what is known (the spool's checks, then the new ones). `run`
tries the server with backoff on the daemon's clock until the store's first
connection is made (the schema checked, the location's writer lock taken); then the
rooms that read the store start from it: the timelines are read again with the
unwritten checks folded on top, acknowledgements and maintenance windows are read,
the closed months looked at, the other locations followed, and the writer tries at
once. One event says the server could not be reached at start
(`store_unavailable_at_start`, from `start_event`), one that it was (`store_reached`);
between them a changed reason only (`store_still_unavailable`). When another daemon
holds the location's lock by then, the writer stops writing and says so once
(`writer_lock_lost`): the same as a lock lost after a reconnection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slaprobe import logs
from slaprobe.clock import Clock
from slaprobe.history.recorder import Recorder
from slaprobe.history.storeapi import WriterLockLost
from slaprobe.incidents.desk import IncidentDesk

if TYPE_CHECKING:
    from slaprobe.history.pgstore import PgStore

RETRY_FIRST, RETRY_MAX = 0.5, 30.0  # backoff between tries of the server


class Reach:
    def __init__(self, store: PgStore | None, recorder: Recorder, incidents: IncidentDesk,
                 clock: Clock, *, log: Any, repeats: logs.Repeats) -> None:
        """`store`: a store not yet reached (None: it was, at start)."""
        self.store = store
        self.recorder = recorder
        self.incidents = incidents
        self.clock = clock
        self.log = log
        self.repeats = repeats
        # the store's database was reached and the history read (/readyz, the figures)
        self.reached = store is None
        # held while the history is read: a config reload waits for it, so a target it
        # adds is read from the history (not left with the checks since the start)
        self.reading = asyncio.Lock()

    def start_event(self, spool: str | None) -> None:
        """Say once that the server could not be reached at start (the URL masked)."""
        if self.store is not None:
            self.repeats.failed("reach", "store_unavailable_at_start",
                                error=self.store.pg.unreached or "", database=self.store.name,
                                spool=spool, pending=self.recorder.pending)

    async def run(self, started: Callable[[], Awaitable[None]]) -> None:
        """Try the server until it is reached, then have the rooms start from the
        history (`started`: the daemon's rooms that wait for it) and return."""
        store = self.store
        if store is None:
            return
        delay = RETRY_FIRST
        while True:
            try:
                await asyncio.to_thread(store.reach)
                await self._read(started)
                return
            except WriterLockLost as e:  # another daemon writes this location now: the
                self.recorder.writer.lose_lock(e)  # store is not read, /readyz fails
                return
            except Exception as e:  # e.g. StoreError: logged when the reason changes
                self.repeats.failed("reach", "store_still_unavailable",
                                    error=str(e) or repr(e), database=store.name,
                                    pending=self.recorder.pending)
            await self.clock.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def _read(self, started: Callable[[], Awaitable[None]]) -> None:
        """The store was reached: the rooms read it (a failure: tried again)."""
        assert self.store is not None
        rec = self.recorder
        # first the writer, out of its backoff: it holds the recorder's lock while it
        # retries, and the reload below waits for that lock
        rec.writer.retry_now()
        async with self.reading:
            rec.generation = await asyncio.to_thread(self.store.generation)
            await rec.reload()  # every location's timelines, the unwritten checks on top
            await self.incidents.poll_acks(self.store)
            await started()  # maintenance windows read before anything is judged by them
            self.reached = True
        fields = {"database": self.store.name, "pending": rec.pending}
        if self.repeats.failing("reach"):  # with the last error and how often it came
            self.repeats.recovered("reach", "store_reached", **fields)
        else:
            self.log.info("store_reached", **fields)
        rec.kick()
