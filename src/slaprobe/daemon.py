"""The composition root: config, store, scheduler, prober, metrics and server.

SIGHUP reloads (validate, then swap: a bad config keeps the old one running);
SIGTERM/SIGINT stop: scheduler first, then pending writes are flushed, then the
store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from slaprobe import (
    announcements,
    chainstore,
    config,
    exposition,
    logs,
    prober,
    sdnotify,
    server,
    statements,
    webconfig,
    webui,
)
from slaprobe.clock import Clock, SystemClock
from slaprobe.config import ConfigError, load
from slaprobe.core.model import Attempt, Check, ErrorKind, State
from slaprobe.core.spec import Config, MaintenanceSpec, ProbeSpec
from slaprobe.core.timefmt import iso, month_start
from slaprobe.core.timeline import History
from slaprobe.core.tracker import Tracker
from slaprobe.core.walltime import Stamp
from slaprobe.feedfetch import FeedCache
from slaprobe.incidentdesk import IncidentDesk
from slaprobe.metrics import BURN_WINDOWS, Instruments, SlaCollector, Snapshot
from slaprobe.scheduler import Scheduler
from slaprobe.store import Store, StoreError, unwritable_reason
from slaprobe.wallclock import GuardedClock
from slaprobe.writerlock import WriterLock

HOUSEKEEPING_EVERY = 1.0
STATE_EVENTS: dict[State | None, str] = {
    State.UP: "target_up", State.DOWN: "target_down",
    State.NET: "target_down_probe_network", None: "target_unknown"}
CHECK_BUDGET = 0.9  # share of its interval a check may take, retries included
PRUNE_EVERY = 3600.0
STATUS_NAMES = {State.UP: "up", State.DOWN: "down", State.NET: "probe network down",
                State.MAINT: "in maintenance"}


def horizon(cfg: Config) -> float:
    """How far back timelines are kept in memory: the longest window, a month, 3 days."""
    longest = max([length for _, length in cfg.slo.windows] + [31 * 86400.0, BURN_WINDOWS[-1][1]])
    return longest + 86400.0


VERIFY_EVERY = 60.0
VERIFY_FULL_EVERY = 86400.0


def _verify_tail(path: Path, since: int) -> tuple[chainstore.Verdict, int]:
    """Verify records from `since` on (the open block is re-read each time); the seq to
    start from next time."""
    reader = Store(path, read_only=True)
    try:
        verdict = reader.verify(since_seq=since)
        return verdict, reader.chain_top()
    finally:
        reader.close()


class Daemon:
    def __init__(
        self, cfg: Config, *, clock: Clock | None = None,
        registry: CollectorRegistry | None = None, env: Mapping[str, str] | None = None,
        web: webconfig.WebConfig | None = None,
    ) -> None:
        self.cfg = cfg
        self.web = web
        self.clock = GuardedClock(clock or SystemClock(), on_step=self._clock_stepped)
        self.env = env
        self.registry = registry or CollectorRegistry()
        self.metrics = Instruments(self.registry)
        self.sla = SlaCollector(self.snapshot)
        self.registry.register(self.sla)
        self.log = logs.get()
        self.repeats = logs.Repeats(self.log)  # identical errors: once per change, counted
        self.store: Store | None = None
        self.writer_lock: WriterLock | None = None
        self.tracker: Tracker | None = None
        self.incidents: IncidentDesk | None = None
        self.last: dict[str, Check] = {}
        self.same_state: dict[str, int] = {}  # checks in a row in the target's last state
        self.controls: dict[str, tuple[float, bool | None]] = {}
        self.queue: asyncio.Queue[Check | None] = asyncio.Queue()
        self.feeds = FeedCache()
        self.stopping = asyncio.Event()
        self.ready = False
        self.store_writes_ok = True       # the last write succeeded
        self.store_file_problem: str | None = None  # missing / replaced
        self.generation = 0
        self.written_upto = -math.inf  # the latest check written (months close after it)
        self.closed_upto = -math.inf  # months ending by this have their statements
        self._loaded = f"config loaded {iso(self.clock.now())}"  # for STATUS=
        self._status_sent = ""
        self.maint_mtime: float | None = None
        self._static: list[MaintenanceSpec] = list(cfg.maintenance)
        self.scheduler = Scheduler(
            self.clock, cfg.daemon.max_concurrency,
            on_lag=self.metrics.scheduler_lag.observe, on_error=self._job_failed,
        )
        self._tasks: list[asyncio.Task[Any]] = []
        self._writer_task: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._unwritten: list[Check] = []  # queued for the store, in queue order
        self._session: aiohttp.ClientSession | None = None
        self.watch = prober.LoopWatch()  # a timeout while the loop ran late is not the target's

    # --- lifecycle ------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload()))
        loop.set_exception_handler(self._loop_error)
        runner = None
        try:
            await self.start()
            address = f"{self.cfg.daemon.listen_host}:{self.cfg.daemon.listen_port}"
            try:
                runner = await server.start(
                    server.make_app(self.render_metrics, self.is_ready,
                                    webui.Views(self).routes(),
                                    middlewares=webconfig.middlewares(self.web)),
                    self.cfg.daemon.listen_host, self.cfg.daemon.listen_port,
                    ssl_context=None if self.web is None else self.web.ssl_context,
                )
            except OSError as e:
                self.log.error("listen_failed", address=address, error=e.strerror or str(e))
                return 1
            self.log.info("listening", address=address,
                          scheme="http" if self.web is None else self.web.scheme)
            if warning := webconfig.exposure_warning(self.cfg.daemon.listen_host, self.web):
                self.log.warning("listening_unprotected", address=address, reason=warning)
            self._status_sent = self._status()
            sdnotify.notify("READY=1\n" + sdnotify.status(self._status_sent), **self._env())
            if (wd := sdnotify.watchdog_interval(**self._env())) is not None:
                self._spawn(sdnotify.watchdog_loop(wd))
            await self.stopping.wait()
            self.log.info("stopping")
            sdnotify.notify("STOPPING=1", **self._env())
        finally:
            await self.shutdown(runner)
        return 0

    def _env(self) -> dict[str, Any]:
        return {} if self.env is None else {"env": self.env}

    async def start(self) -> None:
        cfg = self.cfg
        path = config.database_path(cfg, self.env)
        if str(path) != ":memory:":
            try:
                self.writer_lock = WriterLock(
                    path, listen=f"{cfg.daemon.listen_host}:{cfg.daemon.listen_port}")
            except OSError as e:  # e.g. a read-only file system: the daemon cannot write
                raise StoreError(f"cannot write database {path}: cannot create its lock file:"
                                 f" {e.strerror or e}{unwritable_reason(path)}") from e
        self.store = await asyncio.to_thread(Store, path)
        try:
            await asyncio.to_thread(self.store.check_writable)  # read-only: exit 2 now
        except StoreError:
            await asyncio.to_thread(self.store.close)
            self.store = None
            raise
        self.generation = await asyncio.to_thread(self.store.generation)
        histories = await self._load_histories([t.name for t in cfg.targets])
        self.tracker = Tracker({t.name: t.critical for t in cfg.targets}, histories)
        self.incidents = IncidentDesk(cfg.support, self.clock.now() - horizon(cfg), self.log)
        await self.incidents.poll_acks(self.store)
        self._session = aiohttp.ClientSession()
        await self.refresh_maintenance(fetch_feeds=False)
        await self._close_months(self.clock.now())
        for spec in cfg.targets:
            self._schedule_target(spec)
        for spec in cfg.controls:
            self._schedule_control(spec)
        self.watch.start()
        self._writer_task = asyncio.create_task(self._writer())
        self._spawn(self._housekeeping())
        self._spawn(self._verify_loop())
        self._spawn(self._feeds_loop())
        self.metrics.reload_time.set(self.clock.now())
        self.ready = True
        self.log.info("started", targets=len(cfg.targets), controls=len(cfg.controls),
                      database=str(self.store.path))

    async def shutdown(self, runner: Any) -> None:
        self.ready = False
        await self.scheduler.close()
        await self.watch.stop()
        if runner is not None:
            await runner.cleanup()
        await self.queue.put(None)
        writer = self._writer_task
        for t in self._tasks:
            t.cancel()
        if writer is not None:
            try:
                await asyncio.wait_for(writer, timeout=5.0)
            except TimeoutError:
                self.log.error("pending_writes_lost", checks=self.queue.qsize())
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
        if self.writer_lock is not None:
            self.writer_lock.release()
            self.writer_lock = None

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.append(task)
        return task

    def _clock_stepped(self, stamp: Stamp) -> None:
        """The wall clock jumped: count it, say so, and keep the record true.

        Backwards: records keep the monotonic-derived time (the clock wrapper holds
        it) until the wall clock catches up. Forwards: every target's timeline gets a
        check of unknown outcome where the jump began, so the skipped span is unknown,
        not up or down time nobody measured."""
        if stamp.event == "caught_up":
            self.log.info("wall_clock_caught_up", at=stamp.at)
            return
        direction = str(stamp.event)
        self.metrics.clock_steps.labels(direction).inc()
        self.log.error(
            "wall_clock_stepped", direction=direction, seconds=round(stamp.step, 3),
            action="recording the monotonic-derived time until the wall clock catches up"
            if direction == "backward" else "the skipped span is recorded as unknown",
            advice="run NTP (chrony or systemd-timesyncd) so the clock slews, never steps")
        if direction != "forward":
            return
        began = stamp.at - stamp.step
        for name, last in list(self.last.items()):
            spec = self.cfg.target(name)
            if spec is not None and last.at < began:
                self.record(Check(target=name, at=began, ok=False, interval=spec.interval,
                                  error=str(ErrorKind.CLOCK_STEP), unknown=True),
                            detail=f"wall clock stepped forward {stamp.step:.0f}s")

    def _loop_error(self, _: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's own error reports (e.g. accept() out of descriptors, once a
        second while it lasts): one log line per kind of error, with a count."""
        message = str(context.get("message", "event loop error"))
        exc = context.get("exception")
        error = message if exc is None else f"{message}: {type(exc).__name__}: {exc}"
        self.repeats.failed(f"loop:{error}", "event_loop_error", error=error, settles=True)

    def _job_failed(self, key: str, exc: BaseException) -> None:
        self.repeats.failed(f"job:{key}", "job_failed", error=type(exc).__name__, job=key)

    # --- probing --------------------------------------------------------------------

    def _schedule_target(self, spec: ProbeSpec) -> None:
        self.scheduler.start(f"target:{spec.name}", spec.interval, lambda: self.probe_target(spec))

    def _schedule_control(self, spec: ProbeSpec) -> None:
        self.scheduler.start(f"control:{spec.name}", spec.interval,
                             lambda: self.probe_control(spec))

    def _observe(self, name: str, a: Attempt) -> None:
        result = "success" if a.ok else str(ErrorKind.PROBE_ERROR if a.unknown else a.error)
        self.metrics.probe.observe(name, result, a.latency)

    async def probe_target(self, spec: ProbeSpec) -> None:
        at, started = self.clock.now(), self.clock.monotonic()
        try:
            check, detail = await self._check_target(spec, at, started)
        except Exception as e:  # slaprobe's own failure: the outcome is unknown, never down
            kind, detail = prober.own_failure(e)
            self._observe(spec.name, Attempt(ok=False, latency=0.0, error=kind, detail=detail))
            check = Check(target=spec.name, at=at, ok=False, interval=spec.interval,
                          error=str(kind), unknown=True)
        self.record(check, detail=detail)

    async def _check_target(self, spec: ProbeSpec, at: float, started: float
                            ) -> tuple[Check, str]:
        budget = CHECK_BUDGET * spec.interval
        attempts = await prober.check(spec, on_attempt=lambda a: self._observe(spec.name, a),
                                      budget=budget, watch=self.watch)
        last = prober.verdict(attempts)
        network, unknown = False, last.unknown
        if not last.ok and not unknown and self.cfg.controls:
            left = budget - (self.clock.monotonic() - started)
            failed = await self._controls_all_failed(
                spec.interval, budget=max(left, prober.MIN_ATTEMPT))
            if failed is None:  # a control could not be judged: neither down nor excused
                unknown = True
                last = Attempt(ok=False, latency=last.latency, status=last.status,
                               error=ErrorKind.PROBE_ERROR,
                               detail=f"control not judged; target {last.error}: {last.detail}")
            network = bool(failed)
        return Check(
            target=spec.name, at=at, ok=last.ok, interval=spec.interval, latency=last.latency,
            status=last.status, error=None if last.error is None else str(last.error),
            network=network, unknown=unknown,
        ), last.detail

    async def probe_control(self, spec: ProbeSpec) -> None:
        await self._control(spec)

    async def _control(self, spec: ProbeSpec, budget: float | None = None) -> bool | None:
        """A control's result: ok, failed, or None when slaprobe could not judge it."""
        last = prober.verdict(await prober.check(spec, budget=budget, watch=self.watch))
        ok = None if last.unknown else last.ok
        self.controls[spec.name] = (self.clock.monotonic(), ok)
        return ok

    async def _controls_all_failed(self, max_age: float, budget: float) -> bool | None:
        """Whether every control failed: results no older than `max_age`, else the
        controls probed right now (within what is left of the check's budget).
        None: none succeeded but one could not be judged (slaprobe's own failure)."""
        now = self.clock.monotonic()
        fresh = {n: ok for n, (t, ok) in self.controls.items() if now - t <= max_age}
        missing = [c for c in self.cfg.controls if c.name not in fresh]
        if missing:
            results = await asyncio.gather(*(self._control(c, budget) for c in missing))
            fresh.update({c.name: ok for c, ok in zip(missing, results, strict=True)})
        seen = [fresh.get(c.name, False) for c in self.cfg.controls]
        if any(seen):
            return False
        return None if None in seen else True

    def record(self, check: Check, *, detail: str = "") -> None:
        """Fold a finished check into the timeline, queue it for the store, log changes."""
        tracker = self.tracker
        if tracker is None or check.target not in tracker.critical:
            return  # the target was removed while its check was in flight
        before = self.last.get(check.target)
        try:
            tracker.add(check)
        except ValueError:
            self.log.warning("clock_went_backwards", target=check.target, at=check.at)
        self.last[check.target] = check
        self._unwritten.append(check)
        self.queue.put_nowait(check)
        self.metrics.store_pending.set(self.queue.qsize())
        if check.unknown:
            self.metrics.count_unknown(check.target, check.error or str(ErrorKind.PROBE_ERROR))
        if before is None or before.state != check.state:
            event = STATE_EVENTS[check.state]
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
            log(event, **fields)
        else:
            self.same_state[check.target] = self.same_state.get(check.target, 0) + 1
            self.log.debug("check", target=check.target, ok=check.ok, error=check.error)

    # --- store ---------------------------------------------------------------------

    async def _writer(self) -> None:
        """Write checks in batches off the event loop; retry on errors, never drop."""
        assert self.store is not None
        done = False
        while not done:
            item = await self.queue.get()
            batch: list[Check] = []
            if item is None:
                done = True
            else:
                batch.append(item)
                await asyncio.sleep(0.05)  # let a burst of results join this batch
            while not self.queue.empty():
                nxt = self.queue.get_nowait()
                if nxt is None:
                    done = True
                else:
                    batch.append(nxt)
            if batch:
                async with self._write_lock:
                    await self._write(batch, final=done)
                    del self._unwritten[:len(batch)]  # batches leave the queue in order
                    self.written_upto = max(self.written_upto, *(c.at for c in batch))
            self.metrics.store_pending.set(self.queue.qsize())

    async def _write(self, batch: list[Check], *, final: bool) -> None:
        assert self.store is not None
        delay = 0.5
        deadline = time.monotonic() + 4.0
        while True:
            try:
                await asyncio.to_thread(self.store.write, batch)
                self.store_writes_ok = True
                self.repeats.recovered("store", "store_write_recovered")
                return
            except (sqlite3.Error, OSError) as e:
                self.metrics.store_errors.inc()
                self.store_writes_ok = False
                self.repeats.failed("store", "store_write_failed", error=str(e),
                                    checks=len(batch))
                if final and time.monotonic() > deadline:
                    self.log.error("pending_writes_lost", checks=len(batch))
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _load_histories(self, names: list[str]) -> dict[str, History]:
        assert self.store is not None
        since = self.clock.now() - horizon(self.cfg)
        store = self.store
        return await asyncio.to_thread(lambda: {n: store.load(n, since) for n in names})

    # --- housekeeping ------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        assert self.store is not None
        last_prune = -PRUNE_EVERY + 60.0  # first prune a minute after start
        started = time.monotonic()
        while True:
            await asyncio.sleep(HOUSEKEEPING_EVERY)
            try:
                self.repeats.settle()
                await self._check_store_file()
                if self.tracker is not None:
                    self.tracker.update_credit(self.clock.now())
                if self.incidents is not None and self.tracker is not None:
                    await self.incidents.poll_acks(self.store)
                    self.incidents.update(self.tracker, self.clock.now())
                if self.ready and (text := self._status()) != self._status_sent:
                    self._status_sent = text
                    sdnotify.notify(sdnotify.status(text), **self._env())
                mtime = announcements.file_mtime(config.maintenance_file_path(self.cfg))
                if mtime != self.maint_mtime:
                    await self.refresh_maintenance(fetch_feeds=False)
                gen = await asyncio.to_thread(self.store.generation)
                if gen != self.generation:
                    self.generation = gen
                    await self._reload_histories()
                if month_start(self.written_upto) > self.closed_upto:
                    await self._close_months(self.written_upto)
                if time.monotonic() - started - last_prune >= PRUNE_EVERY:
                    last_prune = time.monotonic() - started
                    await self._prune()
                self.repeats.recovered("housekeeping", "housekeeping_recovered")
            except Exception as e:  # keep housekeeping alive; the error is visible in logs
                self.repeats.failed("housekeeping", "housekeeping_failed", error=repr(e))

    async def _verify_loop(self) -> None:
        """Verify the hash chain off the event loop, on a connection of its own (a read
        transaction: the writer is never blocked): all of it at start-up and every
        VERIFY_FULL_EVERY, else its tail (the records since the last one found intact)."""
        path = self.store.path if self.store is not None else None
        since, last_full = 0, time.monotonic()
        while path is not None:
            try:
                verdict, top = await asyncio.to_thread(_verify_tail, path, since)
            except (sqlite3.Error, OSError) as e:
                self.log.error("history_verify_failed", error=str(e))
            else:
                if verdict.ok:
                    self.metrics.history_verified.set(1)
                    self.metrics.history_verified_time.set(self.clock.now())
                    since = top
                else:
                    self.metrics.history_verified.set(0)
                    self.log.error("history_tampered", problem=verdict.problem)
                    since = 0  # keep looking at all of it until it is intact again
            if time.monotonic() - last_full >= VERIFY_FULL_EVERY:
                since, last_full = 0, time.monotonic()
            await asyncio.sleep(VERIFY_EVERY)

    async def _close_months(self, upto: float) -> None:
        """Chain the statement of every month that ended by `upto` (a check after its end
        was written, or start-up) and has none."""
        assert self.store is not None and self.tracker is not None
        windows = list(self.tracker.maintenance)
        done = await asyncio.to_thread(
            statements.close, self.store, self.cfg, windows, self.clock.now(), upto=upto)
        self.closed_upto = month_start(upto)
        for month in done:
            self.log.info("statement_stored", month=month)

    async def _check_store_file(self) -> None:
        """The database file removed or replaced under the daemon: say so loudly
        (metric, error log once, /readyz fails) until it is back."""
        assert self.store is not None
        problem = await asyncio.to_thread(self.store.file_problem)
        self.metrics.store_file_ok.set(0 if problem else 1)
        self.store_file_problem = problem
        if problem is not None:
            self.repeats.failed(
                "store-file", f"database_{problem}", error=problem, database=str(self.store.path),
                consequence="checks written now are lost at restart; restore the file and"
                            " restart slaprobe")
        else:
            self.repeats.recovered("store-file", "database_back", database=str(self.store.path))

    def is_ready(self) -> bool:
        """/readyz: started, the store writes, and its file is the one it opened."""
        return self.ready and self.store_writes_ok and self.store_file_problem is None

    async def _prune(self) -> None:
        assert self.store is not None and self.tracker is not None
        now = self.clock.now()
        n = await asyncio.to_thread(self.store.prune, now - self.cfg.daemon.retention)
        self.tracker.trim(now - horizon(self.cfg))
        if n:
            self.log.info("pruned", checks=n)

    async def _reload_histories(self) -> None:
        """History was rewritten outside (an import): reload timelines from the store.

        No batch commits while the store is read; checks not yet written (queued, or
        finished during the read) are folded on top, so none is missing in memory.
        """
        tracker = self.tracker
        assert tracker is not None
        async with self._write_lock:
            histories = await self._load_histories(list(tracker.critical))
            tracker.reconfigure(tracker.critical, histories, replace=True)
            if self.incidents is not None:  # an import may have filled past time
                self.incidents.book.reset()
            for check in sorted(self._unwritten, key=lambda c: c.at):
                with contextlib.suppress(ValueError):  # already in the loaded timeline
                    tracker.add(check)
        self.log.info("history_reloaded", generation=self.generation)

    # --- maintenance ---------------------------------------------------------------------

    async def refresh_maintenance(self, *, fetch_feeds: bool) -> None:
        assert self.store is not None and self.tracker is not None
        cfg = self.cfg
        self.maint_mtime = announcements.file_mtime(config.maintenance_file_path(cfg))
        if fetch_feeds and cfg.slo.maintenance_feeds:
            before = dict(self.feeds.errors)
            self.feeds.retain(cfg.slo.maintenance_feeds)
            await announcements.feed_specs(
                cfg, self.store, self.clock.now(), session=self._session, cache=self.feeds,
                log=self.log,
            )
            for source, n in self.feeds.errors.items():
                if n > before.get(source, 0):
                    self.metrics.feed_errors.labels(source).inc(n - before.get(source, 0))
        self._static, problems = await asyncio.to_thread(
            announcements.kept_specs, cfg, self.store)
        self.metrics.maintenance_file_problems.set(len(problems))
        if problems:
            self.log.error("maintenance_file_invalid", problems=problems,
                           kept="last good windows")
        feeds = [w for src in cfg.slo.maintenance_feeds for w in self.feeds.windows(src)]
        specs = announcements.gather(self._static, feeds)
        now = self.clock.now()
        history = await asyncio.to_thread(announcements.terms, self.store, cfg, now)
        windows = await asyncio.to_thread(announcements.judge, self.store, cfg, specs, now)
        self.tracker.set_terms(history)
        self.tracker.set_maintenance(windows)

    async def _feeds_loop(self) -> None:
        while True:
            if self.cfg.slo.maintenance_feeds:
                try:
                    await self.refresh_maintenance(fetch_feeds=True)
                    self.repeats.recovered("maintenance", "maintenance_refresh_recovered")
                except Exception as e:
                    self.repeats.failed("maintenance", "maintenance_refresh_failed",
                                        error=repr(e))
            await asyncio.sleep(self.cfg.slo.maintenance_feed_interval)

    # --- reload ------------------------------------------------------------------------------

    async def reload(self) -> bool:
        """Validate the config file again, then swap; a bad one keeps the old running.
        Reloads are serialized: a second SIGHUP waits for the first. systemd hears
        RELOADING=1 before and READY=1 (with the outcome in STATUS=) after."""
        async with self._reload_lock:
            sdnotify.notify(sdnotify.reloading(self.clock.monotonic()), **self._env())
            ok = False
            try:
                ok = await self._reload()
            finally:
                when = iso(self.clock.now())
                self._loaded = (f"config reloaded {when}" if ok else
                                f"reload failed {when}, old config kept")
                self._status_sent = self._status()
                sdnotify.notify("READY=1\n" + sdnotify.status(self._status_sent),
                                **self._env())
            return ok

    def _status(self) -> str:
        states = Counter("unknown" if c.state is None else STATUS_NAMES[c.state]
                         for c in self.last.values())
        return sdnotify.status_text(states, len(self.cfg.targets), self._loaded)

    async def _reload(self) -> bool:
        path = self.cfg.path
        try:
            if path is None:
                raise ConfigError(["no config file to reload"])
            new = await asyncio.to_thread(load, path, env=self.env)
            await asyncio.to_thread(announcements.static_specs, new)
        except (ConfigError, announcements.MaintenanceFileError) as e:
            problems = e.problems if isinstance(e, ConfigError) else [str(e)]
            self.log.error("config_reload_failed", problems=problems)
            self.metrics.reloads.labels("failure").inc()
            self.metrics.reload_ok.set(0)
            return False
        await self.apply(new)
        self.metrics.reloads.labels("success").inc()
        self.metrics.reload_ok.set(1)
        self.metrics.reload_time.set(self.clock.now())
        return True

    async def apply(self, new: Config) -> None:
        assert self.tracker is not None
        old = self.cfg
        old_targets = {t.name: t for t in old.targets}
        new_targets = {t.name: t for t in new.targets}
        if (old.daemon.listen_host, old.daemon.listen_port, old.daemon.database,
                old.daemon.web_config) != (new.daemon.listen_host, new.daemon.listen_port,
                                           new.daemon.database, new.daemon.web_config):
            self.log.warning("restart_needed", reason="daemon.listen, daemon.database or "
                             "daemon.web_config changed")
        self.cfg = new
        for name in old_targets.keys() - new_targets.keys():
            self.scheduler.stop(f"target:{name}")
            self.metrics.forget_target(name)
            self.last.pop(name, None)
            self.same_state.pop(name, None)
        added = [n for n in new_targets if n not in old_targets]
        histories = await self._load_histories(added) if added else {}
        self.tracker.reconfigure({t.name: t.critical for t in new.targets}, histories)
        if self.incidents is not None:
            self.incidents.configure(new.support)
        for name, spec in new_targets.items():
            if old_targets.get(name) != spec:
                self._schedule_target(spec)
        for c in old.controls:
            self.scheduler.stop(f"control:{c.name}")
        self.controls.clear()
        for c in new.controls:
            self._schedule_control(c)
        await self.refresh_maintenance(fetch_feeds=bool(new.slo.maintenance_feeds))
        self.log.info("config_reloaded", targets=len(new.targets), added=added,
                      removed=sorted(old_targets.keys() - new_targets.keys()))

    # --- metrics --------------------------------------------------------------------------

    async def render_metrics(self) -> bytes:
        """/metrics: figures from live timelines on the loop (in slices), then the
        instruments and the text encoding in a worker thread."""
        self.metrics.clock_offset.set(self.clock.offset())
        families: list[exposition.Family] = [
            *await self.sla.collect_async(), *self.metrics.probe.families()]
        return await asyncio.to_thread(
            lambda: exposition.encode(itertools.chain(self.metrics.collect(), families)))

    def snapshot(self) -> Snapshot | None:
        if self.tracker is None:
            return None
        now = self.clock.now()
        self.tracker.update_credit(now)
        return Snapshot(
            now=now, service=self.cfg.daemon.service, objective=self.cfg.slo.objective,
            windows=self.cfg.slo.windows, tracker=self.tracker, last=self.last,
            incidents=() if self.incidents is None else self.incidents.families(self.tracker, now),
        )


async def main(config_path: Path, *, env: Mapping[str, str] | None = None) -> int:
    cfg = load(config_path, env=env)  # a broken maintenance file: last good windows, an error
    daemon = Daemon(cfg, env=env, web=webconfig.for_config(cfg))
    with contextlib.suppress(asyncio.CancelledError):
        return await daemon.run()
    return 0
