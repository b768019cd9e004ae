"""Monthly statements on a real store: computed once, chained, final."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from slaprobe.config import parse
from slaprobe.core.evidence.terms import of_config
from slaprobe.core.model import Check
from slaprobe.core.spec import Config
from slaprobe.evidence import statements
from slaprobe.history.store import Store
from slaprobe.history.storeapi import ImportConflict
from slaprobe.reporting import report

OCT = 1790812800.0  # 2026-10-01T00:00:00Z
NOV = 1793491200.0  # 2026-11-01T00:00:00Z


def config(objective: float = 0.999) -> Config:
    return parse({"slo": {"objective": objective}, "defaults": {"interval": "60s"},
                  "targets": [{"name": "app", "url": "http://127.0.0.1:9/"}]}, env={})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "h.db")
    s.import_checks(enumerate([Check("app", NOV - 3600 + k * 60.0, k % 10 != 3, 60.0)
                               for k in range(60)], 2))
    yield s
    s.close()


def test_a_month_closes_once_after_its_end(store: Store) -> None:
    cfg = config()
    assert statements.close(store, cfg, [], NOV + 10, upto=NOV - 1) == []  # not ended yet
    assert statements.close(store, cfg, [], NOV + 10, upto=NOV + 5) == ["2026-10"]
    assert statements.close(store, cfg, [], NOV + 20, upto=NOV + 5) == []  # once
    text = statements.stored(store)["2026-10"]
    a, b = OCT, NOV
    live = report.render_json(report.build(cfg, report.load_tracker(
        cfg, store, a - 120, [], NOV + 10), a, b, NOV + 10))
    assert text == live
    rep = json.loads(text)
    assert rep["targets"]["app"]["down_seconds"] == 360.0
    assert store.verify().ok
    assert statements.recheck(store, "2026-10", text, store.record_terms(
        of_config(cfg), NOV + 30)) == ""


def test_recheck_flags_a_statement_that_differs_from_the_raw_checks(store: Store) -> None:
    statements.close(store, config(), [], NOV + 10, upto=NOV + 5)
    text = statements.stored(store)["2026-10"]
    bent = text.replace('"down_seconds": 360.0', '"down_seconds": 60.0', 1)  # the service
    terms = store.record_terms(of_config(config()), NOV + 30)
    assert statements.recheck(store, "2026-10", bent, terms) == (
        "the service down_seconds is 60.0 in the statement but 360.0 from the raw checks held")


def test_an_import_into_a_month_with_a_statement_is_refused(store: Store) -> None:
    statements.close(store, config(), [], NOV + 10, upto=NOV + 5)
    with pytest.raises(ImportConflict, match=r"line 2: app at 2026-10-01T00:00:00Z is in "
                                             r"2026-10, a closed month with a statement"):
        store.import_checks([(2, Check("app", OCT, True, 60.0))])
    assert store.import_checks([(2, Check("app", NOV + 7200, True, 60.0))]).inserted == 1


def test_statement_outlives_prune_and_config_change(tmp_path: Path, store: Store) -> None:
    statements.close(store, config(), [], NOV + 10, upto=NOV + 5)
    text = statements.stored(store)["2026-10"]
    assert store.prune(NOV) == 60  # every October check gone
    assert store.verify().ok
    store.close()
    with closing(Store(tmp_path / "h.db", read_only=True)) as again:
        assert statements.stored(again)["2026-10"] == text
        terms = again.record_terms(of_config(config(0.99)), NOV + 60)
        assert statements.recheck(again, "2026-10", text, terms) == ""  # pruned: final


def test_an_altered_statement_is_named_by_verify(tmp_path: Path, store: Store) -> None:
    statements.close(store, config(), [], NOV + 10, upto=NOV + 5)
    assert store.verify().ok
    with closing(sqlite3.connect(tmp_path / "h.db")) as c:
        assert c.execute("UPDATE chain SET payload = replace(payload, '360.0', '60.0')"
                         " WHERE kind = 'statement'").rowcount == 1
        c.commit()
    v = store.verify()
    assert not v.ok
    assert "(statement, written 2026-11-01T00:00:10Z) was changed outside slaprobe (payload)" \
        in v.problem


@pytest.mark.parametrize("edit", [
    "UPDATE spans SET state = 0 WHERE state = 1",  # the month's downtime erased
    "UPDATE open_runs SET state = 1, start = start - 190000",  # two days of downtime made up
])
def test_a_month_is_not_frozen_from_edited_timelines(tmp_path: Path, store: Store,
                                                     edit: str) -> None:
    with closing(sqlite3.connect(tmp_path / "h.db")) as c:
        assert c.execute(edit).rowcount >= 1
        c.commit()
    with pytest.raises(statements.Unverified, match=r"the statement of 2026-10 is not stored: "
                                                    r"table (spans|open_runs), target app"):
        statements.close(store, config(), [], NOV + 10, upto=NOV + 5)
    assert statements.stored(store) == {}  # nothing frozen
    assert not store.verify().ok
