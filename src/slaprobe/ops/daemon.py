"""The composition root: it wires the rooms, runs their lifecycle and reloads the config.

`Daemon.open` opens the store and reads the timelines (an async factory, so every
room is whole from the start); `start` schedules the probes and the background
loops; `shutdown` stops the scheduler first, then flushes pending writes, then
closes the store. SIGHUP reloads (validate, then swap: a bad config keeps the old
one running); SIGTERM/SIGINT stop. The work is done elsewhere: probing (a target's
check and its controls), the recorder (checks to the timeline and the store), the
maintenance follower, housekeeping, and the exporter that renders /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from slaprobe import config, logs
from slaprobe.clock import Clock, SystemClock
from slaprobe.config import ConfigError, load
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check, State
from slaprobe.core.spec import Config, ProbeSpec, per_target_windows
from slaprobe.core.timefmt import iso
from slaprobe.evidence.verifier import HistoryVerifier
from slaprobe.history import stores
from slaprobe.history.recorder import BATCH_PAUSE, Recorder
from slaprobe.history.spool import Spool
from slaprobe.history.storeapi import HistoryStore
from slaprobe.history.vantagepoint import POLL as VANTAGE_POLL
from slaprobe.history.vantagepoint import VantagePoint
from slaprobe.incidents.desk import IncidentDesk
from slaprobe.maintenance import announcements
from slaprobe.maintenance.follower import MaintenanceFollower
from slaprobe.metrics.instruments import BURN_WINDOWS, Exporter, Instruments, Snapshot
from slaprobe.ops import sdnotify
from slaprobe.ops.clocksteps import ClockStepWatch
from slaprobe.ops.housekeeping import Housekeeper
from slaprobe.ops.tasks import TaskSet
from slaprobe.ops.wallclock import GuardedClock
from slaprobe.probe import prober
from slaprobe.probe.probing import Probing
from slaprobe.probe.scheduler import Scheduler
from slaprobe.web import pages as webui
from slaprobe.web import server, webconfig

STATUS_NAMES = {State.UP: "up", State.DOWN: "down", State.PROBE_NETWORK: "probe network down",
                State.MAINTENANCE: "in maintenance"}


def horizon(cfg: Config) -> float:
    """How far back timelines are kept in memory: the longest window, a month, 3 days."""
    longest = max([length for _, length in cfg.slo.windows] + [31 * 86400.0, BURN_WINDOWS[-1][1]])
    return longest + 86400.0


class Daemon:
    def __init__(self, cfg: Config, *, store: HistoryStore, recorder: Recorder,
                 session: aiohttp.ClientSession, clock: Clock,
                 env: Mapping[str, str] | None, writer_lock: stores.Lock | None,
                 incidents: IncidentDesk, web: webconfig.WebConfig | None = None) -> None:
        self.cfg, self.store, self.clock, self.env, self.web = cfg, store, clock, env, web
        self.writer_lock = writer_lock  # the one writer of this database (or location)
        self.tracker, self.recorder, self.session = recorder.tracker, recorder, session
        self.instruments, self.log = recorder.instruments, recorder.log
        self.repeats = recorder.repeats  # identical errors: once per change, counted
        self.watch = prober.LoopWatch(clock)  # a timeout while the loop lags is not the target's
        self.probes = prober.probe_session()  # https:// checks: a fresh connection each
        self.probing = Probing(clock, recorder, self.instruments, lambda: self.cfg.controls,
                               watch=self.watch, session=self.probes)
        self.judge = self.probing.judge
        self.follower = MaintenanceFollower(cfg, store, self.tracker, clock, session=session,
                                            instruments=self.instruments, log=self.log,
                                            repeats=self.repeats)
        self.incidents = incidents  # the incident book, kept up to date by housekeeping
        recorder.on_reload = incidents.book.reset  # an import may have filled past time
        self.notes = sdnotify.Notifier(self._states, lambda: len(self.cfg.targets), env=env)
        offset = None
        if isinstance(clock, GuardedClock):  # a wall-clock step: counted, no false record
            clock.on_step = ClockStepWatch(recorder, self.instruments, self.log, lambda: {
                t.name: t.interval for t in self.cfg.targets})
            offset = clock.offset
        self.housekeeper = Housekeeper(clock, self.tracker, recorder, self.follower, self.log,
                                       cfg=cfg, on_tick=self.notes.tick, incidents=incidents,
                                       offset=offset)
        self.verifier = HistoryVerifier(clock, stores.reader(cfg, env), self.instruments,
                                        self.log)
        self.exporter = Exporter(self.instruments, self.snapshot)
        self.scheduler = Scheduler(clock, cfg.daemon.max_concurrency,
                                   on_lag=self.instruments.scheduler_lag.observe,
                                   on_error=self._job_failed)
        self.tasks = TaskSet()
        self.stopping = asyncio.Event()
        self.ready = False
        self._writer: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()

    @classmethod
    async def open(cls, cfg: Config, *, clock: Clock | None = None,
                   env: Mapping[str, str] | None = None,
                   web: webconfig.WebConfig | None = None) -> Daemon:
        """Take the writer lock, open the store and read the timelines; nothing is
        scheduled yet. The wall clock is guarded against steps (wallclock.py).
        LockHeld: another slaprobe writes this database; StoreError: it cannot be
        written (e.g. a read-only file system)."""
        guarded = GuardedClock(clock or SystemClock())
        store, lock = await asyncio.to_thread(stores.open_writer, cfg, env)
        try:
            recorder = await _recorder(cfg, store, guarded, env)
            incidents = IncidentDesk(cfg.support, guarded.now() - horizon(cfg), recorder.log)
            await incidents.poll_acks(store)
        except BaseException:
            await asyncio.to_thread(stores.close, store, lock)
            raise
        return cls(cfg, store=store, recorder=recorder, session=aiohttp.ClientSession(),
                   clock=guarded, env=env, writer_lock=lock, incidents=incidents, web=web)

    # --- lifecycle ------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.tasks.spawn(self.reload(), "reload"))
        loop.set_exception_handler(logs.loop_errors(self.repeats))
        runner = None
        try:
            await self.start()
            app = server.make_app(self.exporter.render, self.is_ready, webui.Views(self).routes(),
                                  middlewares=webconfig.middlewares(self.web))
            runner = await webconfig.listen(app, self.cfg.daemon.listen_host,
                                            self.cfg.daemon.listen_port, self.web, self.log)
            if runner is None:
                return 1
            self.notes.ready(f"config loaded {iso(self.clock.now())}")
            if (wd := self.notes.watchdog()) is not None:
                self.tasks.spawn(sdnotify.watchdog_loop(wd, sleep=self.clock.sleep), "watchdog")
            await self.stopping.wait()
            self.log.info("stopping")
            self.notes.stopping()
        finally:
            await self.shutdown(runner)
        return 0

    def is_ready(self) -> bool:
        """/readyz: started, the store writes, and its file is the one it opened."""
        return (self.ready and self.recorder.writes_ok
                and self.housekeeper.store_file_problem is None)

    async def start(self) -> None:
        cfg = self.cfg
        await self.follower.refresh(fetch_feeds=False)
        await self.housekeeper.close_months(self.clock.now())
        for spec in cfg.targets:
            self._schedule_target(spec)
        for spec in cfg.controls:
            self._schedule_control(spec)
        self.watch.start()
        self._writer = asyncio.create_task(self.recorder.run(), name="writer")
        self.tasks.spawn(self.housekeeper.run(), "housekeeping")
        self.tasks.spawn(self.verifier.run(), "verify")
        self.tasks.spawn(self.follower.run_feeds(), "feeds")
        if self.recorder.vantage is not None:
            self.tasks.spawn(self.recorder.vantage.run(), "locations")
            if self.recorder.pending:  # checks a run that stopped left on local disk
                self.recorder.kick()
        self.instruments.reload_success_at.set(self.clock.now())
        self.ready = True
        self.log.info("started", targets=len(cfg.targets), controls=len(cfg.controls),
                      database=self.store.name, location=cfg.daemon.location,
                      quorum=cfg.slo.quorum)

    async def shutdown(self, runner: Any = None) -> None:
        self.ready = False
        await self.scheduler.close()
        await self.watch.stop()
        if runner is not None:
            await runner.cleanup()
        await self.tasks.cancel_all()
        await self.recorder.close(self._writer)
        await asyncio.to_thread(self.recorder.unwritten.close)  # what is left: on disk
        await self.session.close()
        await self.probes.close()
        await asyncio.to_thread(stores.close, self.store, self.writer_lock)
        self.writer_lock = None

    def _job_failed(self, key: str, exc: BaseException) -> None:
        self.repeats.failed(f"job:{key}", "job_failed", error=type(exc).__name__, job=key)

    # --- probing --------------------------------------------------------------------

    def _schedule_target(self, spec: ProbeSpec) -> None:
        self.scheduler.start(f"target:{spec.name}", spec.interval,
                             lambda: self.probing.probe_target(spec))

    def _schedule_control(self, spec: ProbeSpec) -> None:
        self.scheduler.start(f"control:{spec.name}", spec.interval,
                             lambda: self.judge.probe(spec))

    # --- reload ------------------------------------------------------------------------

    async def reload(self) -> bool:
        """Validate the config file again, then swap; a bad one keeps the old running.
        Reloads are serialized: a second SIGHUP waits for the first. systemd hears
        RELOADING=1 before and READY=1 (with the outcome in STATUS=) after."""
        async with self._reload_lock:
            self.notes.reloading(self.clock.monotonic())
            ok = False
            try:
                ok = await self._reload()
            finally:
                when = iso(self.clock.now())
                self.notes.ready(f"config reloaded {when}" if ok else
                                 f"reload failed {when}, old config kept")
            return ok

    async def _reload(self) -> bool:
        new = await _candidate(self.cfg.path, self.env)
        if isinstance(new, Config):
            await self.apply(new)
        else:
            self.log.error("config_reload_failed", problems=new)
        self.instruments.reloaded(isinstance(new, Config), self.clock.now())
        return isinstance(new, Config)

    async def apply(self, new: Config) -> None:
        old, self.cfg = self.cfg, new
        old_targets = {t.name: t for t in old.targets}
        new_targets = {t.name: t for t in new.targets}
        if (old.daemon.listen_host, old.daemon.listen_port, old.daemon.database,
                old.daemon.web_config, old.daemon.location) != (
                new.daemon.listen_host, new.daemon.listen_port, new.daemon.database,
                new.daemon.web_config, new.daemon.location):
            self.log.warning("restart_needed", reason="daemon.listen, daemon.database, "
                             "daemon.location or daemon.web_config changed")
        if self.recorder.vantage is not None:
            self.recorder.vantage.set_quorum(new.slo.quorum, [t.name for t in new.targets])
        removed = sorted(old_targets.keys() - new_targets.keys())
        for name in removed:
            self.scheduler.stop(f"target:{name}")
            self.instruments.forget_target(name)
            self.recorder.forget(name)
        added = [n for n in new_targets if n not in old_targets]
        self.recorder.horizon = horizon(new)
        self.instruments.probe.switch(new.daemon.target_latency_histogram)
        self.housekeeper.cfg = new
        histories = await self.recorder.load(added) if added else {}
        self.tracker.reconfigure({t.name: t.critical for t in new.targets}, histories)
        self.incidents.configure(new.support)
        for name, spec in new_targets.items():
            if old_targets.get(name) != spec:
                self._schedule_target(spec)
        for c in old.controls:
            self.scheduler.stop(f"control:{c.name}")
        self.judge.forget()
        for c in new.controls:
            self._schedule_control(c)
        await self.follower.reconfigure(new)
        self.log.info("config_reloaded", targets=len(new.targets), added=added, removed=removed)

    def _states(self) -> Counter[str]:
        return Counter("unknown" if c.state is None else STATUS_NAMES[c.state]
                       for c in self.recorder.last.values())

    # --- metrics --------------------------------------------------------------------------

    @property
    def last(self) -> Mapping[str, Check]:
        """Each target's latest check (what /status shows)."""
        return self.recorder.last

    def snapshot(self) -> Snapshot:
        """What a scrape reads (it never advances credit: housekeeping does)."""
        now = self.clock.now()
        return Snapshot(
            now=now, service=self.cfg.daemon.service,
            objective=self.cfg.slo.objective, windows=self.cfg.slo.windows,
            tracker=self.tracker, last=self.recorder.last,
            incidents=self.incidents.families(self.tracker, now),
            target_windows=per_target_windows(self.cfg.daemon, self.cfg.slo.windows),
        )


async def _candidate(path: str | None, env: Mapping[str, str] | None) -> Config | list[str]:
    """The config file read and validated again (with its maintenance file), or its
    problems."""
    try:
        if path is None:
            raise ConfigError(["no config file to reload"])
        new = await asyncio.to_thread(load, path, env=env)
        await asyncio.to_thread(announcements.static_specs, new)
    except ConfigError as e:
        return e.problems
    except announcements.MaintenanceFileError as e:
        return [str(e)]
    return new


def _poll(cfg: Config) -> float:
    """How often a daemon on a shared history reads the others' checks: every few
    seconds, and at least four times per shortest interval, so another location's check
    is read well before its coverage (2 x interval) ends. Its writes gather half that
    (one transaction for all of them: the chain lock is shared by every location)."""
    shortest = min((t.interval for t in cfg.targets), default=VANTAGE_POLL * 4)
    return min(VANTAGE_POLL, shortest / 4)


async def _recorder(cfg: Config, store: HistoryStore, guarded: GuardedClock,
                    env: Mapping[str, str] | None) -> Recorder:
    """The recorder over the store, its timelines read (on a shared history: the
    locations' consensus, kept by the vantage room) and a spool for unwritten checks."""
    log = logs.get()
    repeats = logs.Repeats(log, clock=guarded.monotonic)
    tracker = Tracker({t.name: t.critical for t in cfg.targets})
    vantage = None
    if config.shared(cfg):  # a shared history: the figures are the consensus
        vantage = VantagePoint(store, tracker, guarded, quorum=cfg.slo.quorum,
                               horizon=horizon(cfg), slack=_slack(cfg), log=log,
                               repeats=repeats, poll=_poll(cfg))
    spool = await asyncio.to_thread(Spool, stores.spool_path(cfg, env))
    instruments = Instruments(latency_histogram=cfg.daemon.target_latency_histogram)
    recorder = Recorder(store, tracker, guarded, instruments, log,
                        horizon=horizon(cfg),
                        generation=await asyncio.to_thread(store.generation),
                        repeats=repeats, spool=spool, vantage=vantage,
                        batch_pause=_poll(cfg) / 2 if vantage else BATCH_PAUSE)
    critical = recorder.tracker.critical
    recorder.tracker.reconfigure(critical, await recorder.load(critical), replace=True)
    return recorder


def _slack(cfg: Config) -> float:
    """How long after its coverage ends a location still counts as live: its longest
    check (attempts and retry pauses) plus two polls of the store."""
    longest = max((t.timeout * (t.retries + 1) + t.retry_interval * t.retries
                   for t in cfg.targets), default=0.0)
    return longest + 2 * VANTAGE_POLL


async def main(config_path: Path, *, env: Mapping[str, str] | None = None) -> int:
    cfg = load(config_path, env=env)  # a broken maintenance file: last good windows, an error
    daemon = await Daemon.open(cfg, env=env, web=webconfig.for_config(cfg))
    with contextlib.suppress(asyncio.CancelledError):
        return await daemon.run()
    return 0
