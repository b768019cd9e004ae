"""The spool seen from the event loop: its file appends run off the loop, one at a time
(a check that arrives during an append gets one more), and what the spool did is said
once: its gauge, its bound reached (`spool_full`, `slaprobe_store_spool_dropped_total`),
damaged lines skipped at start (`spool_line_damaged`), a failed append."""

from __future__ import annotations

import asyncio
from typing import Any

from slaprobe.history.spool import Spool
from slaprobe.metrics.instruments import Instruments


class SpoolWatch:
    def __init__(self, spool: Spool, instruments: Instruments, log: Any) -> None:
        self.spool = spool
        self.instruments = instruments
        self.log = log
        self._syncing: asyncio.Future[None] | None = None  # the spool's file append
        self._resync = False
        self._dropped = self._skipped = 0  # the spool's counts already reported
        self._full = False

    def sync_soon(self) -> None:
        """Append what is new to the file, off the loop (after the running append)."""
        if self._syncing is not None and not self._syncing.done():
            self._resync = True  # the running sync may have missed it: one more after
            return
        self._resync = False
        self._syncing = asyncio.ensure_future(asyncio.to_thread(self.spool.sync))
        self._syncing.add_done_callback(self._synced)

    def _synced(self, done: asyncio.Future[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            self.log.error("spool_write_failed", error=str(done.exception()))
        self.note()
        if self._resync:
            self.sync_soon()

    def note(self) -> None:
        """The spool's gauge, and its bound reached (said once per episode)."""
        sp = self.spool
        self.instruments.store_spooled.set(sp.on_disk)
        if sp.dropped > self._dropped:
            self.instruments.spool_dropped.inc(sp.dropped - self._dropped)
            if not self._full:
                self.log.error("spool_full", path=str(sp.path), max_bytes=sp.max_bytes,
                               dropped=sp.dropped - self._dropped)
            self._dropped, self._full = sp.dropped, True
        elif not sp.durable:
            self._full = False
        if sp.skipped > self._skipped:
            self.log.error("spool_line_damaged", path=str(sp.path),
                           skipped=sp.skipped - self._skipped, kept=len(sp))
            self._skipped = sp.skipped
