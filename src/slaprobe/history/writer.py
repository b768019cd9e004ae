"""The writer: the unwritten checks go into the store in batches, off the event loop.

It takes a batch from the spool's head (after a short pause, so a burst of results
shares one transaction), writes it and only then removes it, so what `pending` reports
and what a history reload folds back are the same checks. A failed write is counted,
logged and retried with backoff, never dropped while the daemon runs; from the first
failure every unwritten check is on local disk. At shutdown the writer gives up after
a deadline and says how many checks were kept on disk (or lost, without a spool file).
Writes take the recorder's lock, which a history reload takes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from typing import Any, TypeVar

from slaprobe import logs
from slaprobe.clock import Clock
from slaprobe.core.model import Check
from slaprobe.history.spool import Spool
from slaprobe.history.spoolwatch import SpoolWatch
from slaprobe.history.storeapi import HistoryStore, StoreError, WriterLockLost
from slaprobe.metrics.instruments import Instruments

BATCH_PAUSE = 0.25  # seconds a first result waits for others to join its batch (a batch of
# 25 checks costs the store about half as much per check as a batch of 5)
BATCH_MAX = 5000  # checks per write transaction (a backlog goes in several)
RETRY_FIRST, RETRY_MAX = 0.5, 30.0  # backoff between failed writes
FINAL_WRITE_DEADLINE = 4.0  # at shutdown, seconds of failed writes before giving up
SHUTDOWN_WAIT = 5.0  # at shutdown, seconds the writer may take in all
FAILING_SHUTDOWN_WAIT = 1.0  # the same while the last write failed (the spool keeps them)

T = TypeVar("T")


class Writer:
    def __init__(self, store: HistoryStore, unwritten: Spool, watch: SpoolWatch, *,
                 clock: Clock, instruments: Instruments, log: Any, repeats: logs.Repeats,
                 lock: asyncio.Lock, batch_pause: float = BATCH_PAUSE) -> None:
        self.store = store
        self.unwritten = unwritten
        self.watch = watch
        self.clock = clock
        self.instruments = instruments
        self.log = log
        self.repeats = repeats
        self.lock = lock
        self.batch_pause = batch_pause
        self.written_upto = -math.inf  # the latest check written (months close after it)
        self.writes_ok = True  # the last write succeeded (/readyz)
        self.lock_lost = False  # another daemon took this location: no more writes
        self._wake = asyncio.Event()
        self._retry = asyncio.Event()  # cuts a backoff short (the store was just reached)
        self._closing = False
        self._closed = asyncio.Event()

    @property
    def pending(self) -> int:
        return len(self.unwritten)

    def wake(self) -> None:
        self._wake.set()

    def retry_now(self) -> None:
        """The store can be written again (it was just reached): a write waiting out
        its backoff is tried at once."""
        self._retry.set()
        self._wake.set()

    def lose_lock(self, e: WriterLockLost) -> None:
        """Another daemon holds this location's writer lock: no more writes, said once;
        /readyz fails from now on."""
        self.writes_ok = False
        if not self.lock_lost:
            self.lock_lost = True
            self.log.error("writer_lock_lost", error=str(e), pending=self.pending)

    async def run(self) -> None:
        """Write checks in batches until `close`; then write what is left and return."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._closing:  # let a burst of results join (cut short by close)
                with contextlib.suppress(TimeoutError):
                    async with self.clock.timeout(self.batch_pause):
                        await self._closed.wait()
            if self.unwritten.wants_spill:  # memory's bound: the rest waits on disk
                await self._on_disk(self.unwritten.spill)
            while len(self.unwritten):
                batch = await self._on_disk(self.unwritten.head, BATCH_MAX)
                self.watch.note()
                if not batch:
                    break
                async with self.lock:
                    await self._write(batch, final=self._closing)
                    # batches leave the head, in order
                    await asyncio.to_thread(self.unwritten.drop, len(batch))
                    self.written_upto = max(self.written_upto, *(c.at for c in batch))
                self.instruments.store_pending.set(self.pending)
                self.watch.note()
            if self._closing:
                return

    async def close(self, writer: asyncio.Task[None] | None) -> None:
        """Stop the writer after it wrote what is pending (within SHUTDOWN_WAIT)."""
        self._closing = True
        self._closed.set()
        self._wake.set()
        if writer is None:
            return
        # a store that is failing gets one short try: what is unwritten stays on disk
        wait = SHUTDOWN_WAIT if self.writes_ok else FAILING_SHUTDOWN_WAIT
        try:
            async with self.clock.timeout(wait):
                await asyncio.shield(writer)
        except TimeoutError:
            if self.unwritten.path is not None:  # on local disk at close, written at start
                self.log.warning("pending_writes_kept", checks=self.pending,
                                 spool=str(self.unwritten.path))
            else:
                self.log.error("pending_writes_lost", checks=self.pending)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _on_disk(self, call: Callable[..., T], *args: Any) -> T:
        """A spool operation that writes its file (off the loop). A failed one (the disk
        full, the file unwritable) keeps the checks in the spool and is tried again with
        backoff, said once: the writer goes on, it does not die with the error."""
        delay = RETRY_FIRST
        while True:
            try:
                result = await asyncio.to_thread(call, *args)
                self.repeats.recovered("spool", "spool_write_recovered")
                return result
            except OSError as e:
                self._spool_failed(e)
            await self.clock.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    def _spool_failed(self, e: OSError) -> None:
        self.repeats.failed("spool", "spool_write_failed", error=str(e), pending=self.pending,
                            spool=str(self.unwritten.path))

    async def _write(self, batch: list[Check], *, final: bool) -> None:
        delay = RETRY_FIRST
        deadline = self.clock.monotonic() + FINAL_WRITE_DEADLINE
        while True:
            try:
                await asyncio.to_thread(self.store.write, batch)
                self.writes_ok = True
                self.repeats.recovered("store", "store_write_recovered")
                return
            except (OSError, StoreError) as e:  # a driver error arrives as StoreError
                self.instruments.store_errors.inc()
                self.writes_ok = False
                if isinstance(e, WriterLockLost):
                    self.lose_lock(e)
                if not self.unwritten.durable:  # not to be kept in memory alone
                    try:
                        await asyncio.to_thread(self.unwritten.spill)
                    except OSError as spill_error:  # kept in memory; tried at the next failure
                        self._spool_failed(spill_error)
                    self.watch.note()
                self.repeats.failed("store", "store_write_failed", error=str(e),
                                    checks=len(batch), pending=self.pending,
                                    on_disk=self.unwritten.on_disk)
                if (final or self._closing) and self.clock.monotonic() > deadline:
                    self.log.error("pending_writes_lost", checks=len(batch))
                    return
                with contextlib.suppress(TimeoutError):
                    async with self.clock.timeout(delay):
                        await self._retry.wait()
                self._retry.clear()
                delay = min(delay * 2, RETRY_MAX)
