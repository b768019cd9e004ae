"""The store contract's backends: every test in this directory runs once per backend.

`backend` opens stores on one fresh history: an SQLite file, or a database on a real
PostgreSQL server (its own cluster in a temporary directory, see `pgserver`), skipped
only when no PostgreSQL is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pgserver
import pytest
from backends import Backend

from slaprobe.history.storeapi import HistoryStore

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg() -> Iterator[pgserver.Server]:
    if pgserver.binaries() is None:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin; Debian package"
                    " postgresql)")
    with pgserver.server() as srv:
        yield srv


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
