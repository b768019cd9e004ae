"""The small dialect the one SQL layer (`sqlstore`, `chainstore`) is written against.

Two halves, each implemented once for SQLite (`store`) and once for PostgreSQL
(`pgstore`):

- `Sql`: one open connection, seen through the dialect. Statements are written with
  `?` marks; the few things the two databases spell differently are methods here:
  placeholders, inserting checks (and learning their numbers), streaming reads, the
  id an insert gives, the column texts of a block of checks (SQLite concatenates them
  itself, PostgreSQL's are built in Python), bulk inserts, and three SQL fragments (a
  JSON field, a list of distinct values, a value in a list).
- `Backend`: the connection's life: opening (schema creation and migrations),
  transactions and the write lock, a read snapshot for verification, file-or-server
  health, and turning the driver's errors into `StoreError`.

Hand-written rather than an ORM or SQLAlchemy: the layer needs exactly these few
differences, and the chain's digests depend on the exact SQL and values written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from slaprobe.core.model import Check

Row = tuple[Any, ...]
# the columns a Check is read from, in `check_of` order
CHECK_COLUMNS = "target, at, ok, latency, status, error, interval, network, unknown, location"


def check_of(row: Sequence[Any]) -> Check:
    target, at, ok, latency, status, error, interval, network, unknown, location = row
    return Check(target=str(target), at=float(at), ok=bool(ok), interval=float(interval),
                 latency=latency, status=status, error=error, network=bool(network),
                 unknown=bool(unknown), location=str(location))


def check_values(c: Check) -> Row:
    """A check's values in `CHECK_COLUMNS` order, without its location."""
    return (c.target, c.at, c.ok, c.latency, c.status, c.error, c.interval, c.network,
            c.unknown)


class Sql:
    """One connection (`conn`, a DB-API connection with `execute`) through the dialect.
    The base class is the SQLite spelling, which takes `?` marks as they are."""

    terms_id = "rowid"  # the column numbering terms versions

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def q(self, sql: str) -> str:
        """The statement in the driver's placeholder style."""
        return sql

    def run(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """Execute; the driver's cursor (rowcount, fetch...)."""
        return self.conn.execute(self.q(sql), args)

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        row = self.run(sql, args).fetchone()
        return None if row is None else tuple(row)

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return [tuple(r) for r in self.run(sql, args).fetchall()]

    def value(self, sql: str, args: Sequence[Any] = ()) -> Any:
        row = self.one(sql, args)
        return None if row is None else row[0]

    def insert(self, table: str, rows: Sequence[Sequence[Any]], conflict: str = "") -> None:
        """Bulk insert: rows of all of a table's columns (spans, open runs, feed
        windows) in few statements: multi-row VALUES, 500 rows a statement
        (`conflict`: an ON CONFLICT clause; no two rows may then share a key)."""
        for i in range(0, len(rows), 500):
            part = rows[i:i + 500]
            marks = ", ".join(["(" + ", ".join("?" * len(part[0])) + ")"] * len(part))
            self.run(f"INSERT INTO {table} VALUES {marks} {conflict}",  # noqa: S608
                     [v for row in part for v in row])

    def stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[Row]:
        """Rows read a batch at a time (a timeline or the chain can be millions)."""
        cur = self.run(sql, args)
        while rows := cur.fetchmany(10000):
            yield from rows

    def insert_id(self, sql: str, args: Sequence[Any], column: str) -> int:
        """Run an INSERT of one row; the `column` (a serial id) it got."""
        return int(self.run(sql, args).lastrowid)

    def insert_checks(self, location: str, checks: Sequence[Check]) -> list[tuple[int, Check]]:
        """Insert checks at a location in the order given, skipping any (location,
        target, at) already stored (or earlier in `checks`); (n, check) of each row
        inserted, in n order."""
        raise NotImplementedError

    def block(self, lo: int, hi: int) -> tuple[int, list[str | None]]:
        """The count and the column texts of the checks with n in [lo, hi] (see
        `chainstore.Content`)."""
        raise NotImplementedError

    def written_block(self, written: Sequence[tuple[int, Check]]) -> tuple[int, list[str | None]]:
        """`block` of the rows just inserted (`insert_checks`), in n order."""
        return self.block(written[0][0], written[-1][0])

    def is_in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """SQL and arguments for `column` being one of `values` (at most 500)."""
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    def json_field(self, column: str, key: str) -> str:
        """SQL for the text of `key` in the JSON object in `column`."""
        return f"json_extract({column}, '$.{key}')"

    def distinct_list(self, column: str) -> str:
        """SQL for the distinct values of `column`, comma-separated (an aggregate)."""
        return f"group_concat(DISTINCT {column})"


class Backend(Protocol):
    """One database's connection life, as the store uses it."""

    read_only: bool

    @property
    def name(self) -> str: ...

    def write(self) -> AbstractContextManager[Sql]:
        """A write transaction, the history's write lock held (one writer at a time)."""
        ...

    def read(self) -> AbstractContextManager[Sql]:
        """The connection for reads (no write lock)."""
        ...

    def snapshot(self) -> AbstractContextManager[Sql]:
        """One consistent read transaction that never blocks the writer (verify)."""
        ...

    def readers(self) -> Callable[[], AbstractContextManager[Sql]] | None:
        """What opens other read-only snapshots of the same database, for threads that
        verify blocks in parallel; None when the database gains nothing from it."""
        ...

    def version(self) -> int: ...
    def close(self) -> None: ...
    def check_writable(self) -> None: ...
    def file_problem(self) -> str | None: ...
