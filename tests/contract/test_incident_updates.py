"""Incident updates on every backend: chained records read back in time order, the
first one counting as the response, and an edit from outside caught by verify."""

from __future__ import annotations

import json

from backends import Backend

from slaprobe.history.storeapi import HistoryStore
from slaprobe.incidents import stored, updates

T = 1_800_000_000.0


def test_updates_round_trip_in_time_order(store: HistoryStore) -> None:
    updates.record(store, "inc-a", at=T + 300, status="monitoring", text="fixed <b>", by="bob",
                   now=T + 400)
    updates.record(store, "inc-a", at=T + 60, status="investigating", text="looking\n'x'",
                   by="alice", now=T + 401)
    updates.record(store, "inc-b", at=T + 10, status="identified", text="ü", by="carol",
                   now=T + 402)
    got = updates.stored(store)
    assert [(u.incident, u.status) for u in got] == [
        ("inc-a", "monitoring"), ("inc-a", "investigating"), ("inc-b", "identified")]
    seq = got[0].seq
    assert [u.status for u in updates.stored(store, after=seq)] == ["investigating", "identified"]
    acks, by_id = stored.notes(store)
    assert [u.to_json() for u in by_id["inc-a"]] == [
        {"at": "2027-01-15T08:01:00Z", "status": "investigating", "text": "looking\n'x'",
         "by": "alice"},
        {"at": "2027-01-15T08:05:00Z", "status": "monitoring", "text": "fixed <b>", "by": "bob"}]
    assert acks == {"inc-a": T + 60, "inc-b": T + 10}  # no acknowledgement: the first update
    store.record_ack("inc-a", T + 30, "dave", "", T + 500)   # earlier than its first update
    store.record_ack("inc-b", T + 50, "dave", "", T + 501)   # later than its first update
    acks, _ = stored.notes(store)
    assert acks == {"inc-a": T + 30, "inc-b": T + 10}
    assert store.verify().ok


def test_an_update_edited_or_deleted_outside_is_caught(backend: Backend,
                                                        store: HistoryStore) -> None:
    updates.record(store, "inc-a", at=T, status="investigating", text="first", by="a", now=T)
    updates.record(store, "inc-a", at=T + 1, status="resolved", text="done", by="a", now=T + 1)
    assert store.verify().ok
    [row] = [p for _, _, p in store.records(updates.KIND) if p["text"] == "done"]
    edited = json.dumps({**row, "text": "never happened"}, sort_keys=True, separators=(",", ":"))
    n = backend.raw("UPDATE chain SET payload = %s WHERE kind = %s AND seq = %s", edited,
                    updates.KIND, store.chain_top())
    assert n == 1
    v = store.verify()
    assert not v.ok and updates.KIND in v.problem and "changed outside slaprobe" in v.problem


def test_an_update_deleted_outside_is_caught(backend: Backend, store: HistoryStore) -> None:
    updates.record(store, "inc-a", at=T, status="investigating", text="first", by="a", now=T)
    updates.record(store, "inc-a", at=T + 1, status="resolved", text="done", by="a", now=T + 1)
    first = updates.stored(store)[0].seq
    assert backend.raw("DELETE FROM chain WHERE seq = %s", first) == 1
    v = store.verify()
    assert not v.ok and "outside slaprobe" in v.problem
