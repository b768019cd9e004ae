"""The `[support]` table as an SLA term: a canonical JSON object and back.

Every part that shapes an incident is written out (the calendar's zone, hours, days,
holidays and extra dates, the merge gap, each priority's clocks in business seconds),
so equal support terms give equal text and a stored version can be read again
without the config that made it. The zone comes back through `zone` (a name to a
tzinfo), made at the edge: reading tzdata is I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from slaprobe.core.incidents.business import Calendar
from slaprobe.core.incidents.rules import Support, Targets

Zone = Callable[[str], dt.tzinfo]


def encode(support: Support) -> dict[str, Any]:
    """The support terms as a JSON-ready dict (lists sorted: canonical)."""
    cal = support.calendar
    return {
        "timezone": cal.timezone,
        "opens_seconds": cal.opens, "closes_seconds": cal.closes,
        "days": sorted(cal.days),
        "holidays": cal.holidays, "holidays_subdivision": cal.subdivision,
        "extra_holidays": sorted(d.isoformat() for d in cal.extra_holidays),
        "merge_gap_seconds": support.merge_gap,
        "high": {"response_seconds": support.high.response,
                 "resolution_seconds": support.high.resolution},
        "medium": {"response_seconds": support.medium.response,
                   "resolution_seconds": support.medium.resolution},
        "configured": support.configured,
    }


def utc_only(name: str) -> dt.tzinfo:
    """A zone reader that knows only UTC (the default when no reader is given)."""
    if name == "UTC":
        return dt.UTC
    raise ValueError(f"no zone reader for {name!r}")


def decode(d: Mapping[str, Any], zone: Zone = utc_only) -> Support:
    """The Support a stored `encode` dict describes."""
    name = str(d["timezone"])
    tz = dt.UTC if name == "UTC" else zone(name)
    cal = Calendar(
        tz=tz, opens=int(d["opens_seconds"]), closes=int(d["closes_seconds"]),
        days=frozenset(int(x) for x in d["days"]),
        holidays=d.get("holidays"), subdivision=d.get("holidays_subdivision"),
        extra_holidays=frozenset(dt.date.fromisoformat(x) for x in d.get("extra_holidays", [])),
    )
    return Support(
        calendar=cal, merge_gap=float(d["merge_gap_seconds"]),
        high=Targets(float(d["high"]["response_seconds"]), float(d["high"]["resolution_seconds"])),
        medium=Targets(float(d["medium"]["response_seconds"]),
                       float(d["medium"]["resolution_seconds"])),
        configured=bool(d.get("configured", True)),
    )
