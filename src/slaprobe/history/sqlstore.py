"""The history store, written once over the small SQL dialect (`sql`): checks and
their run-length timelines, imports, the hash chain's records, SLA terms and
maintenance state. `store.Store` (SQLite) and `pgstore.PgStore` (PostgreSQL) are this
class on their backend.

Every write is one transaction under the history's write lock (the backend's), so a
`kill -9` loses at most what was not yet committed and the chain stays valid. The
store folds checks into timelines for itself from what it holds, so its spans always
agree with its checks, whatever else wrote in between (an import).

The class is put together from one part per concern of the contract (`storeapi`):
the database (`_Base`), checks (`_Checks`), imports (`_Imports`), the chain's records
(`_Records`) and maintenance (`_Maintenance`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from slaprobe.core.evidence.terms import Terms, TermsHistory, Version
from slaprobe.core.history.degraded import DEGRADED, Degraded
from slaprobe.core.history.importscan import Closed, Overlap, TargetScan
from slaprobe.core.history.timeline import History, OpenRun
from slaprobe.core.maintenance.rules import Seen, version_key, with_unseen
from slaprobe.core.model import Check, State
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.core.timefmt import iso, month_range
from slaprobe.history import chainstore, derived, importstage
from slaprobe.history.sql import CHECK_COLUMNS, Backend, Sql, check_of
from slaprobe.history.storeapi import (
    ACK,
    Ack,
    Filled,
    HistoryStore,
    ImportConflict,
    ImportResult,
    Stop,
    Verdict,
)

COVER_MAX = 2 * 86400.0  # the longest a check covers: 2 x the longest interval (a day)
UNKNOWN_STATE = -1  # open_runs.state of a run of unknown-outcome checks
STATEMENT = "statement"  # the chain kind of a closed month's statement (statements.KIND)
_SPAN_CHANGED = ('ON CONFLICT (location, target, start) DO UPDATE SET "end" = excluded."end",'
                 " state = excluded.state")
_RUN_CHANGED = ("ON CONFLICT (location, target) DO UPDATE SET start = excluded.start,"
                " state = excluded.state, last_at = excluded.last_at, cap_end = excluded.cap_end")


def state_int(state: State | None) -> int:
    return UNKNOWN_STATE if state is None else int(state)


def state_of(value: int) -> State | None:
    return None if value == UNKNOWN_STATE else State(value)


def _open_run(db: Sql, location: str, target: str) -> OpenRun | None:
    row = db.one("SELECT start, state, last_at, cap_end FROM open_runs WHERE location = ? AND"
                 " target = ?", (location, target))
    return None if row is None else OpenRun(row[0], state_of(row[1]), row[2], row[3])


def rebuild(db: Sql, location: str, target: str) -> None:
    """Recompute a target's spans and open run at a location from its checks."""
    h = History()
    db.run("DELETE FROM spans WHERE location = ? AND target = ?", (location, target))
    db.run("DELETE FROM open_runs WHERE location = ? AND target = ?", (location, target))
    batch: list[tuple[Any, ...]] = []
    for row in db.stream(f"SELECT {CHECK_COLUMNS} FROM checks WHERE location = ? AND"  # noqa: S608
                         " target = ? ORDER BY at", (location, target)):
        closed = h.add(check_of(row))
        if closed is not None:
            batch.append((location, target, closed[0], closed[1], int(closed[2])))
            if len(batch) >= 10000:
                db.insert("spans", batch)
                batch.clear()
    db.insert("spans", batch)
    if (r := h.open) is not None:
        db.run("INSERT INTO open_runs VALUES (?, ?, ?, ?, ?, ?)",
               (location, target, r.start, state_int(r.state), r.last_at, r.cap_end))


class _Base:
    """The database a store has open, through its backend."""

    def __init__(self, backend: Backend, *, location: str) -> None:
        self.backend = backend
        self.read_only = backend.read_only
        self.location = location
        self._blocks = chainstore.BlockWriter()

    @property
    def name(self) -> str:
        return self.backend.name

    def version(self) -> int:
        return self.backend.version()

    def close(self) -> None:
        self.backend.close()

    def check_writable(self) -> None:
        self.backend.check_writable()

    def file_problem(self) -> str | None:
        return self.backend.file_problem()

    @contextmanager
    def _tx(self) -> Iterator[Sql]:
        """A write transaction; rolled back, it forgets the open block too."""
        try:
            with self.backend.write() as db:
                yield db
        except BaseException:
            self._blocks.reset()
            raise

    def _read(self) -> AbstractContextManager[Sql]:
        return self.backend.read()


class _Checks(_Base):
    """Checks per location and target, and their timelines."""

    def write(self, checks: Sequence[Check]) -> None:
        """Store a batch of this location's checks and fold them into its stored
        timelines, in one transaction."""
        for c in checks:
            if c.location != self.location:
                raise ValueError(f"check of {c.target} from location {c.location!r} given to "
                                 f"the writer of location {self.location!r}")
        if checks:
            with self._tx() as db:
                self._write(db, checks)

    def _write(self, db: Sql, checks: Sequence[Check]) -> None:
        loc = self.location
        written = db.insert_checks(loc, checks)
        if not written:
            return
        runs = self._open_runs(db, sorted({c.target for _, c in written}))
        folding: dict[str, History] = {}
        redo: set[str] = set()
        spans: list[tuple[Any, ...]] = []
        for _, c in written:
            if c.target in redo:
                continue
            h = folding.get(c.target)
            if h is None:
                h = folding[c.target] = History()
                h.open = runs.get(c.target)
                if h.open is None:  # a target's last span matters only without an open run
                    last = db.one('SELECT start, "end", state FROM spans WHERE location = ? AND'
                                  " target = ? ORDER BY start DESC LIMIT 1", (loc, c.target))
                    if last is not None:
                        h.spans.append(last[0], last[1], State(last[2]))
            try:
                closed = h.add(c)
            except ValueError:  # older than the stored timeline: refold from the checks
                redo.add(c.target)
                continue
            if closed is not None:
                spans.append((loc, c.target, closed[0], closed[1], int(closed[2])))
        db.insert("spans", spans, _SPAN_CHANGED)
        db.insert("open_runs", [(loc, t, h.open.start, state_int(h.open.state), h.open.last_at,
                                 h.open.cap_end) for t, h in folding.items()
                                if t not in redo and h.open is not None], _RUN_CHANGED)
        for target in sorted(redo):
            rebuild(db, loc, target)
        self._blocks.add(db, written)

    def _open_runs(self, db: Sql, targets: list[str]) -> dict[str, OpenRun]:
        """The open runs (a timeline's end) of these targets at this location."""
        runs: dict[str, OpenRun] = {}
        for i in range(0, len(targets), 500):
            among, args = db.is_in("target", targets[i:i + 500])
            for t, start, state, last_at, cap_end in db.all(
                    "SELECT target, start, state, last_at, cap_end FROM open_runs"  # noqa: S608
                    f" WHERE location = ? AND {among}", (self.location, *args)):
                runs[t] = OpenRun(start, state_of(state), last_at, cap_end)
        return runs

    def load(self, target: str, since: float, *, location: str | None = None) -> History:
        """A target's timeline at a location (default: this store's) from `since` on
        (older spans are left out)."""
        loc = self.location if location is None else location
        h = History()
        with self._read() as db:
            for s, e, st in db.stream('SELECT start, "end", state FROM spans WHERE location = ?'
                                      ' AND target = ? AND "end" > ? ORDER BY start',
                                      (loc, target, since)):
                h.spans.append(s, e, State(st))
            h.open = _open_run(db, loc, target)
        return h

    def load_degraded(self, target: str, since: float, *, location: str | None = None
                      ) -> Degraded:
        """A target's degraded time from `since` on: its degraded checks (ok, error
        `degraded`) and the time of the check after each (what ends its coverage)."""
        loc = self.location if location is None else location
        deg = Degraded()
        with self._read() as db:
            for at, interval, nxt in db.stream(
                    "SELECT c.at, c.interval, (SELECT min(d.at) FROM checks d WHERE"
                    " d.location = c.location AND d.target = c.target AND d.at > c.at)"
                    " FROM checks c WHERE c.location = ? AND c.target = ? AND c.at >= ?"
                    " AND c.ok = ? AND c.error = ? ORDER BY c.at",
                    (loc, target, since - COVER_MAX, True, DEGRADED)):
                deg.add_covered(float(at), float(interval), None if nxt is None else float(nxt))
        return deg

    def locations(self) -> list[str]:
        """Every location whose checks the history holds."""
        with self._read() as db:
            return sorted(r[0] for r in db.all("SELECT DISTINCT location FROM open_runs"))

    def load_locations(self, target: str, since: float) -> dict[str, History]:
        """A target's timeline at every location, from `since` on."""
        return {loc: self.load(target, since, location=loc) for loc in self.locations()}

    def checks(self, target: str, a: float, b: float, *, location: str | None = None,
               ) -> list[Check]:
        """A target's checks at a location (default: this store's) with a <= at < b."""
        loc = self.location if location is None else location
        with self._read() as db:
            rows = db.all(f"SELECT {CHECK_COLUMNS} FROM checks WHERE location = ? AND"  # noqa: S608
                          " target = ? AND at >= ? AND at < ? ORDER BY at", (loc, target, a, b))
        return [check_of(r) for r in rows]

    def check_watermark(self) -> int:
        """The highest insertion number of a check so far (0: none)."""
        with self._read() as db:
            return int(db.value("SELECT coalesce(max(n), 0) FROM checks"))

    def checks_after(self, n: int, *, limit: int = 10000) -> tuple[list[Check], int]:
        """Checks of other locations with insertion number above `n` (a watermark), in
        insertion order, at most `limit`; and the new watermark. One writer per location
        and the write lock keep the numbers in commit order."""
        with self._read() as db:
            rows = db.all(f"SELECT n, {CHECK_COLUMNS} FROM checks WHERE n > ? ORDER BY n"  # noqa: S608
                          " LIMIT ?", (n, limit))
        top = int(rows[-1][0]) if rows else n
        return [c for c in (check_of(r[1:]) for r in rows) if c.location != self.location], top

    def count_checks(self) -> int:
        with self._read() as db:
            return int(db.value("SELECT count(*) FROM checks"))

    def first_check_at(self) -> float | None:
        with self._read() as db:
            v = db.value("SELECT min(at) FROM checks")
        return None if v is None else float(v)

    def generation(self) -> int:
        """Bumped whenever history is rewritten from outside the daemon (imports)."""
        with self._read() as db:
            v = db.value("SELECT value FROM meta WHERE key = 'generation'")
        return 0 if v is None else int(v)

    def prune(self, before: float) -> int:
        """Delete the blocks of checks whose checks all started before `before` (a
        checkpoint in the chain names them, so the rest stays verifiable) and spans
        that ended before it; returns checks deleted."""
        with self._tx() as db:
            n = chainstore.prune(db, before, at=before)
            db.run('DELETE FROM spans WHERE "end" < ?', (before,))
        return n


def _recorded(db: Sql, location: str, target: str, span: tuple[float, float], upto: int,
              ) -> Iterator[Check]:
    """A target's checks at a location numbered at most `upto` (those stored before
    the import began), from the last one before `lo` to the first after `hi`, in time
    order; read a chunk at a time, each chunk whole (rows may be inserted between)."""
    lo, hi = span
    a, b = db.one("SELECT coalesce((SELECT max(at) FROM checks WHERE location = ? AND"
                  " target = ? AND at < ?), ?), coalesce((SELECT min(at) FROM checks WHERE"
                  " location = ? AND target = ? AND at > ?), ?)",
                  (location, target, lo, lo, location, target, hi, hi)) or (lo, hi)
    op = ">="
    while True:
        rows = db.all(f"SELECT {CHECK_COLUMNS} FROM checks WHERE location = ? AND"  # noqa: S608
                      f" target = ? AND at {op} ? AND at <= ? AND n <= ? ORDER BY at LIMIT ?",
                      (location, target, a, b, upto, importstage.CHUNK))
        yield from (check_of(r) for r in rows)
        if len(rows) < importstage.CHUNK:
            return
        a, op = float(rows[-1][1]), ">"


class _Imports(_Base):
    """Backfilling checks from a file into unknown time."""

    def import_checks(self, rows: Iterable[tuple[int, Check]]) -> ImportResult:
        """Backfill numbered checks (a CSV line each) into this location's unknown time
        only, all or nothing (append-only).

        An exact duplicate of a stored check (or of an earlier row) is skipped. A row
        whose check would overlap a recorded check of its target (start inside the
        time a recorded check covers, or the same time with another outcome), or falls
        in a closed month with a statement, refuses the whole import with
        ImportConflict naming the line. The rows are first staged on disk
        (`importstage`) and checked against each other there, before the write
        transaction, so the daemon's writes wait only for the checking against the
        history and the inserting; memory holds a chunk of rows at a time, whatever
        the file's size."""
        with importstage.Stage() as stage:
            try:
                stage.add(rows)
            except importstage.InFileConflict as e:
                raise ImportConflict(e.line, f"{e.target} at {iso(e.at)} is also on line "
                                             f"{e.first_line} with another outcome") from None
            with self._tx() as db:
                return self._import(db, stage)

    def _import(self, db: Sql, stage: importstage.Stage) -> ImportResult:
        """Target by target in order: check its rows against its recorded checks and
        insert the kept ones (numbered in (target, at) order) until a row is refused;
        the smallest refused line (a closed month's first) is reported, rolling back."""
        loc = self.location
        upto = int(db.value("SELECT coalesce(max(n), 0) FROM checks"))
        months = [(m, *month_range(m)) for m in
                  sorted({p["month"] for _, _, p in chainstore.records(db, STATEMENT)})]
        closed: dict[str, Closed] = {}
        overlap: Overlap | None = None
        done = _Inserted(db, loc)
        filled: dict[str, Filled] = {}
        for target in stage.targets():
            scan = TargetScan(months)
            recorded = _recorded(db, loc, target, stage.span(target), upto)
            batch: list[Check] = []
            for _, c in scan.kept(stage.rows(target, loc), recorded):
                if closed or overlap or scan.closed or scan.overlap:
                    continue  # refused: only the smallest line is still sought
                batch.append(c)
                if len(batch) >= importstage.CHUNK:
                    done.flush(batch)
            done.flush(batch)
            for month, hit in scan.closed.items():
                if month not in closed or hit.line < closed[month].line:
                    closed[month] = hit
            if scan.overlap and (overlap is None or scan.overlap.line < overlap.line):
                overlap = scan.overlap
            if scan.count:
                filled[target] = Filled(start=scan.start, end=scan.end, seconds=scan.seconds)
        if closed:
            hit = closed[min(closed)]
            raise ImportConflict(hit.line, f"{hit.check.target} at {iso(hit.check.at)} is in"
                                           f" {hit.month}, a closed month with a statement:"
                                           " its history is final")
        if overlap is not None:
            c = overlap.check
            raise ImportConflict(
                overlap.line, f"{c.target} at {iso(c.at)} overlaps a recorded check"
                              f" ({iso(overlap.start)} .. {iso(overlap.end)}): an import fills"
                              " only unknown time")
        if done.count:  # one transaction: the new rows are numbered in (target, at) order
            chainstore.chain_range(db, done.lo, done.hi)
            db.run("INSERT INTO meta VALUES ('generation', '1') ON CONFLICT (key) DO UPDATE"
                   " SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)")
        for target in filled:
            rebuild(db, loc, target)
        return ImportResult(inserted=done.count, skipped=stage.total - done.count,
                            filled=filled)


class _Inserted:
    """The kept checks inserted so far: how many, the first and last numbers."""

    def __init__(self, db: Sql, location: str) -> None:
        self.db, self.location = db, location
        self.count = self.lo = self.hi = 0

    def flush(self, batch: list[Check]) -> None:
        """Insert a batch (then emptied)."""
        if batch:
            written = self.db.insert_checks(self.location, batch)
            batch.clear()
            if written:
                self.count += len(written)
                self.lo, self.hi = self.lo or written[0][0], written[-1][0]


def _ack(row: Sequence[Any]) -> Ack:
    seq, recorded, text = row
    p = json.loads(text)
    return Ack(int(seq), str(p["incident"]), float(p["at"]), str(p["by"]), str(p["note"]),
               float(recorded))


def _terms(db: Sql) -> list[Version]:
    return [Version(float(since), Terms.from_json(body)) for since, body in db.all(
        f"SELECT since, body FROM terms ORDER BY {db.terms_id}")]  # noqa: S608


class _Records(_Base):
    """The hash chain and its records: acknowledgements, SLA terms, other kinds."""

    def record_ack(self, incident: str, at: float, by: str, note: str, recorded: float) -> Ack:
        """Append an acknowledgement to the chain; returns the incident's first one
        (the one that counts)."""
        payload = {"incident": incident, "at": at, "by": by, "note": note}
        with self._tx() as db:
            chainstore.append(db, ACK, payload, at=recorded)
            row = db.one("SELECT seq, at, payload FROM chain WHERE kind = ? AND"  # noqa: S608
                         f" {db.json_field('payload', 'incident')} = ? ORDER BY seq LIMIT 1",
                         (ACK, incident))
        assert row is not None
        return _ack(row)

    def acks(self, after: int = 0) -> list[Ack]:
        """Acknowledgements appended after chain seq `after`, in order."""
        with self._read() as db:
            rows = db.all("SELECT seq, at, payload FROM chain WHERE seq > ? AND kind = ?"
                          " ORDER BY seq", (after, ACK))
        return [_ack(r) for r in rows]

    def append_record(self, kind: str, payload: Mapping[str, Any], now: float) -> int:
        """Append a record that lives in the chain only (see `chainstore`); its seq. A
        month's statement is appended once, whichever daemon of a shared history closes
        the month first (the others get its seq)."""
        with self._tx() as db:
            if kind == STATEMENT and "month" in payload:
                seq = db.value("SELECT seq FROM chain WHERE kind = ? AND"  # noqa: S608
                               f" {db.json_field('payload', 'month')} = ? ORDER BY seq LIMIT 1",
                               (kind, payload["month"]))
                if seq is not None:
                    return int(seq)
            return chainstore.append(db, kind, payload, at=now)

    def records(self, kind: str) -> list[tuple[int, float, dict[str, Any]]]:
        with self._read() as db:
            return chainstore.records(db, kind)

    def chain_top(self) -> int:
        """The seq of the chain's last record (0 when empty)."""
        with self._read() as db:
            return chainstore.tail(db)[0]

    def pruned_since(self, at: float) -> bool:
        """Whether pruning may have deleted checks at or after `at`."""
        return any(p["before"] > at for _, _, p in self.records(chainstore.CHECKPOINT))

    def verify(self, *, since_seq: int = 0, stop: Stop | None = None) -> Verdict:
        """Walk the chain in one read snapshot (the writer is not blocked); given up
        with VerifyStopped once `stop` is set."""
        with self.backend.snapshot() as db:
            return chainstore.verify(db, since_seq=since_seq, connect=self.backend.readers(),
                                     stop=stop)

    def chain_head(self) -> tuple[int, str]:
        """(seq, digest) of the chain's last record: a witness to publish."""
        with self._read() as db:
            return chainstore.tail(db)

    def chain_rows(self, lo: int, hi: int) -> list[tuple[Any, ...]]:
        """Chain records lo..hi with all their fields, in order (a statement's file)."""
        with self._read() as db:
            return db.all("SELECT seq, kind, at, lo, hi, count, last_at, content, payload,"
                          " prev, digest FROM chain WHERE seq BETWEEN ? AND ? ORDER BY seq",
                          (lo, hi))

    def digest_of(self, seq: int) -> str | None:
        """The digest of chain record `seq` (None: the history does not hold it)."""
        with self._read() as db:
            v = db.value("SELECT digest FROM chain WHERE seq = ?", (seq,))
        return None if v is None else str(v)

    def verify_derived(self, since: float) -> str:
        """'' when the stored timelines from `since` on agree with the checks held; else
        the table, target and time that do not (one read snapshot)."""
        with self.backend.snapshot() as db:
            return derived.check(db, chainstore.horizon(db), since=since)

    def record_terms(self, terms: Terms, now: float) -> TermsHistory:
        """Record `terms` as first seen `now` unless they are the latest version; return
        every version. A reader records nothing: terms it has not seen stored count as
        in force from `now` (they change the future only)."""
        body = terms.to_json()
        if self.read_only:
            versions = self.terms_history()
            if not versions or versions[-1].terms.to_json() != body:
                versions.append(Version(now, terms))
            return TermsHistory(versions)
        with self._tx() as db:
            last = db.value(f"SELECT body FROM terms ORDER BY {db.terms_id} DESC LIMIT 1")  # noqa: S608
            if last != body:
                rowid = db.insert_id("INSERT INTO terms (since, body) VALUES (?, ?)",
                                     (now, body), db.terms_id)
                chainstore.append(db, "terms", chainstore.terms_payload((rowid, now, body)),
                                  at=now)
            return TermsHistory(_terms(db))

    def terms_history(self) -> list[Version]:
        with self._read() as db:
            return _terms(db)


def _targets_json(targets: tuple[str, ...] | None) -> str | None:
    return None if targets is None else json.dumps(sorted(targets))


def _seen(db: Sql, ids: Iterable[str]) -> dict[str, list[Seen]]:
    return {mid: [Seen(id=r[0], start=r[1], end=r[2], announced=r[3],
                       targets=None if r[4] is None else tuple(json.loads(r[4])),
                       first_seen=r[5]) for r in db.all(
        'SELECT id, start, "end", announced, targets, first_seen FROM maintenance_seen'
        " WHERE id = ? ORDER BY first_seen", (mid,))] for mid in ids}


class _Maintenance(_Base):
    """Maintenance state: feeds' last good windows, windows' first-seen times."""

    def save_feed(self, source: str, windows: Iterable[MaintenanceSpec]) -> None:
        """Keep a feed's last good windows (a later report uses them if it is down)."""
        rows = {w.id: (source, w.id, w.start, w.end, w.announced, _targets_json(w.targets),
                       w.reason) for w in windows}  # the last of an id counts
        with self._tx() as db:
            db.run("DELETE FROM feed_windows WHERE source = ?", (source,))
            db.insert("feed_windows", list(rows.values()))

    def feed_windows(self, source: str) -> list[MaintenanceSpec]:
        with self._read() as db:
            rows = db.all('SELECT id, start, "end", announced, targets, reason FROM feed_windows'
                          " WHERE source = ? ORDER BY start", (source,))
        return [MaintenanceSpec(id=r[0], start=r[1], end=r[2], announced=r[3],
                                targets=None if r[4] is None else tuple(json.loads(r[4])),
                                reason=r[5], source=source) for r in rows]

    def record_seen(self, specs: Iterable[MaintenanceSpec], now: float) -> dict[str, list[Seen]]:
        """Remember when each window version was first seen; return every stored
        version of the given windows' ids."""
        specs = list(specs)
        ids = {s.id for s in specs}
        if self.read_only:  # a reader judges a window it never saw as first seen now
            with self._read() as db:
                out = _seen(db, ids)
            return with_unseen(out, specs, now)
        with self._tx() as db:
            for s in specs:
                row = (version_key(s), s.id, s.start, s.end, s.announced,
                       _targets_json(s.targets), now)
                if db.run("INSERT INTO maintenance_seen VALUES (?, ?, ?, ?, ?, ?, ?)"
                          " ON CONFLICT (key) DO NOTHING", row).rowcount:
                    chainstore.append(db, "maintenance_seen", chainstore.seen_payload(row),
                                      at=now)
            return _seen(db, ids)


class SqlStore(_Checks, _Imports, _Records, _Maintenance):
    """One history on a backend; safe to call from one worker thread at a time.

    `location` is where this store's writer probes from: its checks are written and
    imported there, and `load` reads that location's timeline."""


def _conforms(store: SqlStore) -> HistoryStore:
    return store  # mypy checks here that the store keeps the store contract
