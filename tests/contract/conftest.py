"""The store contract's backends: every test in this directory runs once per backend.

`backend` opens stores on one fresh history: an SQLite file, or a database on a real
PostgreSQL server (its own cluster in a temporary directory, see `pgserver`), skipped
only when no PostgreSQL is installed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pgserver
import psycopg
import pytest

from slaprobe.pgstore import PgStore
from slaprobe.store import Store
from slaprobe.storeapi import HistoryStore

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg() -> Iterator[pgserver.Server]:
    if pgserver.binaries() is None:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin; Debian package"
                    " postgresql)")
    with pgserver.server() as srv:
        yield srv


@dataclass
class Backend:
    """Stores on one history, and raw SQL on it from outside slaprobe (`%s` marks)."""

    kind: str
    database: str
    opened: list[HistoryStore] = field(default_factory=list)

    def open(self, *, location: str = "default", read_only: bool = False) -> HistoryStore:
        s: HistoryStore
        if self.kind == "sqlite":
            s = Store(self.database, read_only=read_only, location=location)
        else:
            s = PgStore(self.database, read_only=read_only, location=location)
        self.opened.append(s)
        return s

    def raw(self, sql: str, *args: Any) -> int:
        """Run one statement as a hand edit would; its row count."""
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.database)) as c:
                n = c.execute(sql.replace("%s", "?"), args).rowcount
                c.commit()
                return n
        with psycopg.connect(self.database, autocommit=True) as c:
            return c.execute(sql.encode(), args).rowcount

    def close(self) -> None:
        for s in self.opened:
            s.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        b = Backend("sqlite", str(tmp_path / "history.db"))
    else:
        srv: pgserver.Server = request.getfixturevalue("pg")
        b = Backend("postgresql", srv.new_database())
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def store(backend: Backend) -> HistoryStore:
    return backend.open()


Opener = Callable[..., HistoryStore]
