"""Pure parsing of the times a user types: absolute or relative to `now`.

`now`, `now-1h`, `now-7d`, `now+30m`, `now-1h30m` are taken relative to the
`now` passed in (never read from a clock here); everything else goes to
`timefmt.parse_instant` (RFC 3339, bare date, Unix seconds).
"""

from __future__ import annotations

import re

from slaprobe.core.timefmt import month_range, parse_duration, parse_instant, plausible

_RELATIVE = re.compile(r"now\s*(?:([+-])\s*(\S+))?", re.IGNORECASE)


def parse_time(text: str, now: float) -> float:
    """An instant from `text`: RFC 3339, a bare date, Unix seconds or `now[+-]DURATION`."""
    s = text.strip()
    m = _RELATIVE.fullmatch(s)
    if m is None:
        try:
            return parse_instant(s)
        except ValueError as e:
            if repr(s) in str(e) or not s:
                raise
            raise ValueError(f"invalid time {text!r} ({e})") from None
    sign, amount = m.group(1), m.group(2)
    if sign is None:
        return now
    try:
        offset = parse_duration(amount)
    except ValueError:
        raise ValueError(
            f"invalid relative time {text!r} (use e.g. now, now-1h, now-7d, now-1h30m)",
        ) from None
    return now - offset if sign == "-" else now + offset


def resolve_range(
    month: str | None, start: str | None, end: str | None, now: float,
) -> tuple[float, float]:
    """[a, b) from `--month` or `--from`/`--to`; `--from` alone means "to now".

    Raises ValueError with a message naming the option.
    """
    if month is not None:
        if start is not None or end is not None:
            raise ValueError("--month goes alone, not with --from/--to")
        try:
            a, b = month_range(month)
        except ValueError as e:
            raise ValueError(f"--month: {e}") from None
        plausible(a, f"--month {month}")
        return a, plausible(b, f"--month {month}")
    if start is None:
        if end is not None:
            raise ValueError("--to goes with --from")
        raise ValueError("give --month YYYY-MM or --from T [--to T]")
    try:
        a = plausible(parse_time(start, now), repr(start))
    except ValueError as e:
        raise ValueError(f"--from: {e}") from None
    try:
        b = now if end is None else plausible(parse_time(end, now), repr(end))
    except ValueError as e:
        raise ValueError(f"--to: {e}") from None
    if b <= a:
        raise ValueError("--to must be after --from" if end is not None
                         else "--from must be in the past (--to defaults to now)")
    return a, b
