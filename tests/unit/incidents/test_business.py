"""Business time against a minute-by-minute brute-force reference, and the
SLA's named calendar cases (weekend, Christmas, Easter, DST in two zones)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slaprobe.core.incidents.business import (
    Calendar,
    parse_business_duration,
    parse_days,
    parse_hours,
)
from slaprobe.core.timefmt import parse_instant

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
H = 3600.0

ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Sydney", "Asia/Tokyo",
         "Pacific/Auckland", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham",
         "Asia/Kathmandu", "Pacific/Kiritimati", "Europe/Berlin"]
HOLIDAYS = [(None, None), ("GB", "ENG"), ("GB", "SCT"), ("US", None), ("DE", "BY")]


def is_business(cal: Calendar, u: int) -> bool:
    """The reference: is the minute starting at u business time, by its local wall clock?"""
    local = dt.datetime.fromtimestamp(u, cal.tz)
    wall = local.hour * 3600 + local.minute * 60 + local.second
    return cal.is_business_day(local.date()) and cal.opens <= wall < cal.closes


def ref_between(cal: Calendar, a: int, b: int) -> int:
    return sum(60 for u in range(a, b, 60) if is_business(cal, u))


def ref_add(cal: Calendar, t: int, n: int) -> int:
    if n == 0:
        return t
    u, left = t, n
    while True:
        if is_business(cal, u):
            left -= 60
            if left == 0:
                return u + 60
        u += 60


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    opens = draw(st.integers(0, 24 * 60 - 1)) * 60
    closes = draw(st.integers(opens // 60 + 1, 24 * 60)) * 60
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    country, subdiv = draw(st.sampled_from(HOLIDAYS))
    extra = draw(st.frozensets(st.dates(dt.date(2025, 12, 20), dt.date(2026, 4, 10)), max_size=6))
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    return Calendar(tz, opens, closes, days, country, subdiv, extra)


# around DST changes (both hemispheres) and Christmas/Easter 2025-2026
ANCHORS = [parse_instant(t) for t in (
    "2026-03-08T00:00:00Z", "2026-03-29T00:00:00Z", "2026-04-05T00:00:00Z",
    "2026-09-27T00:00:00Z", "2026-10-25T00:00:00Z", "2026-11-01T00:00:00Z",
    "2025-12-23T00:00:00Z", "2026-04-02T00:00:00Z", "2026-01-15T00:00:00Z",
)]


@st.composite
def instants(draw: st.DrawFn) -> int:
    base = int(draw(st.sampled_from(ANCHORS)))
    return base + draw(st.integers(-3 * 24 * 60, 3 * 24 * 60)) * 60


@SETTINGS
@given(calendars(), instants(), st.integers(0, 6 * 24 * 60))
def test_between_matches_reference(cal: Calendar, a: int, minutes: int) -> None:
    b = a + minutes * 60
    assert cal.seconds_between(a, b) == ref_between(cal, a, b)


@SETTINGS
@given(calendars(), instants(), st.data())
def test_add_matches_reference_and_inverts(cal: Calendar, t: int, data: st.DataObject) -> None:
    # up to three support days: the reference walks minute by minute
    n = data.draw(st.integers(0, 3 * cal.day_length // 60)) * 60
    u = cal.add(t, n)
    assert u == ref_add(cal, t, n)
    assert cal.seconds_between(t, u) == n


@SETTINGS
@given(calendars(), instants(), st.integers(0, 6 * 24 * 60))
def test_add_of_between_is_the_first_instant(cal: Calendar, a: int, minutes: int) -> None:
    b = a + minutes * 60
    n = cal.seconds_between(a, b)
    u = cal.add(a, n)
    assert u <= b
    assert cal.seconds_between(a, u) == n
    if n:  # nothing earlier reaches n
        assert cal.seconds_between(a, u - 60) < n


@SETTINGS
@given(calendars(), instants(), st.integers(1, 3 * 24 * 60), st.integers(1, 3 * 24 * 60))
def test_left_is_signed(cal: Calendar, t: int, m1: int, m2: int) -> None:
    d = t + m1 * 60
    now = t + m2 * 60
    left = cal.left(now, d)
    if now <= d:
        assert left == cal.seconds_between(now, d)
    else:
        assert left == -cal.seconds_between(d, now)


# --- named cases ---------------------------------------------------------------------

LONDON = Calendar(ZoneInfo("Europe/London"), holidays="GB", subdivision="ENG")


def t(s: str) -> float:
    return parse_instant(s)


def test_friday_evening_to_monday_morning_is_one_and_a_half_hours() -> None:
    # 2026-11-27 is a Friday; London is on GMT (UTC+0) in November
    assert LONDON.seconds_between(t("2026-11-27T16:30:00Z"), t("2026-11-30T10:00:00Z")) == 1.5 * H


def test_christmas_with_boxing_day_observed() -> None:
    # Thu 24 Dec evening: closed; Fri 25 Christmas; Sat 26, Sun 27; Mon 28 Boxing Day (observed)
    start, end = t("2026-12-24T18:00:00Z"), t("2026-12-29T12:00:00Z")
    assert LONDON.seconds_between(start, end) == 3 * H
    assert LONDON.add(start, 1) == t("2026-12-29T09:00:01Z")
    assert LONDON.add(start, 8 * H) == t("2026-12-29T17:00:00Z")
    # a High incident from Christmas Eve evening has its 1-business-day resolution on the 29th
    plain = Calendar(ZoneInfo("Europe/London"))  # without holidays it would be Friday 25 Dec
    assert plain.add(start, 8 * H) == t("2026-12-25T17:00:00Z")


def test_easter() -> None:
    # Good Friday 3 Apr and Easter Monday 6 Apr 2026 (BST, UTC+1)
    start = t("2026-04-02T15:00:00Z")  # Thursday 16:00 local
    assert LONDON.add(start, 8 * H) == t("2026-04-07T15:00:00Z")  # Tuesday 16:00 local
    assert LONDON.seconds_between(start, t("2026-04-07T08:00:00Z")) == 1 * H


def test_dst_weekends_keep_eight_local_hours() -> None:
    # London springs forward Sun 29 Mar 2026, falls back Sun 25 Oct 2026
    assert LONDON.day_hours(dt.date(2026, 3, 27)) == ((t("2026-03-27T09:00:00Z"),
                                                       t("2026-03-27T17:00:00Z")),)
    assert LONDON.day_hours(dt.date(2026, 3, 30)) == ((t("2026-03-30T08:00:00Z"),
                                                       t("2026-03-30T16:00:00Z")),)
    # Friday 16:00 local -> Monday: 1 h on Friday, 7 h on Monday = 16:00 local Monday
    assert LONDON.add(t("2026-03-27T16:00:00Z"), 8 * H) == t("2026-03-30T15:00:00Z")
    assert LONDON.add(t("2026-10-23T15:00:00Z"), 8 * H) == t("2026-10-26T16:00:00Z")
    ny = Calendar(ZoneInfo("America/New_York"), holidays="US")
    # New York: spring forward Sun 8 Mar, fall back Sun 1 Nov 2026
    assert ny.add(t("2026-03-06T21:00:00Z"), 8 * H) == t("2026-03-09T20:00:00Z")
    assert ny.seconds_between(t("2026-03-06T00:00:00Z"), t("2026-03-10T00:00:00Z")) == 16 * H
    assert ny.seconds_between(t("2026-10-30T00:00:00Z"), t("2026-11-03T00:00:00Z")) == 16 * H


def test_hours_that_start_before_midnight_utc() -> None:
    sydney = Calendar(ZoneInfo("Australia/Sydney"))  # 09:00 AEDT = 22:00 UTC the day before
    assert sydney.day_hours(dt.date(2026, 12, 7)) == ((t("2026-12-06T22:00:00Z"),
                                                       t("2026-12-07T06:00:00Z")),)
    # Friday 17:00 local .. Monday 10:00 local is one hour
    assert sydney.seconds_between(t("2026-12-11T06:00:00Z"), t("2026-12-13T23:00:00Z")) == H


def test_outside_hours_the_clock_starts_at_the_next_opening() -> None:
    assert LONDON.add(t("2026-11-28T12:00:00Z"), 4 * H) == t("2026-11-30T13:00:00Z")
    assert LONDON.add(t("2026-11-30T05:00:00Z"), 4 * H) == t("2026-11-30T13:00:00Z")
    assert LONDON.seconds_between(t("2026-11-28T00:00:00Z"), t("2026-11-29T23:59:00Z")) == 0


def test_a_calendar_without_business_time_refuses() -> None:
    with pytest.raises(ValueError, match="no business time"):
        Calendar(dt.UTC, days=frozenset()).add(0.0, 1.0)


def test_parsers() -> None:
    assert parse_hours("09:00-17:00") == (9 * 3600, 17 * 3600)
    assert parse_hours("00:00-24:00") == (0, 86400)
    for bad in ("17:00-09:00", "9-17", "09:00-25:00", "09:60-10:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("sun-tue") == frozenset({6, 0, 1})
    assert parse_days("mon, wed,fri") == frozenset({0, 2, 4})
    with pytest.raises(ValueError):
        parse_days("monday")
    assert parse_business_duration("1d", 8 * H) == 8 * H
    assert parse_business_duration("1d4h", 8 * H) == 12 * H
    assert parse_business_duration("30m", 8 * H) == 1800
    for bad in ("", "1w", "0h", "4 hours"):
        with pytest.raises(ValueError):
            parse_business_duration(bad, 8 * H)
