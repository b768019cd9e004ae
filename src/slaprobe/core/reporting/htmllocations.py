"""PURE: the per-location pictures of a shared history, for the report page and /status.

With more than one location the report JSON has a `locations` section: each location's
own figures from its checks alone; the report's main figures are their consensus. The
section shows, per scope, the consensus beside each location's availability, down time
and coverage. A target some location saw down for longer than the consensus counts is
marked `partial`: seen down there, by fewer locations than the quorum (it is not down).
Single-location reports have no `locations` and get no section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slaprobe.core.reporting.htmlparts import dur, esc, pct, table

PARTIAL = ('<span class="badge warn">partial</span> <small>seen down at {where}, by fewer'
           " locations than the quorum: not down</small>")


def partial_badge(where: list[str]) -> str:
    return PARTIAL.format(where=esc(", ".join(where)))


def partial_locations(rep: Mapping[str, Any], target: str) -> list[str]:
    """The locations that saw `target` down for longer than the consensus counted."""
    consensus = float(rep["targets"][target]["down_seconds"])
    out = []
    for loc, view in (rep.get("locations") or {}).items():
        own = view["targets"].get(target)
        if own is not None and float(own["down_seconds"]) > consensus + 0.5:
            out.append(loc)
    return out


def section(rep: Mapping[str, Any], service: str, *, title: str = "Per location") -> str:
    """Each scope's consensus and each location's own view; '' with one location."""
    views: Mapping[str, Any] = rep.get("locations") or {}
    if not views:
        return ""
    rows = []
    scopes = [(service, "service", rep["service"]),
              *((n, "target", s) for n, s in rep["targets"].items())]
    for name, kind, s in scopes:
        where = [] if kind == "service" else partial_locations(rep, name)
        note = f" {partial_badge(where)}" if where else ""
        rows.append([f"{esc(name)} <small>{kind}</small>{note}", "<b>consensus</b>",
                     pct(s["availability"]), dur(s["down_seconds"]), pct(s["coverage"], 2)])
        for loc, view in views.items():
            own = view["service"] if kind == "service" else view["targets"].get(name)
            if own is None:
                continue
            rows.append([f"{esc(name)} <small>{kind}</small>", esc(loc),
                         pct(own["availability"]), dur(own["down_seconds"]),
                         pct(own["coverage"], 2)])
    return (f"<h2>{esc(title)} ({len(views)} locations)</h2>" + table(
        ["scope", "seen from", "availability", "down", "coverage"], rows, cls="locations",
        num=frozenset({2, 3, 4}),
        caption="The consensus (the SLA figures above) and each location's own checks"))
