"""CSV import decoding: DESIGN's format, and every bad row refused with its line."""

from __future__ import annotations

import io

import pytest

from slaprobe.core.history.importer import CsvError, parse_csv
from slaprobe.core.model import Check

INTERVALS = {"app": 30.0, "api": 60.0}
T0 = 1790812800.0  # 2026-10-01T00:00:00Z


def parse(text: str) -> list[Check]:
    return parse_csv(text.splitlines(keepends=True), INTERVALS)


def error_of(text: str) -> CsvError:
    with pytest.raises(CsvError) as info:
        parse(text)
    return info.value


class TestRows:
    """Rows that decode."""

    def test_required_columns_only(self) -> None:
        """target,time,ok is enough; optional fields are None."""
        assert parse("target,time,ok\napp,2026-10-01T00:00:00Z,1\n") == [
            Check(target="app", at=T0, ok=True, interval=30.0),
        ]

    def test_all_columns(self) -> None:
        """Every optional column is decoded."""
        text = (
            "target,time,ok,latency_seconds,status_code,error\n"
            "api,2026-10-01T00:00:00Z,0,1.25,503,bad_status\n"
        )
        assert parse(text) == [Check(
            target="api", at=T0, ok=False, interval=60.0, latency=1.25, status=503,
            error="bad_status",
        )]

    def test_columns_any_order_and_case(self) -> None:
        """Header names are matched case-insensitively, in any order, padded or not."""
        text = "OK , Time,TARGET,Status_Code\nup,2026-10-01T00:00:00Z,app,200\n"
        assert parse(text) == [Check(target="app", at=T0, ok=True, interval=30.0, status=200)]

    @pytest.mark.parametrize(
        ("text", "ok"),
        [("1", True), ("0", False), ("true", True), ("false", False), ("up", True),
         ("down", False), ("TRUE", True), ("False", False), ("UP", True), ("Down", False),
         (" up ", True)],
    )
    def test_ok_values(self, text: str, ok: bool) -> None:
        """ok is one of 1 0 true false up down, case-insensitive."""
        [check] = parse(f"target,time,ok\napp,{T0:.0f},{text}\n")
        assert check.ok is ok

    @pytest.mark.parametrize(
        "time",
        ["2026-10-01T00:00:00Z", "2026-10-01T02:00:00+02:00", "1790812800", "1790812800.0",
         "2026-10-01"],
    )
    def test_time_forms(self, time: str) -> None:
        """time is RFC 3339 (any offset) or Unix seconds."""
        [check] = parse(f"target,time,ok\napp,{time},1\n")
        assert check.at == T0

    def test_blank_lines_skipped(self) -> None:
        """Blank lines (also whitespace-only and all-empty fields) are skipped."""
        text = "target,time,ok\n\napp,1790812800,1\n   \n,,\napp,1790812830,0\n\n"
        assert [c.at for c in parse(text)] == [T0, T0 + 30]

    def test_interval_from_config(self) -> None:
        """Each check takes its target's configured interval."""
        text = "target,time,ok\napp,1790812800,1\napi,1790812800,1\n"
        assert [(c.target, c.interval) for c in parse(text)] == [("app", 30.0), ("api", 60.0)]

    def test_empty_optional_fields(self) -> None:
        """Empty optional fields are None, not errors."""
        [check] = parse("target,time,ok,latency_seconds,status_code,error\napp,1790812800,1,,,\n")
        assert (check.latency, check.status, check.error) == (None, None, None)

    def test_quoted_error_with_comma(self) -> None:
        """Quoted fields may hold commas."""
        [check] = parse('target,time,ok,error\napp,1790812800,0,"connect, refused"\n')
        assert check.error == "connect, refused"

    def test_zero_latency(self) -> None:
        """A latency of 0 is allowed."""
        [check] = parse("target,time,ok,latency_seconds\napp,1790812800,1,0\n")
        assert check.latency == 0.0

    def test_header_only(self) -> None:
        """A file with only a header has no checks."""
        assert parse("target,time,ok\n") == []


class TestHeader:
    """The header line."""

    def test_empty_file(self) -> None:
        """An empty file is refused on line 1."""
        e = error_of("")
        assert e.line == 1 and "header" in str(e)

    @pytest.mark.parametrize(
        ("header", "missing"),
        [("target,time", "ok"), ("time,ok", "target"), ("target,ok,error", "time")],
    )
    def test_missing_required(self, header: str, missing: str) -> None:
        """A header without a required column is refused, naming it."""
        e = error_of(f"{header}\n")
        assert e.line == 1 and f"required column(s): {missing}" in str(e)

    def test_unknown_column(self) -> None:
        """An unknown column is refused (a typo must not drop data silently)."""
        e = error_of("target,time,ok,latency_ms\napp,1790812800,1,12\n")
        assert e.line == 1 and "unknown column(s): latency_ms" in str(e)

    def test_duplicate_column(self) -> None:
        """A column named twice is refused."""
        e = error_of("target,time,ok,ok\n")
        assert e.line == 1 and "twice" in str(e)


class TestBadRows:
    """A bad row raises CsvError with its line number."""

    @pytest.mark.parametrize(
        ("row", "words"),
        [
            ("app,2026-13-45T00:00:00Z,1,,", "time:"),
            ("app,yesterday,1,,", "time:"),
            ("app,2026-10-01T00:00:00,1,,", "needs an offset"),
            ("app,nan,1,,", "time:"),
            ("web,1790812800,1,,", "target 'web' is not in the config"),
            ("App,1790812800,1,,", "target 'App' is not in the config"),
            (",1790812800,1,,", "target '' is not in the config"),
            ("app,1790812800,yes,,", "ok: 'yes' is not one of 1 0 true false up down"),
            ("app,1790812800,,,", "ok: ''"),
            ("app,1790812800,1,0.5", "4 fields, the header has 5"),
            ("app,1790812800,1,0.5,200,x", "6 fields, the header has 5"),
            ("app,1790812800,1,0.5,99", "status_code: '99'"),
            ("app,1790812800,1,0.5,600", "status_code: '600'"),
            ("app,1790812800,1,0.5,OK", "status_code: 'OK'"),
            ("app,1790812800,1,0.5,²⁰⁰", "status_code: '²⁰⁰'"),
            ("app,1790812800,1,0.5,200.0", "status_code: '200.0'"),
            ("app,1790812800,1,-0.1,200", "latency_seconds: '-0.1' must be a number >= 0"),
            ("app,1790812800,1,fast,200", "latency_seconds: 'fast' is not a number"),
            ("app,1790812800,1,nan,200", "latency_seconds: 'nan'"),
            ("app,1790812800,1,inf,200", "latency_seconds: 'inf'"),
        ],
    )
    def test_bad_row(self, row: str, words: str) -> None:
        """The row's problem and line number are reported (line 4 here: header, good, blank)."""
        text = f"target,time,ok,latency_seconds,status_code\napp,1790812770,1,0.1,200\n\n{row}\n"
        e = error_of(text)
        assert e.line == 4
        assert str(e).startswith("line 4: ")
        assert words in str(e)

    @pytest.mark.parametrize(("row", "words"), [
        ("app,1790812800\x00,1,,", "time: control character U+0000"),
        ("app\x00,1790812800,1,,", "target: control character U+0000"),
        ("app,1790812800,1\x1b[2J,,", "ok: control character U+001B"),
        ("app,1790812800,1,0.5\x07,", "latency_seconds: control character U+0007"),
        ("app,1790812800,1,,200\x85", "status_code: control character U+0085"),
        ('app,"1790812800\n",1,,', "time: control character U+000A"),
    ])
    def test_control_characters_refused_with_their_line(self, row: str, words: str) -> None:
        text = f"target,time,ok,latency_seconds,status_code\napp,1790812770,1,0.1,200\n{row}\n"
        e = error_of(text)
        assert e.line == 3 + row.count("\n") and words in str(e), str(e)

    def test_control_characters_in_error_text(self) -> None:
        """A quoted error may span lines; NUL and ESC are refused there too."""
        e = error_of('target,time,ok,error\napp,1790812800,0,"x\x1b]0;t\x07"\n')
        assert e.line == 2 and "error: control character U+001B" in str(e)
        e = error_of("target,time,ok,error\napp,1790812800,0,a\x00b\n")
        assert e.line == 2 and "U+0000" in str(e)

    def test_first_bad_row_reported(self) -> None:
        """With several bad rows, the first one is reported."""
        e = error_of("target,time,ok\napp,1790812800,1\napp,x,1\nweb,1790812800,1\n")
        assert e.line == 3

    def test_multiline_field_counts_lines(self) -> None:
        """Line numbers count physical lines, including those inside quoted fields."""
        text = 'target,time,ok,error\napp,1790812800,0,"two\nlines"\napp,1790812830,maybe,\n'
        assert error_of(text).line == 4

    def test_bad_row_after_many(self) -> None:
        """Nothing is half-decoded: a late bad row fails the whole file."""
        rows = "".join(f"app,{T0 + 30 * i:.0f},1\n" for i in range(1000))
        e = error_of(f"target,time,ok\n{rows}app,{T0 + 30000:.0f},2\n")
        assert e.line == 1002


def test_future_time_is_refused_with_its_line() -> None:
    """A row after `not_after` (a typo in the year) aborts the import at its line."""
    text = "target,time,ok\napp,2026-10-01T00:00:00Z,1\napp,2030-01-01T00:00:00Z,0\n"
    with pytest.raises(CsvError, match=r"line 3: time '2030-01-01T00:00:00Z' is in the future"):
        parse_csv(io.StringIO(text), {"app": 30.0}, not_after=1_800_000_000.0)
