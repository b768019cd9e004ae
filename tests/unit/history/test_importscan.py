"""One target's import rows checked against its recorded checks as both stream by."""

from __future__ import annotations

from slaprobe.core.history.importscan import TargetScan
from slaprobe.core.model import Check

T0 = 1790812800.0  # 2026-10-01T00:00:00Z


def check(at: float, ok: bool = True, interval: float = 30.0) -> Check:
    return Check(target="app", at=T0 + at, ok=ok, interval=interval)


def test_duplicates_are_skipped_and_filled_time_ends_at_the_next_check() -> None:
    recorded = [check(0, interval=10.0), check(300)]
    rows = [(2, check(0, interval=10.0)), (3, check(30)), (4, check(60)), (5, check(280))]
    scan = TargetScan([])
    kept = list(scan.kept(rows, recorded))
    assert kept == rows[1:]
    assert (scan.count, scan.skipped, scan.overlap, scan.closed) == (3, 1, None, {})
    # 30 .. 60 and 60 .. 120 (2 x interval), 280 .. 300 (the recorded check)
    assert (scan.start, scan.end, scan.seconds) == (T0 + 30, T0 + 300, 30 + 60 + 20)


def test_the_smallest_overlapping_line_is_kept_whatever_the_time_order() -> None:
    recorded = [check(0, interval=10.0), check(100, interval=10.0)]
    rows = [(9, check(5)), (4, check(50)), (3, check(105)), (7, check(100, ok=False))]
    scan = TargetScan([])
    list(scan.kept(sorted(rows, key=lambda r: r[1].at), recorded))
    assert scan.overlap is not None
    assert (scan.overlap.line, scan.overlap.start, scan.overlap.end) == (3, T0 + 100, T0 + 120)


def test_rows_in_a_closed_month_are_found_per_month() -> None:
    months = [("2026-09", T0 - 30 * 86400, T0)]
    rows = [(5, check(-90)), (4, check(-60)), (2, check(30))]
    scan = TargetScan(months)
    list(scan.kept(rows, []))
    assert scan.closed["2026-09"].line == 4
    assert list(scan.closed) == ["2026-09"]
