"""SQLite history store: checks, run-length spans, maintenance first-seen times.

WAL mode and one transaction per batch: a `kill -9` loses at most what was not
yet committed. Methods are synchronous; the daemon calls them through
`asyncio.to_thread` so a slow disk never stalls the event loop. The schema is
versioned and each version has a migration step from the one before.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from slaprobe.core.evidence.terms import Terms, TermsHistory, Version
from slaprobe.core.history.timeline import History, OpenRun
from slaprobe.core.maintenance.rules import Seen, version_key, with_unseen
from slaprobe.core.model import Check, State
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.core.timefmt import iso, month_range
from slaprobe.history import chainstore
from slaprobe.history.storeapi import (
    ACK,
    Ack,
    Filled,
    HistoryStore,
    ImportConflict,
    ImportResult,
    StoreError,
)

SCHEMA_VERSION = 8
__all__ = ["ACK", "Ack", "Filled", "ImportConflict", "ImportResult", "Store", "StoreError",
           "unwritable_reason"]
UNKNOWN_STATE = -1  # open_runs.state of a run of unknown-outcome checks
_T = TypeVar("_T")


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run statements one by one (executescript would commit the open transaction)."""
    for stmt in sql.split(";"):
        if stmt.strip():
            db.execute(stmt)


def _v1(db: sqlite3.Connection) -> None:
    _script(db, """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS checks (
            target TEXT NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL,
            latency REAL, status INTEGER, error TEXT, interval REAL NOT NULL,
            network INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (target, at)
        ) WITHOUT ROWID;
    """)


def _v2(db: sqlite3.Connection) -> None:
    _script(db, """
        CREATE TABLE spans (
            target TEXT NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL,
            state INTEGER NOT NULL, PRIMARY KEY (target, start)
        ) WITHOUT ROWID;
        CREATE TABLE open_runs (
            target TEXT PRIMARY KEY, start REAL NOT NULL, state INTEGER NOT NULL,
            last_at REAL NOT NULL, cap_end REAL NOT NULL
        );
    """)
    for (target,) in db.execute("SELECT DISTINCT target FROM checks").fetchall():
        _rebuild(db, target, None)


def _v3(db: sqlite3.Connection) -> None:
    _script(db, """
        CREATE TABLE maintenance_seen (
            key TEXT PRIMARY KEY, id TEXT NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL,
            announced REAL NOT NULL, targets TEXT, first_seen REAL NOT NULL
        );
        CREATE INDEX maintenance_seen_id ON maintenance_seen (id);
    """)


def _v4(db: sqlite3.Connection) -> None:
    _script(db, """
        CREATE TABLE feed_windows (
            source TEXT NOT NULL, id TEXT NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL,
            announced REAL NOT NULL, targets TEXT, reason TEXT NOT NULL,
            PRIMARY KEY (source, id)
        );
    """)


def _v5(db: sqlite3.Connection) -> None:
    # a check slaprobe could not perform or judge (its own failure): outcome unknown
    db.execute("ALTER TABLE checks ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0")


def _v6(db: sqlite3.Connection) -> None:
    # the SLA terms, each version with the time slaprobe first saw it
    db.execute("CREATE TABLE terms (since REAL NOT NULL, body TEXT NOT NULL)")


def _v7(db: sqlite3.Connection) -> None:
    """The hash chain: checks get their insertion number `n` (the table is rebuilt,
    existing rows numbered in (target, at) order) and every existing row becomes the
    chain's first records: its checks as blocks, then each first-seen window, then
    each terms version."""
    _script(db, """
        ALTER TABLE checks RENAME TO checks_v6;
        CREATE TABLE checks (
            n INTEGER PRIMARY KEY AUTOINCREMENT,
            target TEXT NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL,
            latency REAL, status INTEGER, error TEXT, interval REAL NOT NULL,
            network INTEGER NOT NULL DEFAULT 0, unknown INTEGER NOT NULL DEFAULT 0,
            UNIQUE (target, at)
        );
        INSERT INTO checks (target, at, ok, latency, status, error, interval, network, unknown)
            SELECT target, at, ok, latency, status, error, interval, network, unknown
            FROM checks_v6 ORDER BY target, at;
        DROP TABLE checks_v6
    """)
    db.execute(chainstore.SCHEMA)
    top = db.execute("SELECT max(n) FROM checks").fetchone()[0]
    if top:
        chainstore.chain_range(db, 1, int(top), chainstore.COLUMNS_V7)
    for row in db.execute(chainstore.TABLES["maintenance_seen"][0] + " ORDER BY first_seen, key"
                          ).fetchall():
        chainstore.append(db, "maintenance_seen", chainstore.seen_payload(row), at=row[6])
    for row in db.execute(chainstore.TABLES["terms"][0] + " ORDER BY rowid").fetchall():
        chainstore.append(db, "terms", chainstore.terms_payload(row), at=row[1])


def _v8(db: sqlite3.Connection) -> None:
    """Locations: every check, span and open run names the location it is from; the
    rows before get "default". Insertion numbers are kept (the chain names them), and
    so is the number AUTOINCREMENT gives next (pruned numbers are never reused)."""
    last = _last_n(db)
    _script(db, """
        ALTER TABLE checks RENAME TO checks_v7;
        CREATE TABLE checks (
            n INTEGER PRIMARY KEY AUTOINCREMENT,
            location TEXT NOT NULL DEFAULT 'default',
            target TEXT NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL,
            latency REAL, status INTEGER, error TEXT, interval REAL NOT NULL,
            network INTEGER NOT NULL DEFAULT 0, unknown INTEGER NOT NULL DEFAULT 0,
            UNIQUE (location, target, at)
        );
        INSERT INTO checks (n, location, target, at, ok, latency, status, error, interval,
                            network, unknown)
            SELECT n, 'default', target, at, ok, latency, status, error, interval, network,
                   unknown FROM checks_v7 ORDER BY n;
        DROP TABLE checks_v7;
        ALTER TABLE spans RENAME TO spans_v7;
        CREATE TABLE spans (
            location TEXT NOT NULL, target TEXT NOT NULL, start REAL NOT NULL,
            "end" REAL NOT NULL, state INTEGER NOT NULL, PRIMARY KEY (location, target, start)
        ) WITHOUT ROWID;
        INSERT INTO spans SELECT 'default', target, start, "end", state FROM spans_v7;
        DROP TABLE spans_v7;
        ALTER TABLE open_runs RENAME TO open_runs_v7;
        CREATE TABLE open_runs (
            location TEXT NOT NULL, target TEXT NOT NULL, start REAL NOT NULL,
            state INTEGER NOT NULL, last_at REAL NOT NULL, cap_end REAL NOT NULL,
            PRIMARY KEY (location, target)
        );
        INSERT INTO open_runs SELECT 'default', target, start, state, last_at, cap_end
            FROM open_runs_v7;
        DROP TABLE open_runs_v7
    """)
    if last:
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'checks'")
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('checks', ?)", (last,))


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6, 7: _v7, 8: _v8,
}

_INSERT_CHECK = (
    "INSERT OR IGNORE INTO checks"
    " (location, target, at, ok, latency, status, error, interval, network, unknown)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CHECK_COLUMNS = "target, at, ok, latency, status, error, interval, network, unknown, location"


# a second row for the same target and time that says something else
_SAME_TIME_IN_FILE = """
    SELECT b.line, b.target, b.at, a.line FROM temp.imp a JOIN temp.imp b
      ON a.target = b.target AND a.at = b.at AND a.line < b.line
    WHERE NOT (a.ok IS b.ok AND a.latency IS b.latency AND a.status IS b.status
      AND a.error IS b.error AND a.interval IS b.interval AND a.network IS b.network
      AND a.unknown IS b.unknown)
    ORDER BY b.line LIMIT 1"""
_DROP_DUPLICATES_IN_FILE = """
    DELETE FROM temp.imp WHERE EXISTS (SELECT 1 FROM temp.imp a
      WHERE a.target = imp.target AND a.at = imp.at AND a.line < imp.line)"""
_DROP_STORED_DUPLICATES = """
    DELETE FROM temp.imp WHERE EXISTS (SELECT 1 FROM checks a
      WHERE a.location = ?1 AND a.target = imp.target AND a.at = imp.at AND a.ok IS imp.ok
        AND a.latency IS imp.latency AND a.status IS imp.status AND a.error IS imp.error
        AND a.interval IS imp.interval AND a.network IS imp.network
        AND a.unknown IS imp.unknown)"""
# Each recorded check covers [at, min(next recorded check, at + 2 x interval)). In one
# stream per target of recorded checks and imported rows (recorded first at equal
# times), a row conflicts when it starts before the end of the latest recorded check
# at or before it. Only recorded checks around the imported range are read: from the
# last one before its first row to the first one after its last row.
_IMPORT_CONFLICT = """
    WITH rng AS (
      SELECT target, min(at) AS lo, max(at) AS hi FROM temp.imp GROUP BY target),
    bounds AS (
      SELECT target,
        coalesce((SELECT max(at) FROM checks c WHERE c.location = ?1
                  AND c.target = rng.target AND c.at < lo), lo) AS lo,
        coalesce((SELECT min(at) FROM checks c WHERE c.location = ?1
                  AND c.target = rng.target AND c.at > hi), hi) AS hi
      FROM rng),
    rec AS (
      SELECT c.target, c.at, min(c.at + 2 * c.interval,
        coalesce(lead(c.at) OVER (PARTITION BY c.target ORDER BY c.at), 1e308)) AS e
      FROM checks c JOIN bounds b ON c.location = ?1 AND c.target = b.target
        AND c.at BETWEEN b.lo AND b.hi),
    ev AS (
      SELECT target, at, 0 AS side, NULL AS line, at AS rs, e FROM rec
      UNION ALL SELECT target, at, 1, line, NULL, NULL FROM temp.imp),
    run AS (
      SELECT target, at, line,
        max(rs) OVER w AS rs, max(e) OVER w AS e FROM ev
      WINDOW w AS (PARTITION BY target ORDER BY at, side ROWS UNBOUNDED PRECEDING))
    SELECT line, target, at, rs, e FROM run
    WHERE line IS NOT NULL AND e > at ORDER BY line LIMIT 1"""
# per target: the imported checks' span and the seconds they now cover
_FILLED = """
    SELECT target, min(at), max(upto), sum(upto - at) FROM (
      SELECT i.target, i.at, min(i.at + 2 * i.interval, coalesce((SELECT min(c.at)
        FROM checks c WHERE c.location = ?1 AND c.target = i.target AND c.at > i.at),
        1e308)) AS upto
      FROM temp.imp i)
    GROUP BY target ORDER BY target"""


def _row_check(row: Sequence[object]) -> Check:
    target, at, ok, latency, status, error, interval, network, unknown, location = row
    return Check(
        target=str(target), at=float(at), ok=bool(ok), interval=float(interval),  # type: ignore[arg-type]
        latency=latency, status=status, error=error, network=bool(network),  # type: ignore[arg-type]
        unknown=bool(unknown), location=str(location),
    )


def _state_int(state: State | None) -> int:
    return UNKNOWN_STATE if state is None else int(state)


def _state_of(value: int) -> State | None:
    return None if value == UNKNOWN_STATE else State(value)


def _iter_checks(db: sqlite3.Connection, target: str, location: str | None,
                 ) -> Iterator[Check]:
    """A target's checks at a location in time order (location None: a database from
    before locations, being migrated)."""
    if location is not None:
        cur = db.execute(f"SELECT {_CHECK_COLUMNS} FROM checks WHERE location = ? AND"  # noqa: S608
                         " target = ? ORDER BY at", (location, target))
    else:  # migrating from before schema 5 (the v2 step rebuilds spans)
        cur = db.execute(
            "SELECT target, at, ok, latency, status, error, interval, network, 0, 'default'"
            " FROM checks WHERE target = ? ORDER BY at", (target,),
        )
    while rows := cur.fetchmany(10000):
        for row in rows:
            yield _row_check(row)


def _rebuild(db: sqlite3.Connection, target: str, location: str | None) -> None:
    """Recompute a target's spans and open run at a location from its checks (location
    None: the tables from before locations, during migration)."""
    h = History()
    key: tuple[str, ...] = (target,) if location is None else (location, target)
    where = "target = ?" if location is None else "location = ? AND target = ?"
    marks = ", ".join("?" * (len(key) + 3))
    db.execute(f"DELETE FROM spans WHERE {where}", key)  # noqa: S608 (fixed SQL)
    db.execute(f"DELETE FROM open_runs WHERE {where}", key)  # noqa: S608
    batch: list[tuple[object, ...]] = []
    for c in _iter_checks(db, target, location):
        closed = h.add(c)
        if closed is not None:
            batch.append((*key, closed[0], closed[1], int(closed[2])))
            if len(batch) >= 10000:
                db.executemany(f"INSERT INTO spans VALUES ({marks})", batch)  # noqa: S608
                batch.clear()
    db.executemany(f"INSERT INTO spans VALUES ({marks})", batch)  # noqa: S608
    if h.open is not None:
        r = h.open
        db.execute(
            f"INSERT INTO open_runs VALUES ({marks}, ?)",  # noqa: S608
            (*key, r.start, _state_int(r.state), r.last_at, r.cap_end),
        )


class Store:
    """One SQLite database; safe to call from one worker thread at a time.

    `location` is where this store's writer probes from: its checks are written and
    imported there, and `load` reads that location's timeline. SQLite holds one
    location's history (several locations share a PostgreSQL history: `pgstore`)."""

    def __init__(self, path: str | Path, *, read_only: bool = False,
                 location: str = "default") -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.location = location
        self._blocks = chainstore.BlockWriter()
        self._lock = threading.Lock()
        if str(path) != ":memory:" and not self.path.parent.is_dir():
            # A typo or a missing state directory, never a place to start a history.
            raise StoreError(f"cannot open database {self.path.absolute()}: directory "
                             f"{self.path.parent.absolute()} does not exist")
        try:
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=30,
            )
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open database {path}: {e}") from e
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            if read_only:  # a reader (report, verify, maintenance list) never writes
                self._db.execute("PRAGMA query_only = ON")
            self._identity = self._file_identity()
        except BaseException as e:
            self._db.close()  # do not leak the connection (and its file handles)
            if isinstance(e, sqlite3.Error):
                raise StoreError(f"cannot open database {path}: {e}{unwritable_reason(self.path)}"
                                 ) from e
            raise

    @property
    def name(self) -> str:
        return str(self.path)

    # --- schema ---------------------------------------------------------------

    def version(self) -> int:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        current = self.version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema {current}, newer than this slaprobe "
                f"({SCHEMA_VERSION})",
            )
        for v in range(current + 1, SCHEMA_VERSION + 1):
            with self._tx():
                MIGRATIONS[v](self._db)
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(v),),
                )

    # --- health -----------------------------------------------------------------

    def _file_identity(self) -> tuple[int, int] | None:
        if str(self.path) == ":memory:":
            return None
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def file_problem(self) -> str | None:
        """Whether the database file is still the one this store opened: None when it
        is, else `missing` (removed, or its directory) or `replaced` (another file now
        at the path). Writes would go to a file nobody will read again."""
        if self._identity is None:
            return None
        try:
            now = self._file_identity()
        except FileNotFoundError:
            return "missing"
        except OSError:
            return "missing"
        return None if now == self._identity else "replaced"

    def check_writable(self) -> None:
        """Raise StoreError unless the database accepts a write (a read-only file or
        filesystem, a directory where the WAL cannot be made). Nothing is changed:
        the probe write is rolled back."""
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('write_probe', '1')")
                finally:
                    self._db.execute("ROLLBACK")
        except sqlite3.Error as e:
            raise StoreError(f"cannot write database {self.path}: {e}{unwritable_reason(self.path)}"
                             ) from e

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- checks and timelines -------------------------------------------------

    def write(self, checks: Sequence[Check]) -> None:
        """Store a batch of checks and fold them into the stored timelines, in one
        transaction. The store folds for itself from what it holds, so its spans
        always agree with its checks, whatever else wrote in between (an import)."""
        with self._tx():
            try:
                self._write(checks)
            except BaseException:
                self._blocks.reset()  # the transaction rolls back: so does the open block
                raise

    def _write(self, checks: Sequence[Check]) -> None:
        folding: dict[str, History] = {}
        rebuild: set[str] = set()
        lo = hi = 0
        last_at = -math.inf
        loc = self.location
        for c in checks:
            if c.location != loc:
                raise ValueError(f"check of {c.target} from location {c.location!r} given to "
                                 f"the writer of location {loc!r}")
            cur = self._db.execute(
                _INSERT_CHECK, (loc, *_check_row(c)),
            )
            if cur.rowcount:
                hi = int(cur.lastrowid or 0)
                lo = lo or hi
                last_at = max(last_at, c.at)
            if not cur.rowcount or c.target in rebuild:
                continue
            h = folding.get(c.target)
            if h is None:
                h = folding[c.target] = self._tail(c.target)
            try:
                closed = h.add(c)
            except ValueError:  # older than the stored timeline: refold from the checks
                rebuild.add(c.target)
                continue
            if closed is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO spans VALUES (?, ?, ?, ?, ?)",
                    (loc, c.target, closed[0], closed[1], int(closed[2])),
                )
        for target, h in folding.items():
            if target not in rebuild and h.open is not None:
                r = h.open
                self._db.execute(
                    "INSERT OR REPLACE INTO open_runs VALUES (?, ?, ?, ?, ?, ?)",
                    (loc, target, r.start, _state_int(r.state), r.last_at, r.cap_end),
                )
        for target in rebuild:
            _rebuild(self._db, target, loc)
        if hi:
            self._blocks.add(self._db, lo, hi, last_at, at=last_at)

    def _tail(self, target: str) -> History:
        """The end of a target's stored timeline: its last span and its open run."""
        h = History()
        row = self._db.execute(
            'SELECT start, "end", state FROM spans WHERE location = ? AND target = ?'
            " ORDER BY start DESC LIMIT 1", (self.location, target),
        ).fetchone()
        if row is not None:
            h.spans.append(row[0], row[1], State(row[2]))
        h.open = self._open_run(target, self.location)
        return h

    def _open_run(self, target: str, location: str) -> OpenRun | None:
        row = self._db.execute(
            "SELECT start, state, last_at, cap_end FROM open_runs WHERE location = ? AND"
            " target = ?", (location, target),
        ).fetchone()
        return None if row is None else OpenRun(row[0], _state_of(row[1]), row[2], row[3])

    def load(self, target: str, since: float, *, location: str | None = None) -> History:
        """A target's timeline at a location (default: this store's) from `since` on
        (older spans are left out)."""
        loc = self.location if location is None else location
        h = History()
        with self._lock:
            cur = self._db.execute(
                'SELECT start, "end", state FROM spans WHERE location = ? AND target = ?'
                ' AND "end" > ? ORDER BY start', (loc, target, since),
            )
            while rows := cur.fetchmany(10000):
                for s, e, st in rows:
                    h.spans.append(s, e, State(st))
            h.open = self._open_run(target, loc)
        return h

    def locations(self) -> list[str]:
        """Every location whose checks the history holds."""
        with self._lock:
            return sorted(r[0] for r in self._db.execute(
                "SELECT DISTINCT location FROM open_runs"))

    def load_locations(self, target: str, since: float) -> dict[str, History]:
        """A target's timeline at every location, from `since` on."""
        return {loc: self.load(target, since, location=loc) for loc in self.locations()}

    def checks(self, target: str, a: float, b: float, *, location: str | None = None,
               ) -> list[Check]:
        """A target's checks at a location (default: this store's) with a <= at < b."""
        loc = self.location if location is None else location
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_CHECK_COLUMNS} FROM checks WHERE location = ? AND target = ?"  # noqa: S608
                " AND at >= ? AND at < ? ORDER BY at", (loc, target, a, b),
            ).fetchall()
        return [_row_check(r) for r in rows]

    def check_watermark(self) -> int:
        """The highest insertion number of a check so far (0: none)."""
        with self._lock:
            return int(self._db.execute("SELECT coalesce(max(n), 0) FROM checks").fetchone()[0])

    def checks_after(self, n: int, *, limit: int = 10000) -> tuple[list[Check], int]:
        """Checks of other locations with insertion number above `n` (a watermark), in
        insertion order, at most `limit`; and the new watermark. One writer per location
        and one transaction per batch keep the numbers in commit order."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT n, {_CHECK_COLUMNS} FROM checks WHERE n > ? ORDER BY n LIMIT ?",  # noqa: S608
                (n, limit),
            ).fetchall()
        top = int(rows[-1][0]) if rows else n
        return [c for c in (_row_check(r[1:]) for r in rows)
                if c.location != self.location], top

    def count_checks(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM checks").fetchone()[0])

    def import_checks(self, rows: Iterable[tuple[int, Check]]) -> ImportResult:
        """Backfill numbered checks (a CSV line each) into unknown time only, all or
        nothing (append-only: see `_IMPORT_CONFLICT`).

        An exact duplicate of a stored check (or of an earlier row) is skipped. A row
        whose check would overlap a recorded check of its target (start inside the
        time a recorded check covers, or the same time with another outcome) refuses
        the whole import with ImportConflict naming the line and the recorded range.

        The rows are staged in a temporary table first, outside the write transaction,
        so the daemon's writes wait only for the checking and inserting, never for the
        reading and decoding of the file.
        """
        with self._lock:
            self._db.execute("DROP TABLE IF EXISTS temp.imp")
            self._db.execute(
                "CREATE TEMP TABLE imp (line INTEGER NOT NULL, target TEXT NOT NULL,"
                " at REAL NOT NULL, ok INTEGER NOT NULL, latency REAL, status INTEGER,"
                " error TEXT, interval REAL NOT NULL, network INTEGER NOT NULL,"
                " unknown INTEGER NOT NULL)")
        try:
            total = 0
            for chunk in _batched(rows, 10000):
                with self._lock:
                    self._db.executemany(
                        "INSERT INTO temp.imp VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(line, *_check_row(c)) for line, c in chunk])
                total += len(chunk)
            with self._lock:
                self._db.execute("CREATE INDEX temp.imp_key ON imp (target, at, line)")
                clash = self._db.execute(_SAME_TIME_IN_FILE).fetchone()
            if clash is not None:
                line, target, at, first = clash
                raise ImportConflict(line, f"{target} at {iso(at)} is also on line {first} "
                                           "with another outcome")
            with self._tx():
                return self._import(total)
        finally:
            with self._lock:
                self._db.execute("DROP TABLE IF EXISTS temp.imp")

    def _import(self, total: int) -> ImportResult:
        db = self._db
        loc = (self.location,)
        db.execute(_DROP_DUPLICATES_IN_FILE)
        db.execute(_DROP_STORED_DUPLICATES, loc)
        for month, (a, b) in _statement_months(db):
            row = db.execute("SELECT line, target, at FROM temp.imp WHERE at >= ? AND at < ?"
                             " ORDER BY line LIMIT 1", (a, b)).fetchone()
            if row is not None:
                raise ImportConflict(row[0], f"{row[1]} at {iso(row[2])} is in {month}, a closed "
                                             "month with a statement: its history is final")
        clash = db.execute(_IMPORT_CONFLICT, loc).fetchone()
        if clash is not None:
            line, target, at, start, end = clash
            raise ImportConflict(
                line, f"{target} at {iso(at)} overlaps a recorded check ({iso(start)} .. "
                      f"{iso(end)}): an import fills only unknown time")
        before = _last_n(db)
        inserted = db.execute(
            "INSERT INTO checks (location, target, at, ok, latency, status, error, interval,"
            " network, unknown) SELECT ?, target, at, ok, latency, status, error, interval,"
            " network, unknown FROM temp.imp ORDER BY target, at", loc).rowcount
        if inserted:  # one transaction: the new rows are numbered before+1 .. before+inserted
            chainstore.chain_range(db, before + 1, before + inserted)
        filled: dict[str, Filled] = {}
        for target, lo, hi, seconds in db.execute(_FILLED, loc).fetchall():
            filled[target] = Filled(start=lo, end=hi, seconds=seconds)
        for target in sorted(filled):
            _rebuild(db, target, self.location)
        if inserted:
            db.execute(
                "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key)"
                " DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            )
        return ImportResult(inserted=inserted, skipped=total - inserted, filled=filled)

    def generation(self) -> int:
        """Bumped whenever history is rewritten from outside the daemon (imports)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def prune(self, before: float) -> int:
        """Delete the blocks of checks whose checks all started before `before` (a
        checkpoint in the chain names them, so the rest stays verifiable) and spans
        that ended before it; returns checks deleted."""
        with self._tx():
            n = chainstore.prune(self._db, before, at=before)
            self._db.execute('DELETE FROM spans WHERE "end" < ?', (before,))
        return int(n)

    # --- incident acknowledgements (records of the hash chain) ------------------------

    def record_ack(self, incident: str, at: float, by: str, note: str, recorded: float) -> Ack:
        """Append an acknowledgement to the chain; returns the incident's first one
        (the one that counts)."""
        payload = {"incident": incident, "at": at, "by": by, "note": note}
        with self._tx():
            chainstore.append(self._db, ACK, payload, at=recorded)
            row = self._db.execute(
                "SELECT seq, at, payload FROM chain WHERE kind = ? AND"
                " json_extract(payload, '$.incident') = ? ORDER BY seq LIMIT 1", (ACK, incident),
            ).fetchone()
        return _ack(row)

    def acks(self, after: int = 0) -> list[Ack]:
        """Acknowledgements appended after chain seq `after`, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, at, payload FROM chain WHERE seq > ? AND kind = ? ORDER BY seq",
                (after, ACK),
            ).fetchall()
        return [_ack(r) for r in rows]

    # --- the hash chain -------------------------------------------------------------

    def append_record(self, kind: str, payload: Mapping[str, Any], now: float) -> int:
        """Append a record that lives in the chain only (see `chainstore`); its seq."""
        with self._tx():
            return chainstore.append(self._db, kind, payload, at=now)

    def records(self, kind: str) -> list[tuple[int, float, dict[str, Any]]]:
        with self._lock:
            return chainstore.records(self._db, kind)

    def chain_top(self) -> int:
        """The seq of the chain's last record (0 when empty)."""
        with self._lock:
            return chainstore.tail(self._db)[0]

    def first_check_at(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT min(at) FROM checks").fetchone()
        return None if row[0] is None else float(row[0])

    def pruned_since(self, at: float) -> bool:
        """Whether pruning may have deleted checks at or after `at`."""
        return any(p["before"] > at for _, _, p in self.records(chainstore.CHECKPOINT))

    def verify(self, *, since_seq: int = 0) -> chainstore.Verdict:
        """Walk the chain in one read transaction (a consistent snapshot; the writer
        is not blocked: WAL)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                return chainstore.verify(self._db, since_seq=since_seq, connect=self._reader)
            finally:
                self._db.execute("ROLLBACK")

    def _reader(self) -> sqlite3.Connection:
        """Another read-only connection to this database (verify's worker threads)."""
        db = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True,
                             check_same_thread=False, timeout=30)
        db.execute("PRAGMA query_only = ON")
        return db

    # --- SLA terms ----------------------------------------------------------------

    def record_terms(self, terms: Terms, now: float) -> TermsHistory:
        """Record `terms` as first seen `now` unless they are the latest version; return
        every version. A reader records nothing: terms it has not seen stored count as
        in force from `now` (they change the future only)."""
        body = terms.to_json()
        if self.read_only:
            with self._lock:
                versions = self._terms()
            if not versions or versions[-1].terms.to_json() != body:
                versions.append(Version(now, terms))
            return TermsHistory(versions)
        with self._tx():
            row = self._db.execute(
                "SELECT body FROM terms ORDER BY rowid DESC LIMIT 1").fetchone()
            if row is None or row[0] != body:
                cur = self._db.execute("INSERT INTO terms VALUES (?, ?)", (now, body))
                chainstore.append(self._db, "terms", chainstore.terms_payload(
                    (cur.lastrowid, now, body)), at=now)
            return TermsHistory(self._terms())

    def terms_history(self) -> list[Version]:
        with self._lock:
            return self._terms()

    def _terms(self) -> list[Version]:
        return [Version(since, Terms.from_json(body)) for since, body in self._db.execute(
            "SELECT since, body FROM terms ORDER BY rowid")]

    # --- maintenance ------------------------------------------------------------

    def save_feed(self, source: str, windows: Iterable[MaintenanceSpec]) -> None:
        """Keep a feed's last good windows (a later report uses them if it is down)."""
        with self._tx():
            self._db.execute("DELETE FROM feed_windows WHERE source = ?", (source,))
            self._db.executemany(
                "INSERT OR REPLACE INTO feed_windows VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(source, w.id, w.start, w.end, w.announced, _targets_json(w.targets), w.reason)
                 for w in windows],
            )

    def feed_windows(self, source: str) -> list[MaintenanceSpec]:
        with self._lock:
            rows = self._db.execute(
                'SELECT id, start, "end", announced, targets, reason FROM feed_windows'
                " WHERE source = ? ORDER BY start", (source,),
            ).fetchall()
        return [MaintenanceSpec(id=r[0], start=r[1], end=r[2], announced=r[3],
                                targets=None if r[4] is None else tuple(json.loads(r[4])),
                                reason=r[5], source=source) for r in rows]

    def record_seen(self, specs: Iterable[MaintenanceSpec], now: float) -> dict[str, list[Seen]]:
        """Remember when each window version was first seen; return every stored
        version of the given windows' ids."""
        specs = list(specs)
        if self.read_only:  # a reader judges a window it never saw as first seen now
            with self._lock:
                out = self._seen({s.id for s in specs})
            return with_unseen(out, specs, now)
        with self._tx():
            for s in specs:
                row = (version_key(s), s.id, s.start, s.end, s.announced,
                       _targets_json(s.targets), now)
                if self._db.execute("INSERT OR IGNORE INTO maintenance_seen VALUES"
                                    " (?, ?, ?, ?, ?, ?, ?)", row).rowcount:
                    chainstore.append(self._db, "maintenance_seen", chainstore.seen_payload(row),
                                      at=now)
            return self._seen({s.id for s in specs})

    def _seen(self, ids: Iterable[str]) -> dict[str, list[Seen]]:
        out: dict[str, list[Seen]] = {}
        for mid in ids:
            rows = self._db.execute(
                'SELECT id, start, "end", announced, targets, first_seen FROM maintenance_seen'
                " WHERE id = ? ORDER BY first_seen", (mid,),
            ).fetchall()
            out[mid] = [
                Seen(id=r[0], start=r[1], end=r[2], announced=r[3],
                     targets=None if r[4] is None else tuple(json.loads(r[4])),
                     first_seen=r[5])
                for r in rows
            ]
        return out


def _statement_months(db: sqlite3.Connection) -> list[tuple[str, tuple[float, float]]]:
    months = sorted({p["month"] for _, _, p in chainstore.records(db, "statement")})
    return [(m, month_range(m)) for m in months]


def _last_n(db: sqlite3.Connection) -> int:
    """The last insertion number given out (AUTOINCREMENT never gives one twice)."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'checks'").fetchone()
    return int(row[0]) if row else 0


def _ack(row: Sequence[Any]) -> Ack:
    seq, recorded, text = row
    p = json.loads(text)
    return Ack(int(seq), str(p["incident"]), float(p["at"]), str(p["by"]), str(p["note"]),
               float(recorded))


def unwritable_reason(path: Path) -> str:
    """Why the database cannot be written, when the file system says so ("" if not)."""
    if str(path) == ":memory:":
        return ""
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f" ({folder} is on a read-only file system)"
    except OSError:
        return ""
    if not os.access(folder, os.W_OK):
        return f" ({folder} is not writable: SQLite needs it for the -wal and -shm files)"
    if path.exists() and not os.access(path, os.W_OK):
        return f" ({path} is read-only)"
    return ""


def _targets_json(targets: tuple[str, ...] | None) -> str | None:
    return None if targets is None else json.dumps(sorted(targets))


def _batched(items: Iterable[_T], n: int) -> Iterator[tuple[_T, ...]]:
    it = iter(items)
    while chunk := tuple(itertools.islice(it, n)):
        yield chunk


def _check_row(c: Check) -> tuple[object, ...]:
    return (c.target, c.at, int(c.ok), c.latency, c.status, c.error, c.interval, int(c.network),
            int(c.unknown))


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()


def _conforms(store: Store) -> HistoryStore:
    return store  # mypy checks here that Store keeps the store contract
