"""Parsing of maintenance feeds: iCalendar and Atlassian Statuspage JSON."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from slaprobe.core.maintenance.feeds import (
    MAX_OCCURRENCES,
    FeedError,
    parse_feed,
    parse_ics,
    parse_statuspage,
)
from slaprobe.core.spec import MaintenanceSpec

DATA = Path(__file__).parents[2] / "data" / "feeds"
ICS = DATA / "maintenance.ics"
STATUSPAGE = DATA / "statuspage.json"
ICS_SOURCE = "https://calendar.example/maintenance.ics"
SP_SOURCE = "https://status.vendor.example/api/v2/scheduled-maintenances.json"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, sec: int = 0) -> float:
    """Unix seconds of a UTC wall time, computed independently of slaprobe."""
    return dt.datetime(year, month, day, hour, minute, sec, tzinfo=dt.UTC).timestamp()


# The horizon the daemon would pass on 2026-10-01 (retention back, 90 days on).
HORIZON = (utc(2026, 10, 1), utc(2027, 1, 1))


def ics(*events: str, header: str = "") -> bytes:
    """A minimal calendar around VEVENT bodies (LF line ends are accepted too)."""
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT\n" for e in events)
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//slaprobe tests//EN\n"
        f"{header}{body}END:VCALENDAR\n"
    ).encode()


def sample_ics(horizon: tuple[float, float] = HORIZON, **kw: Any) -> list[MaintenanceSpec]:
    return parse_ics(ICS.read_bytes(), source=ICS_SOURCE, horizon=horizon, **kw)


def weekly(start: float, end: float) -> MaintenanceSpec:
    stamp = dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return MaintenanceSpec(
        id=f"weekly-patching@clonener.example@{stamp}", start=start, end=end,
        announced=utc(2026, 10, 1, 8), targets=None, reason="Weekly OS patching",
        source=ICS_SOURCE,
    )


# --------------------------------------------------------------------------
# iCalendar sample


def test_ics_sample_every_window_exact() -> None:
    problems: list[str] = []
    got = sample_ics(problems=problems)
    # Europe/London 06:00 is 05:00Z in BST (before 2026-10-25), 06:00Z after.
    expected = [
        weekly(utc(2026, 10, 13, 5), utc(2026, 10, 13, 5, 30)),
        weekly(utc(2026, 10, 20, 5), utc(2026, 10, 20, 5, 30)),
        weekly(utc(2026, 10, 27, 6), utc(2026, 10, 27, 6, 30)),
        # 2026-11-03 is an EXDATE
        weekly(utc(2026, 11, 10, 6), utc(2026, 11, 10, 6, 30)),
        weekly(utc(2026, 11, 17, 6), utc(2026, 11, 17, 6, 30)),
        weekly(utc(2026, 11, 24, 6), utc(2026, 11, 24, 6, 30)),
        weekly(utc(2026, 12, 1, 6), utc(2026, 12, 1, 6, 30)),
        MaintenanceSpec(
            id="db-upgrade-2026-12@clonener.example",
            start=utc(2026, 12, 6, 2), end=utc(2026, 12, 6, 4),
            announced=utc(2026, 11, 30, 9),  # CREATED, not the later DTSTAMP
            targets=("app", "api"), reason="Database upgrade", source=ICS_SOURCE,
        ),
        weekly(utc(2026, 12, 8, 6), utc(2026, 12, 8, 6, 30)),
        weekly(utc(2026, 12, 15, 6), utc(2026, 12, 15, 6, 30)),  # COUNT=10 ends here
        MaintenanceSpec(
            id="dc-move-2026@clonener.example",
            start=utc(2026, 12, 19), end=utc(2026, 12, 21),  # all-day: 00:00 UTC
            announced=utc(2026, 11, 1, 9), targets=("api",), reason="Data-centre move",
            source=ICS_SOURCE,
        ),
    ]
    assert got == expected
    assert problems == []


def test_ics_cancelled_event_is_skipped() -> None:
    assert not any(w.id.startswith("network-cutover") for w in sample_ics())


def test_ics_weekly_rule_expanded_inside_horizon_only() -> None:
    got = sample_ics(horizon=(utc(2026, 11, 1), utc(2026, 12, 1)))
    assert [w.start for w in got] == [
        utc(2026, 11, 10, 6), utc(2026, 11, 17, 6), utc(2026, 11, 24, 6),
    ]
    assert [w.id for w in got] == [
        "weekly-patching@clonener.example@2026-11-10T06:00:00Z",
        "weekly-patching@clonener.example@2026-11-17T06:00:00Z",
        "weekly-patching@clonener.example@2026-11-24T06:00:00Z",
    ]


def test_ics_exdate_removes_its_occurrence() -> None:
    got = sample_ics(horizon=(utc(2026, 11, 2), utc(2026, 11, 5)))
    assert got == []


def test_ics_horizon_is_half_open_and_keeps_overlapping_windows() -> None:
    # A horizon starting inside an occurrence keeps it; one ending at an
    # occurrence's start does not.
    got = sample_ics(horizon=(utc(2026, 11, 10, 6, 15), utc(2026, 11, 17, 6)))
    assert [w.start for w in got] == [utc(2026, 11, 10, 6)]


def test_ics_bad_horizon_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="horizon"):
        sample_ics(horizon=(utc(2026, 12, 1), utc(2026, 11, 1)))


# --------------------------------------------------------------------------
# iCalendar rules


def test_ics_announced_from_created_else_dtstamp() -> None:
    data = ics(
        """
UID:both
DTSTAMP:20261110T000000Z
CREATED:20261101T120000Z
DTSTART:20261201T000000Z
DTEND:20261201T010000Z
""",
        """
UID:stamp-only
DTSTAMP:20261105T093000Z
DTSTART:20261202T000000Z
DTEND:20261202T010000Z
""",
    )
    got = {w.id: w.announced for w in parse_ics(data, source="s", horizon=HORIZON)}
    assert got == {"both": utc(2026, 11, 1, 12), "stamp-only": utc(2026, 11, 5, 9, 30)}


def test_ics_without_announcement_time_is_skipped_and_reported() -> None:
    data = ics(
        """
UID:unannounced
DTSTART:20261201T000000Z
DTEND:20261201T010000Z
""",
        """
UID:fine
DTSTAMP:20261105T093000Z
DTSTART:20261202T000000Z
DTEND:20261202T010000Z
""",
    )
    problems: list[str] = []
    got = parse_ics(data, source="s", horizon=HORIZON, problems=problems)
    assert [w.id for w in got] == ["fine"]
    assert len(problems) == 1
    assert "unannounced" in problems[0]
    assert "CREATED or DTSTAMP" in problems[0]


def test_ics_floating_time_is_utc_and_duration_gives_the_end() -> None:
    data = ics("""
UID:floating
DTSTAMP:20261101T000000Z
DTSTART:20261205T100000
DURATION:PT2H30M
SUMMARY:Floating
""")
    (w,) = parse_ics(data, source="s", horizon=HORIZON)
    assert (w.start, w.end) == (utc(2026, 12, 5, 10), utc(2026, 12, 5, 12, 30))


def test_ics_tzid_converted_to_utc() -> None:
    data = ics("""
UID:ny
DTSTAMP:20261101T000000Z
DTSTART;TZID=America/New_York:20261205T220000
DTEND;TZID=America/New_York:20261206T010000
""")
    (w,) = parse_ics(data, source="s", horizon=HORIZON)
    assert (w.start, w.end) == (utc(2026, 12, 6, 3), utc(2026, 12, 6, 6))


def test_ics_unknown_tzid_is_taken_as_utc_and_reported() -> None:
    data = ics("""
UID:custom
DTSTAMP:20261101T000000Z
DTSTART;TZID=Head Office Time:20261205T220000
DTEND;TZID=Head Office Time:20261205T230000
""")
    problems: list[str] = []
    (w,) = parse_ics(data, source="s", horizon=HORIZON, problems=problems)
    assert (w.start, w.end) == (utc(2026, 12, 5, 22), utc(2026, 12, 5, 23))
    assert len(problems) == 2
    assert all("Head Office Time" in p for p in problems)


def test_ics_all_day_without_end_lasts_one_day() -> None:
    data = ics("""
UID:day
DTSTAMP:20261101T000000Z
DTSTART;VALUE=DATE:20261224
""")
    (w,) = parse_ics(data, source="s", horizon=HORIZON)
    assert (w.start, w.end) == (utc(2026, 12, 24), utc(2026, 12, 25))


def test_ics_timed_event_without_end_is_skipped_and_reported() -> None:
    data = ics("""
UID:instant
DTSTAMP:20261101T000000Z
DTSTART:20261205T100000Z
""")
    problems: list[str] = []
    assert parse_ics(data, source="s", horizon=HORIZON, problems=problems) == []
    assert len(problems) == 1
    assert "instant" in problems[0]
    assert "DTEND" in problems[0]


def test_ics_targets_property() -> None:
    data = ics(
        """
UID:spaced
DTSTAMP:20261101T000000Z
DTSTART:20261201T000000Z
DTEND:20261201T010000Z
X-SLAPROBE-TARGETS: app , api,app
""",
        """
UID:escaped
DTSTAMP:20261101T000000Z
DTSTART:20261202T000000Z
DTEND:20261202T010000Z
X-SLAPROBE-TARGETS:app\\,api
""",
        """
UID:all
DTSTAMP:20261101T000000Z
DTSTART:20261203T000000Z
DTEND:20261203T010000Z
""",
    )
    got = {w.id: w.targets for w in parse_ics(data, source="s", horizon=HORIZON)}
    assert got == {"spaced": ("app", "api"), "escaped": ("app", "api"), "all": None}


def test_ics_reason_and_source() -> None:
    (w, *_) = [w for w in sample_ics() if w.id.startswith("db-upgrade")]
    assert w.reason == "Database upgrade"
    assert w.source == ICS_SOURCE


def test_ics_recurrence_override_moved_and_cancelled() -> None:
    data = ics(
        """
UID:daily
DTSTAMP:20261101T000000Z
DTSTART:20261201T020000Z
DTEND:20261201T030000Z
RRULE:FREQ=DAILY;COUNT=4
""",
        """
UID:daily
DTSTAMP:20261102T000000Z
RECURRENCE-ID:20261202T020000Z
DTSTART:20261202T050000Z
DTEND:20261202T060000Z
""",
        """
UID:daily
DTSTAMP:20261102T000000Z
RECURRENCE-ID:20261203T020000Z
DTSTART:20261203T020000Z
DTEND:20261203T030000Z
STATUS:CANCELLED
""",
    )
    got = parse_ics(data, source="s", horizon=HORIZON)
    assert [(w.id, w.start, w.announced) for w in got] == [
        ("daily@2026-12-01T02:00:00Z", utc(2026, 12, 1, 2), utc(2026, 11, 1)),
        ("daily@2026-12-02T05:00:00Z", utc(2026, 12, 2, 5), utc(2026, 11, 2)),
        ("daily@2026-12-04T02:00:00Z", utc(2026, 12, 4, 2), utc(2026, 11, 1)),
    ]


def test_ics_rdate_makes_extra_occurrences() -> None:
    data = ics("""
UID:rdate
DTSTAMP:20261101T000000Z
DTSTART:20261201T020000Z
DTEND:20261201T030000Z
RDATE:20261215T020000Z
""")
    got = parse_ics(data, source="s", horizon=HORIZON)
    assert [w.id for w in got] == ["rdate@2026-12-01T02:00:00Z", "rdate@2026-12-15T02:00:00Z"]


def test_ics_one_off_outside_horizon_is_dropped() -> None:
    data = ics("""
UID:old
DTSTAMP:20250101T000000Z
DTSTART:20250201T000000Z
DTEND:20250201T010000Z
""")
    assert parse_ics(data, source="s", horizon=HORIZON) == []


def test_ics_duplicate_uid_keeps_latest_revision_and_reports() -> None:
    first = """
UID:twice
SEQUENCE:1
DTSTAMP:20261101T000000Z
DTSTART:20261201T000000Z
DTEND:20261201T010000Z
"""
    revised = """
UID:twice
SEQUENCE:2
DTSTAMP:20261102T000000Z
DTSTART:20261205T000000Z
DTEND:20261205T010000Z
"""
    problems: list[str] = []
    got = parse_ics(ics(first, revised), source="s", horizon=HORIZON, problems=problems)
    assert [(w.id, w.start) for w in got] == [("twice", utc(2026, 12, 5))]
    assert len(problems) == 1
    assert "twice" in problems[0]


def test_ics_x_wr_timezone_applies_to_floating_times() -> None:
    data = ics(
        """
UID:berlin
DTSTAMP:20261101T000000Z
DTSTART:20261205T100000
DTEND:20261205T110000
""",
        header="X-WR-TIMEZONE:Europe/Berlin\n",
    )
    (w,) = parse_ics(data, source="s", horizon=HORIZON)
    assert (w.start, w.end) == (utc(2026, 12, 5, 9), utc(2026, 12, 5, 10))


# --------------------------------------------------------------------------
# iCalendar errors


def test_ics_malformed_sample_names_source_and_event() -> None:
    source = str(DATA / "malformed.ics")
    with pytest.raises(FeedError) as info:
        parse_ics((DATA / "malformed.ics").read_bytes(), source=source, horizon=HORIZON)
    assert source in str(info.value)
    assert "typo@clonener.example" in str(info.value)
    assert "DTSTART" in str(info.value)
    assert info.value.source == source


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"this is not a calendar", "invalid iCalendar"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n", "invalid iCalendar"),
        (b"BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n", "VCALENDAR"),
        (
            ics("UID:r\nDTSTAMP:20261101T000000Z\nDTSTART:20261201T000000Z\n"
                "DTEND:20261201T010000Z\nRRULE:FREQ=SOMETIMES"),
            "RRULE",
        ),
        (
            ics("UID:backwards\nDTSTAMP:20261101T000000Z\nDTSTART:20261201T020000Z\n"
                "DTEND:20261201T010000Z"),
            "DTEND is before DTSTART",
        ),
        (
            ics("UID:neg\nDTSTAMP:20261101T000000Z\nDTSTART:20261201T020000Z\n"
                "DURATION:-PT1H"),
            "negative",
        ),
        (
            ics("UID:twice\nDTSTAMP:20261101T000000Z\nDTSTART:20261201T020000Z\n"
                "DTSTART:20261201T030000Z\nDTEND:20261201T040000Z"),
            "invalid iCalendar",
        ),
    ],
)
def test_ics_malformed_raises_feed_error(data: bytes, fragment: str) -> None:
    with pytest.raises(FeedError, match=fragment) as info:
        parse_ics(data, source="feeds/vendor.ics", horizon=HORIZON)
    assert "feeds/vendor.ics" in str(info.value)


def test_ics_runaway_rule_is_refused() -> None:
    data = ics("""
UID:runaway
DTSTAMP:20261101T000000Z
DTSTART:20261201T000000Z
DURATION:PT1S
RRULE:FREQ=SECONDLY
""")
    span = MAX_OCCURRENCES + 10
    with pytest.raises(FeedError, match="occurrences"):
        parse_ics(data, source="s", horizon=(utc(2026, 12, 1), utc(2026, 12, 1) + span))


def test_feed_error_masks_url_password() -> None:
    err = FeedError("https://bob:hunter2@cal.example/x.ics", "HTTP 500")
    assert "hunter2" not in str(err)
    assert "bob:***@cal.example" in str(err)
    assert err.source == "https://bob:hunter2@cal.example/x.ics"
    assert err.message == "HTTP 500"


# --------------------------------------------------------------------------
# Statuspage


def sp(*items: dict[str, Any]) -> bytes:
    return json.dumps({"page": {"id": "p"}, "scheduled_maintenances": list(items)}).encode()


def sp_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "abc123", "name": "Upgrade", "status": "scheduled",
        "created_at": "2026-11-01T00:00:00Z",
        "scheduled_for": "2026-12-01T00:00:00Z", "scheduled_until": "2026-12-01T01:00:00Z",
        "components": [{"id": "c1", "name": "API"}],
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not ...}


def test_statuspage_sample_exact() -> None:
    problems: list[str] = []
    got = parse_statuspage(STATUSPAGE.read_bytes(), source=SP_SOURCE, problems=problems)
    assert got == [
        MaintenanceSpec(  # completed; -05:00 offsets
            id="tz0hf4gq9m2r", start=utc(2026, 11, 2, 8), end=utc(2026, 11, 2, 10, 30),
            announced=utc(2026, 10, 28, 21, 45), targets=None,
            reason="Storage firmware update", source=SP_SOURCE,
        ),
        MaintenanceSpec(  # in_progress; +01:00 offsets, milliseconds kept
            id="p3q1xw9d0c8n", start=utc(2026, 11, 26, 6), end=utc(2026, 11, 26, 8, 30),
            announced=utc(2026, 11, 20, 9, 15, sec=30) + 0.123, targets=None,
            reason="Network maintenance in FRA1", source=SP_SOURCE,
        ),
        MaintenanceSpec(  # scheduled; Z
            id="k7mrk2bqp5yv", start=utc(2026, 12, 6, 2), end=utc(2026, 12, 6, 4),
            announced=utc(2026, 11, 30, 9), targets=None,
            reason="Database cluster upgrade", source=SP_SOURCE,
        ),
    ]
    assert problems == []


@pytest.mark.parametrize("status", ["scheduled", "in_progress", "verifying", "completed"])
def test_statuspage_documented_statuses_kept(status: str) -> None:
    (w,) = parse_statuspage(sp(sp_item(status=status)), source="s")
    assert w.id == "abc123"


@pytest.mark.parametrize("status", ["cancelled", "canceled", "investigating", ""])
def test_statuspage_other_statuses_skipped(status: str) -> None:
    problems: list[str] = []
    assert parse_statuspage(sp(sp_item(status=status)), source="s", problems=problems) == []
    assert problems and "abc123" in problems[0]


def test_statuspage_upcoming_shape_and_empty_list() -> None:
    assert parse_statuspage(sp(), source="s") == []
    doc = {"page": {"id": "p"}, "scheduled_maintenances": [sp_item()], "incidents": []}
    (w,) = parse_statuspage(json.dumps(doc).encode(), source="s")
    assert (w.start, w.end) == (utc(2026, 12, 1), utc(2026, 12, 1, 1))
    assert w.announced == utc(2026, 11, 1)


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        (sp_item(scheduled_until=...), "abc123: missing scheduled_until"),
        (sp_item(scheduled_until=None), "abc123: missing scheduled_until"),
        (sp_item(scheduled_for=...), "abc123: missing scheduled_for"),
        (sp_item(created_at=...), "abc123: missing created_at"),
        (sp_item(scheduled_for="next tuesday"), "abc123: scheduled_for 'next tuesday'"),
        (sp_item(scheduled_for="2026-12-01T00:00:00"), "no UTC offset"),
        (sp_item(scheduled_for=1764547200), "ISO 8601 string"),
        (sp_item(scheduled_until="2026-11-30T00:00:00Z"), "not after scheduled_for"),
        (sp_item(id=...), r"scheduled_maintenances\[0\]: missing id"),
        (sp_item(status=...), "abc123: missing status"),
        ("not an object", r"scheduled_maintenances\[0\]: not an object"),
    ],
)
def test_statuspage_bad_item_raises_naming_it(item: Any, fragment: str) -> None:
    with pytest.raises(FeedError, match=fragment) as info:
        parse_statuspage(sp(item), source=SP_SOURCE)
    assert SP_SOURCE in str(info.value)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ((DATA / "malformed.json").read_bytes(), "invalid JSON"),
        (b'{"page": {}}', "scheduled_maintenances"),
        (b'{"scheduled_maintenances": {}}', "scheduled_maintenances"),
        (b"[]", "scheduled_maintenances"),
        (b"\xff\xfe{", "invalid JSON"),
    ],
)
def test_statuspage_malformed_raises(data: bytes, fragment: str) -> None:
    source = str(DATA / "malformed.json")
    with pytest.raises(FeedError, match=fragment) as info:
        parse_statuspage(data, source=source)
    assert source in str(info.value)


# --------------------------------------------------------------------------
# sniffing


def test_parse_feed_sniffs_statuspage_and_ics() -> None:
    from_sp = parse_feed(
        STATUSPAGE.read_bytes(), source=SP_SOURCE, content_type="text/plain", horizon=HORIZON,
    )
    assert from_sp == parse_statuspage(STATUSPAGE.read_bytes(), source=SP_SOURCE)
    from_ics = parse_feed(
        ICS.read_bytes(), source=ICS_SOURCE, content_type=None, horizon=HORIZON,
    )
    assert from_ics == sample_ics()


def test_parse_feed_tolerates_bom_and_leading_whitespace() -> None:
    data = b"\xef\xbb\xbf\r\n  " + ICS.read_bytes()
    got = parse_feed(data, source=ICS_SOURCE, content_type="text/calendar", horizon=HORIZON)
    assert got == sample_ics()
    data = b"\xef\xbb\xbf\n" + STATUSPAGE.read_bytes()
    assert len(parse_feed(data, source="s", content_type=None, horizon=HORIZON)) == 3


@pytest.mark.parametrize(
    ("data", "content_type", "fragment"),
    [
        (b"<html><body>Login</body></html>", "text/html", "Content-Type text/html"),
        (b"", None, "empty"),
        (b"   \n", "text/calendar", "empty"),
    ],
)
def test_parse_feed_unknown_content(data: bytes, content_type: str | None, fragment: str) -> None:
    with pytest.raises(FeedError, match=fragment) as info:
        parse_feed(data, source="https://x.example/feed", content_type=content_type,
                   horizon=HORIZON)
    assert "https://x.example/feed" in str(info.value)
