"""The statement file's layout and checks, without a database or a key."""

from __future__ import annotations

import json

import pytest

from slaprobe.core.evidence import statementfile as sf
from slaprobe.core.evidence.chain import GENESIS, next_record, record_digest

REPORT = json.dumps({"service": {"availability": 0.9995, "down_seconds": 60.0}}, indent=2)


def chain() -> list[dict[str, object]]:
    rows = []
    # a block of checks (its content covers rows the file does not hold), then records
    content = "c" * 64
    digest = record_digest(GENESIS, (1, "checks", 10.0, 1, 5, 5, 10.0, content))
    rows.append(sf.record((1, "checks", 10.0, 1, 5, 5, 10.0, content, None, GENESIS, digest)))
    tail = (1, digest)
    for name, payload in (("terms", {"since": 1.0}),
                          ("statement", {"month": "2026-10", "report": REPORT})):
        seq, kind, at, content, text, prev, digest = next_record(tail, name, payload, 20.0)
        rows.append(sf.record((seq, kind, at, None, None, 0, None, content, text, prev, digest)))
        tail = (seq, digest)
    return rows


def test_a_consistent_file_round_trips() -> None:
    text = sf.dump(sf.document("2026-10", REPORT, chain()))
    doc = sf.load(text)
    assert sf.check(doc)["service"]["availability"] == 0.9995


@pytest.mark.parametrize(("bend", "problem"), [
    (lambda d: d.update(statement=REPORT.replace("60.0", "6.0")), "a figure was changed"),
    (lambda d: d["records"].pop(1), "chain record #2 is missing"),
    (lambda d: d["records"].pop(), "is not the month's statement"),
    (lambda d: d["records"][0].update(count=4), r"#1 \(checks\) does not match its digest"),
    (lambda d: d["records"][1].update(payload='{"since":2.0}'), "content digest"),
    (lambda d: d.update(month="2026-11"), "not of 2026-11"),
])
def test_each_bend_is_named(bend, problem) -> None:  # type: ignore[no-untyped-def]
    doc = sf.document("2026-10", REPORT, chain())
    bend(doc)
    with pytest.raises(sf.Mismatch, match=problem):
        sf.check(sf.load(sf.dump(doc)))


def test_a_byte_outside_a_value_is_a_change() -> None:
    text = sf.dump(sf.document("2026-10", REPORT, chain()))
    with pytest.raises(sf.Mismatch, match="line 2: the file was changed"):
        sf.load(text.replace('\n "format"', '\n  "format"'))
    with pytest.raises(sf.Mismatch, match="not a statement file"):
        sf.load("{")
