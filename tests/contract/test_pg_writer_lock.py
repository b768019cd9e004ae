"""One writer per location survives a restart of the PostgreSQL server: the writer's
connection holds the location's lock and takes it again whenever it is opened again;
when another daemon took the location meanwhile, the first one writes no more."""

from __future__ import annotations

import pgserver
import psycopg
import pytest

from slaprobe.core.model import Check
from slaprobe.history.pgstore import LocationLockHeld, PgStore, lock_key
from slaprobe.history.storeapi import StoreError, WriterLockLost

T0 = 1790812800.0

pytestmark = pytest.mark.skipif(pgserver.binaries() is None,
                                reason="no PostgreSQL server binaries")


def holders(url: str, location: str) -> int:
    """Sessions holding the location's advisory lock."""
    key = lock_key(location)
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND"
            " ((classid::bigint << 32) | objid::bigint) = %s", (key & 0xFFFFFFFFFFFFFFFF,),
        ).fetchone()
    return int(row[0]) if row else 0


def write(store: PgStore, checks: list[Check]) -> None:
    """Write as the recorder does: a failure (the connection the restart broke) is retried."""
    try:
        store.write(checks)
    except WriterLockLost:
        raise
    except StoreError:
        store.write(checks)


def test_the_lock_is_taken_again_after_a_server_restart() -> None:
    with pgserver.server() as srv:
        url = srv.new_database()
        east = PgStore(url, location="east", listen="127.0.0.1:9469")
        try:
            east.write([Check("app", T0, True, 30.0, location="east")])
            assert holders(url, "east") == 1
            srv.stop()
            srv.start()
            assert holders(url, "east") == 0  # the server forgot it with the session
            # the next write opens a connection and takes the lock before writing
            write(east, [Check("app", T0 + 30, True, 30.0, location="east")])
            assert holders(url, "east") == 1
            with pytest.raises(LocationLockHeld, match=r"in use by another slaprobe run \(pid"):
                PgStore(url, location="east", listen="127.0.0.1:9470")
            PgStore(url, location="west", listen="127.0.0.1:9471").close()  # another location
        finally:
            east.close()
        assert holders(url, "east") == 0


def test_a_location_taken_while_the_server_was_away_stops_the_first_writer() -> None:
    with pgserver.server() as srv:
        url = srv.new_database()
        first = PgStore(url, location="east", listen="127.0.0.1:9469")
        try:
            first.write([Check("app", T0, True, 30.0, location="east")])
            srv.stop()
            srv.start()
            # a second daemon starts before the first one wrote again: it gets the lock
            second = PgStore(url, location="east", listen="127.0.0.1:9470")
            try:
                with pytest.raises(WriterLockLost, match="stopped writing"):
                    write(first, [Check("app", T0 + 30, True, 30.0, location="east")])
                with pytest.raises(WriterLockLost):  # and stays stopped
                    first.write([Check("app", T0 + 60, True, 30.0, location="east")])
                second.write([Check("app", T0 + 30, False, 30.0, location="east")])
                assert [c.ok for c in second.checks("app", 0, T0 + 90, location="east")] == [
                    True, False]
                assert holders(url, "east") == 1
            finally:
                second.close()
        finally:
            first.close()
