"""The SQLite store on real files: timelines, imports, pruning, first-seen, migrations."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from slaprobe.core.history.timeline import History, OpenRun, Span, fold
from slaprobe.core.model import Check, State
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.history import store as store_mod
from slaprobe.history.store import SCHEMA_VERSION, Store
from slaprobe.history.storeapi import ImportConflict, StoreError

T0 = 1790812800.0  # 2026-10-01T00:00:00Z


def make_checks(target: str, pattern: str, *, start: float = T0, interval: float = 30.0,
                ) -> list[Check]:
    """One check per character every `interval`: 1 up, 0 down, n probe_network, . none."""
    out = []
    for i, ch in enumerate(pattern):
        if ch == ".":
            continue
        out.append(Check(
            target=target, at=start + i * interval, ok=ch == "1", interval=interval,
            latency=0.1 if ch == "1" else None, status=200 if ch == "1" else 503,
            error=None if ch == "1" else "bad_status", network=ch == "n",
        ))
    return out


def writes(checks: list[Check], history: History | None = None) -> list[Check]:
    """Fold checks as the daemon does (the store folds the batch for itself)."""
    h = History() if history is None else history
    for c in checks:
        h.add(c)
    return checks


def snapshot(h: History) -> tuple[list[Span], OpenRun | None]:
    return list(zip(h.spans.starts, h.spans.ends, h.spans.states, strict=True)), h.open


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    (tmp_path / "state").mkdir()  # as systemd's StateDirectory= makes it
    return tmp_path / "state" / "slaprobe.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store(db_path)
    yield s
    s.close()


# up, a down run, a gap (two missed checks), probe_network, up again
PATTERN = "1111000011..11nn1111"


class TestWriteAndLoad:
    """write() batches and load() timelines."""

    def test_round_trip(self, store: Store) -> None:
        """Batches written as the daemon folds them load back as the same History."""
        checks = make_checks("app", PATTERN)
        batch = writes(checks)
        for i in range(0, len(batch), 3):
            store.write(batch[i:i + 3])
        expected = fold(checks)
        assert len(expected.spans) >= 4  # the pattern closes several runs
        assert snapshot(store.load("app", 0)) == snapshot(expected)

    def test_survives_reopen(self, db_path: Path) -> None:
        """A closed and reopened store has the same history (restarts lose nothing)."""
        checks = make_checks("app", PATTERN)
        s = Store(db_path)
        s.write(writes(checks))
        s.close()
        s = Store(db_path)
        try:
            assert snapshot(s.load("app", 0)) == snapshot(fold(checks))
            assert s.checks("app", 0, float("inf")) == checks
        finally:
            s.close()

    def test_targets_are_separate(self, store: Store) -> None:
        """Each target has its own timeline."""
        app, api = make_checks("app", "1100"), make_checks("api", "0011", interval=60.0)
        store.write(writes(app) + writes(api))
        assert snapshot(store.load("app", 0)) == snapshot(fold(app))
        assert snapshot(store.load("api", 0)) == snapshot(fold(api))
        assert snapshot(store.load("web", 0)) == ([], None)

    def test_load_since(self, store: Store) -> None:
        """load(since) leaves out spans that ended by then."""
        checks = make_checks("app", "11110000111")
        store.write(writes(checks))
        h = store.load("app", T0 + 200)  # the up run [T0, T0+120) has ended
        spans, open_run = snapshot(h)
        assert spans == [(T0 + 120, T0 + 240, State.DOWN)]
        assert open_run == OpenRun(T0 + 240, State.UP, T0 + 300, T0 + 360)

    def test_loaded_history_continues(self, store: Store) -> None:
        """A loaded History accepts the next checks exactly like the original."""
        checks = make_checks("app", PATTERN)
        store.write(writes(checks[:10]))
        h = store.load("app", 0)
        store.write(writes(checks[10:], h))
        assert snapshot(h) == snapshot(fold(checks))
        assert snapshot(store.load("app", 0)) == snapshot(fold(checks))

    def test_check_fields_round_trip(self, store: Store) -> None:
        """Every field of a check is stored."""
        checks = make_checks("app", "10n")
        store.write(writes(checks))
        assert store.checks("app", 0, float("inf")) == checks
        assert store.checks("app", T0 + 30, T0 + 60) == [checks[1]]  # [a, b)

    def test_duplicate_check_ignored(self, store: Store) -> None:
        """A check already stored (same target and time) is ignored, not replaced."""
        [first] = make_checks("app", "1")
        store.write(writes([first]))
        store.write([first])
        store.write([replace(first, ok=False)])
        assert store.count_checks() == 1
        assert store.checks("app", 0, float("inf")) == [first]

    def test_wal_mode(self, store: Store, db_path: Path) -> None:
        """The database is in WAL mode (survives kill -9 losing at most the last batch)."""
        with closing(sqlite3.connect(db_path)) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_committed_batch_visible_to_other_connection(self, store: Store, db_path: Path,
                                                         ) -> None:
        """A written batch is committed: another connection sees it at once."""
        store.write(writes(make_checks("app", "101")))
        with closing(sqlite3.connect(db_path)) as raw:
            assert raw.execute("SELECT count(*) FROM checks").fetchone()[0] == 3


def numbered(checks: Iterable[Check]) -> list[tuple[int, Check]]:
    """Checks as import rows: (line, check), the header being line 1."""
    return [(i, c) for i, c in enumerate(checks, 2)]


def imported(store: Store, checks: Iterable[Check]) -> tuple[int, int]:
    r = store.import_checks(numbered(checks))
    return r.inserted, r.skipped


class TestImport:
    """import_checks: all-or-nothing backfills of unknown time only."""

    def test_import_fills_a_gap_and_rebuilds_spans(self, store: Store) -> None:
        """Imported checks in unknown time before, between and after live runs rebuild
        the fold of all of them. A live run's last check covers 2 x interval: the slot
        right after it is recorded time, not unknown."""
        every = make_checks("app", "1111000011110000111100001111")
        live = every[4:8] + every[16:20]
        old = every[:4] + every[9:16] + every[21:]
        store.write(writes(live))
        assert imported(store, old) == (len(old), 0)
        assert snapshot(store.load("app", 0)) == snapshot(
            fold(sorted(live + old, key=lambda c: c.at)))

    def test_import_unsorted(self, store: Store) -> None:
        """Import order does not matter."""
        every = make_checks("app", PATTERN)
        assert imported(store, reversed(every)) == (len(every), 0)
        assert snapshot(store.load("app", 0)) == snapshot(fold(every))

    def test_duplicates_skipped(self, store: Store) -> None:
        """A second import of the same checks inserts nothing and reports all skipped."""
        every = make_checks("app", PATTERN)
        assert imported(store, every) == (len(every), 0)
        assert imported(store, every) == (0, len(every))
        assert imported(store, every + every) == (0, 2 * len(every))
        assert store.count_checks() == len(every)
        assert snapshot(store.load("app", 0)) == snapshot(fold(every))

    def test_duplicates_of_live_checks_skipped(self, store: Store) -> None:
        """Rows equal to checks the daemon recorded are skipped; new ones after fill."""
        every = make_checks("app", "1111000011")
        store.write(writes(every[:5]))
        rows = every[:5] + every[6:]  # every[5] is inside the last live check's coverage
        assert imported(store, rows) == (4, 5)
        assert snapshot(store.load("app", 0)) == snapshot(fold(rows))

    def test_overlap_with_a_recorded_check_is_refused(self, store: Store) -> None:
        """A row inside a recorded check's coverage refuses the whole import, naming the
        line and the recorded range; nothing is written."""
        live = make_checks("app", "1111", interval=30.0)  # covers T0 .. T0 + 150
        store.write(writes(live))
        gap = make_checks("app", "000", start=T0 + 3600)
        inside = make_checks("app", "0", start=T0 + 40, interval=1.0)
        before = (store.count_checks(), snapshot(store.load("app", 0)), store.generation())
        with pytest.raises(ImportConflict) as e:
            store.import_checks(numbered(gap + inside))
        assert e.value.line == 5
        assert str(e.value) == ("line 5: app at 2026-10-01T00:00:40Z overlaps a recorded check "
                                "(2026-10-01T00:00:30Z .. 2026-10-01T00:01:00Z): an import "
                                "fills only unknown time")
        assert (store.count_checks(), snapshot(store.load("app", 0)), store.generation()) == before
        # the last recorded check's coverage (2 x interval) counts too
        with pytest.raises(ImportConflict, match=r"line 2: .*00:01:30Z \.\. "
                                                             r"2026-10-01T00:02:30Z"):
            store.import_checks(numbered(make_checks("app", "1", start=T0 + 149)))
        assert imported(store, make_checks("app", "1", start=T0 + 150)) == (1, 0)

    def test_same_time_other_outcome_is_refused(self, store: Store) -> None:
        """A row at a recorded check's time that says something else is a rewrite."""
        [first] = make_checks("app", "1")
        store.write(writes([first]))
        with pytest.raises(ImportConflict, match="line 2: app at "):
            store.import_checks(numbered([replace(first, ok=False)]))
        with pytest.raises(ImportConflict, match=r"line 3: .* also on line 2"):
            store.import_checks(numbered([replace(first, at=T0 - 600),
                                          replace(first, at=T0 - 600, ok=False)]))

    def test_other_targets_are_independent(self, store: Store) -> None:
        """Overlap is per target: another target's recorded checks do not block a row."""
        store.write(writes(make_checks("app", "1111")))
        assert imported(store, make_checks("api", "0000")) == (4, 0)

    def test_filled_coverage(self, store: Store) -> None:
        """The result says what each target's import covers: a 30 s backfill at a 2 s
        covering interval is mostly unknown, and says so."""
        store.write(writes(make_checks("app", "1", start=T0 + 300)))
        sparse = [replace(c, interval=2.0) for c in make_checks("app", "1111")]
        r = store.import_checks(numbered(sparse))
        f = r.filled["app"]
        assert (f.start, f.end, f.seconds) == (T0, T0 + 94, 16.0)
        assert f.coverage == pytest.approx(16 / 94)
        r = store.import_checks(numbered(make_checks("app", "11", start=T0 + 240)))
        f = r.filled["app"]  # the second check's coverage ends where the recorded one starts
        assert (f.start, f.end, f.seconds) == (T0 + 240, T0 + 300, 60.0)

    def test_all_or_nothing(self, store: Store) -> None:
        """An exception mid-iteration writes nothing, and the store stays usable."""
        store.write(writes(make_checks("app", "11")))
        before = (store.count_checks(), snapshot(store.load("app", 0)), store.generation())

        def failing() -> Iterator[Check]:
            yield from make_checks("app", "0000", start=T0 + 3600)
            yield from make_checks("api", "11", start=T0 + 3600)
            raise RuntimeError("bad row")

        with pytest.raises(RuntimeError, match="bad row"):
            store.import_checks(numbered(failing()))
        assert (store.count_checks(), snapshot(store.load("app", 0)), store.generation()) == before
        assert store.checks("api", 0, float("inf")) == []
        # the transaction and lock were released: later writes and imports work
        assert imported(store, make_checks("api", "1")) == (1, 0)

    def test_generation(self, store: Store) -> None:
        """generation bumps on an import only when something was inserted."""
        every = make_checks("app", PATTERN)
        assert store.generation() == 0
        store.write(writes(every[:5]))
        assert store.generation() == 0  # live writes are not rewrites
        imported(store, every[6:])
        assert store.generation() == 1
        imported(store, every[:5] + every[6:])  # all duplicates
        assert store.generation() == 1
        imported(store, [])
        assert store.generation() == 1
        imported(store, make_checks("api", "1"))
        assert store.generation() == 2

    def test_generation_survives_reopen(self, db_path: Path) -> None:
        """generation is stored, so another process (the daemon) sees the import."""
        with closing(Store(db_path)) as a:
            imported(a, make_checks("app", "1"))
        with closing(Store(db_path)) as b:
            assert b.generation() == 1


class TestPrune:
    """Retention."""

    def test_prune(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        """prune deletes the blocks of checks all older than the cutoff and the spans
        that ended before it, keeps the rest; the chain stays verifiable."""
        monkeypatch.setattr(store_mod.chainstore, "BLOCK_CHECKS", 5)
        checks = make_checks("app", "11110000111100001111")
        batch = writes(checks)
        for i in range(0, len(batch), 5):
            store.write(batch[i:i + 5])
        cutoff = T0 + 330  # the third block (checks 10..14) straddles it: kept whole
        deleted = store.prune(cutoff)
        assert deleted == 10
        assert store.verify().ok
        assert store.checks("app", 0, float("inf")) == checks[10:]
        spans, open_run = snapshot(store.load("app", 0))
        assert all(end >= cutoff for _, end, _ in spans)
        assert spans == [s for s in snapshot(fold(checks))[0] if s[1] >= cutoff]
        assert open_run == fold(checks).open

    def test_prune_waits_for_a_whole_block(self, store: Store) -> None:
        """A block with a check inside retention is kept whole (the chain covers it)."""
        store.write(writes(make_checks("app", "1010")))
        assert store.prune(T0 + 60) == 0
        assert store.prune(T0 + 91) == 4
        assert store.count_checks() == 0
        assert store.verify().ok

    def test_prune_nothing(self, store: Store) -> None:
        """A cutoff before all history deletes nothing."""
        store.write(writes(make_checks("app", "1010")))
        assert store.prune(T0) == 0
        assert store.count_checks() == 4


def spec(**kw: object) -> MaintenanceSpec:
    fields: dict[str, object] = {
        "id": "db-upgrade", "start": T0 + 86400 * 3, "end": T0 + 86400 * 3 + 7200,
        "announced": T0, "targets": ("app",), "reason": "upgrade",
    }
    fields.update(kw)
    return MaintenanceSpec(**fields)  # type: ignore[arg-type]


class TestRecordSeen:
    """First-seen times of maintenance windows."""

    def test_first_seen_kept(self, store: Store) -> None:
        """Seeing the same window again keeps its FIRST first_seen."""
        s = spec()
        first = store.record_seen([s], T0 + 100)
        again = store.record_seen([s], T0 + 5000)
        assert [v.first_seen for v in first["db-upgrade"]] == [T0 + 100]
        assert again == first

    def test_first_seen_survives_reopen(self, db_path: Path) -> None:
        """First-seen times are durable (editing the config later cannot rewrite them)."""
        with closing(Store(db_path)) as a:
            a.record_seen([spec()], T0 + 100)
        with closing(Store(db_path)) as b:
            seen = b.record_seen([spec()], T0 + 9999)
        assert [v.first_seen for v in seen["db-upgrade"]] == [T0 + 100]

    @pytest.mark.parametrize(
        "change",
        [{"end": T0 + 86400 * 3 + 9000}, {"start": T0 + 86400 * 2}, {"targets": ("app", "api")},
         {"targets": None}],
    )
    def test_changed_window_is_new_version(self, store: Store, change: dict[str, object]) -> None:
        """A moved, resized or retargeted window gets a new version with its own first_seen."""
        store.record_seen([spec()], T0 + 100)
        seen = store.record_seen([spec(**change)], T0 + 200)
        versions = seen["db-upgrade"]
        assert [v.first_seen for v in versions] == [T0 + 100, T0 + 200]
        new = versions[1]
        changed = spec(**change)
        assert (new.start, new.end, new.announced) == (changed.start, changed.end,
                                                       changed.announced)
        assert new.targets == (None if changed.targets is None else tuple(sorted(changed.targets)))

    def test_reason_or_announced_change_is_same_version(self, store: Store) -> None:
        """Only id, start, end and targets identify a version."""
        store.record_seen([spec()], T0 + 100)
        seen = store.record_seen([spec(reason="other", announced=T0 - 50)], T0 + 200)
        assert [(v.first_seen, v.announced) for v in seen["db-upgrade"]] == [(T0 + 100, T0)]

    def test_only_asked_ids_returned(self, store: Store) -> None:
        """The result holds the given windows' ids only."""
        store.record_seen([spec(id="a"), spec(id="b")], T0)
        assert set(store.record_seen([spec(id="b")], T0 + 1)) == {"b"}
        assert store.record_seen([], T0 + 2) == {}


def v1_database(path: Path, checks: list[Check]) -> None:
    """A database as slaprobe's schema version 1 left it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as raw:
        store_mod._v1(raw)
        raw.executemany(
            "INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(c.target, c.at, int(c.ok), c.latency, c.status, c.error, c.interval, int(c.network))
             for c in checks],
        )
        raw.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        raw.commit()


class TestSchema:
    """Versioned schema and migrations."""

    def test_new_database_is_current(self, store: Store) -> None:
        """A new database starts at the current schema version."""
        assert store.version() == SCHEMA_VERSION

    def test_migrate_from_v1(self, db_path: Path) -> None:
        """A version-1 database is migrated and its spans rebuilt from its checks."""
        app = make_checks("app", PATTERN)
        api = make_checks("api", "0011", interval=60.0)
        v1_database(db_path, app + api)
        with closing(Store(db_path)) as s:
            assert s.version() == SCHEMA_VERSION
            assert s.checks("app", 0, float("inf")) == app
            assert snapshot(s.load("app", 0)) == snapshot(fold(app))
            assert snapshot(s.load("api", 0)) == snapshot(fold(api))
            # the newer tables work too
            assert [v.first_seen for v in s.record_seen([spec()], T0)["db-upgrade"]] == [T0]
        with closing(Store(db_path)) as again:  # migrating is done once
            assert again.version() == SCHEMA_VERSION
            assert snapshot(again.load("app", 0)) == snapshot(fold(app))

    def test_newer_schema_refused(self, db_path: Path) -> None:
        """A database from a newer slaprobe raises StoreError and is left alone."""
        with closing(Store(db_path)):
            pass
        with closing(sqlite3.connect(db_path)) as raw:
            raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
            raw.commit()
        with pytest.raises(StoreError, match="newer"):
            Store(db_path)
        with closing(sqlite3.connect(db_path)) as raw:
            row = raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert row == ("99",)

    def test_not_a_database(self, db_path: Path) -> None:
        """A file that is not SQLite raises StoreError, not sqlite3.Error."""
        db_path.write_bytes(b"this is not a database, just some text " * 100)
        with pytest.raises(StoreError, match="cannot open database"):
            Store(db_path)

    def test_missing_directory_is_refused_not_created(self, tmp_path: Path) -> None:
        """A typo'd or absent state directory is an error; nothing is created."""
        missing = tmp_path / "no-such-dir" / "slaprobe.db"
        with pytest.raises(StoreError, match=r"directory .*/no-such-dir does not exist"):
            Store(missing)
        assert not missing.parent.exists()

    def test_unwritable_directory_is_store_error(self, tmp_path: Path) -> None:
        """A database path under a regular file raises StoreError."""
        (tmp_path / "file").write_text("")
        with pytest.raises(StoreError, match="cannot open database"):
            Store(tmp_path / "file" / "slaprobe.db")


class TestReadOnly:
    """A database that cannot be written: writes raise StoreError (counted, retried)."""

    def test_read_only_file(self, db_path: Path) -> None:
        """Writes to a read-only database file raise StoreError, every time; reads work."""
        checks = make_checks("app", "1100")
        with closing(Store(db_path)) as s:
            s.write(writes(checks[:2]))
        db_path.chmod(0o444)
        try:
            with closing(Store(db_path)) as s:
                if os.geteuid() == 0:  # root ignores file modes: make the connection read-only
                    s.backend.conn.execute("PRAGMA query_only = ON")
                more = writes(checks)[2:]
                for _ in range(2):  # the daemon retries: the second attempt fails the same way
                    with pytest.raises(StoreError):
                        s.write(more)
                with pytest.raises(StoreError):
                    s.import_checks(numbered(make_checks("api", "1")))
                assert s.count_checks() == 2
                assert snapshot(s.load("app", 0)) == snapshot(fold(checks[:2]))
        finally:
            db_path.chmod(0o644)

    def test_retry_succeeds_when_writable_again(self, store: Store) -> None:
        """A failed write leaves no transaction or lock behind: the retry succeeds."""
        checks = make_checks("app", "1100")
        batch = writes(checks)
        store.backend.conn.execute("PRAGMA query_only = ON")
        with pytest.raises(StoreError):
            store.write(batch)
        store.backend.conn.execute("PRAGMA query_only = OFF")
        store.write(batch)
        assert snapshot(store.load("app", 0)) == snapshot(fold(checks))


class TestStoreFoldsForItself:
    def test_import_between_daemon_writes_keeps_spans_true_to_checks(self, store: Store) -> None:
        """Daemon batches before and after an import of older history, and a late check
        older than the stored timeline, still leave spans equal to a fold of all checks."""
        live = make_checks("app", "1100", start=T0 + 3000)
        store.write(live[:2])
        old = make_checks("app", "1" * 50 + "0" * 10 + "1" * 40)
        assert imported(store, old) == (100, 0)
        store.write(live[2:])
        late = Check(target="app", at=T0 + 3015, ok=True, interval=30.0)
        store.write([late])
        everything = sorted([*old, *live, late], key=lambda c: c.at)
        assert snapshot(store.load("app", float("-inf"))) == snapshot(fold(everything))


def test_acknowledgements_are_chained_and_the_first_counts(tmp_path: Path) -> None:
    db = tmp_path / "acks.db"
    with closing(Store(db)) as store:
        first = store.record_ack("inc-20261130T100000Z", 100.0, "alice", "on it", 150.0)
        again = store.record_ack("inc-20261130T100000Z", 90.0, "bob", "", 160.0)
        assert first == again  # the first stored one counts, whatever --at the second gives
        assert (first.at, first.by, first.note, first.recorded) == (100.0, "alice", "on it", 150.0)
        other = store.record_ack("inc-20261130T120000Z", 200.0, "carol", "", 210.0)
        assert [a.incident for a in store.acks()] == [
            "inc-20261130T100000Z", "inc-20261130T100000Z", "inc-20261130T120000Z"]
        assert store.acks(after=store.acks()[1].seq) == [other]
        assert store.verify().ok
    raw = sqlite3.connect(db)
    try:  # an acknowledgement edited outside slaprobe breaks the chain
        raw.execute("UPDATE chain SET payload = replace(payload, 'alice', 'mallory')"
                    " WHERE kind = 'ack'")
        raw.commit()
    finally:
        raw.close()
    with closing(Store(db)) as store:
        verdict = store.verify()
        assert not verdict.ok and "ack" in verdict.problem
