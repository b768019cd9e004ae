"""Pure HTML rendering of the SLA report: one self-contained, printable page.

Input is the report JSON (`report.build`) and the per-day scopes (`daily.build`),
so every number on the page is one of theirs: headline and per-target figures
carry the JSON value in <data value>, per-day tables show the CSV's figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slaprobe.core.reporting import figfmt, htmllocations, timelines
from slaprobe.core.reporting.daily import Scope
from slaprobe.core.reporting.htmlparts import (
    LEGEND,
    axis,
    bars,
    data,
    day_table,
    dur,
    esc,
    far_threshold,
    jnum,
    page,
    pct,
    table,
)


def verdict(met: bool | None, critical: bool, objective: float) -> str:
    """met / MISSED for what counts against the SLA; a non-critical target below the
    objective is shown as such, never as MISSED."""
    if met is None:
        return '<span class="badge na">no data</span>'
    if met:
        return '<span class="badge met">met</span>'
    if not critical:
        return ('<span class="badge warn">below objective</span> '
                '<small>non-critical: not counted against the SLA</small>')
    return f'<span class="badge miss">MISSED</span> <small>under {objective * 100:g}%</small>'


def headline(rep: Mapping[str, Any], service: str) -> str:
    s = rep["service"]
    obj = rep["objective"]
    met = s["objective_met"]
    word = ("no data" if met is None else "objective met" if met else "objective MISSED")
    cls = "na" if met is None else "met" if met else "miss"
    badge = f'<span class="badge {cls}">{word}</span>'
    cards = [
        ("service availability", pct(s["availability"], 3),
         f'{badge} objective {data(obj, f"{obj * 100:g}%")}'),
        ("error budget left", pct(s["error_budget_remaining_ratio"], 1),
         "of the downtime the objective allows"),
        ("downtime", dur(s["down_seconds"]),
         data(s["down_seconds"], figfmt.seconds(s["down_seconds"])) + " s"),
        ("excluded", dur(s["excluded_seconds"]),
         f'maintenance {dur(s["excluded_by_reason"]["maintenance"])}, network '
         f'{dur(s["excluded_by_reason"]["probe_network"])}'),
        ("unknown", dur(s["unknown_seconds"]), "not probed: neither up nor down"),
        ("coverage", pct(s["coverage"], 2), "share of the range with data"),
    ]
    if s.get("degraded_seconds"):  # up, but slower than degraded_latency
        cards.append(("degraded time", f'<span class="warn">{dur(s["degraded_seconds"])}</span>',
                      "up, but slower than degraded_latency: not downtime"))
    body = "".join(f'<div class="card" data-figure="{esc(k)}"><span>{esc(k)}</span>'
                   f"<b>{v}</b><span>{note}</span></div>" for k, v, note in cards)
    return f'<section aria-label="headline"><div class="cards">{body}</div></section>'


def scope_rows(rep: Mapping[str, Any], service: str,
               critical: Mapping[str, bool]) -> str:
    obj = rep["objective"]
    rows = []
    for name, s, crit, kind in [(service, rep["service"], True, "service"),
                                *((n, s, critical.get(n, True), "target")
                                  for n, s in rep["targets"].items())]:
        tag = "service" if kind == "service" else ("critical" if crit else "non-critical")
        rows.append([
            f'{esc(name)} <small>{tag}</small>', pct(s["availability"]),
            verdict(s["objective_met"], crit, obj), dur(s["down_seconds"]),
            dur(s["excluded_seconds"]), dur(s["unknown_seconds"]), pct(s["coverage"], 2),
            pct(s["error_budget_remaining_ratio"], 1),
        ])
    return table(["scope", "availability", "vs objective", "down", "excluded", "unknown",
                  "coverage", "budget left"], rows, cls="scopes",
                 num=frozenset({1, 3, 4, 5, 6, 7}),
                 caption=f"Objective {obj * 100:g}%; the service is down when any critical "
                         "target is down")


def daily_section(rep: Mapping[str, Any], scopes: Sequence[Scope], *,
                  now: float | None = None, title: str = "Per day",
                  open_service: bool = True) -> str:
    obj = rep["objective"]
    out = [f"<h2>{esc(title)}</h2>",
           LEGEND.format(far=esc(figfmt.percent(far_threshold(obj), 1) + "%")),
           '<div class="rows">']
    figures = {("service", None): rep["service"], **{
        ("target", n): s for n, s in rep["targets"].items()}}
    for sc in scopes:
        tag = "service" if sc.kind == "service" else (
            "critical" if sc.critical else "non-critical")
        total = figures.get((sc.kind, None if sc.kind == "service" else sc.name))
        fig = "" if total is None else pct(total["availability"], 3)
        out.append(f'<div class="name">{esc(sc.name)}<small>{tag}</small></div>'
                   f"{bars(sc, obj, now)}<div class=\"fig\">{fig}</div>")
    out.append(axis(scopes))
    out.append("</div>")
    out += [day_table(sc, open_=open_service and sc.kind == "service") for sc in scopes]
    return "".join(out)


def downtime_section(rep: Mapping[str, Any]) -> str:
    rows = [[esc(d["target"]), esc(d["start"]), esc(d["end"]), dur(d["seconds"]),
             data(d["seconds"], figfmt.seconds(d["seconds"]))] for d in rep["downtime"]]
    body = (table(["target", "start (UTC)", "end (UTC)", "duration", "seconds"], rows,
                  cls="downtime", num=frozenset({3, 4}))
            if rows else '<p class="none">No downtime.</p>')
    return f'<h2>Downtime ({len(rows)} periods)</h2>{body}'


def certificates_section(rep: Mapping[str, Any]) -> str:
    """TLS targets' certificates as recorded by the end of the range (none: no section)."""
    certs = rep.get("certificates") or {}
    if not certs:
        return ""
    rows = [[esc(t), data(c["days_left"], f"{c['days_left']:.1f}"),
             esc(c.get("chain_not_after") or "-"), esc(c.get("leaf_not_after") or "-")]
            for t, c in sorted(certs.items())]
    return ("<h2>Certificates</h2><p class=\"sub\">Days left at the end of the range: the "
            "earliest not-after of the verified chain (leaf included). Expiry never changes "
            "availability.</p>" + table(["target", "days left", "chain not after (UTC)",
                                          "leaf not after (UTC)"], rows, cls="certificates",
                                         num=frozenset({1})))


STATUS_BADGE = {"excused": "met", "late_notice": "miss", "retroactive": "warn"}
STATUS_NOTE = {"excused": "excluded", "late_notice": "announced too late: counts as downtime",
               "retroactive": "seen after its start"}


def maintenance_section(rep: Mapping[str, Any], reasons: Mapping[str, str]) -> str:
    rows = []
    for m in rep["maintenance"]:
        notice = m["notice_seconds"]
        shown = figfmt.duration(abs(notice)) + (" after start" if notice < 0 else "")
        status = m["status"]
        reason = reasons.get(m["id"], "")
        rows.append([
            f'{esc(m["id"])}<small class="why">{esc(reason)}</small>',
            f'{esc(m["start"])}<br>{esc(m["end"])}',
            "all" if m["targets"] is None else esc(", ".join(m["targets"])),
            f'<span class="badge {STATUS_BADGE.get(status, "na")}">{esc(status)}</span>'
            f'<small class="why">{esc(STATUS_NOTE.get(status, ""))}</small>',
            f'{data(notice, shown)}<small class="why">announced {esc(m["announced"])}</small>',
            dur(m["excluded_seconds"]),
        ])
    body = (table(["window and reason", "start .. end (UTC)", "targets", "status", "notice",
                   "excluded"], rows, cls="maintenance", num=frozenset({5}))
            if rows else '<p class="none">No maintenance windows.</p>')
    return f"<h2>Maintenance ({len(rows)} windows)</h2>{body}"


def _clock(status: str | None, deadline: str | None, extra: str = "") -> str:
    cls = {"met": "met", "breached": "miss", "pending": "warn"}.get(status or "", "na")
    return (f'<span class="badge {cls}">{esc(status or "n/a")}</span> '
            f"<small>by {esc(deadline or 'n/a')}{extra}</small>")


def incidents_section(incidents: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for i in incidents:
        ack = i.get("acknowledged")
        rows.append([
            esc(i.get("id", "")),
            f'<span class="badge {"miss" if i.get("priority") == "high" else "warn"}">'
            f'{esc(i.get("priority", ""))}</span>',
            esc(i.get("start", "")),
            esc(i["end"]) if i.get("end") else '<span class="badge miss">open</span>',
            dur(float(i.get("seconds") or 0.0)),
            dur(float(i.get("business_seconds") or 0.0)),
            esc(", ".join(i.get("targets") or [])),
            _clock(i.get("response"), i.get("response_deadline"),
                   f"; acknowledged {esc(ack)}" if ack else "; not acknowledged"),
            _clock(i.get("resolution"), i.get("resolution_deadline")),
        ])
    return (f"<h2>Incidents ({len(rows)})</h2>" + table(
        ["id", "priority", "start (UTC)", "end (UTC)", "duration", "business time",
         "targets", "response", "resolution"], rows, cls="incidents", num=frozenset({4, 5})))


def render(
    rep: Mapping[str, Any], scopes: Sequence[Scope], *, service: str,
    critical: Mapping[str, bool], reasons: Mapping[str, str], generated: str,
    version: str,
) -> str:
    """The whole page. `generated` is the (UTC) time the page was made."""
    obj = rep["objective"]
    body = [
        f"<h1>{esc(service)} SLA report</h1>",
        f'<p class="sub">{esc(rep["from"])} to {esc(rep["to"])} (UTC), objective '
        f'{data(obj, f"{obj * 100:g}%")}; maintenance is excluded only '
        "when announced in time.</p>",
        headline(rep, service),
        "<h2>Service and targets</h2>",
        scope_rows(rep, service, critical),
        htmllocations.section(rep, service),
        daily_section(rep, scopes),
        downtime_section(rep),
        maintenance_section(rep, reasons),
        certificates_section(rep),
    ]
    if rep.get("incidents"):
        body.append(incidents_section(rep["incidents"]))
        body.append(timelines.timelines_section(rep["incidents"]))
    body.append(f'<footer>Made by slaprobe {esc(version)} at {esc(generated)}. Figures per '
                "DESIGN: availability = up / (up + down); excluded and unknown time are "
                "neither. This page fetches nothing.</footer>")
    return page(f"{service} SLA report {rep['from']} to {rep['to']}", "".join(body))


__all__ = ["jnum", "render"]
