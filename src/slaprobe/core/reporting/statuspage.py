"""Pure HTML rendering of the live status page (`/status`).

Current state per target, open incidents, upcoming excused maintenance, this
month's figures and the last 90 days of per-day bars. Built from the same report
JSON and per-day scopes as the report page; `now` is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import CertExpiry
from slaprobe.core.probe import certs
from slaprobe.core.reporting import figfmt, htmllocations, htmlreport, timelines
from slaprobe.core.reporting.daily import Scope
from slaprobe.core.reporting.htmlparts import dur, esc, page, table, wrap
from slaprobe.core.timefmt import iso, parse_instant

REFRESH_SECONDS = 60
STATUS_DAYS = 90  # the per-day bars and past maintenance
RECENT_DAYS = 7  # resolved incidents stay on the page this long


@dataclass(frozen=True, slots=True)
class TargetNow:
    """One target as the daemon sees it now."""

    name: str
    critical: bool
    state: str            # up, degraded, down, maintenance, probe_network, unknown
    last_check: float | None
    latency: float | None
    error: str | None
    down_at: tuple[str, ...] = ()  # locations that see it down (fewer than the quorum)
    cert: CertExpiry | None = None  # a TLS target's certificates, as last seen


STATE_BADGE = {"up": "met", "down": "miss", "maintenance": "info", "probe_network": "info",
               "unknown": "na", "degraded": "warn"}
STATE_WORD = {"up": "up", "down": "DOWN", "maintenance": "in maintenance",
              "degraded": "degraded (up, slow)",
              "probe_network": "network issue (excluded)", "unknown": "unknown"}


def _badge(state: str) -> str:
    return (f'<span class="badge {STATE_BADGE.get(state, "na")}">'
            f"{esc(STATE_WORD.get(state, state))}</span>")


def _state_cell(t: TargetNow) -> str:
    """The target's state; `partial` when some locations, fewer than the quorum, see it
    down (the consensus is not down)."""
    if t.down_at and t.state != "down":
        return htmllocations.partial_badge(list(t.down_at))
    return _badge(t.state)


def current_section(service_state: str, targets: Sequence[TargetNow], now: float) -> str:
    rows = []
    for t in targets:
        last = "never" if t.last_check is None else iso(t.last_check)
        lat = "" if t.latency is None else f"{t.latency * 1000:.0f} ms"
        cert = "" if t.cert is None else certs.days_text(t.cert, now)
        rows.append([
            f'{esc(t.name)} <small>{"critical" if t.critical else "non-critical"}</small>',
            _state_cell(t), esc(last), esc(lat), esc(cert), wrap(esc(t.error or "")),
        ])
    return (f"<h2>Now: {_badge(service_state)}</h2>"
            + table(["target", "state", "last check (UTC)", "latency", "certificate left",
                     "error"], rows, cls="current", num=frozenset({3, 4})))


def _notice(seconds: float) -> str:
    shown = figfmt.duration(abs(seconds))
    return shown + " after start" if seconds < 0 else shown + " ahead"


def _status(status: str) -> str:
    return (f'<span class="badge {htmlreport.STATUS_BADGE.get(status, "na")}">{esc(status)}'
            f'</span><small class="why">{esc(htmlreport.STATUS_NOTE.get(status, ""))}</small>')


def upcoming_section(windows: Sequence[Window], now: float) -> str:
    """Maintenance not yet over, soonest first, with its notice and status: excused
    (excluded from the figures) or announced too late (counts as downtime)."""
    rows = []
    for w in sorted((w for w in windows if w.end > now), key=lambda w: (w.start, w.id)):
        when = "in progress" if w.start <= now else "in " + figfmt.duration(
            w.start - now)
        rows.append([esc(w.id), f"{esc(iso(w.start))} .. {esc(iso(w.end))}", esc(when),
                     "all" if w.targets is None else esc(", ".join(w.targets)),
                     _status(w.status), esc(_notice(w.notice)), wrap(esc(w.reason))])
    body = (table(["id", "window (UTC)", "when", "targets", "status", "notice", "reason"],
                  rows, cls="upcoming")
            if rows else '<p class="none">None announced.</p>')
    return f"<h2>Upcoming maintenance</h2>{body}"


def past_section(last: Mapping[str, Any], windows: Sequence[Window], now: float) -> str:
    """Maintenance that ended in the page's range, latest first, with what it excluded."""
    reasons = {w.id: w.reason for w in windows}
    past = [m for m in last.get("maintenance", []) if parse_instant(m["end"]) <= now]
    rows = [[esc(m["id"]), f'{esc(m["start"])} .. {esc(m["end"])}',
             "all" if m["targets"] is None else esc(", ".join(m["targets"])),
             _status(m["status"]), esc(_notice(m["notice_seconds"])),
             dur(m["excluded_seconds"]), wrap(esc(reasons.get(m["id"], "")))]
            for m in sorted(past, key=lambda m: (m["start"], m["id"]), reverse=True)]
    body = (table(["id", "window (UTC)", "targets", "status", "notice", "excluded", "reason"],
                  rows, cls="past-maintenance", num=frozenset({5}))
            if rows else '<p class="none">None.</p>')
    return f"<h2>Past maintenance (last {STATUS_DAYS} days)</h2>{body}"


def incidents_sections(incidents: Sequence[Mapping[str, Any]]) -> str:
    """Open incidents, then those resolved lately: each group as a table of the
    measured figures, then each incident with its timeline of updates."""
    out = []
    for title, group in (("Open incidents", [i for i in incidents if not i.get("end")]),
                         (f"Resolved in the last {RECENT_DAYS} days",
                          [i for i in incidents if i.get("end")])):
        if not group:
            out.append(f'<h2>{esc(title)} (0)</h2><p class="none">None.</p>')
            continue
        out.append(htmlreport.incidents_section(group).replace("<h2>Incidents", f"<h2>{title}",
                                                               1))
        out.append(timelines.status_incidents(group))
    return "".join(out)


def render(
    *, service: str, now: float, service_state: str, targets: Sequence[TargetNow],
    month: Mapping[str, Any], last: Mapping[str, Any], days: Sequence[Scope],
    windows: Sequence[Window],
    incidents: Sequence[Mapping[str, Any]] | None, version: str,
    static: bool = False,
) -> str:
    """The page. `month` is the report JSON of this month so far, `last` that of the
    last 90 days and `days` their per-day scopes; `incidents` the open ones and those
    that ended in the last `RECENT_DAYS` days, with their updates (None: not
    tracked). `static`: the exported page (`slaprobe status export`): no reload, links
    relative to it (feed.atom, badge/...), nothing of the daemon's API."""
    feed = "feed.atom" if static else "status/feed.atom"
    when = ("published as a static page" if static else
            f"this page reloads every {REFRESH_SECONDS} s")
    body = [
        f"<h1>{esc(service)} status</h1>",
        f'<p class="sub">As of {esc(iso(now))} (UTC); {when}. '
        f'<a href="{esc(feed)}">Subscribe (Atom feed)</a>.</p>',
        current_section(service_state, targets, now),
    ]
    if incidents is not None:
        body.append(incidents_sections(incidents))
    body.append(upcoming_section(windows, now))
    body.append(past_section(last, windows, now))
    body += [f"<h2>This month: {esc(month['from'][:7])}</h2>",
             f'<p class="sub">{esc(month["from"])} to now, objective '
             f'{month["objective"] * 100:g}%.</p>',
             htmlreport.headline(month, service),
             htmlreport.scope_rows(month, service, {s.name: s.critical for s in days}),
             htmllocations.section(month, service, title="This month per location"),
             htmlreport.daily_section(last, days, now=now,
                                      title=f"Last {len(days[0].days) if days else 0} days",
                                      open_service=False)]
    where = ("Badges: badge/SCOPE/availability/WINDOW.svg and badge/SCOPE/state.svg beside "
             "this page." if static else "The JSON is at /api/v1/report.")
    body.append(f"<footer>slaprobe {esc(version)}. Figures: availability = up / (up + down); "
                f"excluded and unknown time are neither. {where}</footer>")
    return page(f"{service} status", "".join(body),
                refresh=None if static else REFRESH_SECONDS, feed=feed)


