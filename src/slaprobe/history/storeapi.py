"""The store contract: what the daemon and the command line use of a history store,
and the value types and the one error class that go with it.

One class implements it (`sqlstore.SqlStore`) over two backends: SQLite (`store.Store`,
the embedded default, one location) and PostgreSQL (`pgstore.PgStore`, one history
shared by daemons at several locations); one contract test suite runs against both.
The contract is split by concern (the database itself, checks and their timelines,
the chained records, maintenance state); `HistoryStore` is all of them. Methods are
synchronous; the daemon calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slaprobe.core.evidence.terms import Terms, TermsHistory, Version
from slaprobe.core.history.degraded import Degraded
from slaprobe.core.history.timeline import History
from slaprobe.core.maintenance.rules import Seen
from slaprobe.core.model import Check
from slaprobe.core.spec import MaintenanceSpec


class StoreError(Exception):
    """Anything the history's database refuses: it cannot be opened, is from a newer
    slaprobe, or a read or write failed (the driver's own error is the cause). Callers
    catch this, never a database driver's error."""


class VerifyStopped(StoreError):
    """A verification given up because the daemon is stopping (`stop` was set): no
    verdict either way."""


Stop = threading.Event  # set when a long read (a verification) is to give up


def until_stopped(rows: Iterable[Any], stop: Stop | None, every: int = 4096) -> Iterator[Any]:
    """`rows` as they come, raising VerifyStopped once `stop` is set (looked at every
    `every` rows: a stop waits for a few milliseconds of work, not for the whole walk)."""
    if stop is None:
        yield from rows
        return
    for i, row in enumerate(rows):
        if i % every == 0 and stop.is_set():
            raise VerifyStopped("stopping: the verification was given up")
        yield row


class WriterLockLost(StoreError):
    """The writer lock could not be taken again after the connection came back (another
    daemon took the location meanwhile): this store writes no more."""


class LocationLockHeld(Exception):
    """Another daemon writes this location of the shared history."""

    def __init__(self, location: str, database: str, holder: Mapping[str, Any]) -> None:
        super().__init__(
            f"location {location!r} of database {database} is in use by another slaprobe run "
            f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, listening on "
            f"{holder.get('listen', '?')}); one daemon writes a location: stop it, or give "
            "this one another [daemon] location")
        self.holder = dict(holder)


class ImportConflict(Exception):
    """An imported row would rewrite recorded history; nothing was imported."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class Filled:
    """What an import filled for one target: its first check's start, the end of its
    last check's coverage, and the seconds its checks cover in between."""

    start: float
    end: float
    seconds: float

    @property
    def coverage(self) -> float:
        return self.seconds / (self.end - self.start) if self.end > self.start else 1.0


@dataclass(frozen=True, slots=True)
class ImportResult:
    inserted: int
    skipped: int
    filled: dict[str, Filled]


ACK = "ack"  # the chain kind of an incident acknowledgement


@dataclass(frozen=True, slots=True)
class Ack:
    """One stored acknowledgement of an incident (the first one per incident counts)."""

    seq: int
    incident: str
    at: float
    by: str
    note: str
    recorded: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """What verifying the hash chain found: ok, or the first problem."""

    ok: bool
    problem: str
    records: int
    checks: int
    head: str
    head_seq: int = 0  # the seq of the record whose digest is `head` (0: the empty chain)


class Database(Protocol):
    """The database a store has open."""

    read_only: bool
    location: str  # where this store's writer probes from: its checks go there

    @property
    def name(self) -> str:
        """The database as an operator names it (a path, or a URL without password)."""
        ...

    def version(self) -> int: ...
    def close(self) -> None: ...
    def check_writable(self) -> None: ...
    def file_problem(self) -> str | None: ...


class CheckStore(Database, Protocol):
    """Checks per location and target, and their timelines."""

    def write(self, checks: Sequence[Check]) -> None: ...
    def load(self, target: str, since: float, *, location: str | None = None) -> History: ...
    def load_degraded(self, target: str, since: float, *, location: str | None = None
                      ) -> Degraded: ...
    def locations(self) -> list[str]:
        """Every location whose checks the history holds."""
        ...
    def load_locations(self, target: str, since: float) -> dict[str, History]: ...
    def checks(self, target: str, a: float, b: float, *, location: str | None = None,
               ) -> list[Check]: ...
    def check_watermark(self) -> int: ...
    def checks_after(self, n: int, *, limit: int = 10000) -> tuple[list[Check], int]:
        """Other locations' checks with insertion number above `n`, and the new mark."""
        ...
    def count_checks(self) -> int: ...
    def first_check_at(self) -> float | None: ...
    def import_checks(self, rows: Iterable[tuple[int, Check]]) -> ImportResult: ...
    def generation(self) -> int: ...
    def prune(self, before: float) -> int: ...


class RecordStore(Database, Protocol):
    """The hash chain and the records it holds: acknowledgements, SLA terms, any other
    kind (statements)."""

    def record_ack(self, incident: str, at: float, by: str, note: str, recorded: float,
                   ) -> Ack: ...
    def acks(self, after: int = 0) -> list[Ack]: ...
    def append_record(self, kind: str, payload: Mapping[str, Any], now: float) -> int: ...
    def records(self, kind: str) -> list[tuple[int, float, dict[str, Any]]]: ...
    def chain_top(self) -> int: ...
    def pruned_since(self, at: float) -> bool: ...
    def verify(self, *, since_seq: int = 0, stop: Stop | None = None) -> Verdict: ...
    def verify_derived(self, since: float) -> str: ...
    def chain_head(self) -> tuple[int, str]: ...
    def chain_rows(self, lo: int, hi: int) -> list[tuple[Any, ...]]: ...
    def digest_of(self, seq: int) -> str | None: ...
    def record_terms(self, terms: Terms, now: float) -> TermsHistory: ...
    def terms_history(self) -> list[Version]: ...


class MaintenanceStore(Database, Protocol):
    """Maintenance state: feeds' last good windows, windows' first-seen times."""

    def save_feed(self, source: str, windows: Iterable[MaintenanceSpec]) -> None: ...
    def feed_windows(self, source: str) -> list[MaintenanceSpec]: ...
    def record_seen(self, specs: Iterable[MaintenanceSpec], now: float,
                    ) -> dict[str, list[Seen]]: ...


class HistoryStore(CheckStore, RecordStore, MaintenanceStore, Protocol):
    """One history: checks per location and target, their timelines, the SLA terms,
    maintenance first-seen times, feeds, acknowledgements and the hash chain."""
