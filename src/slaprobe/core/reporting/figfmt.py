"""Pure number formats shared by the CSV and HTML renderers.

Ratios are cut (never rounded up) to 6 decimals, so a day with any downtime
never shows as 1 (100%); seconds keep millisecond precision.
"""

from __future__ import annotations

import math

RATIO_DECIMALS = 6


def ratio(x: float | None) -> str:
    """0.999306 style; empty when undefined."""
    if x is None:
        return ""
    scale = 10 ** RATIO_DECIMALS
    return f"{math.floor(x * scale + 1e-9) / scale:.{RATIO_DECIMALS}f}"


def percent(x: float | None, decimals: int = RATIO_DECIMALS - 2) -> str:
    """99.9306 style (no sign); "n/a" when undefined. Cut, never rounded up."""
    if x is None:
        return "n/a"
    if x == 1.0:  # the common case, fast
        return "100." + "0" * decimals if decimals else "100"
    scale = 10 ** (decimals + 2)
    return f"{math.floor(x * scale + 1e-9) / 10 ** decimals:.{decimals}f}"


def seconds(x: float) -> str:
    """Seconds with at most millisecond precision and no trailing zeros: 60, 0.5."""
    if x.is_integer():  # the common case, fast
        return str(int(x))
    text = f"{x:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def duration(x: float) -> str:
    """A human duration: 0s, 0.5s, 59s, 1m 5s, 2h 3m, 1d 4h (two largest units)."""
    if x < 1:
        return "0s" if x <= 0 else f"{x:.1f}s".replace(".0s", "s")
    s = round(x)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return " ".join(parts[:2])
