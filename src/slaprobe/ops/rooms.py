"""The daemon's rooms, built in one place from the config, the clock and the store.

`build` takes the writer lock, opens the store, reads the timelines (on a shared
history: the locations' consensus, kept by the vantage room) and makes every room,
each handed what it needs; nothing is scheduled yet. A shared history whose server
cannot be reached is no reason not to start: the timelines start from the checks
left on local disk, and the reach room (`ops.reaching`) connects later. The daemon
(`ops.daemon`) runs their lifecycle and hands a reloaded config to each room that
follows one. `Scrape` is what a /metrics scrape reads.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import aiohttp

from slaprobe import config, logs
from slaprobe.clock import Clock, SystemClock
from slaprobe.core.history.latest import LatestChecks
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import Check, State
from slaprobe.core.reporting import catalogue as cat
from slaprobe.core.spec import Config, per_target_windows
from slaprobe.evidence.verifier import HistoryVerifier
from slaprobe.history import stores
from slaprobe.history.recorder import Recorder, horizon
from slaprobe.history.spool import Spool
from slaprobe.history.storeapi import HistoryStore
from slaprobe.history.vantagepoint import POLL as VANTAGE_POLL
from slaprobe.history.vantagepoint import VantagePoint
from slaprobe.history.writer import BATCH_PAUSE
from slaprobe.incidents.desk import IncidentDesk
from slaprobe.maintenance.follower import MaintenanceFollower
from slaprobe.metrics.exposition import Family
from slaprobe.metrics.instruments import Exporter, Instruments, Snapshot, family
from slaprobe.ops import sdnotify
from slaprobe.ops.clocksteps import ClockStepWatch
from slaprobe.ops.housekeeping import Housekeeper
from slaprobe.ops.leader import Leader
from slaprobe.ops.reaching import Reach
from slaprobe.ops.wallclock import GuardedClock
from slaprobe.probe import prober
from slaprobe.probe.plan import ProbePlan
from slaprobe.probe.probing import Probing
from slaprobe.probe.scheduler import Scheduler

if TYPE_CHECKING:
    from slaprobe.history.pgstore import PgStore

STATUS_NAMES = {State.UP: "up", State.DOWN: "down", State.PROBE_NETWORK: "probe network down",
                State.MAINTENANCE: "in maintenance"}


@dataclass(eq=False)
class Rooms:
    """Every room of one daemon, as `build` made them."""

    store: HistoryStore
    writer_lock: stores.Lock | None  # the one writer of this database (or location)
    clock: GuardedClock  # the wall clock guarded against steps (wallclock.py)
    log: Any
    repeats: logs.Repeats  # identical errors: once per change, counted
    instruments: Instruments
    tracker: Tracker
    spool: Spool  # checks not yet written, past a bound on local disk
    vantage: VantagePoint | None  # on a shared history: the locations' consensus
    recorder: Recorder
    incidents: IncidentDesk  # the incident book, kept up to date by housekeeping
    session: aiohttp.ClientSession  # maintenance feeds
    probes: aiohttp.ClientSession  # https:// checks: a fresh connection each
    watch: prober.LoopWatch  # a timeout while the loop lags is not the target's
    probing: Probing
    plan: ProbePlan
    follower: MaintenanceFollower
    clock_steps: ClockStepWatch  # a wall-clock step: counted, no false record
    notes: sdnotify.Notifier
    housekeeper: Housekeeper
    verifier: HistoryVerifier
    scrape: Scrape
    exporter: Exporter
    leader: Leader  # whether this daemon freezes the closed months' statements
    reach: Reach  # a shared history's server not reached at start: tried until it is


class Scrape:
    """What a scrape reads (it never advances credit: housekeeping does)."""

    def __init__(self, cfg: Config, clock: Clock, tracker: Tracker, recorder: Recorder,
                 incidents: IncidentDesk, *, vantage: VantagePoint | None = None,
                 history_read: Callable[[], bool] = lambda: True) -> None:
        self.cfg = cfg
        self.history_read = history_read  # the stored history was read (the windows need it)
        self.vantage = vantage  # on a shared history: every location's newest check
        self.clock = clock
        self.tracker = tracker
        self.recorder = recorder  # each target's latest check
        self.incidents = incidents

        self.latency_objectives = _latency_objectives(cfg)

    def reconfigure(self, cfg: Config) -> None:
        """A reloaded config: its service name, objective and windows."""
        self.cfg = cfg
        self.latency_objectives = _latency_objectives(cfg)

    def snapshot(self) -> Snapshot:
        now, cfg = self.clock.now(), self.cfg
        return Snapshot(
            now=now, service=cfg.daemon.service,
            objective=cfg.slo.objective, windows=cfg.slo.windows,
            tracker=self.tracker, last=self.recorder.last,
            incidents=self.incidents.families(self.tracker, now),
            target_windows=per_target_windows(cfg.daemon, cfg.slo.windows),
            locations=self.locations(),
            latency_objectives=self.latency_objectives,
            history_read=self.history_read(),
        )

    def locations(self) -> list[Family]:
        """Each location's newest check in the history (on SQLite: this daemon's own) and
        how long a location may be silent (SlaprobeLocationSilent compares the two)."""
        if self.vantage is not None:
            times = self.vantage.vantage.last_checks()
        else:
            own = [c.at for c in self.recorder.last.values()]
            times = {self.cfg.daemon.location: max(own)} if own else {}
        last, silence = family(cat.LOCATION_LAST_CHECK), family(cat.LOCATION_SILENCE)
        for loc, at in sorted(times.items()):
            last.add([loc], at)
        silence.add([], silence_limit(self.cfg))
        return [last, silence]


def _latency_objectives(cfg: Config) -> dict[str, float]:
    return {t.name: t.latency_objective for t in cfg.targets if t.latency_objective is not None}


async def build(cfg: Config, *, clock: Clock | None = None,
                env: Mapping[str, str] | None = None) -> Rooms:
    """Take the writer lock, open the store, read the timelines and make every room.
    LockHeld: another slaprobe writes this database; StoreError: it cannot be written
    (e.g. a read-only file system)."""
    guarded = GuardedClock(clock or SystemClock())
    log = logs.get()
    repeats = logs.Repeats(log, clock=guarded.monotonic)
    instruments = Instruments(latency_histogram=cfg.daemon.target_latency_histogram)
    tracker = Tracker({t.name: t.critical for t in cfg.targets})
    store, lock = await asyncio.to_thread(stores.open_writer, cfg, env)
    reached = stores.reached(store)  # else: probing starts, the store is tried (`Reach`)
    keep, poll = horizon(cfg), _poll(cfg)
    try:
        incidents = IncidentDesk(cfg.support, guarded.now() - keep, log)
        vantage = None
        if config.shared(cfg):  # a shared history: the figures are the consensus
            vantage = VantagePoint(store, tracker, guarded, quorum=cfg.slo.quorum,
                                   horizon=keep, slack=_slack(cfg), log=log,
                                   repeats=repeats, poll=poll)
        spool = await asyncio.to_thread(Spool, stores.spool_path(cfg, env))
        if not reached:  # every check on local disk from the first (a kill -9 loses none)
            await asyncio.to_thread(spool.spill)
        recorder = Recorder(store, tracker, guarded, instruments, log, horizon=keep,
                            generation=await asyncio.to_thread(store.generation)
                            if reached else 0,
                            repeats=repeats, spool=spool, vantage=vantage,
                            batch_pause=poll / 2 if vantage else BATCH_PAUSE,
                            on_reload=incidents.history_reread)
        recorder.degraded_targets = {t.name for t in cfg.targets
                                     if t.degraded_latency is not None}
        reach = Reach(cast("PgStore", store) if stores.on_server(store) and not reached else None,
                      recorder, incidents, guarded, log=log, repeats=repeats)
        if reached:
            tracker.reconfigure(tracker.critical, await recorder.load(tracker.critical),
                                replace=True)
            await incidents.poll_acks(store)
        else:  # what is known: the checks a previous run left unwritten, then new ones
            await recorder.fold_unwritten()
            reach.start_event(None if spool.path is None else str(spool.path))
        leader = Leader(stores.leadership(cfg), guarded, instruments, log,
                        location=cfg.daemon.location)
        await leader.poll()
    except BaseException:
        await asyncio.to_thread(stores.close, store, lock)
        raise
    session, probes = aiohttp.ClientSession(), prober.probe_session()
    watch = prober.LoopWatch(guarded)
    probing = Probing(guarded, recorder, instruments, cfg.controls, watch=watch, session=probes)

    def job_failed(key: str, exc: BaseException) -> None:
        repeats.failed(f"job:{key}", "job_failed", error=type(exc).__name__, job=key)

    scheduler = Scheduler(guarded, cfg.daemon.max_concurrency,
                          on_lag=instruments.scheduler_lag.observe, on_error=job_failed)
    follower = MaintenanceFollower(cfg, store, tracker, guarded, session=session,
                                   instruments=instruments, log=log, repeats=repeats)
    guarded.on_step = clock_steps = ClockStepWatch(recorder, instruments, log, cfg)
    notes = sdnotify.Notifier(lambda: states(recorder.last), lambda: len(tracker.critical),
                              env=env)
    scrape = Scrape(cfg, guarded, tracker, recorder, incidents, vantage=vantage,
                    history_read=lambda: reach.reached)
    return Rooms(
        store=store, writer_lock=lock, clock=guarded, log=log, repeats=repeats,
        instruments=instruments, tracker=tracker, spool=spool, vantage=vantage,
        recorder=recorder, incidents=incidents, session=session, probes=probes, watch=watch,
        probing=probing, plan=ProbePlan(scheduler, probing, cfg), follower=follower,
        clock_steps=clock_steps, notes=notes,
        housekeeper=Housekeeper(guarded, tracker, recorder, follower, log, cfg=cfg,
                                store=store, instruments=instruments, repeats=repeats,
                                on_tick=notes.tick, incidents=incidents,
                                offset=guarded.offset, leading=lambda: leader.leading,
                                history_read=lambda: reach.reached),
        verifier=HistoryVerifier(guarded, stores.reader(cfg, env), instruments, log),
        scrape=scrape, exporter=Exporter(instruments, scrape.snapshot), leader=leader,
        reach=reach,
    )


def silence_limit(cfg: Config) -> float:
    """How long a location may add no check before it counts as silent (DESIGN: three of
    its shortest intervals or 30 s, whichever is longer)."""
    shortest = min((t.interval for t in cfg.targets), default=10.0)
    return max(3 * shortest, 30.0)


def states(last: Mapping[str, Check]) -> Counter[str]:
    """The targets counted by the state of their latest check (systemd's STATUS=): from
    the counts a LatestChecks keeps (the recorder's), else by visiting each check."""
    if isinstance(last, LatestChecks):
        return Counter({"unknown" if st is None else STATUS_NAMES[st]: n
                        for st, n in last.counts.items()})
    return Counter("unknown" if c.state is None else STATUS_NAMES[c.state]
                   for c in last.values())


def _poll(cfg: Config) -> float:
    """How often a daemon on a shared history reads the others' checks: every few
    seconds, and at least four times per shortest interval, so another location's check
    is read well before its coverage (2 x interval) ends. Its writes gather half that
    (one transaction for all of them: the chain lock is shared by every location)."""
    shortest = min((t.interval for t in cfg.targets), default=VANTAGE_POLL * 4)
    return min(VANTAGE_POLL, shortest / 4)


def _slack(cfg: Config) -> float:
    """How long after its coverage ends a location still counts as live: its longest
    check (attempts and retry pauses) plus two polls of the store."""
    longest = max((t.timeout * (t.retries + 1) + t.retry_interval * t.retries
                   for t in cfg.targets), default=0.0)
    return longest + 2 * VANTAGE_POLL
