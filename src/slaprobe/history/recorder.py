"""The recorder: a finished check goes into the live timeline and, durably, to the store.

One list (the spool) holds the checks not yet written, in the order they finished;
the writer (`writer.py`) takes batches from its head into the store, and the spool
watch (`spoolwatch.py`) appends it to local disk off the event loop while the
database is away. Writes and history reloads take the same lock: after an import the
timelines are read afresh and the unwritten checks folded on top. A reloaded config
reaches the recorder through `reconfigure`: the target set, the horizon and (on a
shared history) the quorum.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from slaprobe import logs
from slaprobe.clock import Clock
from slaprobe.core.history.latest import LatestChecks
from slaprobe.core.history.timeline import History
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check, ErrorKind, State
from slaprobe.core.spec import Config
from slaprobe.history.spool import Spool
from slaprobe.history.spoolwatch import SpoolWatch
from slaprobe.history.storeapi import HistoryStore
from slaprobe.history.vantagepoint import VantagePoint
from slaprobe.history.writer import (
    BATCH_MAX,
    BATCH_PAUSE,
    FAILING_SHUTDOWN_WAIT,
    FINAL_WRITE_DEADLINE,
    RETRY_FIRST,
    RETRY_MAX,
    SHUTDOWN_WAIT,
    Writer,
)
from slaprobe.metrics.instruments import BURN_WINDOWS, Instruments

STATE_EVENTS: dict[State | None, str] = {
    State.UP: "target_up", State.DOWN: "target_down",
    State.PROBE_NETWORK: "target_down_probe_network", None: "target_unknown"}


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
        self.last = LatestChecks()  # keeps how many targets are in each state
        self.same_state: dict[str, int] = {}  # checks in a row in the target's last state
        # finished, not yet in the store, in order (past a bound: on local disk)
        self.unwritten = spool if spool is not None else Spool(None)
        self.location = store.location  # every check records where it was made
        # on a shared history: the timelines are the locations' consensus (vantagepoint)
        self.vantage = vantage
        self._lock = asyncio.Lock()  # a write and a history reload never overlap
        self.spool_watch = SpoolWatch(self.unwritten, instruments, log)
        self.writer = Writer(store, self.unwritten, self.spool_watch, clock=clock,
                             instruments=instruments, log=log, repeats=self.repeats,
                             lock=self._lock, batch_pause=batch_pause)
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
        self.tracker.touch(check.target)  # its latest check is served (/metrics)
        self.unwritten.append(check)
        if self.unwritten.durable:  # the database is away: to the file now, off the loop
            self.spool_watch.sync_soon()
        self.writer.wake()
        self.instruments.store_pending.set(self.pending)
        if check.unknown:
            self.instruments.count_unknown(check.target,
                                           check.error or str(ErrorKind.PROBE_ERROR))
        _log_change(self.log, self.same_state, before, check, detail)

    def kick(self) -> None:
        """Wake the writer (checks waiting from before the start, on local disk)."""
        self.writer.wake()
        self.instruments.store_pending.set(self.pending)

    async def reconfigure(self, cfg: Config, *, read: bool = True) -> None:
        """A reloaded config: its quorum, its horizon and its targets. Kept targets keep
        their timelines and credit, new ones are read from the store, removed ones are
        forgotten (after the read: a check of theirs finishing meanwhile goes too).
        `read=False`: the store was not reached yet, new targets start empty (they are
        read with the others when it is)."""
        critical = {t.name: t.critical for t in cfg.targets}
        was = self.degraded_targets
        self.degraded_targets = {t.name for t in cfg.targets if t.degraded_latency is not None}
        if read and self.degraded_targets - was:  # newly configured: their stored degraded time
            await self.load_degraded(self.degraded_targets - was,
                                     self.clock.now() - self.horizon)
        if self.vantage is not None:
            self.vantage.set_quorum(cfg.slo.quorum, list(critical))
        self.horizon = horizon(cfg)
        added = [n for n in critical if n not in self.tracker.critical]
        histories = await self.load(added) if added and read else {}
        for name in self.tracker.critical.keys() - critical.keys():
            self.last.pop(name, None)
            self.same_state.pop(name, None)
        self.tracker.reconfigure(critical, histories)

    # --- the writer (history/writer.py) ---------------------------------------------------

    async def run(self) -> None:
        """Write checks in batches until `close`; then write what is left and return."""
        await self.writer.run()

    async def close(self, writer: asyncio.Task[None] | None) -> None:
        """Stop the writer after it wrote what is pending (within SHUTDOWN_WAIT)."""
        await self.writer.close(writer)

    @property
    def writes_ok(self) -> bool:
        return self.writer.writes_ok  # the last write succeeded (/readyz)

    @property
    def lock_lost(self) -> bool:
        return self.writer.lock_lost  # another daemon took this location: no more writes

    @property
    def written_upto(self) -> float:
        return self.writer.written_upto  # the latest check written (months close after it)

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
            await self.fold_unwritten()
        self.log.info("history_reloaded", generation=self.generation)

    async def fold_unwritten(self) -> None:
        """Fold the checks not yet written (e.g. left on local disk by a run that
        stopped) into the timelines, oldest first; those already there are skipped."""
        unwritten = await asyncio.to_thread(list, self.unwritten)
        for check in sorted(unwritten, key=lambda c: c.at):
            if check.target not in self.tracker.critical:
                continue  # a target no longer configured
            with contextlib.suppress(ValueError):  # already in the loaded timeline
                if self.vantage is not None:
                    self.vantage.own(check)
                else:
                    self.tracker.add(check)

    async def prune(self, retention: float) -> int:
        """Drop stored checks older than `retention`, and memory older than the horizon."""
        now = self.clock.now()
        n = await asyncio.to_thread(self.store.prune, now - retention)
        self.tracker.trim(now - self.horizon)
        if n:
            self.log.info("pruned", checks=n)
        return n


def _log_change(log: Any, same_state: dict[str, int], before: Check | None, check: Check,
                detail: str) -> None:
    """A target's state change as one event (with how many checks the old state lasted);
    a check in the same state only at debug level."""
    if before is None or before.state != check.state:
        fields: dict[str, Any] = {"target": check.target}
        if before is not None:
            fields["previous_checks"] = same_state.get(check.target, 0)
        same_state[check.target] = 1
        if check.unknown:
            fields.update(reason=check.error, detail=detail)
        elif not check.ok:
            fields.update(error=check.error, status=check.status, detail=detail)
        emit = log.error if check.unknown else (log.info if check.ok else log.warning)
        emit(STATE_EVENTS[check.state], **fields)
    else:
        same_state[check.target] = same_state.get(check.target, 0) + 1
        log.debug("check", target=check.target, ok=check.ok, error=check.error)


__all__ = [  # the writer's settings are named here too (tests and callers read them here)
    "BATCH_MAX", "BATCH_PAUSE", "FAILING_SHUTDOWN_WAIT", "FINAL_WRITE_DEADLINE", "RETRY_FIRST",
    "RETRY_MAX", "SHUTDOWN_WAIT", "STATE_EVENTS", "Recorder", "horizon"]
