"""The SQLite history: the dialect of the one SQL layer (`sqlstore`) for an SQLite
file, its schema and migrations, and `Store`, the store on it (one location).

WAL mode and one transaction per batch: a `kill -9` loses at most what was not yet
committed. Writes take `BEGIN IMMEDIATE` (SQLite's write lock); reads see the last
commit without blocking the writer. The schema is versioned and each version has a
migration step from the one before; a file written by any earlier slaprobe opens.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

from slaprobe.core.history.timeline import History
from slaprobe.core.model import Check
from slaprobe.history import chainstore
from slaprobe.history.sql import Sql, check_of, check_values
from slaprobe.history.sqlstore import SqlStore, state_int
from slaprobe.history.storeapi import StoreError

SCHEMA_VERSION = 8
__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SqliteBackend", "SqliteSql", "Store",
           "unwritable_reason"]

# The columns of a block of checks, each concatenated (comma-separated, in n order) by
# SQLite itself: per-row work stays in C, which keeps `verify` of millions of checks fast.
# `n` itself needs no column: the count and the n order of every column pin each row's
# place (a row moved, removed or added changes the count or some column).
# Integers and text only (REAL values as integer microseconds; target names cannot hold
# a comma, error texts are quoted), so every SQLite version writes the same text; NULLs
# are written, never skipped, so the columns stay aligned.
# A check's target is written `target@location` when its location is not "default"
# (names cannot hold "@"), so the blocks of a history from before locations keep their
# digests and a location changed outside slaprobe is detected.
COLUMNS = (
    "SELECT count(*), group_concat(CASE location WHEN 'default' THEN target"
    " ELSE target || '@' || location END),"
    " group_concat(CAST(at * 1000000 AS INTEGER)), group_concat(ok + 2 * network + 4 * unknown),"
    " group_concat(coalesce(CAST(latency * 1000000 AS INTEGER), '-')),"
    " group_concat(coalesce(status, '-')), group_concat(quote(error)),"
    " group_concat(CAST(interval * 1000000 AS INTEGER))"
    " FROM checks WHERE n BETWEEN ? AND ?")
# the same before checks had a location (schema 7: its migration chains the rows)
COLUMNS_V7 = COLUMNS.replace(
    "CASE location WHEN 'default' THEN target ELSE target || '@' || location END", "target")
_INSERT_CHECK = (
    "INSERT OR IGNORE INTO checks"
    " (location, target, at, ok, latency, status, error, interval, network, unknown)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_CHAIN = """
    CREATE TABLE chain (
        seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at REAL NOT NULL,
        lo INTEGER, hi INTEGER, count INTEGER NOT NULL, last_at REAL,
        content TEXT NOT NULL, payload TEXT, prev TEXT NOT NULL, digest TEXT NOT NULL
    )
"""


class SqliteSql(Sql):
    """The SQLite spelling (mostly the base class's): a row-by-row insert of checks
    (each row's number is its `lastrowid`), block columns concatenated by SQLite
    (`columns`: COLUMNS_V7 for a schema from before locations)."""

    def __init__(self, conn: sqlite3.Connection, columns: str = COLUMNS) -> None:
        super().__init__(conn)
        self.columns = columns

    def insert_checks(self, location: str, checks: Sequence[Check]) -> list[tuple[int, Check]]:
        out = []
        for c in checks:
            cur = self.conn.execute(_INSERT_CHECK, (location, *check_values(c)))
            if cur.rowcount:
                out.append((int(cur.lastrowid), c))
        return out

    def block(self, lo: int, hi: int) -> tuple[int, list[str | None]]:
        count, *columns = self.conn.execute(self.columns, (lo, hi)).fetchone()
        return int(count), columns


def _rebuild_v2(db: sqlite3.Connection, target: str) -> None:
    """Spans and open run of a target from its checks, in the tables from before
    locations and unknown outcomes (the v2 step)."""
    h = History()
    for row in db.execute("SELECT target, at, ok, latency, status, error, interval, network,"
                          " 0, 'default' FROM checks WHERE target = ? ORDER BY at", (target,)):
        closed = h.add(check_of(row))
        if closed is not None:
            db.execute("INSERT INTO spans VALUES (?, ?, ?, ?)",
                       (target, closed[0], closed[1], int(closed[2])))
    if (r := h.open) is not None:
        db.execute("INSERT INTO open_runs VALUES (?, ?, ?, ?, ?)",
                   (target, r.start, state_int(r.state), r.last_at, r.cap_end))


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
        _rebuild_v2(db, target)


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
    db.execute(_CHAIN)
    sql = SqliteSql(db, COLUMNS_V7)
    top = db.execute("SELECT max(n) FROM checks").fetchone()[0]
    if top:
        chainstore.chain_range(sql, 1, int(top))
    query = chainstore.tables(sql)
    for row in db.execute(query["maintenance_seen"][0] + " ORDER BY first_seen, key").fetchall():
        chainstore.append(sql, "maintenance_seen", chainstore.seen_payload(row), at=row[6])
    for row in db.execute(query["terms"][0] + " ORDER BY rowid").fetchall():
        chainstore.append(sql, "terms", chainstore.terms_payload(row), at=row[1])


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


def _last_n(db: sqlite3.Connection) -> int:
    """The last insertion number given out (AUTOINCREMENT never gives one twice)."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'checks'").fetchone()
    return int(row[0]) if row else 0


def _version(db: sqlite3.Connection) -> int:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


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


def refuse_missing_folder(path: Path) -> None:
    """StoreError naming the path when the database's folder does not exist: a typo or
    a missing state directory, never a place to start a new history (nothing made)."""
    if not path.parent.is_dir():
        raise StoreError(f"cannot open database {path.absolute()}: directory "
                         f"{path.parent.absolute()} does not exist (slaprobe does not create it)")


class SqliteBackend:
    """One SQLite file's connection: opened (and migrated) once, used by one thread at
    a time (a lock), its errors turned into StoreError."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.Lock()
        self._identity: tuple[int, int] | None = None
        memory = str(path) == ":memory:"
        if not memory:
            refuse_missing_folder(self.path)
        try:
            self.conn = sqlite3.connect(str(path), isolation_level=None,
                                        check_same_thread=False, timeout=30)
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open database {path}: {e}") from e
        self.sql = SqliteSql(self.conn)
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            if read_only:  # a reader (report, verify, maintenance list) never writes
                self.conn.execute("PRAGMA query_only = ON")
            self._identity = None if memory else self._file_identity()
        except BaseException as e:
            self.conn.close()  # do not leak the connection (and its file handles)
            if isinstance(e, sqlite3.Error):
                raise StoreError(f"cannot open database {path}: {e}{unwritable_reason(self.path)}"
                                 ) from e
            raise

    @property
    def name(self) -> str:
        return str(self.path)

    def _migrate(self) -> None:
        current = _version(self.conn)
        if current > SCHEMA_VERSION:
            raise StoreError(f"database {self.path} has schema {current}, newer than this "
                             f"slaprobe ({SCHEMA_VERSION})")
        for v in range(current + 1, SCHEMA_VERSION + 1):
            with self.write():
                MIGRATIONS[v](self.conn)
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                                  (str(v),))

    def _error(self, e: sqlite3.Error) -> StoreError:
        return StoreError(f"database {self.path}: {e}")

    def unwritable_file(self) -> str | None:
        """The name of the database's file (itself, its -wal or -shm) the daemon can no
        longer write (made immutable, say), else None. SQLite maps the -shm file: a
        write to it then is SIGBUS, a crash with no word logged. So a writer's store
        touches no file while one is unwritable: the transaction is refused instead
        (StoreError, logged and retried like any failed write)."""
        if self.read_only or self._identity is None:
            return None
        for suffix in ("", "-wal", "-shm"):
            f = Path(f"{self.path}{suffix}")
            if not os.access(f, os.W_OK) and f.exists():
                return f.name
        return None

    def _guard(self) -> None:
        if (name := self.unwritable_file()) is not None:
            raise StoreError(f"database {self.path}: {name} cannot be written (immutable or "
                             "read-only): not touched until it can be (SQLite maps it to "
                             "memory, where a write would crash the daemon)")

    @contextmanager
    def write(self) -> Iterator[Sql]:
        with self._lock:
            self._guard()
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise self._error(e) from e
            try:
                yield self.sql
                self.conn.execute("COMMIT")
            except BaseException as e:
                with suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise self._error(e) from e
                raise

    @contextmanager
    def read(self) -> Iterator[Sql]:
        with self._lock:
            self._guard()
            try:
                yield self.sql
            except sqlite3.Error as e:
                raise self._error(e) from e

    @contextmanager
    def snapshot(self) -> Iterator[Sql]:
        """One read transaction: a consistent snapshot; the writer is not blocked (WAL)."""
        with self.read() as db:
            self.conn.execute("BEGIN")
            try:
                yield db
            finally:
                self.conn.execute("ROLLBACK")

    def readers(self) -> Callable[[], AbstractContextManager[Sql]] | None:
        return None if self._identity is None else self._reader

    @contextmanager
    def _reader(self) -> Iterator[Sql]:
        """A snapshot on another read-only connection to this file (verify's threads)."""
        db = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True,
                             check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA query_only = ON")
            db.execute("BEGIN")
            yield SqliteSql(db)
        finally:
            db.close()

    def version(self) -> int:
        with self._lock:
            return _version(self.conn)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def _file_identity(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def file_problem(self) -> str | None:
        """Whether the database file is still the one this store opened: None when it
        is, else `missing` (removed, or its directory) or `replaced` (another file now
        at the path): writes would go to a file nobody will read again; or
        `unwritable` (it, its -wal or -shm cannot be written: writes wait)."""
        if self._identity is None:
            return None
        try:
            now = self._file_identity()
        except OSError:
            return "missing"
        if now != self._identity:
            return "replaced"
        return "unwritable" if self.unwritable_file() is not None else None

    def check_writable(self) -> None:
        """Raise StoreError unless the database accepts a write (a read-only file or
        filesystem, a directory where the WAL cannot be made). Nothing is changed:
        the probe write is rolled back."""
        try:
            with self._lock:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('write_probe', '1')")
                finally:
                    self.conn.execute("ROLLBACK")
        except sqlite3.Error as e:
            raise StoreError(f"cannot write database {self.path}: {e}"
                             f"{unwritable_reason(self.path)}") from e


class Store(SqlStore):
    """The history in one SQLite file (one location's; several locations share a
    PostgreSQL history: `pgstore`)."""

    def __init__(self, path: str | Path, *, read_only: bool = False,
                 location: str = "default") -> None:
        self.backend: SqliteBackend = SqliteBackend(path, read_only=read_only)
        super().__init__(self.backend, location=location)
        self.path = self.backend.path
