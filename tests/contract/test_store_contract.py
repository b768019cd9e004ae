"""The store contract (`storeapi.HistoryStore`), run against every backend.

What the daemon, the readers and the command line rely on: timelines that are the fold
of the checks, checks per location, append-only imports, the SLA terms and first-seen
records, acknowledgements, statements, pruning, and a hash chain that names any edit
made outside slaprobe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace

import pytest
from backends import Backend

from slaprobe.core.evidence.terms import Terms
from slaprobe.core.history.timeline import History, OpenRun, Span, fold
from slaprobe.core.maintenance.rules import Seen
from slaprobe.core.model import Check, State
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.history.storeapi import HistoryStore, ImportConflict

T0 = 1790812800.0  # 2026-10-01T00:00:00Z
PATTERN = "1111000011..11nn1111"  # up, down, a gap, up, probe_network, up
TERMS = Terms(objective=0.999, maintenance_notice=172800.0, allow_retroactive_maintenance=False,
              critical={"app": True, "api": False})


def make_checks(target: str, pattern: str, *, start: float = T0, interval: float = 30.0,
                location: str = "default") -> list[Check]:
    """One check per character every `interval`: 1 up, 0 down, n probe_network, u unknown
    outcome, . none."""
    out = []
    for i, ch in enumerate(pattern):
        if ch == ".":
            continue
        out.append(Check(
            target=target, at=start + i * interval, ok=ch == "1", interval=interval,
            latency=0.1 if ch == "1" else None, status=200 if ch == "1" else 503,
            error={"1": None, "u": "probe_error"}.get(ch, "bad_status"), network=ch == "n",
            unknown=ch == "u", location=location,
        ))
    return out


def snapshot(h: History) -> tuple[list[Span], OpenRun | None]:
    return list(zip(h.spans.starts, h.spans.ends, h.spans.states, strict=True)), h.open


def numbered(checks: Iterable[Check]) -> list[tuple[int, Check]]:
    return list(enumerate(checks, 2))


def imported(store: HistoryStore, checks: Iterable[Check]) -> tuple[int, int]:
    r = store.import_checks(numbered(checks))
    return r.inserted, r.skipped


def spec(wid: str = "w1", start: float = T0 + 86400, end: float = T0 + 90000) -> MaintenanceSpec:
    return MaintenanceSpec(wid, start, end, T0 - 86400 * 3, targets=("app",), reason="upgrade")


# --- checks and timelines -------------------------------------------------------------


def test_batches_fold_into_the_checks_timeline(store: HistoryStore) -> None:
    checks = make_checks("app", PATTERN + "uu11")
    for i in range(0, len(checks), 3):
        store.write(checks[i:i + 3])
    assert len(fold(checks).spans) >= 4
    assert snapshot(store.load("app", 0)) == snapshot(fold(checks))
    assert store.checks("app", 0, float("inf")) == checks
    assert store.checks("app", T0 + 30, T0 + 60) == [checks[1]]  # [a, b)
    assert store.count_checks() == len(checks)
    assert store.first_check_at() == T0


def test_history_survives_reopen(backend: Backend) -> None:
    checks = make_checks("app", PATTERN)
    backend.open().write(checks)
    again = backend.open(read_only=True)
    assert snapshot(again.load("app", 0)) == snapshot(fold(checks))
    assert again.checks("app", 0, float("inf")) == checks


def test_load_since_and_targets_apart(store: HistoryStore) -> None:
    app, api = make_checks("app", "11110000111"), make_checks("api", "0011", interval=60.0)
    store.write(app + api)
    spans, open_run = snapshot(store.load("app", T0 + 200))
    assert spans == [(T0 + 120, T0 + 240, State.DOWN)]
    assert open_run == OpenRun(T0 + 240, State.UP, T0 + 300, T0 + 360)
    assert snapshot(store.load("api", 0)) == snapshot(fold(api))
    assert snapshot(store.load("web", 0)) == ([], None)


def test_a_duplicate_check_is_ignored_not_replaced(store: HistoryStore) -> None:
    [first] = make_checks("app", "1")
    store.write([first])
    store.write([replace(first, ok=False)])
    assert store.checks("app", 0, float("inf")) == [first]
    assert store.verify().ok


def test_an_older_check_refolds_the_timeline(store: HistoryStore) -> None:
    checks = make_checks("app", "1100110011")
    store.write(checks[5:])
    store.write(checks[:5])
    assert snapshot(store.load("app", 0)) == snapshot(fold(checks))


def test_each_location_has_its_own_timeline(backend: Backend) -> None:
    east, west = backend.open(location="east"), backend.open(location="west")
    e, w = make_checks("app", "1100", location="east"), make_checks("app", "0011", location="west")
    east.write(e)
    west.write(w)
    assert snapshot(east.load("app", 0)) == snapshot(fold(e))
    assert snapshot(west.load("app", 0)) == snapshot(fold(w))
    assert snapshot(east.load("app", 0, location="west")) == snapshot(fold(w))
    assert east.locations() == ["east", "west"]
    assert {k: snapshot(h) for k, h in west.load_locations("app", 0).items()} == {
        "east": snapshot(fold(e)), "west": snapshot(fold(w))}
    assert east.checks("app", 0, float("inf"), location="west") == w
    with pytest.raises(ValueError, match="location 'west' given to the writer of location"):
        east.write(w)
    v = backend.open(read_only=True).verify()
    assert v.ok, v.problem
    assert v.checks == 8


def test_checks_of_other_locations_arrive_by_watermark(backend: Backend) -> None:
    east, west = backend.open(location="east"), backend.open(location="west")
    seen, mark = east.checks_after(0)
    assert (seen, mark) == ([], 0)
    assert east.check_watermark() == 0
    w1 = make_checks("app", "11", location="west")
    west.write(w1)
    east.write(make_checks("app", "1", location="east"))
    seen, mark = east.checks_after(mark)
    assert seen == w1
    assert east.checks_after(mark) == ([], mark)
    w2 = make_checks("app", "0", start=T0 + 60, location="west")
    west.write(w2)
    seen, mark2 = east.checks_after(mark, limit=1)
    assert seen == w2 and mark2 > mark
    assert east.check_watermark() == mark2


def test_concurrent_writers_of_two_locations_keep_one_chain(backend: Backend) -> None:
    stores = {loc: backend.open(location=loc) for loc in ("east", "west")}
    errors: list[BaseException] = []

    def run(loc: str) -> None:
        try:
            for k in range(40):
                stores[loc].write(make_checks("app", "1", start=T0 + 30 * k, location=loc)
                                  + make_checks("api", "0", start=T0 + 30 * k, location=loc))
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(loc,)) for loc in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    v = backend.open(read_only=True).verify()
    assert v.ok, v.problem
    assert v.checks == 160
    assert len(stores["east"].checks_after(0, limit=1000)[0]) == 80


# --- imports: append-only ---------------------------------------------------------------


def test_import_fills_unknown_time_and_skips_duplicates(store: HistoryStore) -> None:
    every = make_checks("app", "1111000011110000111100001111")
    live = every[4:8] + every[16:20]
    old = every[:4] + every[9:16] + every[21:]
    store.write(live)
    assert imported(store, reversed(old)) == (len(old), 0)
    assert snapshot(store.load("app", 0)) == snapshot(fold(sorted(live + old, key=lambda c: c.at)))
    assert imported(store, old + old) == (0, 2 * len(old))
    assert store.generation() == 1
    v = store.verify()
    assert v.ok, v.problem


def test_import_refuses_to_rewrite_recorded_time(store: HistoryStore) -> None:
    store.write(make_checks("app", "1111"))  # covers T0 .. T0 + 150
    gap = make_checks("app", "000", start=T0 + 3600)
    inside = make_checks("app", "0", start=T0 + 40, interval=1.0)
    before = (store.count_checks(), snapshot(store.load("app", 0)), store.generation())
    with pytest.raises(ImportConflict) as e:
        store.import_checks(numbered(gap + inside))
    assert str(e.value) == ("line 5: app at 2026-10-01T00:00:40Z overlaps a recorded check "
                            "(2026-10-01T00:00:30Z .. 2026-10-01T00:01:00Z): an import "
                            "fills only unknown time")
    assert (store.count_checks(), snapshot(store.load("app", 0)), store.generation()) == before
    with pytest.raises(ImportConflict, match=r"line 2: .*00:01:30Z \.\. 2026-10-01T00:02:30Z"):
        store.import_checks(numbered(make_checks("app", "1", start=T0 + 149)))
    assert imported(store, make_checks("app", "1", start=T0 + 150)) == (1, 0)
    [first] = make_checks("app", "1")
    with pytest.raises(ImportConflict, match="line 2: app at "):
        store.import_checks(numbered([replace(first, ok=False)]))
    with pytest.raises(ImportConflict, match=r"line 3: .* also on line 2"):
        store.import_checks(numbered([replace(first, at=T0 - 600),
                                      replace(first, at=T0 - 600, ok=False)]))
    assert imported(store, make_checks("api", "0000")) == (4, 0)  # per target


def test_import_goes_to_the_stores_location(backend: Backend) -> None:
    east, west = backend.open(location="east"), backend.open(location="west")
    east.write(make_checks("app", "1111", location="east"))
    assert imported(west, make_checks("app", "0000")) == (4, 0)  # west's time is unknown
    assert [c.location for c in west.checks("app", 0, float("inf"))] == ["west"] * 4
    assert [c.ok for c in east.checks("app", 0, float("inf"))] == [True] * 4


def test_import_reports_what_it_filled(store: HistoryStore) -> None:
    store.write(make_checks("app", "1", start=T0 + 300))
    sparse = [replace(c, interval=2.0) for c in make_checks("app", "1111")]
    f = store.import_checks(numbered(sparse)).filled["app"]
    assert (f.start, f.end, f.seconds) == (T0, T0 + 94, 16.0)
    f = store.import_checks(numbered(make_checks("app", "11", start=T0 + 240))).filled["app"]
    assert (f.start, f.end, f.seconds) == (T0 + 240, T0 + 300, 60.0)


def test_import_is_all_or_nothing(store: HistoryStore) -> None:
    store.write(make_checks("app", "11"))
    before = (store.count_checks(), snapshot(store.load("app", 0)), store.generation())

    def failing() -> Iterator[tuple[int, Check]]:
        yield from numbered(make_checks("app", "0000", start=T0 + 3600))
        raise RuntimeError("bad row")

    with pytest.raises(RuntimeError, match="bad row"):
        store.import_checks(failing())
    assert (store.count_checks(), snapshot(store.load("app", 0)), store.generation()) == before
    assert imported(store, make_checks("api", "1")) == (1, 0)


def test_import_into_a_month_with_a_statement_is_refused(store: HistoryStore) -> None:
    store.append_record("statement", {"month": "2026-09", "report": "{}"}, T0 + 60)
    with pytest.raises(ImportConflict, match="is in 2026-09, a closed month with a statement"):
        store.import_checks(numbered(make_checks("app", "1", start=T0 - 3600)))
    assert [p["month"] for _, _, p in store.records("statement")] == ["2026-09"]


# --- terms, first-seen, feeds, acknowledgements ------------------------------------------


def test_terms_are_recorded_once_per_version(backend: Backend) -> None:
    store = backend.open()
    assert [v.since for v in store.record_terms(TERMS, T0).versions] == [T0]
    assert [v.since for v in store.record_terms(TERMS, T0 + 60).versions] == [T0]
    stricter = replace(TERMS, objective=0.9995)
    assert [v.since for v in store.record_terms(stricter, T0 + 120).versions] == [T0, T0 + 120]
    reader = backend.open(read_only=True)
    newer = replace(TERMS, objective=0.99)
    assert [v.since for v in reader.record_terms(newer, T0 + 180).versions] == [
        T0, T0 + 120, T0 + 180]
    assert [v.terms for v in store.terms_history()] == [TERMS, stricter]  # reader kept nothing


def test_first_seen_is_kept(backend: Backend) -> None:
    store = backend.open()
    assert [v.first_seen for v in store.record_seen([spec()], T0)["w1"]] == [T0]
    assert [v.first_seen for v in store.record_seen([spec()], T0 + 60)["w1"]] == [T0]
    moved = store.record_seen([spec(end=T0 + 93600)], T0 + 120)["w1"]
    assert [v.first_seen for v in moved] == [T0, T0 + 120]
    assert store.record_seen([spec("w2")], T0 + 180).keys() == {"w2"}
    reader = backend.open(read_only=True)
    assert reader.record_seen([spec("w3")], T0 + 240)["w3"] == [
        Seen("w3", T0 + 86400, T0 + 90000, T0 - 86400 * 3, ("app",), T0 + 240)]
    assert store.record_seen([spec("w3")], T0 + 300)["w3"][0].first_seen == T0 + 300


def test_feed_windows_are_kept_per_source(store: HistoryStore) -> None:
    store.save_feed("a", [spec("x"), spec("y", start=T0)])
    store.save_feed("b", [spec("z")])
    assert [w.id for w in store.feed_windows("a")] == ["y", "x"]
    store.save_feed("a", [spec("x")])
    assert [(w.id, w.targets, w.source) for w in store.feed_windows("a")] == [
        ("x", ("app",), "a")]
    assert [w.id for w in store.feed_windows("b")] == ["z"]


def test_acknowledgements_first_counts(store: HistoryStore) -> None:
    top = store.chain_top()
    first = store.record_ack("inc-1", T0 + 10, "alice", "looking", T0 + 11)
    again = store.record_ack("inc-1", T0 + 20, "bob", "", T0 + 21)
    assert again == first and first.by == "alice" and first.seq == top + 1
    other = store.record_ack("inc-2", T0 + 30, "carol", "x'y", T0 + 31)
    assert [a.incident for a in store.acks()] == ["inc-1", "inc-1", "inc-2"]
    assert store.acks(first.seq) == [store.acks()[1], other]
    assert store.verify().ok


def test_records_of_a_kind_in_chain_order(store: HistoryStore) -> None:
    a = store.append_record("statement", {"month": "2026-09", "report": "{\"a\": 1}"}, T0)
    b = store.append_record("statement", {"month": "2026-10", "report": "{}"}, T0 + 1)
    assert b == a + 1 == store.chain_top()
    assert store.records("statement") == [
        (a, T0, {"month": "2026-09", "report": "{\"a\": 1}"}),
        (b, T0 + 1, {"month": "2026-10", "report": "{}"})]


# --- the chain: edits outside slaprobe are named ------------------------------------------


def _history(store: HistoryStore) -> None:
    store.record_terms(TERMS, T0 - 60)
    store.record_seen([spec()], T0 - 60)
    for k in range(30):
        store.write(make_checks("app", "1", start=T0 + 30 * k)
                    + make_checks("api", "0" if 10 <= k < 14 else "1", start=T0 + 30 * k + 1))
    store.import_checks(numbered(make_checks("app", "1" * 20, start=T0 - 3000)))
    store.record_ack("inc-1", T0 + 400, "alice", "", T0 + 401)
    store.write(make_checks("app", "1", start=T0 + 1200))


@pytest.mark.parametrize(("edit", "problem"), [
    ("UPDATE checks SET status = 500 WHERE n = (SELECT min(n) FROM checks)",
     "a check changed outside slaprobe"),
    ("DELETE FROM checks WHERE n = (SELECT min(n) FROM checks WHERE target = 'api')",
     "of its"),
    ("UPDATE maintenance_seen SET first_seen = first_seen - 86400",
     "maintenance_seen row"),
    ("UPDATE terms SET since = since - 86400", "terms row"),
    ("DELETE FROM chain WHERE seq = 2", "chain record #2 is missing"),
    ("UPDATE chain SET at = at + 1 WHERE seq = 3", "was changed outside slaprobe"),
    ("UPDATE checks SET location = 'elsewhere' WHERE n = (SELECT max(n) FROM checks)",
     "a check changed outside slaprobe"),
])
def test_an_edit_outside_slaprobe_is_named(backend: Backend, edit: str, problem: str) -> None:
    _history(backend.open())
    reader = backend.open(read_only=True)
    v = reader.verify()
    assert v.ok, v.problem
    assert v.checks == 81
    assert backend.raw(edit) >= 1
    v = reader.verify()
    assert not v.ok
    assert problem in v.problem


def test_an_inserted_check_is_named(backend: Backend) -> None:
    store = backend.open()
    _history(store)
    backend.raw("INSERT INTO checks (location, target, at, ok, interval) VALUES"
                " ('default', 'app', %s, %s, 30)", T0 + 9000.0, True)
    assert "is in no chain record: inserted outside slaprobe" in store.verify().problem


def test_prune_keeps_the_rest_verifiable(backend: Backend) -> None:
    store = backend.open()
    _history(store)
    n = store.count_checks()
    deleted = store.prune(T0 + 3 * 86400)  # every block is past it: all checks go
    assert deleted == n and store.count_checks() == 0
    assert store.pruned_since(T0)
    store.write(make_checks("app", "1", start=T0 + 4 * 86400))
    v = store.verify()
    assert v.ok, v.problem
    assert v.checks == 1
    assert store.prune(T0) == 0
    top = store.chain_top()
    assert store.verify(since_seq=top).ok


def test_a_reader_verifies_while_the_writer_writes(backend: Backend) -> None:
    store = backend.open()
    _history(store)
    reader = backend.open(read_only=True)
    stop = threading.Event()

    def write() -> None:
        k = 100
        while not stop.is_set():
            store.write(make_checks("app", "1", start=T0 + 30 * k))
            k += 1

    t = threading.Thread(target=write)
    t.start()
    try:
        for _ in range(3):
            v = reader.verify()
            assert v.ok, v.problem
    finally:
        stop.set()
        t.join()
    assert store.verify().ok
