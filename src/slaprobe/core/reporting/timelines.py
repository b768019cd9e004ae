"""Pure HTML of incident timelines: what the people handling an incident said
(`slaprobe incidents update`), under the measured incident, in time order.

Input is the incident JSON (`incidents --format json`, the report's "incidents");
every text goes through `esc`. An update never changes a figure: the measured start,
end and deadlines are shown beside it, from the same JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slaprobe.core.reporting.htmlparts import esc

STATUS_CLASS = {"investigating": "miss", "identified": "warn", "monitoring": "info",
                "resolved": "met"}


def _item(u: Mapping[str, Any]) -> str:
    status = str(u.get("status", ""))
    return (f'<li data-status="{esc(status)}"><time datetime="{esc(u.get("at", ""))}">'
            f'{esc(u.get("at", ""))}</time><span class="badge {STATUS_CLASS.get(status, "na")}">'
            f'{esc(status)}</span> <span class="by">by {esc(u.get("by", ""))}</span>'
            f'<p>{esc(u.get("text", ""))}</p></li>')


def timeline(incident: Mapping[str, Any]) -> str:
    """One incident's updates as an ordered list (empty string when none)."""
    ups = incident.get("updates") or []
    if not ups:
        return ""
    return (f'<ol class="timeline" aria-label="updates of {esc(incident.get("id", ""))}">'
            + "".join(_item(u) for u in ups) + "</ol>")


def _head(i: Mapping[str, Any]) -> str:
    end = i.get("end")
    span = (f'{esc(i.get("start", ""))} .. {esc(end)}' if end
            else f'since {esc(i.get("start", ""))}, <span class="badge miss">open</span>')
    return (f'<h3 class="inc" id="{esc(i.get("id", ""))}">{esc(i.get("id", ""))} '
            f'<small>({esc(i.get("priority", ""))}; {esc(", ".join(i.get("targets") or []))};'
            f" {span})</small></h3>")


def timelines_section(incidents: Sequence[Mapping[str, Any]],
                      title: str = "Incident updates") -> str:
    """Every listed incident that has updates, each with its timeline."""
    with_updates = [i for i in incidents if i.get("updates")]
    if not with_updates:
        return ""
    return (f"<h2>{esc(title)}</h2>"
            + "".join(_head(i) + timeline(i) for i in with_updates))


def status_incidents(incidents: Sequence[Mapping[str, Any]]) -> str:
    """The status page's incidents: each with its measured figures and its timeline
    ("no update yet" when none), newest first."""
    if not incidents:
        return '<p class="none">None.</p>'
    out = []
    for i in sorted(incidents, key=lambda i: str(i.get("start", "")), reverse=True):
        body = timeline(i) or '<p class="none">No update yet.</p>'
        out.append(f'<div class="incident" data-id="{esc(i.get("id", ""))}">'
                   f"{_head(i)}{body}</div>")
    return "".join(out)
