"""Pure parsing of maintenance feeds into MaintenanceSpec values.

Two feed formats are understood:

- iCalendar (RFC 5545): every VEVENT is a window. Recurrences (RRULE, RDATE,
  EXDATE, RECURRENCE-ID overrides) are expanded with `recurring_ical_events`
  over a horizon the caller passes, so time enters as an argument and this
  module never reads the clock.
- Atlassian Statuspage API v2 `scheduled-maintenances.json` (and the
  `upcoming.json` / `active.json` / `summary.json` shapes, which share the
  top-level `scheduled_maintenances` list).

Malformed input raises FeedError naming the source. Events that are well formed
but unusable (no announcement time, zero length) are skipped; each such skip is
described in the optional `problems` list, so the caller can log it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import dateutil.rrule

from slaprobe.core.spec import MaintenanceSpec
from slaprobe.core.timefmt import NoOffset, iso, parse_rfc3339, to_epoch
from slaprobe.core.urls import masked

__all__ = [
    "MAX_OCCURRENCES",
    "STATUSPAGE_STATUSES",
    "FeedError",
    "parse_feed",
    "parse_ics",
    "parse_statuspage",
]

#: Statuspage scheduled-maintenance statuses that describe a real window. The
#: API documents exactly these four; anything else (e.g. a cancelled window)
#: is skipped.
STATUSPAGE_STATUSES = frozenset({"scheduled", "in_progress", "verifying", "completed"})

#: Upper bound on windows from one iCalendar feed inside the horizon: a
#: runaway rule (FREQ=MINUTELY) is a broken feed, not thousands of windows.
MAX_OCCURRENCES = 10_000

TARGETS_PROPERTY = "X-SLAPROBE-TARGETS"

# Properties whose unparseable value makes an event's window unknowable.
_TIME_PROPS = frozenset({
    "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID",
    "CREATED", "DTSTAMP",
})


class FeedError(Exception):
    """A maintenance feed could not be read or parsed.

    `str(error)` names the source: ``maintenance feed <source>: <message>``.
    """

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"maintenance feed {masked(source)}: {message}")
        self.source = source
        self.message = message


# ---------------------------------------------------------------------------
# sniffing


def parse_feed(
    data: bytes,
    *,
    source: str,
    content_type: str | None,
    horizon: tuple[float, float],
    problems: list[str] | None = None,
) -> list[MaintenanceSpec]:
    """Parse a feed of either kind, chosen by its content (not its name).

    JSON objects are Statuspage documents; `BEGIN:VCALENDAR` is iCalendar.
    `content_type` only enriches the error when the content is neither.
    """
    body = _strip_bom(data).lstrip()
    if body.startswith(b"{"):
        return parse_statuspage(body, source=source, problems=problems)
    if body[:15].upper() == b"BEGIN:VCALENDAR":
        return parse_ics(body, source=source, horizon=horizon, problems=problems)
    what = f" (Content-Type {content_type})" if content_type else ""
    start = body[:40].decode("utf-8", "replace")
    if not body:
        raise FeedError(source, f"empty feed{what}")
    raise FeedError(
        source,
        f"neither iCalendar (BEGIN:VCALENDAR) nor Statuspage JSON{what}; starts with {start!r}",
    )


def _strip_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


# ---------------------------------------------------------------------------
# iCalendar


def parse_ics(
    data: bytes,
    *,
    source: str,
    horizon: tuple[float, float],
    problems: list[str] | None = None,
) -> list[MaintenanceSpec]:
    """Windows from an iCalendar feed, recurrences expanded over `horizon`.

    `horizon` is `[start, end)` in Unix seconds; windows overlapping it are
    returned, sorted by start. Ids are the UID for a single event and
    ``UID@<start, RFC 3339 UTC>`` for each occurrence of a recurring one.
    All-day dates mean 00:00 UTC; floating times are UTC (unless the calendar
    declares X-WR-TIMEZONE, which then applies, as calendar clients do).
    """
    lo, hi = horizon
    if not lo < hi:
        raise ValueError(f"horizon must be [start, end) with start < end, not {horizon!r}")
    notes: list[str] = [] if problems is None else problems
    cal = _read_calendar(_strip_bom(data), source)
    span = (dt.datetime.fromtimestamp(lo, dt.UTC), dt.datetime.fromtimestamp(hi, dt.UTC))
    try:
        recurring = _validate_events(cal, source, notes)
        try:
            occurrences = _expand(cal, span[0], hi, source)
        except (ValueError, OverflowError) as e:
            raise FeedError(source, f"cannot expand recurring events: {e}") from None
        out: list[MaintenanceSpec] = []
        reported: set[str] = set()
        for occ in occurrences:
            spec = _occurrence(occ, source, recurring, notes, reported)
            if spec is not None:
                out.append(spec)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as e:
        # e.g. a property given twice where one is allowed: a malformed feed
        raise FeedError(source, f"invalid iCalendar: {type(e).__name__}: {e}") from None
    return _dedupe(sorted(out, key=lambda m: (m.start, m.id)), notes)


def _expand(cal: Any, lo: dt.datetime, hi: float, source: str) -> list[Any]:
    """The occurrences overlapping [lo, hi), bounded while they are generated.

    The horizon is expanded in growing steps (an hour, then doubling), each step
    checked against MAX_OCCURRENCES before the next: a runaway rule is refused
    after at most about twice the bound was built, never after expanding months of
    it. (recurring_ical_events' lazy `after` re-expands per small page: far slower.)
    """
    end = dt.datetime.fromtimestamp(hi, dt.UTC)
    if _rules_exceed(cal, lo, end, MAX_OCCURRENCES):
        raise FeedError(
            source, f"more than {MAX_OCCURRENCES} occurrences inside the horizon; "
            "is a recurrence rule runaway?",
        )
    import recurring_ical_events  # noqa: PLC0415 (loaded with the first iCalendar feed)

    query = recurring_ical_events.of(cal)
    step = dt.timedelta(hours=1)
    while True:
        upto = min(lo + step, end)
        found = query.between(lo, upto)
        if len(found) > MAX_OCCURRENCES:
            raise FeedError(
                source, f"more than {MAX_OCCURRENCES} occurrences inside the horizon; "
                "is a recurrence rule runaway?",
            )
        if upto >= end:
            return list(found)
        step *= 2


def _rules_exceed(cal: Any, lo: dt.datetime, hi: dt.datetime, limit: int) -> bool:
    """Whether the events' RRULEs alone give more than `limit` starts in [lo - 1 day,
    hi): counted with dateutil, stopping at the limit (microseconds per occurrence,
    where building each occurrence as a component costs about a millisecond). Rules
    dateutil cannot read are left to the full expansion and its bound."""
    total = 0
    since = lo - dt.timedelta(days=1)
    for comp in cal.walk("VEVENT"):
        rules = comp.get("RRULE")
        if rules is None or "DTSTART" not in comp:
            continue
        start = comp["DTSTART"].dt
        if not isinstance(start, dt.datetime):
            start = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
        elif start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        for rule in rules if isinstance(rules, list) else [rules]:
            try:
                parsed = dateutil.rrule.rrulestr(rule.to_ical().decode(), dtstart=start)
                for when in parsed.xafter(since, inc=True):
                    if when >= hi:
                        break
                    total += 1
                    if total > limit:
                        return True
            except (ValueError, TypeError, OverflowError, AttributeError):
                continue
    return False


def _read_calendar(data: bytes, source: str) -> Any:
    import icalendar  # noqa: PLC0415 (loaded with the first iCalendar feed: about 4 MB)

    try:
        cal = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError, TypeError) as e:
        raise FeedError(source, f"invalid iCalendar: {e}") from None
    if getattr(cal, "name", None) != "VCALENDAR":
        raise FeedError(source, "invalid iCalendar: the top-level component is not VCALENDAR")
    return cal


def _validate_events(cal: Any, source: str, notes: list[str]) -> set[str]:
    """Refuse broken events, drop unusable ones; return the UIDs that recur."""
    keep: list[Any] = []
    recurring: set[str] = set()
    masters: set[str] = set()
    for n, comp in enumerate(cal.subcomponents):
        if comp.name != "VEVENT":
            keep.append(comp)
            continue
        uid = str(comp.get("UID", "")).strip()
        label = f"event {uid}" if uid else f"event #{n + 1} (no UID)"
        for prop, message in getattr(comp, "errors", ()):
            if str(prop).upper() in _TIME_PROPS:
                raise FeedError(source, f"{label}: invalid {prop}: {message}")
        if not uid:
            notes.append(f"{label}: skipped: a UID is required")
            continue
        if "DTSTART" not in comp:
            notes.append(f"{label}: skipped: no DTSTART")
            continue
        start = comp["DTSTART"].dt
        for prop in ("DTSTART", "DTEND"):
            value = comp.get(prop)
            tzid = value.params.get("TZID") if value is not None else None
            if tzid and isinstance(value.dt, dt.datetime) and value.dt.tzinfo is None:
                notes.append(f"{label}: unknown TZID {tzid!r} on {prop}; taken as UTC")
        if "DTEND" in comp:
            end = comp["DTEND"].dt
            if _floating_utc(end) < _floating_utc(start):
                raise FeedError(source, f"{label}: DTEND is before DTSTART")
        elif "DURATION" in comp:
            duration = comp["DURATION"].dt
            if not isinstance(duration, dt.timedelta):
                raise FeedError(source, f"{label}: DURATION is not a duration")
            if duration < dt.timedelta(0):
                raise FeedError(source, f"{label}: DURATION is negative")
        elif isinstance(start, dt.datetime) and "RECURRENCE-ID" not in comp:
            notes.append(f"{label}: skipped: no DTEND or DURATION (a window needs an end)")
            continue
        if any(p in comp for p in ("RRULE", "RDATE", "RECURRENCE-ID")):
            recurring.add(uid)
        if "RECURRENCE-ID" not in comp:
            if uid in masters:
                notes.append(
                    f"{label}: defined more than once; only the revision with the highest "
                    "SEQUENCE is used",
                )
            masters.add(uid)
        keep.append(comp)
    cal.subcomponents[:] = keep
    return recurring


def _occurrence(
    occ: Any, source: str, recurring: set[str], notes: list[str], reported: set[str],
) -> MaintenanceSpec | None:
    uid = str(occ.get("UID", "")).strip()
    if str(occ.get("STATUS", "")).strip().upper() == "CANCELLED":
        return None
    start_value = occ["DTSTART"].dt
    start = _floating_utc(start_value)
    if "DTEND" in occ:
        end = _floating_utc(occ["DTEND"].dt)
    elif "DURATION" in occ:
        end = start + occ["DURATION"].dt.total_seconds()
    else:  # an all-day event without an end lasts the day (RFC 5545 3.6.1)
        end = start + (0.0 if isinstance(start_value, dt.datetime) else 86400.0)
    mid = f"{uid}@{iso(start)}" if uid in recurring else uid
    if end <= start:
        _note_once(notes, reported, f"{uid} length", f"event {mid}: skipped: zero-length window")
        return None
    announced_prop = occ.get("CREATED") or occ.get("DTSTAMP")
    if announced_prop is None:
        _note_once(
            notes, reported, f"{uid} announced",
            f"event {uid}: skipped: no CREATED or DTSTAMP (an announcement time is required)",
        )
        return None
    return MaintenanceSpec(
        id=mid,
        start=start,
        end=end,
        announced=_floating_utc(announced_prop.dt),
        targets=_targets(occ.get(TARGETS_PROPERTY), uid, notes, reported),
        reason=str(occ.get("SUMMARY", "")).strip(),
        source=source,
    )


def _targets(
    raw: Any, uid: str, notes: list[str], reported: set[str],
) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if isinstance(raw, list):  # the property given more than once
        raw = ",".join(str(r) for r in raw)
    text = str(raw).replace("\\,", ",")
    names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if not names:
        _note_once(
            notes, reported, f"{uid} targets",
            f"event {uid}: empty {TARGETS_PROPERTY}; the window covers every target",
        )
        return None
    return names


def _note_once(notes: list[str], reported: set[str], key: str, message: str) -> None:
    if key not in reported:
        reported.add(key)
        notes.append(message)


def _floating_utc(value: dt.date | dt.datetime) -> float:
    """Unix seconds; dates mean 00:00 UTC and floating (offset-less) times are UTC."""
    return to_epoch(value, floating_utc=True)


def _dedupe(specs: Iterable[MaintenanceSpec], notes: list[str]) -> list[MaintenanceSpec]:
    seen: set[str] = set()
    out: list[MaintenanceSpec] = []
    for spec in specs:
        if spec.id in seen:
            notes.append(f"duplicate id {spec.id!r}: only the first window is kept")
            continue
        seen.add(spec.id)
        out.append(spec)
    return out


# ---------------------------------------------------------------------------
# Atlassian Statuspage


def parse_statuspage(
    data: bytes, *, source: str, problems: list[str] | None = None,
) -> list[MaintenanceSpec]:
    """Windows from a Statuspage v2 scheduled-maintenances document.

    Each item gives id, name, status, created_at (→ announced),
    scheduled_for (→ start) and scheduled_until (→ end). Components are the
    vendor's names, so windows cover every target. Items whose status is not
    scheduled/in_progress/verifying/completed are skipped.
    """
    notes: list[str] = [] if problems is None else problems
    try:
        doc = json.loads(_strip_bom(data))
    except (ValueError, UnicodeDecodeError) as e:
        raise FeedError(source, f"invalid JSON: {e}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("scheduled_maintenances"), list):
        raise FeedError(
            source,
            "not a Statuspage scheduled-maintenances document "
            "(expected an object with a \"scheduled_maintenances\" list)",
        )
    out: list[MaintenanceSpec] = []
    for i, item in enumerate(doc["scheduled_maintenances"]):
        spec = _statuspage_item(item, i, source, notes)
        if spec is not None:
            out.append(spec)
    return _dedupe(sorted(out, key=lambda m: (m.start, m.id)), notes)


def _statuspage_item(
    item: Any, index: int, source: str, notes: list[str],
) -> MaintenanceSpec | None:
    where = f"scheduled_maintenances[{index}]"
    if not isinstance(item, Mapping):
        raise FeedError(source, f"{where}: not an object")
    mid = item.get("id")
    if not isinstance(mid, str) or not mid.strip():
        raise FeedError(source, f"{where}: missing id")
    label = f"maintenance {mid}"
    status = item.get("status")
    if not isinstance(status, str):
        raise FeedError(source, f"{label}: missing status")
    if status not in STATUSPAGE_STATUSES:
        notes.append(f"{label}: status {status!r} is not a live or past window; skipped")
        return None
    announced = _instant(item, "created_at", label, source)
    start = _instant(item, "scheduled_for", label, source)
    end = _instant(item, "scheduled_until", label, source)
    if end <= start:
        raise FeedError(source, f"{label}: scheduled_until is not after scheduled_for")
    name = item.get("name")
    return MaintenanceSpec(
        id=mid, start=start, end=end, announced=announced, targets=None,
        reason=name.strip() if isinstance(name, str) else "", source=source,
    )


def _instant(item: Mapping[str, Any], key: str, label: str, source: str) -> float:
    value = item.get(key)
    if value is None:
        raise FeedError(source, f"{label}: missing {key}")
    if not isinstance(value, str):
        raise FeedError(source, f"{label}: {key} must be an ISO 8601 string, not {value!r}")
    try:
        return parse_rfc3339(value)
    except NoOffset:
        raise FeedError(source, f"{label}: {key} {value!r} has no UTC offset") from None
    except ValueError:
        raise FeedError(source, f"{label}: {key} {value!r} is not an ISO 8601 time") from None
