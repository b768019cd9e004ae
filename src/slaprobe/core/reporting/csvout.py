"""Pure CSV rendering of per-day figures (DESIGN's schema).

`day,kind,name,availability,up_seconds,down_seconds,excluded_seconds,unknown_seconds,coverage`,
one row per UTC day and scope, the service first; an undefined availability is empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from slaprobe.core.reporting import figfmt
from slaprobe.core.reporting.daily import Scope

HEADER = ["day", "kind", "name", "availability", "up_seconds", "down_seconds",
          "excluded_seconds", "unknown_seconds", "coverage"]


def render(scopes: Sequence[Scope]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    n_days = len(scopes[0].days) if scopes else 0
    for i in range(n_days):  # by day, then scope: a day's rows read together
        for sc in scopes:
            d = sc.days[i]
            f = d.figures
            w.writerow([d.day, sc.kind, sc.name, figfmt.ratio(f.availability),
                        figfmt.seconds(f.up), figfmt.seconds(f.down),
                        figfmt.seconds(f.excluded), figfmt.seconds(f.unknown),
                        figfmt.ratio(f.coverage)])
    return buf.getvalue()
