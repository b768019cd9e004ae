"""The hash chain on real SQLite files, tampered with from outside by the sqlite3 module."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from slaprobe.core.evidence.terms import Terms
from slaprobe.core.model import Check
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.history import chainstore, derived
from slaprobe.history.store import (
    COLUMNS_V7,
    MIGRATIONS,
    SCHEMA_VERSION,
    SqliteSql,
    Store,
    _rebuild_v2,
)
from slaprobe.history.storeapi import VerifyStopped

T0 = 1790812800.0  # 2026-10-01T00:00:00Z
TERMS = Terms(objective=0.999, maintenance_notice=172800.0, allow_retroactive_maintenance=False,
              critical={"app": True, "api": True})


def batches() -> Iterator[list[Check]]:
    """Daemon-like write batches: both targets every 30 s, an outage of api."""
    for k in range(40):
        yield [Check("app", T0 + k * 30.0, True, 30.0, latency=0.012, status=200),
               Check("api", T0 + k * 30.0 + 1, not 10 <= k < 14, 30.0,
                     error=None if not 10 <= k < 14 else "bad_status", status=503)]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "h.db"
    with closing(Store(path)) as s:
        s.record_terms(TERMS, T0 - 60)
        s.record_seen([MaintenanceSpec("w1", T0 + 86400, T0 + 90000, T0 - 86400 * 3)], T0 - 60)
        for batch in batches():
            s.write(batch)
        s.import_checks(enumerate([Check("app", T0 - 3000 + k * 30.0, True, 30.0)
                                   for k in range(50)], 2))
        s.write([Check("app", T0 + 1200.0, True, 30.0)])
    return path


def verdict(path: Path) -> chainstore.Verdict:
    with closing(Store(path, read_only=True)) as s:
        return s.verify()


def tamper(path: Path, sql: str, *args: object) -> None:
    with closing(sqlite3.connect(path)) as c:
        assert c.execute(sql, args).rowcount == 1
        c.commit()


def test_intact_history_verifies(db: Path) -> None:
    v = verdict(db)
    assert v.ok, v.problem
    assert v.checks == 40 * 2 + 50 + 1
    assert v.records == 5  # terms, first seen, live block, import block, live block again
    assert len(v.head) == 64


def test_a_changed_check_is_named(db: Path) -> None:
    tamper(db, "UPDATE checks SET ok = 1 WHERE target = 'api' AND at = ?", T0 + 301)
    v = verdict(db)
    assert not v.ok
    assert "chain record #3 (checks" in v.problem and "a check changed outside slaprobe" in \
        v.problem
    assert "api" in v.problem and "2026-10-01T00:00:00Z" in v.problem


def test_a_deleted_check_is_named(db: Path) -> None:
    tamper(db, "DELETE FROM checks WHERE target = 'app' AND at = ?", T0 - 3000)
    v = verdict(db)
    assert not v.ok and "chain record #4 (checks" in v.problem
    assert "1 of its 50 checks deleted outside slaprobe" in v.problem


def test_an_inserted_check_is_named(db: Path) -> None:
    tamper(db, "INSERT INTO checks (target, at, ok, interval) VALUES ('api', ?, 1, 30.0)",
           T0 + 5000)
    v = verdict(db)
    assert not v.ok
    assert v.problem == ("check api at 2026-10-01T01:23:20Z (n 132) is in no chain record: "
                         "inserted outside slaprobe")


def test_an_altered_first_seen_time_is_named(db: Path) -> None:
    tamper(db, "UPDATE maintenance_seen SET first_seen = first_seen - 86400")
    v = verdict(db)
    assert not v.ok
    assert "maintenance_seen row" in v.problem and "changed outside slaprobe (first_seen" in \
        v.problem


def test_an_altered_terms_version_is_named(db: Path) -> None:
    tamper(db, "UPDATE terms SET body = replace(body, '0.999', '0.99')")
    v = verdict(db)
    assert not v.ok and "terms row 1 was changed outside slaprobe (body" in v.problem


def test_a_deleted_or_changed_chain_record_is_named(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    with closing(sqlite3.connect(db)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    tamper(db, "DELETE FROM chain WHERE seq = 2")
    assert verdict(db).problem == "chain record #2 is missing: deleted outside slaprobe"
    tamper(copy, "UPDATE chain SET count = count - 1 WHERE seq = 3")
    assert "chain record #3 (checks, written " in verdict(copy).problem
    assert "was changed outside slaprobe" in verdict(copy).problem


def test_chain_survives_kill_9_mid_writes(tmp_path: Path) -> None:
    """A writer killed at any point leaves a valid chain: each batch and its digest
    commit in one transaction."""
    path = tmp_path / "k.db"
    code = f"""
import sys
from slaprobe.history.store import Store
from slaprobe.core.model import Check
s = Store(sys.argv[1])
k = 0
while True:
    s.write([Check(f"t{{i}}", {T0} + k * 10.0, k % 7 != 0, 10.0) for i in range(20)])
    k += 1
    if k == 30:
        print("writing", flush=True)
"""
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "writing\n"
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    v = verdict(path)
    assert v.ok, v.problem
    assert v.checks >= 600 and v.checks % 20 == 0


def test_prune_keeps_the_rest_verifiable(db: Path) -> None:
    with closing(Store(db)) as s:
        assert s.prune(T0 - 1000) == 50  # the import's block: all of it before the cutoff
        assert s.verify().ok
    tamper(db, "INSERT INTO checks (n, target, at, ok, interval) VALUES (90, 'app', ?, 1, 30)",
           T0 - 2000)
    assert "was pruned, but 1 checks with n 81..130 are back" in verdict(db).problem


def test_a_v4_database_upgrades_and_its_rows_become_the_first_block(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as c:
        for v in range(1, 5):
            MIGRATIONS[v](c)
        c.execute("INSERT INTO meta VALUES ('schema_version', '4')")
        c.executemany("INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      [("app", T0 + k * 30.0, int(k % 9 != 0), 0.01, 200, None, 30.0, 0)
                       for k in range(5000)])
        _rebuild_v2(c, "app")  # its timeline as the v4 daemon kept it
        c.execute("INSERT INTO maintenance_seen VALUES ('k', 'w', ?, ?, ?, NULL, ?)",
                  (T0, T0 + 60, T0 - 86400 * 3, T0 - 86400))
    with closing(Store(path)) as s:
        assert s.version() == SCHEMA_VERSION
        v = s.verify()
        assert v.ok, v.problem
        assert v.checks == 5000
        raw = s.backend.conn
        assert [k for _, k in raw.execute("SELECT seq, kind FROM chain ORDER BY seq")] == [
            "checks", "checks", "maintenance_seen"]  # 5000 checks: blocks of 4096
        assert len(s.checks("app", 0, 4e9)) == 5000
        s.write([Check("app", T0 + 5000 * 30.0, True, 30.0)])
        assert s.verify().ok
    tamper(path, "UPDATE checks SET ok = 0 WHERE n = 17")
    assert "chain record #1 (checks" in verdict(path).problem


def test_blocks_checked_by_worker_threads_count_and_name_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many closed blocks are checked by two reader threads; the totals are exact and the
    first broken block is named even when a later one is broken too."""
    monkeypatch.setattr(chainstore, "BLOCK_CHECKS", 10)
    path = tmp_path / "many.db"
    with closing(Store(path)) as s:
        for k in range(50):
            s.write([Check(f"t{i}", T0 + k * 10.0, True, 10.0) for i in range(5)])
        v = s.verify()
        assert v.ok and v.checks == 250 and v.records == 25
    tamper(path, "UPDATE checks SET ok = 0 WHERE n = 203")
    tamper(path, "UPDATE checks SET ok = 0 WHERE n = 57")
    assert "chain record #6 (checks" in verdict(path).problem


def test_a_v7_database_gets_locations_and_keeps_its_chain(tmp_path: Path) -> None:
    """Schema 8 adds the location column: rows before it are "default", insertion numbers
    and the chain stay as they were, and a pruned number is never given out again."""
    path = tmp_path / "v7.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as c:
        for v in range(1, 8):
            MIGRATIONS[v](c)
        c.execute("INSERT INTO meta VALUES ('schema_version', '7')")
        c.executemany("INSERT INTO checks (target, at, ok, interval) VALUES (?, ?, 1, 30)",
                      [("app", T0 + k * 30.0) for k in range(6)])
        chainstore.chain_range(SqliteSql(c, COLUMNS_V7), 1, 3)
        chainstore.chain_range(SqliteSql(c, COLUMNS_V7), 4, 6)
        chainstore.prune(SqliteSql(c), T0 + 200.0, at=T0 + 200.0)  # both blocks: every check pruned
        assert c.execute("SELECT count(*) FROM checks").fetchone() == (0,)
        assert c.execute("SELECT seq FROM sqlite_sequence WHERE name = 'checks'").fetchone() == (
            6,)
    with closing(Store(path)) as s:
        assert s.version() == SCHEMA_VERSION
        s.write([Check("app", T0 + 600.0, True, 30.0)])
        raw = s.backend.conn
        assert raw.execute("SELECT n, location FROM checks").fetchall() == [(7, "default")]
        v = s.verify()
        assert v.ok, v.problem
    tamper(path, "UPDATE checks SET location = 'elsewhere' WHERE n = 7")
    assert "a check changed outside slaprobe" in verdict(path).problem


def test_checks_of_an_old_history_keep_their_block_digests(db: Path) -> None:
    """A "default" check is chained as before locations: its target alone."""
    with closing(sqlite3.connect(db)) as c:
        lo, hi, content = c.execute(
            "SELECT lo, hi, content FROM chain WHERE kind = 'checks' ORDER BY seq LIMIT 1"
        ).fetchone()
        assert chainstore.read_block(SqliteSql(c, COLUMNS_V7), lo, hi).digest() == content


def test_a_stopping_daemon_gives_up_a_verification(db: Path) -> None:
    """`stop` set (the daemon is stopping): the walk and the timelines' check give up
    with VerifyStopped, no verdict either way; unset, the same walk finds the history
    intact."""
    stop = threading.Event()
    stop.set()
    with closing(Store(db, read_only=True)) as s:
        with pytest.raises(VerifyStopped):
            s.verify(stop=stop)
        with s.backend.snapshot() as snap:
            with pytest.raises(VerifyStopped):
                derived.check(snap, None, stop=stop)
            assert derived.check(snap, None, stop=threading.Event()) == ""
        assert s.verify(stop=threading.Event()).ok
