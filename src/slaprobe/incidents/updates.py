"""Incident updates: what the people handling an incident say, as chained records.

`slaprobe incidents update ID --status S --text TEXT` appends one record of kind
`incident_update` to the history's hash chain (payload {"incident", "at", "status",
"text", "by"}); nothing edits or deletes one (a correction is a new update), and
`verify` flags a record changed from outside like any other chained record. The
measured incident (start, end, priority, deadlines) stays the machine's: an update
never changes a figure. The first update counts as the response when no
acknowledgement came earlier (`responses`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slaprobe.core.timefmt import iso
from slaprobe.history.storeapi import Ack, RecordStore

__all__ = ["KIND", "STATUSES", "Update", "by_incident", "record", "responses", "stored",
           "to_json"]

KIND = "incident_update"  # the chain kind of an incident update
STATUSES = ("investigating", "identified", "monitoring", "resolved")
MAX_TEXT = 4000  # characters of an update's text


@dataclass(frozen=True, slots=True)
class Update:
    """One stored update of an incident."""

    seq: int
    incident: str
    at: float
    status: str
    text: str
    by: str
    recorded: float

    def to_json(self) -> dict[str, Any]:
        """DESIGN's update object: {"at", "status", "text", "by"}."""
        return {"at": iso(self.at), "status": self.status, "text": self.text, "by": self.by}


def _of(seq: int, recorded: float, p: Mapping[str, Any]) -> Update:
    return Update(seq, str(p["incident"]), float(p["at"]), str(p["status"]), str(p["text"]),
                  str(p["by"]), recorded)


def stored(store: RecordStore, after: int = 0) -> list[Update]:
    """Every update appended after chain seq `after`, in chain order."""
    return [_of(seq, at, p) for seq, at, p in store.records(KIND) if seq > after]


def record(store: RecordStore, incident: str, *, at: float, status: str, text: str, by: str,
           now: float) -> Update:
    """Append one update to the chain (its own transaction)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    payload = {"incident": incident, "at": at, "status": status, "text": text, "by": by}
    seq = store.append_record(KIND, payload, now)
    return _of(seq, now, payload)


def by_incident(updates: Iterable[Update]) -> dict[str, list[Update]]:
    """Each incident's updates in time order (ties: the order they were stored)."""
    out: dict[str, list[Update]] = {}
    for u in sorted(updates, key=lambda u: (u.at, u.seq)):
        out.setdefault(u.incident, []).append(u)
    return out


def responses(acks: Iterable[Ack], updates: Iterable[Update]) -> dict[str, float]:
    """Each incident's response instant: its first acknowledgement (the first one
    stored counts), or its first update when that came earlier (or there is no
    acknowledgement)."""
    out: dict[str, float] = {}
    for a in sorted(acks, key=lambda a: a.seq):
        out.setdefault(a.incident, a.at)
    for iid, ups in by_incident(updates).items():
        first = ups[0].at
        out[iid] = min(out.get(iid, first), first)
    return out


def to_json(updates: Sequence[Update]) -> list[dict[str, Any]]:
    return [u.to_json() for u in updates]
