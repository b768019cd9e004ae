"""What only the PostgreSQL backend has: one writer per location, a server that goes
away and comes back, connection strings that never show their password."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pgserver
import psycopg
import pytest

from slaprobe.core.model import Check
from slaprobe.history.pgstore import LocationLockHeld, PgStore, PgWriterLock, masked
from slaprobe.history.storeapi import StoreError

T0 = 1790812800.0


def test_one_writer_per_location(pg: pgserver.Server) -> None:
    url = pg.new_database()
    east = PgWriterLock(url, "east", listen="127.0.0.1:9469", now=T0)
    try:
        with pytest.raises(LocationLockHeld) as e:
            PgWriterLock(url, "east", listen="127.0.0.1:9470", now=T0)
        assert f"pid {os.getpid()}" in str(e.value)
        assert "listening on 127.0.0.1:9469" in str(e.value)
        assert "location 'east'" in str(e.value)
        west = PgWriterLock(url, "west", listen="127.0.0.1:9471", now=T0)  # another location
        west.release()
    finally:
        east.release()
    again = PgWriterLock(url, "east", listen="127.0.0.1:9470", now=T0)
    again.release()


def test_the_lock_of_a_killed_daemon_is_gone(pg: pgserver.Server, tmp_path: Path) -> None:
    url = pg.new_database()
    script = ("import sys, time\nfrom slaprobe.history.pgstore import PgWriterLock\n"
              "lock = PgWriterLock(sys.argv[1], 'east', listen='x', now=0.0)\n"
              "print('held', flush=True)\ntime.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", script, url], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        with pytest.raises(LocationLockHeld, match=f"pid {p.pid}"):
            PgWriterLock(url, "east", listen="y", now=0.0)
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        deadline = time.monotonic() + 20
        while True:  # the server notices the closed connection at once, or nearly
            try:
                PgWriterLock(url, "east", listen="y", now=0.0).release()
                break
            except LocationLockHeld:
                assert time.monotonic() < deadline, "the killed daemon's lock stayed"
                time.sleep(0.1)
    finally:
        p.kill()
        p.wait(10)
        if p.stdout is not None:
            p.stdout.close()


def test_a_restarted_server_is_written_again() -> None:
    if pgserver.binaries() is None:
        pytest.skip("no PostgreSQL server binaries")
    with pgserver.server() as srv:
        url = srv.new_database()
        store = PgStore(url)
        try:
            store.write([Check("app", T0, True, 30.0)])
            srv.stop()
            with pytest.raises(StoreError, match="database postgresql://"):
                store.write([Check("app", T0 + 30, True, 30.0)])
            srv.start()
            store.write([Check("app", T0 + 30, True, 30.0)])  # the same batch, retried
            assert [c.at for c in store.checks("app", 0, 4e9)] == [T0, T0 + 30]
            v = store.verify()
            assert v.ok, v.problem
        finally:
            store.close()


def test_passwords_never_show(pg: pgserver.Server) -> None:
    assert masked("postgresql://probe:s3cr%40t@db.internal:5432/sla") == (
        "postgresql://probe:***@db.internal:5432/sla")
    assert masked("postgresql://probe@db/sla") == "postgresql://probe@db/sla"
    assert masked("postgresql://db/sla?user=probe&password=pw&sslmode=require") == (
        "postgresql://db/sla?user=probe&password=***&sslmode=require")
    url = f"postgresql://probe:hunter2@127.0.0.1:{pgserver.free_port()}/sla?connect_timeout=2"
    with pytest.raises(StoreError) as e:
        PgStore(url)
    assert "hunter2" not in str(e.value)
    assert "postgresql://probe:***@127.0.0.1" in str(e.value)


def test_a_newer_schema_is_refused(pg: pgserver.Server) -> None:
    url = pg.new_database()
    PgStore(url).close()
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer than this slaprobe"):
        PgStore(url)
    with pytest.raises(StoreError, match="newer than this slaprobe"):
        PgStore(url, read_only=True)


def test_a_reader_of_an_empty_database_is_told(pg: pgserver.Server) -> None:
    with pytest.raises(StoreError, match="holds no slaprobe history"):
        PgStore(pg.new_database(), read_only=True)


def test_a_month_is_stated_once_whoever_closes_it(pg: pgserver.Server) -> None:
    url = pg.new_database()
    east, west = PgStore(url, location="east"), PgStore(url, location="west")
    try:
        first = east.append_record("statement", {"month": "2026-10", "report": "{}"}, T0)
        assert west.append_record("statement", {"month": "2026-10", "report": "{\"x\": 1}"},
                                  T0 + 5) == first
        assert [p["report"] for _, _, p in west.records("statement")] == ["{}"]
    finally:
        east.close()
        west.close()
