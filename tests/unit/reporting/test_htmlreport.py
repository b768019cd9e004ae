"""The HTML report: self-contained, escaped, and every number the JSON's or the CSV's."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import reportcase
from htmlscan import external_references, per_day, scan

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.reporting import csvout, daily, htmlreport
from slaprobe.reporting import report

INCIDENT = {
    "id": "inc-20261001T100000Z", "priority": "high", "start": "2026-10-01T10:00:00Z",
    "end": "2026-10-01T10:30:00Z", "seconds": 1800.0, "business_seconds": 1800.0,
    "targets": ["app"], "priority_since": "2026-10-01T10:00:00Z",
    "response_deadline": "2026-10-01T14:00:00Z", "acknowledged": None,
    "response": "breached", "resolution_deadline": "2026-10-02T10:00:00Z",
    "resolution": "met",
}


def page(reason: str = "DB upgrade", **extra: Any) -> tuple[dict[str, Any], str]:
    cfg, tr = reportcase.config(), reportcase.tracker(reason)
    rep = report.build(cfg, tr, reportcase.A, reportcase.B, reportcase.NOW)
    rep.update(extra)
    return rep, report.render_html(cfg, tr, rep, reportcase.NOW)


def test_self_contained_no_script_nothing_fetched() -> None:
    _, text = page()
    assert text.startswith("<!DOCTYPE html>")
    s = scan(text)
    assert "script" not in s.tags and "<script" not in text.lower()
    assert s.urls == []
    assert external_references(text) == []
    assert "<style>" in text and "prefers-color-scheme:dark" in text and "@media print" in text


def test_hostile_text_is_escaped() -> None:
    """A maintenance reason, an id or a name with markup shows as text."""
    hostile = '<script>alert("x")</script>'
    rep, text = page(hostile)
    assert hostile not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    s = scan(text)
    assert "script" not in s.tags
    assert any(r[0].endswith(hostile) for r in s.tables["maintenance"])  # shown as text
    rep["maintenance"][0]["id"] = '"><img src=x onerror=alert(1)>'
    rep["downtime"][0]["target"] = "<marquee>app</marquee>"
    scopes = daily.build(reportcase.tracker(), "<u>CloneNer</u>", reportcase.A, reportcase.B,
                         reportcase.NOW)
    out = htmlreport.render(rep, scopes, service="<u>CloneNer</u>", critical={},
                            reasons={}, generated="now", version="t")
    s = scan(out)
    assert {"img", "marquee", "u"}.isdisjoint(s.tags)
    assert s.urls == []
    assert "&lt;u&gt;CloneNer&lt;/u&gt;" in out


def test_headline_and_scope_numbers_are_the_json() -> None:
    rep, text = page()
    s = scan(text)
    values = {float(v) for v, _ in s.values if v not in ("", "true", "false")}
    for scope in [rep["service"], *rep["targets"].values()]:
        for key in ("availability", "down_seconds", "excluded_seconds", "unknown_seconds",
                    "coverage", "error_budget_remaining_ratio"):
            assert scope[key] in values, key
    for d in rep["downtime"]:
        assert d["seconds"] in values
    for m in rep["maintenance"]:
        assert m["notice_seconds"] in values and m["excluded_seconds"] in values
    # each shown percentage is its exact value, cut (never rounded up)
    for v, shown in s.values:
        if shown.endswith("%") and v:
            digits = len(shown[:-1].split(".")[1]) if "." in shown else 0
            assert float(shown[:-1]) <= float(v) * 100 + 1e-9
            assert float(v) * 100 - float(shown[:-1]) < 10 ** -digits + 1e-9


def test_per_day_tables_equal_the_csv() -> None:
    _, text = page()
    _, scopes = reportcase.build()
    rows = list(csv.DictReader(io.StringIO(csvout.render(scopes))))
    tables = scan(text).days
    assert set(tables) == {("service", "CloneNer"), ("target", "app"), ("target", "api"),
                           ("target", "docs")}
    n = 0
    for r in rows:
        day = per_day(tables[(r["kind"], r["name"])])[r["day"]]
        assert day["availability %"] == ("" if r["availability"] == "" else
                                         f"{float(r['availability']) * 100:.4f}")
        assert (day["up s"], day["down s"], day["excluded s"], day["unknown s"]) == (
            r["up_seconds"], r["down_seconds"], r["excluded_seconds"], r["unknown_seconds"])
        assert day["coverage %"] == f"{float(r['coverage']) * 100:.4f}"
        n += 1
    assert n == 12


def test_hover_titles_give_each_days_figures() -> None:
    _, text = page()
    titles = scan(text).titles
    assert "2026-10-01: 97.9166%, down 30m, excluded 0s, unknown 0s" in titles
    assert "2026-10-02: 100.0000%, down 0s, excluded 0s, unknown 59m" in titles
    assert "2026-10-03: 100.0000%, down 0s, excluded 1h, unknown 0s" in titles
    # whole days up share one title in their group
    assert "a whole day up: 100.0000%, down 0s, excluded 0s, unknown 0s" in titles


def test_critical_missed_but_non_critical_only_below_objective() -> None:
    _, text = page()
    rows = {r[0].split()[0]: r for r in scan(text).tables["scopes"]}
    assert "MISSED" in rows["CloneNer"][2] and "MISSED" in rows["app"][2]
    assert "met" in rows["api"][2]
    assert "MISSED" not in rows["docs"][2] and "below objective" in rows["docs"][2]
    assert "non-critical" in rows["docs"][0]


def test_incidents_section_only_when_present() -> None:
    rep, text = page()
    assert rep["incidents"], "the case's outage is an incident"
    assert f"Incidents ({len(rep['incidents'])})" in text
    _, text = page(incidents=[])
    assert "Incidents" not in text
    _, text = page(incidents=[INCIDENT, {**INCIDENT, "id": "inc-<x>", "end": None,
                                         "priority": "medium", "resolution": "pending"}])
    inc = scan(text).tables["incidents"]
    assert [r[0] for r in inc] == ["inc-20261001T100000Z", "inc-<x>"]
    assert "open" in inc[1][3] and "breached" in inc[0][7]


@pytest.mark.parametrize("fmt", ["csv", "html"])
def test_renders_an_empty_history(fmt: str) -> None:
    cfg = reportcase.config()
    tr = Tracker({t.name: t.critical for t in cfg.targets})
    rep = report.build(cfg, tr, reportcase.A, reportcase.B, reportcase.NOW)
    if fmt == "html":
        text = report.render_html(cfg, tr, rep, reportcase.NOW)
        assert "no data" in text
        json.dumps(rep)
    else:
        text = csvout.render(daily.build(tr, "CloneNer", reportcase.A, reportcase.B,
                                         reportcase.NOW))
        assert text.count("\n") == 1 + 3 * 4
