"""PostgreSQL history store: one history shared by daemons at several locations.

The same contract as the SQLite store (`storeapi.HistoryStore`, one contract test suite):
checks with their location, run-length spans and open runs per location and target, the
SLA terms, maintenance first-seen times, feeds, acknowledgements and the hash chain.

Concurrency: every writing transaction first takes one transaction-level advisory lock
(`pg_advisory_xact_lock`), so the writers of all locations append to the one chain in
turn and insertion numbers (`n`) are given out, and become visible, in commit order: a
reader that has seen every check up to `n` sees all later ones above it
(`checks_after`). One writer per *location* is a session-level advisory lock keyed by
the location (`PgWriterLock`), held on its own connection for the daemon's life; the
server drops it when that connection ends (a `kill -9` leaves no stale lock).

Blocks of checks are chained as in SQLite (`chainstore`), their column texts built here
in Python (the same text for the same rows whatever the server's float formatting).
Methods are synchronous (psycopg 3), called through `asyncio.to_thread`; a lost
connection is opened again on the next call, and any database error is a StoreError.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import psycopg
from psycopg.rows import TupleRow

from slaprobe.core.evidence.chain import GENESIS, content_digest, next_record, record_digest
from slaprobe.core.evidence.terms import Terms, TermsHistory, Version
from slaprobe.core.history.timeline import History, OpenRun
from slaprobe.core.maintenance.rules import Seen, version_key, with_unseen
from slaprobe.core.model import Check, State
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.core.timefmt import iso, month_range
from slaprobe.core.urls import mask_password
from slaprobe.history import chainstore
from slaprobe.history.chainstore import (
    BLOCK_CHECKS,
    BLOCK_SECONDS,
    CHECKPOINT,
    CHECKS,
    Content,
    Verdict,
)
from slaprobe.history.chainstore import record_name as _name
from slaprobe.history.storeapi import ACK, Ack, Filled, ImportConflict, ImportResult, StoreError

SCHEMA_VERSION = 1
UNKNOWN_STATE = -1
CHAIN_LOCK = 0x736C6170726F6265  # "slaprobe": the chain's transaction lock
STATEMENT = "statement"  # the chain kind of a closed month's statement (statements.KIND)
_T = TypeVar("_T")
Conn = psycopg.Connection[TupleRow]

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

_CHECK_COLUMNS = "target, at, ok, latency, status, error, interval, network, unknown, location"
_PASSWORD_PARAM = re.compile(r"(?i)([?&]password=)[^&#]*")


def masked(url: str) -> str:
    """The URL with its password (in the user part or a `password=` parameter) replaced
    by `***`, for logs, errors and metrics."""
    return _PASSWORD_PARAM.sub(r"\1***", mask_password(url))


def _row_check(row: Sequence[Any]) -> Check:
    target, at, ok, latency, status, error, interval, network, unknown, location = row
    return Check(target=target, at=float(at), ok=bool(ok), interval=float(interval),
                 latency=latency, status=status, error=error, network=bool(network),
                 unknown=bool(unknown), location=location)


def _state_int(state: State | None) -> int:
    return UNKNOWN_STATE if state is None else int(state)


def _state_of(value: int) -> State | None:
    return None if value == UNKNOWN_STATE else State(value)


def _micro(x: float | None) -> str:
    return "-" if x is None else str(int(x * 1000000))


def _quote(text: str | None) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


def block_columns(rows: Iterable[Sequence[Any]]) -> tuple[int, list[str]]:
    """A block's column texts from its rows (target, at, ok, latency, status, error,
    interval, network, unknown, location) in n order: the SQLite store's format."""
    cols: list[list[str]] = [[] for _ in range(chainstore.N_COLUMNS)]
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


class LocationLockHeld(Exception):
    """Another daemon writes this location of the shared history."""

    def __init__(self, location: str, database: str, holder: Mapping[str, Any]) -> None:
        super().__init__(
            f"location {location!r} of database {database} is in use by another slaprobe run "
            f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, listening on "
            f"{holder.get('listen', '?')}); one daemon writes a location: stop it, or give "
            "this one another [daemon] location")
        self.holder = dict(holder)


class PgWriterLock:
    """One writer per location: a session advisory lock on a connection of its own."""

    def __init__(self, url: str, location: str, *, listen: str, now: float) -> None:
        self.location = location
        try:
            self._conn: Conn | None = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreError(f"cannot open database {masked(url)}: {_reason(e)}") from e
        conn = self._conn
        try:
            _migrate(conn, url)
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(location),)
                               ).fetchone()
            if not (got and got[0]):
                row = conn.execute("SELECT pid, host, listen FROM writers WHERE location = %s",
                                   (location,)).fetchone()
                holder = {} if row is None else {"pid": row[0], "host": row[1],
                                                 "listen": row[2]}
                raise LocationLockHeld(location, masked(url), holder)
            conn.execute(
                "INSERT INTO writers VALUES (%s, %s, %s, %s, %s) ON CONFLICT (location) DO"
                " UPDATE SET pid = excluded.pid, host = excluded.host, listen = excluded.listen,"
                " since = excluded.since", (location, os.getpid(), socket.gethostname(), listen,
                                            now))
        except BaseException:
            conn.close()
            self._conn = None
            raise

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the session ends: the server drops its advisory lock
            self._conn = None


def _reason(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


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


class PgStore:
    """One PostgreSQL history; safe to call from one worker thread at a time."""

    def __init__(self, url: str, *, read_only: bool = False, location: str = "default",
                 ) -> None:
        self.url = url
        self.read_only = read_only
        self.location = location
        self._lock = threading.Lock()
        self._open: _OpenBlock | None = None
        self._conn: Conn | None = None
        with self._lock:
            conn = self._connect()
            try:
                if read_only:
                    if _version(conn) > SCHEMA_VERSION:
                        raise StoreError(f"database {self.name} has a schema newer than this"
                                         f" slaprobe ({SCHEMA_VERSION})")
                    if _version(conn) < SCHEMA_VERSION:
                        raise StoreError(f"database {self.name} holds no slaprobe history")
                else:
                    _migrate(conn, url)
            except psycopg.Error as e:
                self._drop()
                raise StoreError(f"cannot open database {self.name}: {_reason(e)}") from e
            except BaseException:
                self._drop()
                raise

    @property
    def name(self) -> str:
        return masked(self.url)

    # --- connection ------------------------------------------------------------

    def _connect(self) -> Conn:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreError(f"cannot open database {self.name}: {_reason(e)}") from e
        if self.read_only:
            conn.execute("SET default_transaction_read_only = on")
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
        self._open = None

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[Conn]:
        """A transaction on a live connection; writers take the chain lock first."""
        with self._lock:
            conn = self._connect()
            try:
                with conn.transaction():
                    if write:
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
                    yield conn
            except psycopg.Error as e:
                self._open = None  # rolled back: so is the open block
                if conn.broken or conn.closed:
                    self._drop()
                raise StoreError(f"database {self.name}: {_reason(e)}") from e
            except BaseException:
                self._open = None
                raise

    def _read(self, fn: Callable[[Conn], _T]) -> _T:
        with self._tx(write=False) as conn:
            return fn(conn)

    def version(self) -> int:
        return self._read(_version)

    def close(self) -> None:
        with self._lock:
            self._drop()

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
            raise StoreError(f"cannot write database {self.name}: {_reason(e)}") from e

    def file_problem(self) -> str | None:
        return None  # a server's database has no file of ours to lose

    # --- checks and timelines ----------------------------------------------------

    def write(self, checks: Sequence[Check]) -> None:
        """Store a batch of this location's checks and fold them into its stored
        timelines, in one transaction."""
        loc = self.location
        for c in checks:
            if c.location != loc:
                raise ValueError(f"check of {c.target} from location {c.location!r} given to "
                                 f"the writer of location {loc!r}")
        if not checks:
            return
        with self._tx() as conn:
            self._write(conn, checks)

    def _write(self, conn: Conn, checks: Sequence[Check]) -> None:
        """Insert, fold and chain one batch: the insert returns the open runs of the
        batch's targets in the same round trip (a target's last span is read only when
        it has no open run), and the block's column texts are built from the values
        written (the server returns exactly the doubles it was given)."""
        loc = self.location
        rows = conn.execute(
            "WITH ins AS (INSERT INTO checks (location, target, at, ok, latency, status, error,"
            " interval, network, unknown) SELECT %s, u.target, u.at, u.ok, u.latency,"
            " u.status, u.error, u.interval, u.network, u.unknown FROM unnest(%s::text[],"
            " %s::float8[], %s::bool[], %s::float8[], %s::int[], %s::text[], %s::float8[],"
            " %s::bool[], %s::bool[]) WITH ORDINALITY AS u(target, at, ok, latency, status,"
            " error, interval, network, unknown, ord) ORDER BY u.ord"
            " ON CONFLICT (location, target, at) DO NOTHING RETURNING n, target, at)"
            " SELECT ins.n, ins.target, ins.at, o.start, o.state, o.last_at, o.cap_end"
            " FROM ins LEFT JOIN open_runs o ON o.location = %s AND o.target = ins.target",
            (loc, [c.target for c in checks], [c.at for c in checks], [c.ok for c in checks],
             [c.latency for c in checks], [c.status for c in checks],
             [c.error for c in checks], [c.interval for c in checks],
             [c.network for c in checks], [c.unknown for c in checks], loc),
        ).fetchall()
        number = {(t, a): int(n) for n, t, a, *_ in rows}
        runs = {t: None if st is None else OpenRun(st, _state_of(state), last, cap)
                for _, t, _, st, state, last, cap in rows}
        last_span = {}
        if new := sorted(t for t, run in runs.items() if run is None):  # one query for all
            last_span = {t: (a, b, State(st)) for t, a, b, st in conn.execute(
                'SELECT DISTINCT ON (target) target, start, "end", state FROM spans'
                " WHERE location = %s AND target = ANY(%s) ORDER BY target, start DESC",
                (loc, new)).fetchall()}
        folding: dict[str, History] = {}
        rebuild: set[str] = set()
        spans: list[tuple[Any, ...]] = []
        written: list[tuple[int, Check]] = []
        for c in checks:
            n = number.pop((c.target, c.at), None)
            if n is None:
                continue  # a duplicate: stored before, or earlier in this batch
            written.append((n, c))
            if c.target in rebuild:
                continue
            h = folding.get(c.target)
            if h is None:
                h = folding[c.target] = History()
                h.open = runs.get(c.target)
                if h.open is None and c.target in last_span:
                    h.spans.append(*last_span[c.target])
            try:
                closed = h.add(c)
            except ValueError:
                rebuild.add(c.target)
                continue
            if closed is not None:
                spans.append((c.target, closed[0], closed[1], int(closed[2])))
        if spans:
            conn.execute(
                'INSERT INTO spans SELECT %s, * FROM unnest(%s::text[], %s::float8[],'
                ' %s::float8[], %s::smallint[]) ON CONFLICT (location, target, start)'
                ' DO UPDATE SET "end" = excluded."end", state = excluded.state',
                (loc, *map(list, zip(*spans, strict=True))))
        opens = [(t, h.open.start, _state_int(h.open.state), h.open.last_at, h.open.cap_end)
                 for t, h in folding.items() if t not in rebuild and h.open is not None]
        if opens:
            conn.execute(
                "INSERT INTO open_runs SELECT %s, * FROM unnest(%s::text[], %s::float8[],"
                " %s::smallint[], %s::float8[], %s::float8[]) ON CONFLICT (location, target)"
                " DO UPDATE SET start = excluded.start, state = excluded.state,"
                " last_at = excluded.last_at, cap_end = excluded.cap_end",
                (loc, *map(list, zip(*opens, strict=True))))
        for target in rebuild:
            _rebuild(conn, loc, target)
        if written:
            written.sort(key=lambda w: w[0])
            count, columns = block_columns(
                (c.target, c.at, c.ok, c.latency, c.status, c.error, c.interval, c.network,
                 c.unknown, c.location) for _, c in written)
            self._add_block(conn, written[0][0], written[-1][0],
                            last_at=max(c.at for _, c in written), count=count, columns=columns)

    def _add_block(self, conn: Conn, lo: int, hi: int, *, last_at: float, count: int,
                   columns: list[str]) -> None:
        """Chain the checks just inserted with n in [lo, hi]: extend the open block when
        it is still the chain's last record (no other writer appended since), else open
        a new one."""
        seq, prev = _tail_record(conn)
        ob = self._open
        if (ob is None or ob.seq != seq or ob.digest != prev or ob.hi >= lo
                or ob.content.count + count > BLOCK_CHECKS or last_at - ob.at >= BLOCK_SECONDS):
            ob = _OpenBlock(seq=seq + 1, at=last_at, lo=lo, hi=hi, last_at=last_at, prev=prev)
            ob.content.add(count, columns)
            content = ob.content.digest()
            ob.digest = record_digest(prev, (ob.seq, CHECKS, ob.at, lo, hi, ob.content.count,
                                             last_at, content))
            conn.execute("INSERT INTO chain VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL, %s,"
                         " %s)", (ob.seq, CHECKS, ob.at, lo, hi, ob.content.count, last_at,
                                  content, prev, ob.digest))
        else:
            ob.content.add(count, columns)
            ob.hi, ob.last_at = hi, max(ob.last_at, last_at)
            content = ob.content.digest()
            ob.digest = record_digest(ob.prev, (ob.seq, CHECKS, ob.at, ob.lo, ob.hi,
                                                ob.content.count, ob.last_at, content))
            conn.execute("UPDATE chain SET hi = %s, count = %s, last_at = %s, content = %s,"
                         " digest = %s WHERE seq = %s", (ob.hi, ob.content.count, ob.last_at,
                                                        content, ob.digest, ob.seq))
        self._open = ob

    def load(self, target: str, since: float, *, location: str | None = None) -> History:
        loc = self.location if location is None else location

        def run(conn: Conn) -> History:
            h = History()
            with conn.cursor() as cur:
                cur.execute('SELECT start, "end", state FROM spans WHERE location = %s AND'
                            ' target = %s AND "end" > %s ORDER BY start', (loc, target, since))
                for s, e, st in cur:
                    h.spans.append(s, e, State(st))
            h.open = _open_run(conn, loc, target)
            return h

        return self._read(run)

    def locations(self) -> list[str]:
        return sorted(self._read(lambda c: [r[0] for r in c.execute(
            "SELECT DISTINCT location FROM open_runs").fetchall()]))

    def load_locations(self, target: str, since: float) -> dict[str, History]:
        return {loc: self.load(target, since, location=loc) for loc in self.locations()}

    def checks(self, target: str, a: float, b: float, *, location: str | None = None,
               ) -> list[Check]:
        loc = self.location if location is None else location
        rows = self._read(lambda c: c.execute(
            f"SELECT {_CHECK_COLUMNS} FROM checks WHERE location = %s AND target = %s"  # noqa: S608
            " AND at >= %s AND at < %s ORDER BY at", (loc, target, a, b)).fetchall())
        return [_row_check(r) for r in rows]

    def check_watermark(self) -> int:
        return int(self._read(lambda c: _one(c, "SELECT coalesce(max(n), 0) FROM checks")))

    def checks_after(self, n: int, *, limit: int = 10000) -> tuple[list[Check], int]:
        rows = self._read(lambda c: c.execute(
            f"SELECT n, {_CHECK_COLUMNS} FROM checks WHERE n > %s ORDER BY n LIMIT %s",  # noqa: S608
            (n, limit)).fetchall())
        top = int(rows[-1][0]) if rows else n
        return [c for c in (_row_check(r[1:]) for r in rows)
                if c.location != self.location], top

    def count_checks(self) -> int:
        return int(self._read(lambda c: _one(c, "SELECT count(*) FROM checks")))

    def first_check_at(self) -> float | None:
        v = self._read(lambda c: _one(c, "SELECT min(at) FROM checks"))
        return None if v is None else float(v)

    # --- imports -------------------------------------------------------------------

    def import_checks(self, rows: Iterable[tuple[int, Check]]) -> ImportResult:
        """Backfill numbered checks into this location's unknown time only, all or
        nothing: the same rules and messages as the SQLite store."""
        staged = [(line, c) for line, c in rows]
        loc = self.location
        first: dict[tuple[str, float], tuple[int, Check]] = {}
        clash: tuple[int, str, float, int] | None = None
        for line, c in sorted(staged, key=lambda r: r[0]):
            key = (c.target, c.at)
            seen = first.get(key)
            if seen is None:
                first[key] = (line, c)
            elif not _same(seen[1], c) and clash is None:
                clash = (line, c.target, c.at, seen[0])
        if clash is not None:
            line, target, at, other = clash
            raise ImportConflict(line, f"{target} at {iso(at)} is also on line {other} "
                                       "with another outcome")
        with self._tx() as conn:
            return self._import(conn, loc, len(staged), sorted(first.values()))

    def _import(self, conn: Conn, loc: str, total: int, rows: list[tuple[int, Check]],
                ) -> ImportResult:
        by_target: dict[str, list[tuple[int, Check]]] = {}
        for line, c in rows:
            by_target.setdefault(c.target, []).append((line, c))
        recorded: dict[str, list[Check]] = {}
        keep: list[tuple[int, Check]] = []
        for target, items in by_target.items():
            lo = min(c.at for _, c in items)
            hi = max(c.at for _, c in items)
            recorded[target] = rec = _around(conn, loc, target, lo, hi)
            at_of = {c.at: c for c in rec}
            keep += [(line, c) for line, c in items
                     if not (c.at in at_of and _same(at_of[c.at], c))]
        keep.sort(key=lambda r: r[0])
        for month, (a, b) in _statement_months(conn):
            hit = next(((line, c) for line, c in keep if a <= c.at < b), None)
            if hit is not None:
                raise ImportConflict(hit[0], f"{hit[1].target} at {iso(hit[1].at)} is in {month},"
                                             " a closed month with a statement: its history is"
                                             " final")
        conflict = _import_conflict(recorded, keep)
        if conflict is not None:
            line, c, start, end = conflict
            raise ImportConflict(
                line, f"{c.target} at {iso(c.at)} overlaps a recorded check ({iso(start)} .. "
                      f"{iso(end)}): an import fills only unknown time")
        inserted = 0
        if keep:
            ordered = sorted((c for _, c in keep), key=lambda c: (c.target, c.at))
            got = conn.execute(
                "INSERT INTO checks (location, target, at, ok, latency, status, error, interval,"
                " network, unknown) SELECT %s, u.target, u.at, u.ok, u.latency, u.status,"
                " u.error, u.interval, u.network, u.unknown FROM unnest(%s::text[],"
                " %s::float8[], %s::bool[], %s::float8[], %s::int[], %s::text[], %s::float8[],"
                " %s::bool[], %s::bool[]) WITH ORDINALITY AS u(target, at, ok, latency, status,"
                " error, interval, network, unknown, ord) ORDER BY u.ord RETURNING n",
                (loc, [c.target for c in ordered], [c.at for c in ordered],
                 [c.ok for c in ordered], [c.latency for c in ordered],
                 [c.status for c in ordered], [c.error for c in ordered],
                 [c.interval for c in ordered], [c.network for c in ordered],
                 [c.unknown for c in ordered])).fetchall()
            inserted = len(got)
            ns = [int(r[0]) for r in got]
            _chain_range(conn, min(ns), max(ns))
            self._open = None
        filled: dict[str, Filled] = {}
        for target in sorted({c.target for _, c in keep}):
            mine = sorted(c.at for _, c in keep if c.target == target)
            lo, hi = mine[0], mine[-1]
            stream = _around(conn, loc, target, lo, hi)
            ends = []
            for i, c in enumerate(stream):
                if lo <= c.at <= hi and c.at in set(mine):
                    nxt = stream[i + 1].at if i + 1 < len(stream) else math.inf
                    ends.append((c.at, min(c.at + 2 * c.interval, nxt)))
            filled[target] = Filled(start=min(a for a, _ in ends), end=max(e for _, e in ends),
                                    seconds=sum(e - a for a, e in ends))
            _rebuild(conn, loc, target)
        if inserted:
            conn.execute("INSERT INTO meta VALUES ('generation', '1') ON CONFLICT (key)"
                         " DO UPDATE SET value = (meta.value::bigint + 1)::text")
        return ImportResult(inserted=inserted, skipped=total - inserted, filled=filled)

    def generation(self) -> int:
        v = self._read(lambda c: _one(c, "SELECT value FROM meta WHERE key = 'generation'"))
        return int(v) if v is not None else 0

    def prune(self, before: float) -> int:
        with self._tx() as conn:
            done = _pruned_blocks(conn)
            blocks = [(int(s), int(lo), int(hi)) for s, lo, hi in conn.execute(
                "SELECT seq, lo, hi FROM chain WHERE kind = %s AND last_at < %s ORDER BY seq",
                (CHECKS, before)).fetchall() if int(s) not in done]
            deleted = 0
            for _, lo, hi in blocks:
                cur = conn.execute("DELETE FROM checks WHERE n BETWEEN %s AND %s", (lo, hi))
                deleted += cur.rowcount
            if blocks:
                _append(conn, CHECKPOINT, {"before": before, "blocks": [b[0] for b in blocks],
                                           "checks": deleted}, at=before)
                self._open = None
            conn.execute('DELETE FROM spans WHERE "end" < %s', (before,))
        return deleted

    # --- acknowledgements and the chain ---------------------------------------------

    def record_ack(self, incident: str, at: float, by: str, note: str, recorded: float) -> Ack:
        payload = {"incident": incident, "at": at, "by": by, "note": note}
        with self._tx() as conn:
            _append(conn, ACK, payload, at=recorded)
            self._open = None
            row = conn.execute(
                "SELECT seq, at, payload FROM chain WHERE kind = %s AND"
                " payload::jsonb ->> 'incident' = %s ORDER BY seq LIMIT 1", (ACK, incident),
            ).fetchone()
        assert row is not None
        return _ack(row)

    def acks(self, after: int = 0) -> list[Ack]:
        rows = self._read(lambda c: c.execute(
            "SELECT seq, at, payload FROM chain WHERE seq > %s AND kind = %s ORDER BY seq",
            (after, ACK)).fetchall())
        return [_ack(r) for r in rows]

    def append_record(self, kind: str, payload: Mapping[str, Any], now: float) -> int:
        """Append a chain-only record; a month's statement only once, whichever daemon
        of the shared history closes the month first (the others get its seq)."""
        with self._tx() as conn:
            if kind == STATEMENT and "month" in payload:
                row = conn.execute("SELECT seq FROM chain WHERE kind = %s AND"
                                   " payload::jsonb ->> 'month' = %s ORDER BY seq LIMIT 1",
                                   (kind, payload["month"])).fetchone()
                if row is not None:
                    return int(row[0])
            self._open = None
            return _append(conn, kind, payload, at=now)

    def records(self, kind: str) -> list[tuple[int, float, dict[str, Any]]]:
        return self._read(lambda c: _records(c, kind))

    def chain_top(self) -> int:
        return self._read(lambda c: _tail_record(c)[0])

    def pruned_since(self, at: float) -> bool:
        return any(p["before"] > at for _, _, p in self.records(CHECKPOINT))

    def verify(self, *, since_seq: int = 0) -> Verdict:
        """Walk the chain in one repeatable-read snapshot (writers are not blocked)."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    return _verify(conn, since_seq)
                finally:
                    conn.execute("ROLLBACK")
            except psycopg.Error as e:
                if conn.broken or conn.closed:
                    self._drop()
                raise StoreError(f"database {self.name}: {_reason(e)}") from e

    # --- SLA terms -------------------------------------------------------------------

    def record_terms(self, terms: Terms, now: float) -> TermsHistory:
        body = terms.to_json()
        if self.read_only:
            versions = self.terms_history()
            if not versions or versions[-1].terms.to_json() != body:
                versions.append(Version(now, terms))
            return TermsHistory(versions)
        with self._tx() as conn:
            row = conn.execute("SELECT body FROM terms ORDER BY id DESC LIMIT 1").fetchone()
            if row is None or row[0] != body:
                got = conn.execute("INSERT INTO terms (since, body) VALUES (%s, %s) RETURNING id",
                                   (now, body)).fetchone()
                assert got is not None
                _append(conn, "terms", chainstore.terms_payload((int(got[0]), now, body)),
                        at=now)
                self._open = None
            return TermsHistory(_terms(conn))

    def terms_history(self) -> list[Version]:
        return self._read(_terms)

    # --- maintenance -------------------------------------------------------------------

    def save_feed(self, source: str, windows: Iterable[MaintenanceSpec]) -> None:
        rows = [(source, w.id, w.start, w.end, w.announced, _targets_json(w.targets), w.reason)
                for w in windows]
        with self._tx(write=False) as conn:
            conn.execute("DELETE FROM feed_windows WHERE source = %s", (source,))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO feed_windows VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT"
                    ' (source, id) DO UPDATE SET start = excluded.start, "end" = excluded."end",'
                    " announced = excluded.announced, targets = excluded.targets,"
                    " reason = excluded.reason", rows)

    def feed_windows(self, source: str) -> list[MaintenanceSpec]:
        rows = self._read(lambda c: c.execute(
            'SELECT id, start, "end", announced, targets, reason FROM feed_windows'
            " WHERE source = %s ORDER BY start", (source,)).fetchall())
        return [MaintenanceSpec(id=r[0], start=r[1], end=r[2], announced=r[3],
                                targets=None if r[4] is None else tuple(json.loads(r[4])),
                                reason=r[5], source=source) for r in rows]

    def record_seen(self, specs: Iterable[MaintenanceSpec], now: float) -> dict[str, list[Seen]]:
        specs = list(specs)
        ids = {s.id for s in specs}
        if self.read_only:
            out = self._read(lambda c: _seen(c, ids))
            return with_unseen(out, specs, now)
        with self._tx() as conn:
            for s in specs:
                row = (version_key(s), s.id, s.start, s.end, s.announced,
                       _targets_json(s.targets), now)
                if conn.execute("INSERT INTO maintenance_seen VALUES (%s, %s, %s, %s, %s, %s, %s)"
                                " ON CONFLICT (key) DO NOTHING", row).rowcount:
                    _append(conn, "maintenance_seen", chainstore.seen_payload(row), at=now)
                    self._open = None
            return _seen(conn, ids)


# --- helpers on a connection ------------------------------------------------------------


class _OpenBlock:
    __slots__ = ("at", "content", "digest", "hi", "last_at", "lo", "prev", "seq")

    def __init__(self, *, seq: int, at: float, lo: int, hi: int, last_at: float, prev: str,
                 ) -> None:
        self.seq, self.at, self.lo, self.hi = seq, at, lo, hi
        self.last_at, self.prev = last_at, prev
        self.digest = ""
        self.content = Content()


def _one(conn: Conn, sql: str, args: Sequence[Any] = ()) -> Any:
    row = conn.execute(sql.encode(), args).fetchone()
    return None if row is None else row[0]


def _same(a: Check, b: Check) -> bool:
    return (a.ok, a.latency, a.status, a.error, a.interval, a.network, a.unknown) == (
        b.ok, b.latency, b.status, b.error, b.interval, b.network, b.unknown)


def _open_run(conn: Conn, location: str, target: str) -> OpenRun | None:
    row = conn.execute("SELECT start, state, last_at, cap_end FROM open_runs WHERE"
                       " location = %s AND target = %s", (location, target)).fetchone()
    return None if row is None else OpenRun(row[0], _state_of(row[1]), row[2], row[3])


def _rebuild(conn: Conn, location: str, target: str) -> None:
    """Recompute a target's spans and open run at a location from its checks."""
    h = History()
    conn.execute("DELETE FROM spans WHERE location = %s AND target = %s", (location, target))
    conn.execute("DELETE FROM open_runs WHERE location = %s AND target = %s", (location, target))
    spans: list[tuple[Any, ...]] = []
    for row in conn.execute(f"SELECT {_CHECK_COLUMNS} FROM checks WHERE location = %s AND"  # noqa: S608
                            " target = %s ORDER BY at", (location, target)).fetchall():
        closed = h.add(_row_check(row))
        if closed is not None:
            spans.append((location, target, closed[0], closed[1], int(closed[2])))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO spans VALUES (%s, %s, %s, %s, %s)", spans)
    if h.open is not None:
        r = h.open
        conn.execute("INSERT INTO open_runs VALUES (%s, %s, %s, %s, %s, %s)",
                     (location, target, r.start, _state_int(r.state), r.last_at, r.cap_end))


def _around(conn: Conn, location: str, target: str, lo: float, hi: float) -> list[Check]:
    """A target's checks at a location from the last one before `lo` to the first after
    `hi`, in time order."""
    rows = conn.execute(
        f"SELECT {_CHECK_COLUMNS} FROM checks WHERE location = %s AND target = %s AND"  # noqa: S608
        " at BETWEEN coalesce((SELECT max(at) FROM checks WHERE location = %s AND target = %s"
        " AND at < %s), %s) AND coalesce((SELECT min(at) FROM checks WHERE location = %s AND"
        " target = %s AND at > %s), %s) ORDER BY at",
        (location, target, location, target, lo, lo, location, target, hi, hi)).fetchall()
    return [_row_check(r) for r in rows]


def _import_conflict(recorded: Mapping[str, list[Check]], rows: list[tuple[int, Check]],
                     ) -> tuple[int, Check, float, float] | None:
    """The first line (by line number) whose check starts inside the time a recorded
    check covers: each recorded check covers [at, min(next recorded, at + 2 x interval))."""
    found: list[tuple[int, Check, float, float]] = []
    for target, rec in recorded.items():
        ends = [min(c.at + 2 * c.interval, rec[i + 1].at if i + 1 < len(rec) else math.inf)
                for i, c in enumerate(rec)]
        mine = sorted(((line, c) for line, c in rows if c.target == target),
                      key=lambda r: r[1].at)
        i = 0
        best_end, best_start = -math.inf, -math.inf
        for line, c in mine:
            while i < len(rec) and rec[i].at <= c.at:
                best_end = max(best_end, ends[i])
                best_start = max(best_start, rec[i].at)
                i += 1
            if best_end > c.at:
                found.append((line, c, best_start, best_end))
    return min(found, key=lambda f: f[0]) if found else None


def _statement_months(conn: Conn) -> list[tuple[str, tuple[float, float]]]:
    months = sorted({p["month"] for _, _, p in _records(conn, "statement")})
    return [(m, month_range(m)) for m in months]


def _tail_record(conn: Conn) -> tuple[int, str]:
    row = conn.execute("SELECT seq, digest FROM chain ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _append(conn: Conn, kind: str, payload: Mapping[str, Any], *, at: float) -> int:
    if kind == CHECKS:
        raise ValueError("checks are chained by blocks, not by append")
    seq, kind, at, content, text, prev, digest = next_record(_tail_record(conn), kind,
                                                             payload, at)
    conn.execute("INSERT INTO chain VALUES (%s, %s, %s, NULL, NULL, 0, NULL, %s, %s, %s, %s)",
                 (seq, kind, at, content, text, prev, digest))
    return seq


def _records(conn: Conn, kind: str) -> list[tuple[int, float, dict[str, Any]]]:
    return [(int(seq), float(at), json.loads(p)) for seq, at, p in conn.execute(
        "SELECT seq, at, payload FROM chain WHERE kind = %s ORDER BY seq", (kind,)).fetchall()]


def _pruned_blocks(conn: Conn) -> set[int]:
    return {int(seq) for _, _, p in _records(conn, CHECKPOINT) for seq in p["blocks"]}


def _read_columns(conn: Conn, lo: int, hi: int) -> tuple[int, list[str]]:
    rows = conn.execute(f"SELECT {_CHECK_COLUMNS} FROM checks WHERE n BETWEEN %s AND %s"  # noqa: S608
                        " ORDER BY n", (lo, hi)).fetchall()
    return block_columns(rows)


def _read_block(conn: Conn, lo: int, hi: int) -> Content:
    count, columns = _read_columns(conn, lo, hi)
    c = Content()
    c.add(count, columns)
    return c


def _chain_range(conn: Conn, lo: int, hi: int) -> None:
    """Chain checks n in [lo, hi] as closed blocks of at most BLOCK_CHECKS numbers."""
    for a in range(lo, hi + 1, BLOCK_CHECKS):
        b = min(a + BLOCK_CHECKS - 1, hi)
        block = _read_block(conn, a, b)
        if not block.count:
            continue
        last_at = float(_one(conn, "SELECT max(at) FROM checks WHERE n BETWEEN %s AND %s",
                             (a, b)))
        seq, prev = _tail_record(conn)
        content = block.digest()
        digest = record_digest(prev, (seq + 1, CHECKS, last_at, a, b, block.count, last_at,
                                      content))
        conn.execute("INSERT INTO chain VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL, %s, %s)",
                     (seq + 1, CHECKS, last_at, a, b, block.count, last_at, content, prev,
                      digest))


_TABLES: dict[str, tuple[str, str]] = {
    "maintenance_seen": (
        'SELECT key, id, start, "end", announced, targets, first_seen FROM maintenance_seen',
        "key"),
    "terms": ("SELECT id, since, body FROM terms", "rowid"),
}


def _verify(conn: Conn, since_seq: int) -> Verdict:
    """The SQLite store's verification on this database (see `chainstore.verify`)."""
    prev, expect = GENESIS, 1
    if since_seq > 1:
        row = conn.execute("SELECT seq, prev FROM chain WHERE seq >= %s ORDER BY seq LIMIT 1",
                           (since_seq,)).fetchone()
        if row is not None:
            expect, prev = int(row[0]), str(row[1])
    n_records = n_checks = 0
    head = prev
    pruned = _pruned_blocks(conn)
    payloads = {k: _records(conn, k) for k in _TABLES}

    def fail(problem: str) -> Verdict:
        return Verdict(False, problem, n_records, n_checks, head)

    blocks: list[tuple[int, float, int, int, int, str]] = []
    with conn.cursor(name="walk") as cur:
        cur.itersize = 10000
        cur.execute("SELECT seq, kind, at, lo, hi, count, last_at, content, payload, prev,"
                    " digest FROM chain WHERE seq >= %s ORDER BY seq", (expect,))
        for seq_v, kind, at, lo, hi, count, last_at, content, payload, prev_s, digest in cur:
            seq = int(seq_v)
            rec = (seq, kind, at, None if lo is None else int(lo),
                   None if hi is None else int(hi), int(count), last_at, content)
            if seq != expect:
                return fail(f"chain record #{expect} is missing: deleted outside slaprobe")
            if record_digest(prev_s, rec) != digest:
                return fail(f"{_name(kind, seq, at)} was changed outside slaprobe")
            if prev_s != prev:
                return fail(f"{_name(kind, seq, at)} does not follow #{seq - 1}: a record was "
                            "deleted or inserted outside slaprobe")
            if kind != CHECKS:
                if payload is None or content_digest(payload) != content:
                    return fail(f"{_name(kind, seq, at)} was changed outside slaprobe (payload)")
            else:
                blocks.append((seq, at, int(lo), int(hi), int(count), content))
            prev = head = digest
            expect += 1
            n_records += 1
    for seq, at, lo, hi, count, content in blocks:
        stored = _read_block(conn, lo, hi)
        found = stored.count
        if seq in pruned:
            if found:
                return fail(f"{_name(CHECKS, seq, at)} was pruned, but {found} checks with n "
                            f"{lo}..{hi} are back: inserted outside slaprobe")
            continue
        if found != count or stored.digest() != content:
            if found < count:
                what = f"{count - found} of its {count} checks deleted"
            elif found > count:
                what = f"{found - count} checks inserted"
            else:
                what = "a check changed"
            return fail(f"{_name(CHECKS, seq, at)}, checks n {lo}..{hi}{_where(conn, lo, hi)}:"
                        f" {what} outside slaprobe")
        n_checks += found
    top = _one(conn, "SELECT max(hi) FROM chain WHERE kind = %s", (CHECKS,))
    stray = conn.execute("SELECT n, target, at FROM checks WHERE n > %s ORDER BY n LIMIT 1",
                         (top or 0,)).fetchone()
    if stray is not None:
        return fail(f"check {stray[1]} at {iso(stray[2])} (n {stray[0]}) is in no chain "
                    "record: inserted outside slaprobe")
    for kind, (query, key) in _TABLES.items():
        problem = _cross_check(conn, kind, query, key, payloads[kind])
        if problem:
            return fail(problem)
    return Verdict(True, "", n_records, n_checks, head)


def _where(conn: Conn, lo: int, hi: int) -> str:
    row = conn.execute("SELECT string_agg(DISTINCT target, ','), min(at), max(at) FROM checks"
                       " WHERE n BETWEEN %s AND %s", (lo, hi)).fetchone()
    if row is None or row[0] is None:
        return ""
    return f" ({row[0]}, {iso(row[1])} .. {iso(row[2])})"


def _cross_check(conn: Conn, kind: str, query: str, key: str,
                 chained: list[tuple[int, float, dict[str, Any]]]) -> str:
    return chainstore.cross_check(kind, conn.execute(query.encode()).fetchall(), key, chained)


def _terms(conn: Conn) -> list[Version]:
    return [Version(float(since), Terms.from_json(body)) for since, body in conn.execute(
        "SELECT since, body FROM terms ORDER BY id").fetchall()]


def _seen(conn: Conn, ids: Iterable[str]) -> dict[str, list[Seen]]:
    out: dict[str, list[Seen]] = {}
    for mid in ids:
        rows = conn.execute('SELECT id, start, "end", announced, targets, first_seen FROM'
                            " maintenance_seen WHERE id = %s ORDER BY first_seen", (mid,)
                            ).fetchall()
        out[mid] = [Seen(id=r[0], start=r[1], end=r[2], announced=r[3],
                         targets=None if r[4] is None else tuple(json.loads(r[4])),
                         first_seen=r[5]) for r in rows]
    return out


def _targets_json(targets: tuple[str, ...] | None) -> str | None:
    return None if targets is None else json.dumps(sorted(targets))


def _ack(row: Sequence[Any]) -> Ack:
    seq, recorded, text = row
    p = json.loads(text)
    return Ack(int(seq), str(p["incident"]), float(p["at"]), str(p["by"]), str(p["note"]),
               float(recorded))
