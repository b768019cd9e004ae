"""The daemon's incident desk picks up updates stored by `slaprobe incidents update`
(another process) without a restart: the first one counts as the response when no
acknowledgement came earlier, and a later acknowledgement does not move it back."""

from __future__ import annotations

from pathlib import Path

import structlog

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.incidents.rules import Support
from slaprobe.core.model import Check
from slaprobe.history.store import Store
from slaprobe.incidents import updates
from slaprobe.incidents.desk import IncidentDesk

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a Friday


def tracker() -> Tracker:
    tr = Tracker({"app": True})
    for i in range(60):  # down for the last 20 minutes
        at = NOW - 1800 + i * 30
        tr.add(Check("app", at, at < NOW - 1200, 30.0))
    tr.update_credit(NOW)
    return tr


async def test_updates_reach_the_desk_and_count_as_the_response(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "h.db"))
    try:
        desk = IncidentDesk(Support(), NOW - 86400, structlog.get_logger())
        tr = tracker()
        await desk.poll_acks(store)
        desk.update(tr, NOW)
        [inc] = desk.book.open(NOW)
        assert inc.acknowledged is None and inc.response == "pending"
        writer = Store(str(tmp_path / "h.db"))  # as the CLI: its own connection
        updates.record(writer, inc.id, at=NOW - 600, status="investigating", text="on it",
                       by="alice", now=NOW)
        writer.record_ack(inc.id, NOW - 300, "bob", "", NOW + 1)  # later than the update
        writer.close()
        await desk.poll_acks(store)
        desk.update(tr, NOW)
        [inc] = desk.book.open(NOW)
        assert inc.acknowledged == NOW - 600 and inc.response == "met"
        await desk.poll_acks(store)  # nothing new: unchanged
        assert desk.book.acks[inc.id] == NOW - 600
    finally:
        store.close()
