"""Pure parsing and formatting of durations and instants.

Internally every instant is a float of Unix seconds (UTC) and every duration a
float of seconds: cheap to add, compare and store.
"""

from __future__ import annotations

import datetime as dt
import math
import re

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Parse "500ms", "30s", "5m", "48h", "30d", "1h30m" into seconds.

    Raises ValueError with a message fit for a user.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    pos = 0
    total = 0.0
    for m in _DURATION_RE.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(
            f"invalid duration {text!r} (use e.g. \"500ms\", \"30s\", \"5m\", \"48h\", \"30d\")",
        )
    return total


def format_duration(seconds: float) -> str:
    """Render seconds compactly, the inverse of parse_duration for whole units."""
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    s = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return compound_duration(s)


def compound_duration(seconds: float) -> str:
    """Compound units, largest first: "2d17h30m", "1h30m", "45s"."""
    s = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return "".join(parts) or "0s"


class NoOffset(ValueError):
    """A time without a UTC offset, where one is required."""


def to_epoch(value: dt.datetime | dt.date, *, floating_utc: bool = False) -> float:
    """A datetime or date as Unix seconds; a date means 00:00 UTC. A naive datetime is
    refused, or taken as UTC with `floating_utc` (iCalendar's floating times)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            if not floating_utc:
                raise NoOffset("datetime needs an offset, e.g. 2026-12-06T02:00:00Z")
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()


EARLIEST = 631152000.0   # 1990-01-01T00:00:00Z
LATEST = 7258118400.0    # 2200-01-01T00:00:00Z


def plausible(at: float, what: str) -> float:
    """`at` if it lies in 1990 .. 2200; else ValueError naming `what`: a time outside
    is a typo (a year 0202, Unix milliseconds), never a record slaprobe should use."""
    if not EARLIEST <= at <= LATEST:
        raise ValueError(f"{what} is outside the plausible range 1990-01-01 .. 2200-01-01")
    return at


def parse_instant(text: str) -> float:
    """RFC 3339 with any offset, a bare date (00:00 UTC), or Unix seconds."""
    s = text.strip()
    if not s:
        raise ValueError("empty time")
    try:
        seconds = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f"invalid time {text!r} (Unix seconds must be a finite number)")
        return seconds
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        return to_epoch(dt.date.fromisoformat(s))
    try:
        return parse_rfc3339(s)
    except NoOffset:
        raise ValueError(f"time {text!r} needs an offset (e.g. Z or +01:00)") from None
    except ValueError:
        msg = f"invalid time {text!r} (use RFC 3339, e.g. 2026-10-01T00:00:00Z)"
        raise ValueError(msg) from None


def parse_rfc3339(text: str) -> float:
    """An RFC 3339 / ISO 8601 date-time with offset (`Z` allowed) as Unix seconds;
    ValueError if unreadable, NoOffset if it has no offset."""
    s = text.strip()
    iso = s[:-1] + "+00:00" if s[-1:] in ("z", "Z") else s
    iso = iso.replace("t", "T", 1) if "t" in iso[:11] else iso
    when = dt.datetime.fromisoformat(iso)
    if when.tzinfo is None:
        raise NoOffset(f"time {text!r} has no offset")
    return when.timestamp()


def month_range(text: str) -> tuple[float, float]:
    """"YYYY-MM" as the UTC calendar month [start, end)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"invalid month {text!r} (use YYYY-MM)")
    year, month = int(m.group(1)), int(m.group(2))
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.UTC)
    return start.timestamp(), end.timestamp()


def month_start(at: float) -> float:
    """Start of the UTC calendar month containing `at`."""
    d = dt.datetime.fromtimestamp(at, dt.UTC)
    return dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp()


def iso(at: float) -> str:
    """Unix seconds as RFC 3339 UTC, whole seconds unless fractional."""
    d = dt.datetime.fromtimestamp(at, dt.UTC)
    text = d.isoformat(timespec="milliseconds" if d.microsecond else "seconds")
    return text.replace("+00:00", "Z")
