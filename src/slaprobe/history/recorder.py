"""The recorder: a finished check goes into the live timeline and, durably, to the store.

One list holds the checks not yet written, in the order they finished. The writer
takes a batch from its head (after a short pause, so a burst of results shares one
transaction), writes it off the event loop and only then removes it, so what
`pending` reports and what a history reload folds back are the same checks. A
failed write is counted, logged and retried with backoff, never dropped while the
daemon runs; at shutdown the writer gives up after a deadline and says how many
checks were lost. Writes and history reloads take the same lock: after an import
the timelines are read afresh and the unwritten checks folded on top. A reloaded
config reaches the recorder through `reconfigure`: the target set, the horizon and
(on a shared history) the quorum.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterable
from typing import Any

from slaprobe import logs
from slaprobe.clock import Clock
from slaprobe.core.history.timeline import History
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check, ErrorKind, State
from slaprobe.core.spec import Config
from slaprobe.history.spool import Spool
from slaprobe.history.storeapi import HistoryStore, StoreError, WriterLockLost
from slaprobe.history.vantagepoint import VantagePoint
from slaprobe.metrics.instruments import BURN_WINDOWS, Instruments

STATE_EVENTS: dict[State | None, str] = {
    State.UP: "target_up", State.DOWN: "target_down",
    State.PROBE_NETWORK: "target_down_probe_network", None: "target_unknown"}
BATCH_PAUSE = 0.25  # seconds a first result waits for others to join its batch (a batch of
# 25 checks costs the store about half as much per check as a batch of 5)
BATCH_MAX = 5000  # checks per write transaction (a backlog goes in several)
RETRY_FIRST, RETRY_MAX = 0.5, 30.0  # backoff between failed writes
FINAL_WRITE_DEADLINE = 4.0  # at shutdown, seconds of failed writes before giving up
SHUTDOWN_WAIT = 5.0  # at shutdown, seconds the writer may take in all
FAILING_SHUTDOWN_WAIT = 1.0  # the same while the last write failed (the spool keeps them)


def horizon(cfg: Config) -> float:
    """How far back timelines are kept in memory: the longest window, a month, 3 days."""
    longest = max([length for _, length in cfg.slo.windows] + [31 * 86400.0, BURN_WINDOWS[-1][1]])
    return longest + 86400.0


class Recorder:
    def __init__(
        self, store: HistoryStore, tracker: Tracker, clock: Clock, instruments: Instruments,
        log: Any, *, horizon: float, generation: int, repeats: logs.Repeats | None = None,
        spool: Spool | None = None, vantage: VantagePoint | None = None,
        batch_pause: float = BATCH_PAUSE, on_reload: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.clock = clock
        self.instruments = instruments
        self.log = log
        self.repeats = repeats or logs.Repeats(log, clock=clock.monotonic)
        self.horizon = horizon  # seconds of history the timelines keep in memory
        self.generation = generation  # the store's, when the timelines were last read
        self.last: dict[str, Check] = {}
        self.same_state: dict[str, int] = {}  # checks in a row in the target's last state
        # finished, not yet in the store, in order (past a bound: on local disk)
        self.unwritten = spool if spool is not None else Spool(None)
        self.location = store.location  # every check records where it was made
        # on a shared history: the timelines are the locations' consensus (vantagepoint)
        self.vantage = vantage
        self.batch_pause = batch_pause
        self.written_upto = -math.inf  # the latest check written (months close after it)
        self.writes_ok = True  # the last write succeeded (/readyz)
        self.lock_lost = False  # another daemon took this location: no more writes
        self._wake = asyncio.Event()
        self._closing = False
        self._closed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._syncing: asyncio.Future[None] | None = None  # the spool's file append
        self._resync = False
        self._dropped = self._skipped = 0  # the spool's counts already reported
        self._full = False
        self.on_reload = on_reload  # after the timelines were reread (e.g. an import)
        self.degraded_targets: set[str] = set()  # targets with a degraded_latency

    @property
    def pending(self) -> int:
        return len(self.unwritten)

    def record(self, check: Check, *, detail: str = "") -> None:
        """Fold a finished check into the timeline, queue it for the store, log changes."""
        if check.target not in self.tracker.critical:
            return  # the target was removed while its check was in flight
        if check.location != self.location:
            check = dataclasses.replace(check, location=self.location)
        before = self.last.get(check.target)
        try:
            if self.vantage is not None:
                self.vantage.own(check)
            else:
                self.tracker.add(check)
        except ValueError:
            self.log.warning("clock_went_backwards", target=check.target, at=check.at)
        self.last[check.target] = check
        self.unwritten.append(check)
        if self.unwritten.durable:  # the database is away: to the file now, off the loop
            self._sync_soon()
        self._wake.set()
        self.instruments.store_pending.set(self.pending)
        if check.unknown:
            self.instruments.count_unknown(check.target,
                                           check.error or str(ErrorKind.PROBE_ERROR))
        if before is None or before.state != check.state:
            fields: dict[str, Any] = {"target": check.target}
            if before is not None:
                fields["previous_checks"] = self.same_state.get(check.target, 0)
            self.same_state[check.target] = 1
            if check.unknown:
                fields.update(reason=check.error, detail=detail)
            elif not check.ok:
                fields.update(error=check.error, status=check.status, detail=detail)
            log = self.log.error if check.unknown else (
                self.log.info if check.ok else self.log.warning)
            log(STATE_EVENTS[check.state], **fields)
        else:
            self.same_state[check.target] = self.same_state.get(check.target, 0) + 1
            self.log.debug("check", target=check.target, ok=check.ok, error=check.error)

    def _sync_soon(self) -> None:
        if self._syncing is not None and not self._syncing.done():
            self._resync = True  # the running sync may have missed it: one more after
            return
        self._resync = False
        self._syncing = asyncio.ensure_future(asyncio.to_thread(self.unwritten.sync))
        self._syncing.add_done_callback(self._synced)

    def _synced(self, done: asyncio.Future[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            self.log.error("spool_write_failed", error=str(done.exception()))
        self._note_spool()
        if self._resync:
            self._sync_soon()

    def _note_spool(self) -> None:
        """The spool's gauge, and its bound reached (said once per episode)."""
        sp = self.unwritten
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

    def kick(self) -> None:
        """Wake the writer (checks waiting from before the start, on local disk)."""
        self._wake.set()
        self.instruments.store_pending.set(self.pending)

    async def reconfigure(self, cfg: Config) -> None:
        """A reloaded config: its quorum, its horizon and its targets. Kept targets keep
        their timelines and credit, new ones are read from the store, removed ones are
        forgotten (after the read: a check of theirs finishing meanwhile goes too)."""
        critical = {t.name: t.critical for t in cfg.targets}
        was = self.degraded_targets
        self.degraded_targets = {t.name for t in cfg.targets if t.degraded_latency is not None}
        if self.degraded_targets - was:  # newly configured: their stored degraded time
            await self.load_degraded(self.degraded_targets - was,
                                     self.clock.now() - self.horizon)
        if self.vantage is not None:
            self.vantage.set_quorum(cfg.slo.quorum, list(critical))
        self.horizon = horizon(cfg)
        added = [n for n in critical if n not in self.tracker.critical]
        histories = await self.load(added) if added else {}
        for name in self.tracker.critical.keys() - critical.keys():
            self.last.pop(name, None)
            self.same_state.pop(name, None)
        self.tracker.reconfigure(critical, histories)

    # --- the writer --------------------------------------------------------------------

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
                await asyncio.to_thread(self.unwritten.spill)
            while len(self.unwritten):
                batch = await asyncio.to_thread(self.unwritten.head, BATCH_MAX)
                self._note_spool()
                if not batch:
                    break
                async with self._lock:
                    await self._write(batch, final=self._closing)
                    # batches leave the head, in order
                    await asyncio.to_thread(self.unwritten.drop, len(batch))
                    self.written_upto = max(self.written_upto, *(c.at for c in batch))
                self.instruments.store_pending.set(self.pending)
                self._note_spool()
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
                if isinstance(e, WriterLockLost) and not self.lock_lost:
                    self.lock_lost = True  # said once, loudly; /readyz fails from now on
                    self.log.error("writer_lock_lost", error=str(e), pending=self.pending)
                if not self.unwritten.durable:  # not to be kept in memory alone
                    await asyncio.to_thread(self.unwritten.spill)
                    self._note_spool()
                self.repeats.failed("store", "store_write_failed", error=str(e),
                                    checks=len(batch), pending=self.pending,
                                    on_disk=self.unwritten.on_disk)
                if (final or self._closing) and self.clock.monotonic() > deadline:
                    self.log.error("pending_writes_lost", checks=len(batch))
                    return
                await self.clock.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    # --- history -----------------------------------------------------------------------

    async def load(self, names: Iterable[str]) -> dict[str, History]:
        """Timelines of `names` from the store, as far back as the horizon."""
        since = self.clock.now() - self.horizon
        store, names = self.store, list(names)
        if self.vantage is not None:  # every location's, and their consensus
            await asyncio.to_thread(self.vantage.load, names)
            now = self.clock.now()
            await self.load_degraded(names, since)
            return {n: self.vantage.vantage.consensus(n, now - self.horizon, now) for n in names}
        histories = await asyncio.to_thread(lambda: {n: store.load(n, since) for n in names})
        await self.load_degraded(names, since)
        return histories

    async def load_degraded(self, names: Iterable[str], since: float) -> None:
        """The degraded time of those of `names` that have a degraded_latency (this
        location's checks; reading the others' stays for a later version)."""
        store, wanted = self.store, [n for n in names if n in self.degraded_targets]
        loaded = await asyncio.to_thread(lambda: {n: store.load_degraded(n, since)
                                                  for n in wanted})
        self.tracker.degraded.update(loaded)

    async def follow_imports(self) -> bool:
        """If history was rewritten outside (an import), reload the timelines."""
        generation = await asyncio.to_thread(self.store.generation)
        if generation == self.generation:
            return False
        self.generation = generation
        await self.reload()
        return True

    async def reload(self) -> None:
        """Reload every timeline from the store, the unwritten checks folded on top.

        No batch commits while the store is read; checks not yet written (queued, or
        finished during the read) are folded on top, so none is missing in memory.
        """
        tracker = self.tracker
        async with self._lock:
            histories = await self.load(tracker.critical)
            tracker.reconfigure(tracker.critical, histories, replace=True)
            if self.on_reload is not None:
                self.on_reload()
            unwritten = await asyncio.to_thread(list, self.unwritten)
            for check in sorted(unwritten, key=lambda c: c.at):
                with contextlib.suppress(ValueError):  # already in the loaded timeline
                    if self.vantage is not None:
                        self.vantage.own(check)
                    else:
                        tracker.add(check)
        self.log.info("history_reloaded", generation=self.generation)

    async def prune(self, retention: float) -> int:
        """Drop stored checks older than `retention`, and memory older than the horizon."""
        now = self.clock.now()
        n = await asyncio.to_thread(self.store.prune, now - retention)
        self.tracker.trim(now - self.horizon)
        if n:
            self.log.info("pruned", checks=n)
        return n
