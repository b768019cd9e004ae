"""The report from a known three-day history: figures, downtime, maintenance, renderings."""

from __future__ import annotations

import json

import pytest
import reportcase

from slaprobe.reporting import report


def test_figures_downtime_and_maintenance() -> None:
    rep, _ = reportcase.build()
    assert set(rep) == {"from", "to", "objective", "service", "targets", "downtime",
                        "maintenance", "terms", "incidents"}
    app = rep["targets"]["app"]
    assert app["down_seconds"] == 1800 and app["availability"] == pytest.approx(1 - 1800 / 259200)
    assert rep["targets"]["api"]["unknown_seconds"] == pytest.approx(3540)
    assert [(d["target"], d["start"], d["seconds"]) for d in rep["downtime"]] == [
        ("app", "2026-10-01T10:00:00Z", 1800.0), ("docs", "2026-10-02T23:50:00Z", 1800.0)]
    by_id = {m["id"]: m for m in rep["maintenance"]}
    assert by_id["db-upgrade"]["excluded_seconds"] == 3600
    assert by_id["hotfix"]["status"] == "late_notice" and by_id["hotfix"]["excluded_seconds"] == 0


def test_json_is_the_report_as_is() -> None:
    rep, _ = reportcase.build()
    assert json.loads(report.render_json(rep)) == rep


def test_text_and_markdown_name_every_scope_and_period() -> None:
    rep, _ = reportcase.build()
    text = report.render_text(rep, "CloneNer")
    md = report.render_markdown(rep, "CloneNer")
    for out in (text, md):
        for scope in ("CloneNer (service)", "app", "api", "docs"):
            assert scope in out
        assert "2026-10-01T10:00:00Z" in out and "db-upgrade" in out
    assert text.startswith("SLA report 2026-10-01T00:00:00Z .. 2026-10-04T00:00:00Z")
    assert md.startswith("# SLA report") and "|---|" in md


def test_table_aligns_columns() -> None:
    lines = report.table([["a", "bb"], ["ccc", "d"]], rule=True)
    assert lines == ["a    bb", "---  --", "ccc  d"]
