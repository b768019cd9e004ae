"""Business time on a support calendar (SLA sections 3-4): pure and exact.

A support calendar is local wall-clock hours (`opens`..`closes`, seconds after
local midnight) on some weekdays in an IANA timezone, minus public holidays
(the `holidays` package, country and subdivision) and extra dates. An instant
is business time when its local wall time falls inside the hours of a business
day. Instants are Unix seconds (UTC).

Exactness across DST: the wall-clock hours of one local date map to UTC
through the offsets in force during that date, piece by piece. zoneinfo has no
public list of transitions, so the pieces are found by sampling the offset and
bisecting to the second where it changes (hand-written for that reason; it is
exact for any zone whose offset changes at most once in six hours). A support
day is therefore `closes - opens` of local time on both sides of a change, an
hour that a change skips is not business time and an hour it repeats counts
twice, exactly as a wall clock on the support desk would read.

Nothing here reads a clock or a file: "now" is always an argument, and the
zone comes in as a tzinfo made at the edge (zoneinfo reads tzdata).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import holidays as holidays_pkg

Interval = tuple[float, float]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EPOCH = dt.date(1970, 1, 1)
_SAMPLE = 6 * 3600          # offset sampling step when looking for transitions
_SEARCH_DAYS = 3660         # add_business gives up after ten years without business time


@dataclass(frozen=True, slots=True)
class Calendar:
    """A support calendar; hashable so its per-day hours can be cached."""

    tz: dt.tzinfo = dt.UTC           # a zoneinfo.ZoneInfo, made at the edge (it reads tzdata)
    opens: int = 9 * 3600            # seconds after local midnight
    closes: int = 17 * 3600          # seconds after local midnight, at most 24 h
    days: frozenset[int] = frozenset(range(5))   # date.weekday(): Monday = 0
    holidays: str | None = None      # country code for the holidays package
    subdivision: str | None = None
    extra_holidays: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not 0 <= self.opens < self.closes <= 86400:
            raise ValueError("support hours must open before they close, within one day")

    @property
    def timezone(self) -> str:
        """The IANA name of the zone."""
        return str(self.tz)

    @property
    def day_length(self) -> int:
        """One business day in seconds: the length of one support day."""
        return self.closes - self.opens

    def is_business_day(self, d: dt.date) -> bool:
        if d.weekday() not in self.days or d in self.extra_holidays:
            return False
        return self.holidays is None or d not in _holiday_dates(
            self.holidays, self.subdivision, d.year)

    def day_hours(self, d: dt.date) -> tuple[Interval, ...]:
        """The business intervals (UTC) of local date `d`: one, or none; two
        when a DST change repeats the hour the support day closes in."""
        return _day_hours(self, d)

    def intervals(self, a: float, b: float) -> Iterator[Interval]:
        """Business intervals overlapping [a, b), clipped to it, in order."""
        for d in _dates(a, b):
            for s0, e0 in self.day_hours(d):
                s, e = max(s0, a), min(e0, b)
                if e > s:
                    yield s, e

    def seconds_between(self, a: float, b: float) -> float:
        """Business seconds in [a, b) (0 when b <= a)."""
        if b <= a:
            return 0.0
        return sum(e - s for s, e in self.intervals(a, b))

    def add(self, t: float, seconds: float) -> float:
        """The first instant at which `seconds` business seconds have passed
        since `t`; from outside hours the clock starts at the next opening.

        Raises ValueError when the calendar has no business time for ten years.
        """
        if seconds <= 0:
            return t
        left = seconds
        d = _utc_date(t) - dt.timedelta(days=2)
        for _ in range(_SEARCH_DAYS):
            for s0, e in self.day_hours(d):
                if e <= t:
                    continue
                s = max(s0, t)
                if left <= e - s:
                    return s + left
                left -= e - s
            d += dt.timedelta(days=1)
        raise ValueError("the support calendar has no business time")

    def left(self, now: float, deadline: float) -> float:
        """Business seconds from `now` to `deadline`; negative once past it
        (then the business time elapsed since the deadline)."""
        if deadline >= now:
            return self.seconds_between(now, deadline)
        return -self.seconds_between(deadline, now)


# --- per-day hours ---------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    return frozenset(holidays_pkg.country_holidays(country, subdiv=subdivision, years=year))


@functools.lru_cache(maxsize=8192)
def _day_hours(cal: Calendar, d: dt.date) -> tuple[Interval, ...]:
    if not cal.is_business_day(d):
        return ()
    tz = cal.tz
    midnight = (d - _EPOCH).days * 86400          # local midnight in "wall seconds"
    w0, w1 = midnight + cal.opens, midnight + cal.closes
    out: list[Interval] = []
    # wall = utc + offset, offsets stay within +-26 h
    for us, ue, off in _offset_pieces(tz, w0 - 26 * 3600, w1 + 26 * 3600):
        s, e = max(us, w0 - off), min(ue, w1 - off)
        if e > s:
            if out and out[-1][1] == s:
                out[-1] = (out[-1][0], float(e))
            else:
                out.append((float(s), float(e)))
    return tuple(out)


def _offset(tz: dt.tzinfo, u: int) -> int:
    off = dt.datetime.fromtimestamp(u, tz).utcoffset()
    assert off is not None
    return int(off.total_seconds())


def _offset_pieces(tz: dt.tzinfo, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """[lo, hi) cut where the zone's UTC offset changes: (start, end, offset)."""
    out: list[tuple[int, int, int]] = []
    start, off = lo, _offset(tz, lo)
    t = lo
    while t < hi:
        nxt = min(t + _SAMPLE, hi)
        noff = _offset(tz, nxt)
        if noff != off:
            a, b = t, nxt  # off at a, noff at b: the change is in (a, b]
            while b - a > 1:
                mid = (a + b) // 2
                if _offset(tz, mid) == off:
                    a = mid
                else:
                    b = mid
            out.append((start, b, off))
            start, off = b, noff
        t = nxt
    out.append((start, hi, off))
    return out


def _utc_date(t: float) -> dt.date:
    return dt.datetime.fromtimestamp(t, dt.UTC).date()


def _dates(a: float, b: float) -> Iterator[dt.date]:
    """Every local date whose hours could overlap [a, b), in any zone."""
    d, last = _utc_date(a) - dt.timedelta(days=2), _utc_date(b) + dt.timedelta(days=2)
    while d <= last:
        yield d
        d += dt.timedelta(days=1)


# --- parsing (config values) -----------------------------------------------------

_HOURS_RE = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")
_BDUR_RE = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s)")


def parse_hours(text: str) -> tuple[int, int]:
    """"09:00-17:00" as (opens, closes) in seconds after local midnight."""
    m = _HOURS_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"invalid hours {text!r} (use e.g. \"09:00-17:00\")")
    h0, m0, h1, m1 = (int(g) for g in m.groups())
    if h0 > 23 or m0 > 59 or m1 > 59 or h1 > 24 or (h1 == 24 and m1):
        raise ValueError(f"invalid hours {text!r} (times are 00:00 to 24:00)")
    opens, closes = h0 * 3600 + m0 * 60, h1 * 3600 + m1 * 60
    if closes <= opens:
        raise ValueError(f"invalid hours {text!r} (support hours open before they close, "
                         "within one local day)")
    return opens, closes


def parse_days(text: str) -> frozenset[int]:
    """"mon-fri", "mon,wed,fri", "sun-thu" (wrapping) as weekday numbers."""
    out: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in DAY_NAMES for e in ends):
            raise ValueError(f"invalid days {text!r} (use e.g. \"mon-fri\" or \"mon,wed,fri\")")
        a, b = DAY_NAMES.index(ends[0]), DAY_NAMES.index(ends[-1])
        out.update(DAY_NAMES.index(DAY_NAMES[(a + i) % 7]) for i in range((b - a) % 7 + 1))
    return frozenset(out)


def parse_business_duration(text: str, day_length: float) -> float:
    """"4h", "1d", "1d4h", "30m" in business seconds ("d" = one support day)."""
    s = text.strip()
    pos, total = 0, 0.0
    for m in _BDUR_RE.finditer(s):
        if m.start() != pos:
            break
        unit = {"d": day_length, "h": 3600.0, "m": 60.0, "s": 1.0}[m.group(2)]
        total += float(m.group(1)) * unit
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"invalid business duration {text!r} (use e.g. \"4h\" business "
                         "hours or \"1d\" business days)")
    if total <= 0:
        raise ValueError(f"business duration {text!r} must be positive")
    return total


def check_holidays(country: str, subdivision: str | None) -> None:
    """Raise ValueError when the holidays package does not know the country or
    the subdivision."""
    try:
        holidays_pkg.country_holidays(country, subdiv=subdivision, years=2000)
    except NotImplementedError as e:
        raise ValueError(str(e).strip() or f"unknown holidays {country!r}") from None

