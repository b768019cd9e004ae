"""Who does the history's once-only duties (freezing a closed month's statement).

On a shared PostgreSQL history one daemon of all the locations is the *leader*: the
one holding a session-level advisory lock (a key of its own, apart from the writer
lock of each location and the chain lock) on a connection of its own. The server
drops the lock when that connection ends, so when the leader dies (`kill -9`, a lost
host) another daemon takes it at its next `poll`. A leader that cannot reach the
server within a deadline (`pgdeadline`) stops counting itself leader at once: two
daemons may then both be without a leader for a while, never both leaders for long
(and the store writes a month's statement once whoever asks: `append_record`).

A SQLite history has one location, one daemon: it is always its own leader.
"""

from __future__ import annotations

import hashlib
import threading
from contextlib import suppress
from typing import TYPE_CHECKING, Protocol

from slaprobe.history.pgdeadline import DEFAULT, deadline

if TYPE_CHECKING:  # psycopg is loaded by PgLeaderLock alone (a daemon on SQLite never)
    import psycopg
    from psycopg.rows import TupleRow

    Conn = psycopg.Connection[TupleRow]


def leader_key() -> int:
    """The leader lock's key (a signed 64-bit integer, like the locations' keys)."""
    digest = hashlib.sha256(b"slaprobe leader\n").digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Leadership(Protocol):
    def poll(self) -> bool:
        """Whether this daemon leads now (blocking: call off the event loop)."""
        ...

    def release(self) -> None: ...


class SoleLeader:
    """A history with one daemon (SQLite): it leads."""

    def poll(self) -> bool:
        return True

    def release(self) -> None:
        pass


class PgLeaderLock:
    """The leader lock on a PostgreSQL history, tried (or confirmed) at each `poll`."""

    def __init__(self, url: str, *, timeout: float = DEFAULT) -> None:
        self.url = url
        self.timeout = timeout
        self._conn: Conn | None = None
        self._lock = threading.Lock()  # one call on the connection at a time
        self.held = False
        self.error = ""  # why the last poll could not reach the server

    def poll(self) -> bool:
        with self._lock:
            return self._poll()

    def _poll(self) -> bool:
        import psycopg  # noqa: PLC0415 (loaded by this lock alone)

        try:
            conn = self._connect()
            with deadline(conn, self.timeout):
                if self.held:
                    conn.execute("SELECT 1").fetchone()  # still connected: still ours
                else:
                    got = conn.execute("SELECT pg_try_advisory_lock(%s)",
                                       (leader_key(),)).fetchone()
                    self.held = bool(got and got[0])
            self.error = ""
        except psycopg.Error as e:
            self.error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self._drop()  # the session (and any lock it held) is gone, or going
        return self.held

    def release(self) -> None:
        """Give the lock up (waits for a poll under way: at most its deadline). Unlocked
        before the connection closes: the server ends a closed session's locks only when
        its backend has gone, so another daemon polling at once could still find it held."""
        import psycopg  # noqa: PLC0415 (loaded by this lock alone)

        with self._lock:
            if self.held and self._conn is not None:
                with suppress(psycopg.Error), deadline(self._conn, self.timeout):
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (leader_key(),))
            self._drop()

    def _connect(self) -> Conn:
        import psycopg  # noqa: PLC0415 (loaded by this lock alone)

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        self._conn = psycopg.connect(self.url, autocommit=True,
                                     connect_timeout=max(1, round(self.timeout)))
        return self._conn

    def _drop(self) -> None:
        import psycopg  # noqa: PLC0415 (loaded by this lock alone)

        self.held = False
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
