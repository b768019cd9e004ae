"""Housekeeping, once a second: credit, incidents, the database file's health, the
maintenance file, imports, statements (on the leader), pruning.

The only place the tracker's credit (the `_seconds_total` counters) moves: a scrape
reads it, never advances it. The incident desk picks up new acknowledgements and
folds the newest checks. The maintenance file is followed, an import noticed
through the store's generation, and every hour raw checks older than the retention
are pruned (the first prune a minute after start). A month's statement is chained
once a check after its end was written. The database file removed or replaced under
the daemon is said loudly (metric, one error event, /readyz fails) until it is back.
A failing tick is logged and the next one runs as usual (identical failures are
logged once, with a count).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from slaprobe import logs
from slaprobe.clock import Clock
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import month_start
from slaprobe.evidence import statements
from slaprobe.history.certlog import CertificateLog
from slaprobe.history.recorder import Recorder
from slaprobe.history.storeapi import HistoryStore, StoreError
from slaprobe.incidents.desk import IncidentDesk
from slaprobe.maintenance.follower import MaintenanceFollower
from slaprobe.metrics.instruments import Instruments

EVERY = 1.0
CONSEQUENCE = {  # what a database file problem costs, for its error event
    "missing": "checks written now are lost at restart; restore the file and restart slaprobe",
    "replaced": "checks written now are lost at restart; restore the file and restart slaprobe",
    "unwritable": "checks wait in memory, unwritten (lost if the daemon stops); make the file"
                  " writable again (chattr -i, permissions) and they are written",
}
# seconds of final service time credited at once (it reads every target), at most the
# shortest interval: the service's counters already lag by about one interval
SERVICE_CREDIT_STEP = 10.0
PRUNE_EVERY = 3600.0
FIRST_PRUNE_AFTER = 60.0
RETRY_CLOSE = 60.0  # a month refused for unverified data is tried again this often


class Housekeeper:
    def __init__(
        self, clock: Clock, tracker: Tracker, recorder: Recorder, follower: MaintenanceFollower,
        log: Any, *, cfg: Config, store: HistoryStore, instruments: Instruments,
        repeats: logs.Repeats | None = None, on_tick: Callable[[], None] | None = None,
        incidents: IncidentDesk | None = None, offset: Callable[[], float] | None = None,
        leading: Callable[[], bool] | None = None,
        history_read: Callable[[], bool] | None = None,
    ) -> None:
        self.leading = leading  # whether this daemon freezes statements (None: it does)
        # whether the history (its maintenance windows, terms) was read: a shared history's
        # server may be reached later than the start (None: it was read at start)
        self.history_read = history_read
        self.offset = offset  # the wall clock's offset from the time recorded
        self.incidents = incidents
        self.on_tick = on_tick  # e.g. the daemon's STATUS= for systemd
        self.clock = clock
        self.tracker = tracker
        self.recorder = recorder
        self.follower = follower
        self.store = store
        self.instruments = instruments
        self.log = log
        self.repeats = repeats or logs.Repeats(log, clock=clock.monotonic)
        self.cfg = cfg  # for the retention and the statements (see `reconfigure`)
        self._step = SERVICE_CREDIT_STEP
        self.reconfigure(cfg)
        self.closed_upto = -math.inf  # months ending by this have their statements
        self.retry_close = -math.inf  # a refused statement is tried again from then on
        self._closing: asyncio.Task[None] | None = None  # start-up's close, under way
        self.next_prune = clock.monotonic() + FIRST_PRUNE_AFTER
        self.store_file_problem: str | None = None  # "missing" / "replaced" / "unwritable"
        self.certificates = CertificateLog(store, log)  # TLS expiry, when it changes

    async def run(self) -> None:
        while True:
            await self.clock.sleep(EVERY)
            try:
                await self.tick()
                self.repeats.recovered("housekeeping", "housekeeping_recovered")
            except Exception as e:  # keep housekeeping alive; the error is visible in logs
                self.repeats.failed("housekeeping", "housekeeping_failed", error=repr(e))

    async def tick(self) -> None:
        self.repeats.settle()
        await self.check_store_file()
        if self.offset is not None:
            self.instruments.clock_offset.set(self.offset())
        self.tracker.update_credit(self.clock.now(), service_step=self._step)
        if self.incidents is not None:
            try:
                await self.incidents.poll_acks(self.store)
                self.repeats.recovered("acks", "acks_read_recovered")
            except (OSError, StoreError) as e:  # the store is away: the incidents go on
                self.repeats.failed("acks", "acks_read_failed", error=str(e))
            self.incidents.update(self.tracker, self.clock.now())
        if self.on_tick is not None:
            self.on_tick()
        await self.follower.follow_file()
        await self.recorder.follow_imports()
        if self.instruments.probe.certs:
            await self.certificates.record(self.instruments.probe.certs, self.clock.now())
        written = self.recorder.written_upto
        read = self.history_read is None or self.history_read()
        if (read and math.isfinite(written) and month_start(written) > self.closed_upto
                and self.clock.monotonic() >= self.retry_close and not self.closing):
            await self.close_months(written)
        if self.clock.monotonic() >= self.next_prune and not self.closing:
            # (not while months are being closed: their statements are of all their checks)
            self.next_prune = self.clock.monotonic() + PRUNE_EVERY
            await self.recorder.prune(self.cfg.daemon.retention)

    def reconfigure(self, cfg: Config) -> None:
        """A reloaded config: its retention, its targets' intervals, its statements."""
        self.cfg = cfg
        self._step = min([SERVICE_CREDIT_STEP, *(t.interval for t in cfg.targets)])

    def close_months_soon(self, upto: float) -> None:
        """`close_months` beside the rest (start-up: the first start after an import of
        past months reads each month's checks to verify them before its statement, which
        takes seconds on millions of checks); ticks leave closing to it meanwhile."""
        if not self.closing:
            self._closing = asyncio.create_task(self._close_logged(upto), name="close_months")

    async def _close_logged(self, upto: float) -> None:
        try:
            await self.close_months(upto)
        except Exception as e:  # said, never lost in the task; the ticks try again
            self.repeats.failed("statement", "statement_close_failed", error=repr(e))

    @property
    def closing(self) -> bool:
        return self._closing is not None and not self._closing.done()

    async def closed(self) -> None:
        """Until a close started by `close_months_soon` ended (a stop waits: the
        statement is written whole or not at all, and the store is closed after)."""
        if self._closing is not None:
            await asyncio.gather(asyncio.shield(self._closing), return_exceptions=True)

    async def close_months(self, upto: float) -> None:
        """Chain the statement of every month that ended by `upto` (a check after its end
        was written, or start-up) and has none. Only the leader does: on a shared
        history one daemon of all the locations."""
        if self.leading is not None and not self.leading():
            return  # another daemon leads; `closed_upto` stays, to close them when we lead
        windows = list(self.tracker.maintenance)
        try:
            done = await asyncio.to_thread(statements.close, self.store, self.cfg,
                                           windows, self.clock.now(), upto=upto)
        except statements.Unverified as e:  # tried again each tick, logged once
            self.repeats.failed("statement", "statement_refused", month=e.month,
                                error=e.problem)
            self.retry_close = self.clock.monotonic() + RETRY_CLOSE
            return
        self.repeats.recovered("statement", "statement_verified")
        first = self.closed_upto == -math.inf
        self.closed_upto = month_start(upto)
        for month in done:
            self.log.info("statement_stored", month=month)
        if done or first:
            await self.publish_heads(done)

    async def publish_heads(self, closed: list[str]) -> None:
        """Witnesses: each statement's chain record as `slaprobe_statement_info`, and
        the chain's head as a `chain_head` event when a month closed."""
        def read() -> tuple[list[tuple[str, int, str]], tuple[int, str]]:
            marks = [(str(p["month"]), seq, self.store.digest_of(seq) or "")
                     for seq, _, p in self.store.records(statements.KIND)]
            return marks, self.store.chain_head()
        marks, (seq, digest) = await asyncio.to_thread(read)
        for month, mseq, mdigest in marks:
            self.instruments.statement_info.labels(month, str(mseq), mdigest).set(1)
        if closed:
            self.log.info("chain_head", seq=seq, digest=digest, month=closed[-1])

    async def check_store_file(self) -> None:
        store, repeats = self.store, self.repeats
        problem = await asyncio.to_thread(store.file_problem)
        self.instruments.store_file_ok.set(0 if problem else 1)
        self.store_file_problem = problem
        if problem is not None:
            repeats.failed(
                "store-file", f"database_{problem}", error=problem, database=store.name,
                consequence=CONSEQUENCE.get(problem, CONSEQUENCE["missing"]))
        else:
            repeats.recovered("store-file", "database_back", database=store.name)
