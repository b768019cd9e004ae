"""The composition root: it builds the rooms, runs their lifecycle and reloads the config.

`Daemon.open` has `ops.rooms.build` take the writer lock, open the store, read the
timelines and make every room (an async factory, so every room is whole from the
start); `start` schedules the probes and the background loops; `shutdown` stops the
scheduler first, then flushes pending writes, then closes the store. SIGHUP reloads
(validate, then swap: a bad config keeps the old one running), the new config handed
to each room that follows one (`reconfigure`); SIGTERM/SIGINT stop. The work is done
elsewhere: probing (a target's check and its controls, on the probe plan), the
recorder (checks to the timeline and the store), the maintenance follower,
housekeeping, and the exporter that renders /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slaprobe import logs
from slaprobe.clock import Clock
from slaprobe.config import ConfigError, load
from slaprobe.core.model import CertExpiry, Check
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import iso
from slaprobe.history import stores
from slaprobe.maintenance import announcements
from slaprobe.ops import gcpolicy, sdnotify
from slaprobe.ops.rooms import Rooms, build
from slaprobe.ops.tasks import TaskSet
from slaprobe.web import pages as webui
from slaprobe.web import server, webconfig


class Daemon:
    def __init__(self, cfg: Config, rooms: Rooms, *, env: Mapping[str, str] | None,
                 web: webconfig.WebConfig | None = None) -> None:
        self.cfg, self.rooms, self.env, self.web = cfg, rooms, env, web
        # what the pages read (web.pages.Source), with `cfg` and `last`
        self.store, self.tracker, self.clock = rooms.store, rooms.tracker, rooms.clock
        self.log = rooms.log
        self.tasks = TaskSet()
        self.stopping = asyncio.Event()
        self.ready = False
        self._writer: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()
        self.settle_gc = False  # freeze what start-up read (`gcpolicy`; `slaprobe run` only)

    @classmethod
    async def open(cls, cfg: Config, *, clock: Clock | None = None,
                   env: Mapping[str, str] | None = None,
                   web: webconfig.WebConfig | None = None) -> Daemon:
        """Build the rooms (`ops.rooms.build`: the writer lock taken, the store open,
        the timelines read); nothing is scheduled yet."""
        return cls(cfg, await build(cfg, clock=clock, env=env), env=env, web=web)

    # --- lifecycle ------------------------------------------------------------------

    async def run(self) -> int:
        loop, r = asyncio.get_running_loop(), self.rooms
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.tasks.spawn(self.reload(), "reload"))
        loop.set_exception_handler(logs.loop_errors(r.repeats))
        runner = None
        try:
            await self.start()
            views = server.after_history_read(webui.Views(self).routes(),
                                              lambda: r.reach.reached)
            app = server.make_app(r.exporter.render, self.is_ready, views,
                                  middlewares=webconfig.middlewares(self.web))
            runner = await webconfig.listen(app, self.cfg.daemon.listen_host,
                                            self.cfg.daemon.listen_port, self.web, self.log)
            if runner is None:
                return 1
            r.notes.ready(f"config loaded {iso(self.clock.now())}")
            if (wd := r.notes.watchdog()) is not None:
                self.tasks.spawn(sdnotify.watchdog_loop(wd, sleep=self.clock.sleep), "watchdog")
            await self.stopping.wait()
            self.log.info("stopping")
            r.notes.stopping()
        finally:
            await self.shutdown(runner)
        return 0

    def is_ready(self) -> bool:
        """/readyz: started, the store reached and writing, and its file the one it
        opened."""
        return (self.ready and self.rooms.reach.reached and self.rooms.recorder.writes_ok
                and self.rooms.housekeeper.store_file_problem is None)

    async def start(self) -> None:
        cfg, r = self.cfg, self.rooms
        if r.reach.reached:
            await self.history_reached()
        else:  # the rooms that read the store start when the server is reached
            self.tasks.spawn(r.reach.run(self.history_reached), "reach")
        r.plan.start()
        r.watch.start()
        self._writer = asyncio.create_task(r.recorder.run(), name="writer")
        self.tasks.spawn(r.housekeeper.run(), "housekeeping")
        self.tasks.spawn(r.verifier.run(), "verify")
        self.tasks.spawn(r.follower.run_feeds(), "feeds")
        self.tasks.spawn(r.leader.run(), "leader")
        if r.vantage is not None and r.recorder.pending:  # left on disk by a run that stopped
            r.recorder.kick()
        r.instruments.reload_success_at.set(self.clock.now())
        self.ready = True
        self.log.info("started", targets=len(cfg.targets), controls=len(cfg.controls),
                      database=self.store.name, location=cfg.daemon.location,
                      quorum=cfg.slo.quorum, history_reached=r.reach.reached)

    async def history_reached(self) -> None:
        """The rooms that start from the store: at start, or once the server of a
        shared history is reached (`ops.reaching`)."""
        r = self.rooms
        await r.follower.refresh(fetch_feeds=False)
        if self.settle_gc:  # the timelines are read: out of the collector's way
            gcpolicy.settle()
        r.housekeeper.close_months_soon(self.clock.now())
        if r.vantage is not None:
            self.tasks.spawn(r.vantage.run(), "locations")

    async def shutdown(self, runner: Any = None) -> None:
        r = self.rooms
        self.ready = False
        r.verifier.stop.set()  # a verification under way gives up (its thread is waited for)
        await r.plan.close()
        await r.watch.stop()
        if runner is not None:
            await runner.cleanup()
        await self.tasks.cancel_all()  # (reaching the history too: no close starts after)
        await r.housekeeper.closed()  # a close of past months under way ends whole
        await r.recorder.close(self._writer)
        await asyncio.to_thread(r.spool.close)  # what is left: on disk
        await r.session.close()
        await r.probes.close()
        await asyncio.to_thread(r.leader.release)
        await asyncio.to_thread(stores.close, r.store, r.writer_lock)
        r.writer_lock = None

    # --- reload ------------------------------------------------------------------------

    async def reload(self) -> bool:
        """Validate the config file again, then swap; a bad one keeps the old running.
        Reloads are serialized: a second SIGHUP waits for the first. systemd hears
        RELOADING=1 before and READY=1 (with the outcome in STATUS=) after."""
        notes = self.rooms.notes
        async with self._reload_lock:
            notes.reloading(self.clock.monotonic())
            ok = False
            try:
                ok = await self._reload()
            finally:
                when = iso(self.clock.now())
                notes.ready(f"config reloaded {when}" if ok else
                            f"reload failed {when}, old config kept")
            return ok

    async def _reload(self) -> bool:
        new = await _candidate(self.cfg.path, self.env)
        if isinstance(new, Config):
            await self.apply(new)
        else:
            self.log.error("config_reload_failed", problems=new)
        self.rooms.instruments.reloaded(isinstance(new, Config), self.clock.now())
        return isinstance(new, Config)

    async def apply(self, new: Config) -> None:
        """Hand the new config to every room that follows one, in this order: the
        recorder (timelines of new targets read, removed ones forgotten) before the
        probe plan schedules the new targets, the maintenance follower last."""
        old, self.cfg, r = self.cfg, new, self.rooms
        if _restart_needed(old, new):
            self.log.warning("restart_needed", reason="daemon.listen, daemon.database, "
                             "daemon.location or daemon.web_config changed")
        async with r.reach.reading:  # not while the history is being read (`ops.reaching`)
            await r.recorder.reconfigure(new, read=r.reach.reached)
            r.plan.reconfigure(new)
            r.instruments.reconfigure(new)
            r.housekeeper.reconfigure(new)
            r.incidents.reconfigure(new)
            r.clock_steps.reconfigure(new)
            r.scrape.reconfigure(new)
            await r.follower.reconfigure(new, read=r.reach.reached)
        old_names = {t.name for t in old.targets}
        removed = sorted(old_names - {t.name for t in new.targets})
        added = [t.name for t in new.targets if t.name not in old_names]
        self.log.info("config_reloaded", targets=len(new.targets), added=added, removed=removed)

    @property
    def last(self) -> Mapping[str, Check]:
        """Each target's latest check (what /status shows)."""
        return self.rooms.recorder.last

    @property
    def certs(self) -> Mapping[str, CertExpiry]:
        """Each TLS target's certificates as last seen (/status shows the days left)."""
        return self.rooms.instruments.probe.certs


def _restart_needed(old: Config, new: Config) -> bool:
    """Whether the new config changes what only a restart applies."""
    def fixed(c: Config) -> tuple[object, ...]:
        d = c.daemon
        return d.listen_host, d.listen_port, d.database, d.web_config, d.location
    return fixed(old) != fixed(new)


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


async def main(config_path: Path, *, env: Mapping[str, str] | None = None) -> int:
    gcpolicy.young()
    cfg = load(config_path, env=env)  # a broken maintenance file: last good windows, an error
    daemon = await Daemon.open(cfg, env=env, web=webconfig.for_config(cfg))
    daemon.settle_gc = True
    with contextlib.suppress(asyncio.CancelledError):
        return await daemon.run()
    return 0
