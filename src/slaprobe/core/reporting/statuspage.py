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
from slaprobe.core.reporting import figfmt, htmlreport
from slaprobe.core.reporting.daily import Scope
from slaprobe.core.reporting.htmlparts import esc, page, table, wrap
from slaprobe.core.timefmt import iso

REFRESH_SECONDS = 60


@dataclass(frozen=True, slots=True)
class TargetNow:
    """One target as the daemon sees it now."""

    name: str
    critical: bool
    state: str            # up, degraded, down, maintenance, probe_network, unknown
    last_check: float | None
    latency: float | None
    error: str | None
    cert: CertExpiry | None = None  # a TLS target's certificates, as last seen


STATE_BADGE = {"up": "met", "down": "miss", "maintenance": "info", "probe_network": "info",
               "unknown": "na", "degraded": "warn"}
STATE_WORD = {"up": "up", "down": "DOWN", "maintenance": "in maintenance",
              "degraded": "degraded (up, slow)",
              "probe_network": "network issue (excluded)", "unknown": "unknown"}


def _badge(state: str) -> str:
    return (f'<span class="badge {STATE_BADGE.get(state, "na")}">'
            f"{esc(STATE_WORD.get(state, state))}</span>")


def current_section(service_state: str, targets: Sequence[TargetNow], now: float) -> str:
    rows = []
    for t in targets:
        last = "never" if t.last_check is None else iso(t.last_check)
        lat = "" if t.latency is None else f"{t.latency * 1000:.0f} ms"
        cert = "" if t.cert is None else certs.days_text(t.cert, now)
        rows.append([
            f'{esc(t.name)} <small>{"critical" if t.critical else "non-critical"}</small>',
            _badge(t.state), esc(last), esc(lat), esc(cert), wrap(esc(t.error or "")),
        ])
    return (f"<h2>Now: {_badge(service_state)}</h2>"
            + table(["target", "state", "last check (UTC)", "latency", "certificate left",
                     "error"], rows, cls="current", num=frozenset({3, 4})))


def upcoming_section(windows: Sequence[Window], now: float) -> str:
    """Excused maintenance not yet over, soonest first."""
    rows = []
    for w in sorted((w for w in windows if w.status == "excused" and w.end > now),
                    key=lambda w: (w.start, w.id)):
        when = "in progress" if w.start <= now else "in " + figfmt.duration(
            w.start - now)
        rows.append([esc(w.id), f"{esc(iso(w.start))} .. {esc(iso(w.end))}", esc(when),
                     "all" if w.targets is None else esc(", ".join(w.targets)),
                     wrap(esc(w.reason))])
    body = (table(["id", "window (UTC)", "when", "targets", "reason"], rows, cls="upcoming")
            if rows else '<p class="none">None announced.</p>')
    return f"<h2>Upcoming maintenance (excused)</h2>{body}"


def render(
    *, service: str, now: float, service_state: str, targets: Sequence[TargetNow],
    month: Mapping[str, Any], last: Mapping[str, Any], days: Sequence[Scope],
    windows: Sequence[Window],
    incidents: Sequence[Mapping[str, Any]] | None, version: str,
) -> str:
    """The page. `month` is the report JSON of this month so far, `last` that of the
    last 90 days and `days` their per-day scopes; `incidents` the open ones (None:
    not tracked)."""
    body = [
        f"<h1>{esc(service)} status</h1>",
        f'<p class="sub">As of {esc(iso(now))} (UTC); this page reloads every '
        f"{REFRESH_SECONDS} s.</p>",
        current_section(service_state, targets, now),
    ]
    if incidents is not None:
        if incidents:
            body.append(htmlreport.incidents_section(incidents).replace(
                "<h2>Incidents", "<h2>Open incidents", 1))
        else:
            body.append('<h2>Open incidents (0)</h2><p class="none">None.</p>')
    body.append(upcoming_section(windows, now))
    body += [f"<h2>This month: {esc(month['from'][:7])}</h2>",
             f'<p class="sub">{esc(month["from"])} to now, objective '
             f'{month["objective"] * 100:g}%.</p>',
             htmlreport.headline(month, service),
             htmlreport.scope_rows(month, service, {s.name: s.critical for s in days}),
             htmlreport.daily_section(last, days, now=now,
                                      title=f"Last {len(days[0].days) if days else 0} days",
                                      open_service=False)]
    body.append(f"<footer>slaprobe {esc(version)}. Figures: availability = up / (up + down); "
                "excluded and unknown time are neither. The JSON is at /api/v1/report."
                "</footer>")
    return page(f"{service} status", "".join(body), refresh=REFRESH_SECONDS)


