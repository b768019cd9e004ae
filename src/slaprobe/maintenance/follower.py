"""The maintenance follower: probe.toml, the maintenance file and the feeds, kept current.

The file is re-read when its modification time changes (looked at off the event
loop, once per housekeeping tick); feeds are fetched every
`slo.maintenance_feed_interval`, a failing feed keeping its last good windows. Each
refresh records first sight of every window version (and of the SLA terms) in the
store and hands the verdicts and the terms history to the tracker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from slaprobe import logs
from slaprobe.clock import Clock
from slaprobe.config import maintenance_file_path
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.spec import Config, MaintenanceSpec
from slaprobe.history.storeapi import HistoryStore
from slaprobe.maintenance import announcements
from slaprobe.maintenance.feedfetch import FeedCache
from slaprobe.metrics.instruments import Instruments


class MaintenanceFollower:
    def __init__(
        self, cfg: Config, store: HistoryStore, tracker: Tracker, clock: Clock, *,
        session: aiohttp.ClientSession, instruments: Instruments, log: Any,
        repeats: logs.Repeats | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.tracker = tracker
        self.clock = clock
        self.session = session
        self.instruments = instruments
        self.log = log
        self.repeats = repeats or logs.Repeats(log, clock=clock.monotonic)
        self.feeds = FeedCache()
        self.mtime: float | None = None
        self._static: list[MaintenanceSpec] = list(cfg.maintenance)

    async def _file_mtime(self) -> float | None:
        return await asyncio.to_thread(announcements.file_mtime, maintenance_file_path(self.cfg))

    async def refresh(self, *, fetch_feeds: bool) -> None:
        """Read the file (and fetch the feeds if asked), then give every window its verdict."""
        cfg = self.cfg
        self.mtime = await self._file_mtime()
        if fetch_feeds and cfg.slo.maintenance_feeds:
            before = dict(self.feeds.errors)
            self.feeds.retain(cfg.slo.maintenance_feeds)
            await announcements.feed_specs(
                cfg, self.store, self.clock.now(), session=self.session, cache=self.feeds,
                log=self.log,
            )
            for source, n in self.feeds.errors.items():
                if n > before.get(source, 0):
                    self.instruments.feed_errors.labels(source).inc(n - before.get(source, 0))
        self._static, problems = await asyncio.to_thread(
            announcements.kept_specs, cfg, self.store)
        self.instruments.maintenance_file_problems.set(len(problems))
        if problems:
            self.log.error("maintenance_file_invalid", problems=problems,
                           kept="last good windows")
        feeds = [w for src in cfg.slo.maintenance_feeds for w in self.feeds.windows(src)]
        specs = announcements.gather(self._static, feeds)
        now = self.clock.now()
        history = await asyncio.to_thread(announcements.terms, self.store, cfg, now)
        windows = await asyncio.to_thread(
            announcements.record_and_resolve, self.store, cfg, specs, now)
        self.tracker.set_terms(history)
        self.tracker.set_maintenance(windows)

    async def follow_file(self) -> bool:
        """Refresh if the maintenance file changed since it was last read."""
        if await self._file_mtime() == self.mtime:
            return False
        await self.refresh(fetch_feeds=False)
        return True

    async def run_feeds(self) -> None:
        """Fetch the feeds every `maintenance_feed_interval`, for ever."""
        while True:
            if self.cfg.slo.maintenance_feeds:
                try:
                    await self.refresh(fetch_feeds=True)
                    self.repeats.recovered("maintenance", "maintenance_refresh_recovered")
                except Exception as e:
                    self.repeats.failed("maintenance", "maintenance_refresh_failed",
                                        error=repr(e))
            await self.clock.sleep(self.cfg.slo.maintenance_feed_interval)

    async def reconfigure(self, cfg: Config, *, read: bool = True) -> None:
        """A reloaded config; its windows read now (`read=False`: the store was not
        reached yet, they are read when it is)."""
        self.cfg = cfg
        if read:
            await self.refresh(fetch_feeds=bool(cfg.slo.maintenance_feeds))
