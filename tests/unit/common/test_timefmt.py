"""Durations, instants, calendar months and RFC 3339 formatting."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slaprobe.core.timefmt import (
    format_duration,
    iso,
    month_range,
    month_start,
    parse_duration,
    parse_instant,
    to_epoch,
)


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()  # type: ignore[arg-type,misc]


class TestParseDuration:
    """parse_duration: the config's duration strings."""

    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("500ms", 0.5),
            ("30s", 30.0),
            ("5m", 300.0),
            ("48h", 172800.0),
            ("30d", 2592000.0),
            ("1h30m", 5400.0),
            ("2w", 1209600.0),
            ("1.5s", 1.5),
            ("1m30s500ms", 90.5),
            ("0s", 0.0),
            ("  10s  ", 10.0),
        ],
    )
    def test_valid(self, text: str, seconds: float) -> None:
        """Each documented form parses to seconds."""
        assert parse_duration(text) == pytest.approx(seconds)

    @pytest.mark.parametrize(
        "text", ["5", "5x", "-1s", "s", "1h 30m", "5S", "1.s", ".5s", "1e3s", "30 seconds", "nan"],
    )
    def test_invalid(self, text: str) -> None:
        """A bad duration raises ValueError quoting it, with examples."""
        with pytest.raises(ValueError, match="invalid duration") as info:
            parse_duration(text)
        assert repr(text) in str(info.value)
        assert '"30s"' in str(info.value)

    @pytest.mark.parametrize("text", ["", "   "])
    def test_empty(self, text: str) -> None:
        """An empty duration is an error of its own."""
        with pytest.raises(ValueError, match="empty duration"):
            parse_duration(text)

    @given(st.integers(min_value=0, max_value=10**7))
    def test_format_round_trip(self, seconds: int) -> None:
        """format_duration of whole seconds parses back to the same value."""
        assert parse_duration(format_duration(seconds)) == seconds

    @pytest.mark.parametrize(
        ("seconds", "text"),
        [(0, "0s"), (0.5, "500ms"), (30, "30s"), (90, "1m30s"), (3600, "1h"), (86400 * 30, "30d"),
         (90000, "25h"), (90061, "1d1h1m1s")],
    )
    def test_format(self, seconds: float, text: str) -> None:
        """format_duration picks the largest unit that divides evenly, else a compound."""
        assert format_duration(seconds) == text


class TestParseInstant:
    """parse_instant: times on the command line and in imported CSV."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-10-01T00:00:00Z", utc(2026, 10, 1)),
            ("2026-10-01t00:00:00z", utc(2026, 10, 1)),
            ("2026-10-01T02:00:00+02:00", utc(2026, 10, 1)),
            ("2026-09-30T19:00:00-05:00", utc(2026, 10, 1)),
            ("2026-10-01T00:00:00.250Z", utc(2026, 10, 1) + 0.25),
            ("2026-10-01 00:00:00Z", utc(2026, 10, 1)),
            ("2026-10-01", utc(2026, 10, 1)),
            ("1790812800", 1790812800.0),
            ("1790812800.5", 1790812800.5),
            (" 2026-10-01T00:00:00Z ", utc(2026, 10, 1)),
        ],
    )
    def test_valid(self, text: str, expected: float) -> None:
        """RFC 3339 with any offset, a bare date (00:00 UTC) or Unix seconds."""
        assert parse_instant(text) == expected

    @pytest.mark.parametrize("text", ["2026-10-01T00:00:00", "2026-10-01 12:00"])
    def test_naive_refused(self, text: str) -> None:
        """A time without an offset is ambiguous and refused."""
        with pytest.raises(ValueError, match="needs an offset"):
            parse_instant(text)

    @pytest.mark.parametrize("text", ["yesterday", "2026-10-01T25:00:00Z", "01/10/2026"])
    def test_garbage(self, text: str) -> None:
        """Unparseable text raises ValueError quoting it."""
        with pytest.raises(ValueError, match="invalid time"):
            parse_instant(text)

    @pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "NaN"])
    def test_non_finite_refused(self, text: str) -> None:
        """nan and inf are not Unix seconds (they would poison the history)."""
        with pytest.raises(ValueError, match="finite"):
            parse_instant(text)

    def test_empty(self) -> None:
        """An empty time is refused."""
        with pytest.raises(ValueError, match="empty time"):
            parse_instant("  ")

    def test_bad_date(self) -> None:
        """A bare date that does not exist is refused."""
        with pytest.raises(ValueError):
            parse_instant("2026-02-30")


class TestToEpoch:
    """to_epoch: TOML datetimes and dates."""

    def test_aware(self) -> None:
        """An aware datetime is its instant, whatever the offset."""
        tz = dt.timezone(dt.timedelta(hours=-7))
        assert to_epoch(dt.datetime(2026, 9, 30, 17, tzinfo=tz)) == utc(2026, 10, 1)

    def test_date(self) -> None:
        """A date is 00:00 UTC."""
        assert to_epoch(dt.date(2026, 10, 1)) == utc(2026, 10, 1)

    def test_naive(self) -> None:
        """A naive datetime is refused with an example."""
        with pytest.raises(ValueError, match="offset"):
            to_epoch(dt.datetime(2026, 10, 1))


class TestMonths:
    """UTC calendar months."""

    @pytest.mark.parametrize(
        ("text", "start", "end"),
        [
            ("2026-10", utc(2026, 10, 1), utc(2026, 11, 1)),
            ("2026-12", utc(2026, 12, 1), utc(2027, 1, 1)),
            ("2026-01", utc(2026, 1, 1), utc(2026, 2, 1)),
            ("2028-02", utc(2028, 2, 1), utc(2028, 3, 1)),
        ],
    )
    def test_month_range(self, text: str, start: float, end: float) -> None:
        """YYYY-MM is [first instant, first instant of the next month), December included."""
        assert month_range(text) == (start, end)

    def test_leap_february_length(self) -> None:
        """February 2028 has 29 days."""
        a, b = month_range("2028-02")
        assert b - a == 29 * 86400

    @pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "202610", "2026-10-01", ""])
    def test_invalid_month(self, text: str) -> None:
        """Anything but YYYY-MM with a real month is refused."""
        with pytest.raises(ValueError, match="invalid month"):
            month_range(text)

    def test_month_start(self) -> None:
        """month_start finds the UTC month containing an instant."""
        assert month_start(utc(2026, 12, 31, 23, 59, 59)) == utc(2026, 12, 1)
        assert month_start(utc(2027, 1, 1)) == utc(2027, 1, 1)


class TestIso:
    """RFC 3339 output."""

    def test_whole_seconds(self) -> None:
        """Whole seconds print without a fraction, in UTC with Z."""
        assert iso(utc(2026, 10, 1, 12, 30)) == "2026-10-01T12:30:00Z"

    def test_fraction(self) -> None:
        """Fractions print as milliseconds."""
        assert iso(utc(2026, 10, 1) + 0.25) == "2026-10-01T00:00:00.250Z"

    def test_epoch(self) -> None:
        """Zero is the Unix epoch."""
        assert iso(0) == "1970-01-01T00:00:00Z"

    @given(st.integers(min_value=0, max_value=4102444800))
    def test_round_trip(self, seconds: int) -> None:
        """iso output parses back to the same instant."""
        assert parse_instant(iso(seconds)) == seconds
