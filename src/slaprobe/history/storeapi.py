"""The store contract: what the daemon and the command line use of a history store.

Two backends implement it: `store.Store` (SQLite, the embedded default, one location)
and `pgstore.PgStore` (PostgreSQL, one history shared by daemons at several
locations). One contract test suite runs against both. Methods are synchronous; the
daemon calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from slaprobe.core.evidence.terms import Terms, TermsHistory, Version
from slaprobe.core.history.timeline import History
from slaprobe.core.maintenance.rules import Seen
from slaprobe.core.model import Check
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.history.chainstore import Verdict


class StoreError(Exception):
    """The database cannot be opened or is from a newer slaprobe."""


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


class HistoryStore(Protocol):
    """One history: checks per location and target, their timelines, the SLA terms,
    maintenance first-seen times, feeds, acknowledgements and the hash chain."""

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

    # checks and timelines
    def write(self, checks: Sequence[Check]) -> None: ...
    def load(self, target: str, since: float, *, location: str | None = None) -> History: ...
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

    # acknowledgements and the chain
    def record_ack(self, incident: str, at: float, by: str, note: str, recorded: float,
                   ) -> Ack: ...
    def acks(self, after: int = 0) -> list[Ack]: ...
    def append_record(self, kind: str, payload: Mapping[str, Any], now: float) -> int: ...
    def records(self, kind: str) -> list[tuple[int, float, dict[str, Any]]]: ...
    def chain_top(self) -> int: ...
    def pruned_since(self, at: float) -> bool: ...
    def verify(self, *, since_seq: int = 0) -> Verdict: ...

    # SLA terms and maintenance
    def record_terms(self, terms: Terms, now: float) -> TermsHistory: ...
    def terms_history(self) -> list[Version]: ...
    def save_feed(self, source: str, windows: Iterable[MaintenanceSpec]) -> None: ...
    def feed_windows(self, source: str) -> list[MaintenanceSpec]: ...
    def record_seen(self, specs: Iterable[MaintenanceSpec], now: float,
                    ) -> dict[str, list[Seen]]: ...
