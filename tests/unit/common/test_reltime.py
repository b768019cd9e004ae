"""Relative and absolute times as a user types them, with `now` as an argument."""

from __future__ import annotations

import pytest

from slaprobe.core.reltime import parse_time, resolve_range
from slaprobe.core.timefmt import parse_instant

NOW = parse_instant("2026-10-15T12:00:00Z")


@pytest.mark.parametrize(("text", "expected"), [
    ("now", NOW),
    ("NOW", NOW),
    (" now ", NOW),
    ("now-1h", NOW - 3600),
    ("now-7d", NOW - 7 * 86400),
    ("now+30m", NOW + 1800),
    ("now-1h30m", NOW - 5400),
    ("now - 2d", NOW - 2 * 86400),
    ("2026-10-01T00:00:00Z", parse_instant("2026-10-01T00:00:00Z")),
    ("2026-10-01", parse_instant("2026-10-01T00:00:00Z")),
    ("2026-10-01T02:00:00+02:00", parse_instant("2026-10-01T00:00:00Z")),
    ("1790000000", 1790000000.0),
])
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["now-", "now-1x", "now*2h", "nowish", "yesterday", ""])
def test_parse_time_refuses_with_a_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"time|duration"):
        parse_time(text, NOW)


def test_relative_times_follow_the_given_now() -> None:
    assert parse_time("now-1h", 1000.0) == -2600.0
    assert parse_time("now-1h", 7200.0) == 3600.0


def test_from_alone_means_to_now() -> None:
    assert resolve_range(None, "now-1h", None, NOW) == (NOW - 3600, NOW)
    assert resolve_range(None, "2026-10-01", None, NOW) == (parse_instant("2026-10-01"), NOW)


def test_month_and_explicit_ranges() -> None:
    a, b = resolve_range("2026-10", None, None, NOW)
    assert (a, b) == (parse_instant("2026-10-01"), parse_instant("2026-11-01"))
    assert resolve_range(None, "now-7d", "now-1d", NOW) == (NOW - 7 * 86400, NOW - 86400)


@pytest.mark.parametrize(("month", "start", "end", "message"), [
    (None, "now", None, "--from must be in the past"),
    (None, "now+1h", None, "--from must be in the past"),
    (None, "2026-10-02", "2026-10-01", "--to must be after --from"),
    (None, None, "now", "--to goes with --from"),
    (None, None, None, "--month"),
    ("2026-10", None, "now", "--month goes alone"),
    ("2026-13", None, None, "2026-13"),
    (None, "now-x", None, "--from: invalid relative time"),
    (None, "now-1d", "soon", "--to: invalid time"),
])
def test_resolve_range_errors_name_the_option(
    month: str | None, start: str | None, end: str | None, message: str,
) -> None:
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        resolve_range(month, start, end, NOW)
