"""CSV per day: DESIGN's schema, golden output, per-day figures adding up to the report."""

from __future__ import annotations

import csv
import io

import pytest
import reportcase

from slaprobe.core.reporting import csvout, daily
from slaprobe.core.reporting.figfmt import percent, ratio
from slaprobe.reporting import report

GOLDEN = """\
day,kind,name,availability,up_seconds,down_seconds,excluded_seconds,unknown_seconds,coverage
2026-10-01,service,CloneNer,0.979166,84600,1800,0,0,1.000000
2026-10-01,target,app,0.979166,84600,1800,0,0,1.000000
2026-10-01,target,api,1.000000,86400,0,0,0,1.000000
2026-10-01,target,docs,1.000000,86400,0,0,0,1.000000
2026-10-02,service,CloneNer,1.000000,82860,0,0,3540,0.959027
2026-10-02,target,app,1.000000,86400,0,0,0,1.000000
2026-10-02,target,api,1.000000,82860,0,0,3540,0.959027
2026-10-02,target,docs,0.993055,85800,600,0,0,1.000000
2026-10-03,service,CloneNer,1.000000,82800,0,3600,0,1.000000
2026-10-03,target,app,1.000000,86400,0,0,0,1.000000
2026-10-03,target,api,1.000000,82800,0,3600,0,1.000000
2026-10-03,target,docs,0.986111,85200,1200,0,0,1.000000
"""


def test_golden() -> None:
    _, scopes = reportcase.build()
    assert csvout.render(scopes) == GOLDEN


def test_per_day_rows_add_up_to_the_report() -> None:
    rep, scopes = reportcase.build()
    rows = list(csv.DictReader(io.StringIO(csvout.render(scopes))))
    assert list(rows[0]) == csvout.HEADER
    for kind, name, scope in [("service", "CloneNer", rep["service"]),
                              *(("target", n, s) for n, s in rep["targets"].items())]:
        mine = [r for r in rows if (r["kind"], r["name"]) == (kind, name)]
        assert [r["day"] for r in mine] == ["2026-10-01", "2026-10-02", "2026-10-03"]
        for key in ("up_seconds", "down_seconds", "excluded_seconds", "unknown_seconds"):
            assert sum(float(r[key]) for r in mine) == pytest.approx(scope[key], abs=0.01), key


def test_undefined_availability_is_empty_and_partial_days_are_clipped() -> None:
    tr = reportcase.tracker()
    # the last check (at B - 60s) covers up to B + 60s: after that nothing is known
    after = daily.build(tr, "CloneNer", reportcase.B + 60, reportcase.B + 86400,
                        reportcase.NOW)
    rows = list(csv.DictReader(io.StringIO(csvout.render(after))))
    assert len(rows) == 4
    assert all(r["availability"] == "" and r["coverage"] == "0.000000" for r in rows)
    assert all(r["unknown_seconds"] == "86340" for r in rows)
    a, b = reportcase.t("2026-10-01T12:00:00Z"), reportcase.t("2026-10-02T06:00:00Z")
    part = daily.build(tr, "CloneNer", a, b, reportcase.NOW)
    rows = list(csv.DictReader(io.StringIO(csvout.render(part))))
    app = [r for r in rows if r["name"] == "app"]
    assert [(r["day"], r["up_seconds"]) for r in app] == [("2026-10-01", "43200"),
                                                        ("2026-10-02", "21600")]


def test_time_after_now_is_unknown_like_the_report() -> None:
    """A range running into the future: the days after `now` are unknown, and the
    rows still add up to the report built with the same `now`."""
    cfg, tr = reportcase.config(), reportcase.tracker()
    now = reportcase.t("2026-10-02T12:00:00Z")
    rep = report.build(cfg, tr, reportcase.A, reportcase.B, now)
    rows = list(csv.DictReader(io.StringIO(csvout.render(
        daily.build(tr, "CloneNer", reportcase.A, reportcase.B, now)))))
    svc = [r for r in rows if r["kind"] == "service"]
    assert svc[2]["unknown_seconds"] == "86400" and svc[2]["availability"] == ""
    assert sum(float(r["unknown_seconds"]) for r in svc) == pytest.approx(
        rep["service"]["unknown_seconds"], abs=0.01)


def test_ratio_is_cut_never_rounded_up() -> None:
    """A day with any downtime never shows as 1."""
    assert ratio(1 - 0.3 / 86400) == "0.999996"
    assert ratio(1 - 1e-9) == "0.999999"
    assert percent(1 - 1e-9) == "99.9999"
    assert ratio(None) == ""
