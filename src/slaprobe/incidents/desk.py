"""The daemon's incident desk: keeps the incidents of the live timelines up to
date (core.incidents.Book, incremental), picks up acknowledgements stored by
`slaprobe incidents ack` from the history without a restart, logs each change
(opened, escalated, acknowledged, resolved) and gives the metric families."""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

from slaprobe.core.incidents.interms import InForce
from slaprobe.core.incidents.rules import Book, Event, Support, Timelines
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import iso, month_start
from slaprobe.history.storeapi import HistoryStore
from slaprobe.incidents import metrics as incidentmetrics
from slaprobe.incidents import updates as incupdates
from slaprobe.metrics.exposition import Family

FORGET_AFTER = 86400.0  # settled incidents are kept one day past their month


class IncidentDesk:
    def __init__(self, support: Support, start: float, log: Any) -> None:
        self.book = Book(support, start)
        self.log = log
        self.ack_seq = 0
        self.update_seq = 0
        self._top = -1
        self._first_ack: dict[str, float] = {}
        self._first_update: dict[str, float] = {}
        self.terms: object = None  # the terms history the book was last given

    def reconfigure(self, cfg: Config) -> None:
        """A reloaded config: the calendar or the clocks may have changed."""
        if cfg.support != self.book.support:
            self.book.reset(support=cfg.support)
            self.terms = None  # the next update hands the book the terms again

    def history_reread(self) -> None:
        """The timelines were read again (an import may have filled past time): the
        book starts over from them."""
        self.book.reset()

    async def poll_acks(self, store: HistoryStore) -> None:
        """Fold in acknowledgements and updates stored since the last poll: an
        incident's response is its first acknowledgement, or its first update when
        that came earlier (`updates.responses`)."""
        for ack in await asyncio.to_thread(store.acks, self.ack_seq):
            self._first_ack.setdefault(ack.incident, ack.at)
            self._respond(ack.incident)
            self.ack_seq = ack.seq
        top = await asyncio.to_thread(store.chain_top)
        if top == self._top:  # no record appended since: no new update (cheap check)
            return
        self._top = top
        for upd in await asyncio.to_thread(incupdates.stored, store, self.update_seq):
            first = self._first_update.get(upd.incident, upd.at)
            self._first_update[upd.incident] = min(first, upd.at)
            self._respond(upd.incident)
            self.update_seq = max(self.update_seq, upd.seq)

    def _respond(self, incident: str) -> None:
        ats = [d[incident] for d in (self._first_ack, self._first_update) if incident in d]
        self.book.acks[incident] = min(ats)

    def follow_terms(self, timelines: Timelines) -> None:
        """A new terms history (a config edit recorded): the book judges each instant
        on the terms in force then, so the past stays as it was."""
        terms = getattr(timelines, "terms", None)
        if terms is None or terms is self.terms:
            return
        self.terms = terms
        inforce = InForce(terms, timelines.critical, self.book.support, zone=ZoneInfo)
        self.book.set_terms(inforce.critical_from, inforce.support_at)

    def update(self, timelines: Timelines, now: float) -> None:
        self.follow_terms(timelines)
        for event in self.book.update(timelines, now):
            self._log(event)
        self.book.forget(month_start(now) - FORGET_AFTER)

    def families(self, timelines: Timelines, now: float) -> list[Family]:
        """The incident metric families as of `now` (folding the newest checks first)."""
        self.update(timelines, now)
        book = self.book
        return incidentmetrics.families(book.open(now), book.month_counts(now, now),
                                        book.support_at(now), now)

    def _log(self, event: Event) -> None:
        inc = event.incident
        fields: dict[str, Any] = {
            "incident": inc.id, "priority": inc.priority, "targets": list(inc.shape.targets),
            "start": iso(inc.start), "response_deadline": iso(inc.response_deadline),
            "resolution_deadline": iso(inc.resolution_deadline),
        }
        if event.kind == "acknowledged" and inc.acknowledged is not None:
            fields.update(acknowledged=iso(inc.acknowledged), response=inc.response)
        if event.kind == "resolved" and inc.end is not None:
            fields.update(end=iso(inc.end), seconds=inc.seconds,
                          business_seconds=inc.business_seconds, resolution=inc.resolution)
        if event.kind == "escalated":
            fields.update(priority_since=iso(inc.shape.priority_since))
        level = "warning" if event.kind in ("opened", "escalated") else "info"
        getattr(self.log, level)(f"incident_{event.kind}", **fields)
