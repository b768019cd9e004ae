"""The incident metric families (DESIGN "Incidents"), from judged incidents at
scrape time: how many are open, each priority's earliest deadline per clock and
the business seconds left to it, and this month's incidents by outcome.

The response clock counts open incidents that have no acknowledgement yet (an
acknowledged incident's response is done); the resolution clock every open one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slaprobe.core.incidents.rules import BREACHED, HIGH, MEDIUM, MET, PENDING, Incident, Support
from slaprobe.core.reporting import catalogue
from slaprobe.metrics.exposition import Family
from slaprobe.metrics.instruments import family

PRIORITIES = (HIGH, MEDIUM)
OUTCOMES = (MET, BREACHED, PENDING)


def families(open_: Sequence[Incident], month: Mapping[tuple[str, str], int],
             support: Support, now: float) -> list[Family]:
    """`open_`: the open incidents; `month`: how many started this UTC month, by
    (priority, resolution)."""
    n_open, deadline, left, by_outcome = (family(d) for d in (
        catalogue.INCIDENTS_OPEN, catalogue.INCIDENT_DEADLINE,
        catalogue.INCIDENT_BUSINESS_LEFT, catalogue.INCIDENTS))
    cal = support.calendar
    for prio in PRIORITIES:
        mine = [i for i in open_ if i.priority == prio]
        n_open.add([prio], float(len(mine)))
        clocks = (("response", [i.response_deadline for i in mine if i.acknowledged is None]),
                  ("resolution", [i.resolution_deadline for i in mine]))
        for clock, deadlines in clocks:
            if deadlines:
                first = min(deadlines)
                deadline.add([prio, clock], first)
                left.add([prio, clock], cal.left(now, first))
        for outcome in OUTCOMES:
            by_outcome.add([prio, outcome, "month"], float(month.get((prio, outcome), 0)))
    return [n_open, deadline, left, by_outcome]
