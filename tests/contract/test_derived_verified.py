"""`verify` covers what the figures read: the spans and open runs (derived from the
checks, not chained) are recomputed from the chained checks and compared; an edit
from outside names the table, the target and the time (both backends)."""

from __future__ import annotations

import json

import pytest
from backends import Backend
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_store_contract import T0, _history, make_checks

from slaprobe.evidence import signed
from slaprobe.history import chainstore
from slaprobe.history.storeapi import HistoryStore

EDITS = [
    # the 2-minute outage of `api` erased: the service would read 100%
    ("UPDATE spans SET state = 0 WHERE target = 'api' AND state = 1",
     "table spans, target api at location default, from 2026-10-01T00:05:01Z: stored up"),
    ("DELETE FROM spans WHERE target = 'api' AND state = 1",
     "table spans, target api at location default"),
    ("UPDATE spans SET \"end\" = \"end\" + 600 WHERE target = 'api' AND state = 1",
     "table spans, target api at location default"),
    ("INSERT INTO spans VALUES ('default', 'app', %s, %s, 1)",
     "table spans, target app at location default, from 2026-09-30T00:00:00Z: stored down"),
    # about two days of downtime invented through the open run
    ("UPDATE open_runs SET state = 1, start = start - 180000 WHERE target = 'app'",
     "table open_runs, target app at location default: stored down since"),
    ("DELETE FROM open_runs WHERE target = 'api'",
     "table open_runs, target api at location default: stored no open run"),
    ("UPDATE open_runs SET cap_end = cap_end + 86400 WHERE target = 'api'",
     "table open_runs, target api at location default"),
]


@pytest.mark.parametrize(("edit", "problem"), EDITS, ids=[e[0][:30] for e in EDITS])
def test_an_edit_of_a_derived_table_is_named(backend: Backend, edit: str, problem: str) -> None:
    _history(backend.open())
    reader = backend.open(read_only=True)
    v = reader.verify()
    assert v.ok, v.problem
    args = (T0 - 86400, T0 - 86000) if "%s" in edit else ()
    assert backend.raw(edit, *args) >= 1
    v = reader.verify()
    assert not v.ok
    assert problem in v.problem, v.problem
    assert "changed outside slaprobe" in v.problem


def _long(store: HistoryStore) -> None:
    """Three days of `app` at 10 min with an outage each day, in daemon-sized batches."""
    batch = []
    for k in range(3 * 144):
        ok = "0" if k % 144 in (50, 51) else "1"
        batch += make_checks("app", ok, start=T0 + 600 * k, interval=600)
        if len(batch) == 12:
            store.write(batch)
            batch = []
    store.write(batch)


def test_after_a_prune_the_rest_is_still_compared(backend: Backend, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    monkeypatch.setattr(chainstore, "BLOCK_CHECKS", 24)  # small blocks: a prune cuts a few
    store = backend.open()
    _long(store)
    assert store.prune(T0 + 86400 + 7000) > 0  # a horizon inside the second day's checks
    v = store.verify()
    assert v.ok, v.problem
    # an edit of what is still held after the horizon is seen
    assert backend.raw("UPDATE spans SET state = 0 WHERE state = 1 AND start > %s",
                       T0 + 2 * 86400) == 1
    v = store.verify()
    assert not v.ok and "table spans, target app at location default, from 2026-10-03T08:20:00Z" \
        in v.problem, v.problem


def test_tail_verification_leaves_the_derived_tables_to_the_full_walk(backend: Backend) -> None:
    """The daemon's minute-by-minute tail walk stays cheap; the full walk (start-up,
    daily, `slaprobe verify`) is the one that recomputes the timelines."""
    store = backend.open()
    _history(store)
    backend.raw("DELETE FROM open_runs WHERE target = 'api'")
    assert store.verify(since_seq=store.chain_top()).ok
    assert "table open_runs" in store.verify().problem


def test_verify_derived_scopes_to_a_month(backend: Backend) -> None:
    store = backend.open()
    _history(store)
    assert store.verify_derived(T0) == ""
    backend.raw("UPDATE spans SET state = 0 WHERE target = 'api' AND state = 1")
    assert "table spans, target api" in store.verify_derived(T0)
    assert store.verify_derived(T0 + 86400) == ""  # nothing of it from then on


def test_a_statement_file_from_either_backend_verifies(backend: Backend) -> None:
    """The chain rows as each database returns them make a file that checks out,
    signed; the head and digests are the chain's."""
    store = backend.open()
    _history(store)
    store.append_record("statement", {"month": "2026-09", "report": "{}"}, T0 + 2000)
    store.write(make_checks("app", "1", start=T0 + 2100))
    seq = store.append_record("statement", {"month": "2026-10", "report": '{"service": {}}'},
                              T0 + 2200)
    assert store.chain_head() == (seq, store.digest_of(seq))
    assert store.digest_of(seq + 1) is None
    key = Ed25519PrivateKey.generate()
    text = signed.export(store, "2026-10", key)
    doc = json.loads(text)
    assert [r["kind"] for r in doc["records"]] == ["checks", "statement"]  # since 2026-09's
    month, _, said = signed.verify(text, key.public_key())
    assert month == "2026-10" and said.startswith("valid")
    with pytest.raises(signed.NotClosed):
        signed.export(store, "2026-11", None)
