"""The vantage room: on a shared history, the SLA timelines are the locations' consensus.

At start the room reads every location's timelines from the store (after noting the
checks' watermark, so nothing written meanwhile is missed); then this daemon's own
checks are folded as they finish (`own`), and every `poll` seconds the other
locations' new checks are read by watermark off the event loop (`follow`). Each
target whose timelines changed gets its consensus History recomputed into the
tracker, which every SLA figure, metric and report of this daemon reads; the
`slaprobe_probe_*` instruments never see other locations' checks.

A store that cannot be read is retried at the next poll (counted and logged once);
the consensus meanwhile is computed from what was read, the other locations' silence
ending as their coverage does (unknown at those locations, never down).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from slaprobe import logs
from slaprobe.clock import Clock
from slaprobe.core.history.consensus import latest
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.history.vantage import Vantage
from slaprobe.core.model import Check
from slaprobe.history.storeapi import HistoryStore

POLL = 2.0  # seconds between reads of the other locations' checks
READ_LIMIT = 20000  # checks per read (a backlog is read in several)


class VantagePoint:
    def __init__(self, store: HistoryStore, tracker: Tracker, clock: Clock, *, quorum: int,
                 horizon: float, slack: float, log: Any, poll: float = POLL,
                 repeats: logs.Repeats | None = None) -> None:
        self.store = store
        self.tracker = tracker
        self.clock = clock
        self.vantage = Vantage(quorum, slack=slack)
        self.horizon = horizon
        self.poll = poll
        self.log = log
        self.repeats = repeats or logs.Repeats(log, clock=clock.monotonic)
        self.mark = 0  # the checks' watermark read so far
        self.read_errors = 0
        self._terms: object = None  # the tracker's terms history the quorum was taken from

    def load(self, targets: Iterable[str]) -> None:
        """Read every location's timelines (blocking: call off the event loop)."""
        self.mark = self.store.check_watermark()
        since = self.clock.now() - self.horizon
        for loc in self.store.locations():
            for name in targets:
                self.vantage.set_history(loc, name, self.store.load(name, since, location=loc))

    def own(self, check: Check) -> None:
        """One of this daemon's checks, just finished."""
        if self.vantage.add(check):
            self.refresh()

    def refresh(self) -> None:
        """Recompute the consensus of every target whose timelines changed."""
        self._follow_terms()
        now = self.clock.now()
        since = now - self.horizon
        for name in self.vantage.clean():
            if name in self.tracker.critical:
                self.tracker.set_history(name, self.vantage.consensus(name, since, now))

    async def follow(self) -> int:
        """Read the other locations' new checks once; how many were new."""
        total = 0
        while True:
            checks, mark = await asyncio.to_thread(self.store.checks_after, self.mark,
                                                   limit=READ_LIMIT)
            total += self.vantage.add_all(checks)
            if mark == self.mark:
                break
            self.mark = mark
        self.refresh()
        return total

    async def run(self) -> None:
        """Follow the other locations for ever."""
        while True:
            await self.clock.sleep(self.poll)
            try:
                await self.follow()
                self.repeats.recovered("vantage", "locations_read_recovered")
            except Exception as e:  # the store is down: read again at the next poll
                self.read_errors += 1
                self.repeats.failed("vantage", "locations_read_failed", error=str(e))
            else:
                self.refresh()  # a silent location's coverage ends as time passes

    def locations(self) -> list[str]:
        return self.vantage.locations()

    def _follow_terms(self) -> None:
        """The quorum is a term: each instant's consensus takes the quorum in force then
        (a quorum edited later changes the consensus from then on only)."""
        terms = self.tracker.terms
        if terms is None or terms is self._terms:
            return
        self._terms = terms
        steps = terms.steps("quorum", latest(self.vantage.quorum))
        quorum = steps[0][1] if len(steps) == 1 else steps
        if quorum != self.vantage.quorum:
            self.vantage.quorum = quorum
            self.vantage.dirty.update(self.tracker.critical)

    def set_quorum(self, quorum: int, targets: Iterable[str]) -> None:
        """A reloaded config's quorum. Once the terms are known they decide (the new
        quorum is in force from when it is recorded); before, every target's consensus
        is computed again."""
        if self.tracker.terms is not None:
            return
        if quorum != self.vantage.quorum:
            self.vantage.quorum = quorum
            self.vantage.dirty.update(targets)
            self.refresh()
