"""The PostgreSQL history: the dialect of the one SQL layer (`sqlstore`) for a
PostgreSQL database, its schema, the writer lock per location, and `PgStore`, the
store on it: one history shared by daemons at several locations.

Concurrency: every writing transaction first takes one transaction-level advisory lock
(`pg_advisory_xact_lock`), so the writers of all locations append to the one chain in
turn and insertion numbers (`n`) are given out, and become visible, in commit order: a
reader that has seen every check up to `n` sees all later ones above it
(`checks_after`). One writer per *location* is a session-level advisory lock keyed by
the location, held by the writer's own connection (the one every write goes through):
the server drops it when that connection ends (a `kill -9` leaves no stale lock), and a
connection opened again (after the server restarted, or the connection dropped) takes
it again before anything is written on it; when another daemon took the location
meanwhile, the store writes no more (`WriterLockLost`). `PgWriterLock` is the same lock
on a connection of its own.

Blocks of checks are chained as in SQLite, their column texts built here in Python
(the same text for the same rows whatever the server's float formatting). psycopg 3,
synchronous; a lost connection is opened again on the next call, and any database
error is a StoreError.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from slaprobe.core.history.reachability import unreachable
from slaprobe.core.model import Check
from slaprobe.core.urls import masked
from slaprobe.history.chainstore import N_COLUMNS
from slaprobe.history.pgdeadline import deadline
from slaprobe.history.sql import CHECK_COLUMNS, Row, Sql
from slaprobe.history.sqlstore import SqlStore
from slaprobe.history.storeapi import LocationLockHeld, StoreError, WriterLockLost

SCHEMA_VERSION = 1
# A hung server (stopped, or behind a partition without resets) is an error within
# seconds: every transaction has a client-side deadline (`pgdeadline`), a connection
# attempt a timeout. `verify`'s read snapshot walks the whole chain: it gets longer.
CALL_DEADLINE = 5.0
SNAPSHOT_DEADLINE = 300.0
CONNECT_TIMEOUT = 3
CHAIN_LOCK = 0x736C6170726F6265  # "slaprobe": the chain's transaction lock
Conn = psycopg.Connection[TupleRow]
_cursor_names = itertools.count()

_V1 = """
    CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE checks (
        n bigserial PRIMARY KEY, location text NOT NULL, target text NOT NULL,
        at double precision NOT NULL, ok boolean NOT NULL, latency double precision,
        status integer, error text, interval double precision NOT NULL,
        network boolean NOT NULL DEFAULT false, unknown boolean NOT NULL DEFAULT false,
        UNIQUE (location, target, at)
    );
    CREATE TABLE spans (
        location text NOT NULL, target text NOT NULL, start double precision NOT NULL,
        "end" double precision NOT NULL, state smallint NOT NULL,
        PRIMARY KEY (location, target, start)
    );
    CREATE TABLE open_runs (
        location text NOT NULL, target text NOT NULL, start double precision NOT NULL,
        state smallint NOT NULL, last_at double precision NOT NULL,
        cap_end double precision NOT NULL, PRIMARY KEY (location, target)
    );
    CREATE TABLE maintenance_seen (
        key text PRIMARY KEY, id text NOT NULL, start double precision NOT NULL,
        "end" double precision NOT NULL, announced double precision NOT NULL, targets text,
        first_seen double precision NOT NULL
    );
    CREATE INDEX maintenance_seen_id ON maintenance_seen (id);
    CREATE TABLE feed_windows (
        source text NOT NULL, id text NOT NULL, start double precision NOT NULL,
        "end" double precision NOT NULL, announced double precision NOT NULL, targets text,
        reason text NOT NULL, PRIMARY KEY (source, id)
    );
    CREATE TABLE terms (
        id bigserial PRIMARY KEY, since double precision NOT NULL, body text NOT NULL
    );
    CREATE TABLE chain (
        seq bigint PRIMARY KEY, kind text NOT NULL, at double precision NOT NULL,
        lo bigint, hi bigint, count bigint NOT NULL, last_at double precision,
        content text NOT NULL, payload text, prev text NOT NULL, digest text NOT NULL
    );
    CREATE INDEX chain_kind ON chain (kind, seq);
    CREATE TABLE writers (
        location text PRIMARY KEY, pid integer NOT NULL, host text NOT NULL,
        listen text NOT NULL, since double precision NOT NULL
    )
"""
MIGRATIONS: dict[int, str] = {1: _V1}



def _micro(x: float | None) -> str:
    return "-" if x is None else str(int(x * 1000000))


def _quote(text: str | None) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


def block_columns(rows: Iterable[Sequence[Any]]) -> tuple[int, list[str]]:
    """A block's column texts from its rows (target, at, ok, latency, status, error,
    interval, network, unknown, location) in n order: the SQLite store's format."""
    cols: list[list[str]] = [[] for _ in range(N_COLUMNS)]
    n = 0
    for target, at, ok, latency, status, error, interval, network, unknown, loc in rows:
        n += 1
        cols[0].append(target if loc == "default" else f"{target}@{loc}")
        cols[1].append(str(int(at * 1000000)))
        cols[2].append(str(int(ok) + 2 * int(network) + 4 * int(unknown)))
        cols[3].append(_micro(latency))
        cols[4].append("-" if status is None else str(status))
        cols[5].append(_quote(error))
        cols[6].append(_micro(interval))
    return n, [",".join(c) for c in cols]


def lock_key(location: str) -> int:
    """The advisory lock key of a location's writer (a signed 64-bit integer)."""
    digest = hashlib.sha256(b"slaprobe writer\n" + location.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _holder(conn: Conn, location: str) -> dict[str, Any]:
    row = conn.execute("SELECT pid, host, listen FROM writers WHERE location = %s",
                       (location,)).fetchone()
    return {} if row is None else {"pid": row[0], "host": row[1], "listen": row[2]}


def take_lock(conn: Conn, url: str, location: str, listen: str, now: float) -> None:
    """The location's writer lock on `conn`, its holder noted; LocationLockHeld if another
    session holds it."""
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(location),)).fetchone()
    if not (got and got[0]):
        raise LocationLockHeld(location, masked(url), _holder(conn, location))
    conn.execute(
        "INSERT INTO writers VALUES (%s, %s, %s, %s, %s) ON CONFLICT (location) DO"
        " UPDATE SET pid = excluded.pid, host = excluded.host, listen = excluded.listen,"
        " since = excluded.since", (location, os.getpid(), socket.gethostname(), listen, now))


class PgWriterLock:
    """One writer per location: a session advisory lock on a connection of its own."""

    def __init__(self, url: str, location: str, *, listen: str, now: float) -> None:
        self.location = location
        try:
            self._conn: Conn | None = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreError(f"cannot open database {masked(url)}: {_reason(e, url)}") from e
        conn = self._conn
        try:
            _migrate(conn, url)
            take_lock(conn, url, location, listen, now)
        except BaseException:
            conn.close()
            self._conn = None
            raise

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the session ends: the server drops its advisory lock
            self._conn = None


def unreachable_server(e: StoreError) -> bool:
    """Whether opening a PostgreSQL history failed because its server could not be
    reached (a later try may succeed), not because the config is wrong."""
    cause = e.__cause__
    return isinstance(cause, psycopg.OperationalError) and unreachable(str(cause))


def _reason(e: BaseException, url: str) -> str:
    """The driver's first line, its password masked (libpq quotes a URL back)."""
    return masked(str(e).strip().splitlines()[0], url) if str(e).strip() else type(e).__name__


def _version(conn: Conn) -> int:
    row = conn.execute("SELECT to_regclass('meta')").fetchone()
    if row is None or row[0] is None:
        return 0
    got = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(got[0]) if got else 0


def _migrate(conn: Conn, url: str) -> None:
    """Bring the schema up to date, one daemon at a time (a transaction lock)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
        current = _version(conn)
        if current > SCHEMA_VERSION:
            raise StoreError(f"database {masked(url)} has schema {current}, newer than this "
                             f"slaprobe ({SCHEMA_VERSION})")
        for v in range(current + 1, SCHEMA_VERSION + 1):
            for stmt in MIGRATIONS[v].split(";"):
                if stmt.strip():
                    conn.execute(stmt.encode())
            conn.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key)"
                         " DO UPDATE SET value = excluded.value", (str(v),))


@lru_cache(maxsize=256)
def _marks(sql: str) -> str:
    return sql.replace("?", "%s")


# the column types of the tables `PgSql.insert` fills, for its arrays
_TYPES = {
    "spans": ("text", "text", "float8", "float8", "smallint"),
    "open_runs": ("text", "text", "float8", "smallint", "float8", "float8"),
    "feed_windows": ("text", "text", "float8", "float8", "float8", "text", "text"),
}


class PgSql(Sql):
    """The PostgreSQL spelling: `%s` marks, `unnest` of arrays for bulk inserts (one
    statement text whatever the row count, so the server prepares it once), server-side
    cursors for long reads, block columns built in Python."""

    terms_id = "id"

    def insert(self, table: str, rows: Sequence[Sequence[Any]], conflict: str = "") -> None:
        if rows:
            arrays = ", ".join(f"%s::{t}[]" for t in _TYPES[table])
            self.conn.execute(f"INSERT INTO {table} SELECT * FROM unnest({arrays}) {conflict}",  # noqa: S608
                              [list(col) for col in zip(*rows, strict=True)])

    def is_in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def q(self, sql: str) -> str:
        return _marks(sql)

    def stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[Row]:
        with self.conn.cursor(name=f"stream{next(_cursor_names)}") as cur:
            cur.itersize = 10000
            cur.execute(self.q(sql), args)
            yield from cur

    def insert_id(self, sql: str, args: Sequence[Any], column: str) -> int:
        return int(self.run(f"{sql} RETURNING {column}", args).fetchone()[0])

    def insert_checks(self, location: str, checks: Sequence[Check]) -> list[tuple[int, Check]]:
        rows = self.conn.execute(
            "INSERT INTO checks (location, target, at, ok, latency, status, error, interval,"
            " network, unknown) SELECT %s, u.target, u.at, u.ok, u.latency, u.status, u.error,"
            " u.interval, u.network, u.unknown FROM unnest(%s::text[], %s::float8[],"
            " %s::bool[], %s::float8[], %s::int[], %s::text[], %s::float8[], %s::bool[],"
            " %s::bool[]) WITH ORDINALITY AS u(target, at, ok, latency, status, error, interval,"
            " network, unknown, ord) ORDER BY u.ord ON CONFLICT (location, target, at) DO NOTHING"
            " RETURNING n, target, at",
            (location, [c.target for c in checks], [c.at for c in checks],
             [c.ok for c in checks], [c.latency for c in checks], [c.status for c in checks],
             [c.error for c in checks], [c.interval for c in checks],
             [c.network for c in checks], [c.unknown for c in checks])).fetchall()
        first: dict[tuple[str, float], Check] = {}
        for c in checks:
            first.setdefault((c.target, c.at), c)
        return sorted(((int(n), first[t, a]) for n, t, a in rows), key=lambda r: r[0])

    def block(self, lo: int, hi: int) -> tuple[int, list[str | None]]:
        count, columns = block_columns(self.all(
            f"SELECT {CHECK_COLUMNS} FROM checks WHERE n BETWEEN ? AND ? ORDER BY n",  # noqa: S608
            (lo, hi)))
        return count, list(columns)

    def written_block(self, written: Sequence[tuple[int, Check]]) -> tuple[int, list[str | None]]:
        """From the values written (the server returns exactly the doubles it was
        given): no second round trip."""
        count, columns = block_columns(
            (c.target, c.at, c.ok, c.latency, c.status, c.error, c.interval, c.network,
             c.unknown, c.location) for _, c in written)
        return count, list(columns)

    def json_field(self, column: str, key: str) -> str:
        return f"{column}::jsonb ->> '{key}'"

    def distinct_list(self, column: str) -> str:
        return f"string_agg(DISTINCT {column}, ',')"


class PgBackend:
    """One PostgreSQL database's connection, opened again when lost; one thread at a
    time (a lock); writers take the chain lock; errors become StoreError."""

    def __init__(self, url: str, *, read_only: bool = False,
                 writer: tuple[str, str] | None = None, unreached: str | None = None) -> None:
        """`unreached`: the server could not be reached at start (why): nothing is opened
        now, every call is a StoreError until `reach` opens the first connection."""
        self.url = url
        self.read_only = read_only
        # (location, listen): this connection holds the location's writer lock, taken
        # again on every new connection (None: no lock, e.g. a reader or `import`)
        self.writer = writer
        self.lock_lost: str | None = None  # why the lock could not be taken again
        self._lock = threading.Lock()
        self._conn: Conn | None = None
        self._locking = False  # the first connection takes the lock after migrating
        self.unreached = unreached  # why the first connection is still to be made
        if unreached is None:
            with self._lock:
                self._open()

    def reach(self) -> None:
        """Make the first connection of a backend whose server could not be reached at
        start: the schema brought up to date, the location's writer lock taken (held by
        another daemon now: WriterLockLost, this store writes no more). StoreError while
        the server still cannot be reached (`unreached` says why)."""
        with self._lock:
            if self.unreached is None:
                return
            try:
                self._open()
            except LocationLockHeld as e:
                self.lock_lost = (f"the writer lock could not be taken when the server was"
                                  f" reached: {e}. This daemon does not write")
                self.unreached = None
                raise WriterLockLost(self.lock_lost) from None
            except StoreError as e:
                self.unreached = str(e)
                raise
            self.unreached = None

    def _open(self) -> None:
        """The first connection: the schema checked (or migrated), the lock taken."""
        conn = self._new_connection()
        try:
            if self.read_only:
                if _version(conn) > SCHEMA_VERSION:
                    raise StoreError(f"database {self.name} has a schema newer than this"
                                     f" slaprobe ({SCHEMA_VERSION})")
                if _version(conn) < SCHEMA_VERSION:
                    raise StoreError(f"database {self.name} holds no slaprobe history")
            else:
                _migrate(conn, self.url)
                if self.writer is not None:
                    take_lock(conn, self.url, *self.writer, now=time.time())
                    self._locking = True
        except psycopg.Error as e:
            self._drop()
            raise StoreError(f"cannot open database {self.name}: {_reason(e, self.url)}") from e
        except BaseException:
            self._drop()
            raise

    @property
    def name(self) -> str:
        return masked(self.url)

    def _connect(self) -> Conn:
        if self.lock_lost is not None:
            raise WriterLockLost(self.lock_lost)
        if self.unreached is not None:  # only `reach` makes the first connection
            raise StoreError(f"database {self.name} not reached yet: {self.unreached}")
        return self._new_connection()

    def _new_connection(self) -> Conn:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.Error as e:
            raise StoreError(f"cannot open database {self.name}: {_reason(e, self.url)}") from e
        if self.read_only:
            conn.execute("SET default_transaction_read_only = on")
        if self._locking and self.writer is not None:
            self._retake(conn, *self.writer)
        self._conn = conn
        return conn

    def _retake(self, conn: Conn, location: str, listen: str) -> None:
        """A new connection of the writer: the location's lock again before any write."""
        try:
            take_lock(conn, self.url, location, listen, time.time())
        except LocationLockHeld as e:
            with suppress(psycopg.Error):
                conn.close()
            self.lock_lost = ("the writer lock could not be taken again when the connection"
                              f" came back: {e}. This daemon stopped writing")
            raise WriterLockLost(self.lock_lost) from None
        except psycopg.Error as e:
            with suppress(psycopg.Error):
                conn.close()
            raise StoreError(f"cannot open database {self.name}: {_reason(e, self.url)}") from e

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    @contextmanager
    def _tx(self, *, write: bool, snapshot: bool = False) -> Iterator[Sql]:
        """One transaction, within its deadline from the call on: the wait for this
        backend's lock, the connection and the transaction all count."""
        limit = SNAPSHOT_DEADLINE if snapshot else CALL_DEADLINE
        start = time.monotonic()
        if not self._lock.acquire(timeout=limit):
            raise StoreError(f"database {self.name}: no answer within {limit:g} s")
        try:
            conn = self._connect()
            left = max(limit - (time.monotonic() - start), 0.1)
            with deadline(conn, left) as expired:
                try:
                    if snapshot:  # a repeatable-read snapshot: writers are not blocked
                        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        try:
                            yield PgSql(conn)
                        finally:
                            conn.execute("ROLLBACK")
                        return
                    with conn.transaction():
                        if write:
                            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
                        yield PgSql(conn)
                except psycopg.Error as e:
                    if conn.broken or conn.closed:
                        self._drop()
                    why = f"no answer within {limit:g} s" if expired.fired else _reason(e, self.url)
                    raise StoreError(f"database {self.name}: {why}") from e
        finally:
            self._lock.release()

    def write(self) -> AbstractContextManager[Sql]:
        return self._tx(write=True)

    def read(self) -> AbstractContextManager[Sql]:
        return self._tx(write=False)

    def snapshot(self) -> AbstractContextManager[Sql]:
        return self._tx(write=False, snapshot=True)

    def readers(self) -> Callable[[], AbstractContextManager[Sql]] | None:
        return None  # blocks are checked on the one snapshot (the server does the reading)

    def version(self) -> int:
        with self.read() as db:
            return _version(db.conn)

    def close(self) -> None:
        """Close the connection; while a call still waits on a hung server (at most its
        deadline), leave it to that call and to the process's exit."""
        if self._lock.acquire(timeout=1.0):
            try:
                self._drop()
            finally:
                self._lock.release()

    def check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"cannot write database {self.name}: opened read-only")
        try:
            with self._lock:
                conn = self._connect()
                with conn.transaction(force_rollback=True):
                    conn.execute("INSERT INTO meta VALUES ('write_probe', '1') ON CONFLICT (key)"
                                 " DO UPDATE SET value = excluded.value")
        except psycopg.Error as e:
            raise StoreError(f"cannot write database {self.name}: {_reason(e, self.url)}") from e

    def file_problem(self) -> str | None:
        return None  # a server's database has no file of ours to lose


class PgStore(SqlStore):
    """One PostgreSQL history, shared by the daemons of several locations."""

    def __init__(self, url: str, *, read_only: bool = False, location: str = "default",
                 listen: str | None = None, unreached: str | None = None) -> None:
        """`listen`: this store is its location's writer (holds its lock; LocationLockHeld
        when another daemon does), noted with the address it listens on. `unreached`:
        the server could not be reached at start (why); `reach` connects later."""
        writer = None if listen is None or read_only else (location, listen)
        self.pg = PgBackend(url, read_only=read_only, writer=writer, unreached=unreached)
        super().__init__(self.pg, location=location)
        self.url = url

    @property
    def reached(self) -> bool:
        """Whether the first connection was made (always, unless opened `unreached`)."""
        return self.pg.unreached is None

    def reach(self) -> None:
        """The first connection of a store opened `unreached` (`PgBackend.reach`)."""
        self.pg.reach()
