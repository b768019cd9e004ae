"""The SLA report: figures per target and for the service, outages, maintenance.

`build` reads the store through a Tracker (the same engine the daemon uses);
`render_*` are pure.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from slaprobe import __version__
from slaprobe.core.escaping import for_markdown, for_terminal, markdown_row
from slaprobe.core.evidence.terms import TermsHistory, Version, of_config
from slaprobe.core.history.consensus import consensus_history
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.incidents.rules import Support
from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import State
from slaprobe.core.probe import certs
from slaprobe.core.reporting import daily, htmlreport, textable
from slaprobe.core.slo import Figures
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import format_duration, iso, parse_instant
from slaprobe.history import certlog
from slaprobe.history.storeapi import HistoryStore
from slaprobe.incidents import stored as incidents
from slaprobe.incidents.updates import Update

table = textable.table  # one table formatter for every text output


def load_tracker(cfg: Config, store: HistoryStore, since: float, windows: Sequence[Window],
                 now: float, *, quorum: int | None = None) -> Tracker:
    """The figures' engine over the history from `since`: one location's timelines as
    they are; several locations' as their consensus (`core.consensus`, `quorum`), with
    each location's own view kept in `tracker.locations` for the report's section."""
    terms = store.record_terms(of_config(cfg), now)
    steps: int | list[tuple[float, int]] = (
        terms.steps("quorum", cfg.slo.quorum) if quorum is None else quorum)
    critical = {t.name: t.critical for t in cfg.targets}
    locations = store.locations() or [store.location]
    per = {loc: {t.name: store.load(t.name, since, location=loc) for t in cfg.targets}
           for loc in locations}
    if len(locations) == 1:
        tracker = Tracker(critical, per[locations[0]], windows)
        for t in cfg.targets:
            if t.degraded_latency is not None:
                tracker.degraded[t.name] = store.load_degraded(t.name, since,
                                                               location=locations[0])
    else:
        end = max(now, since)
        tracker = Tracker(critical, {
            t.name: consensus_history({loc: per[loc][t.name] for loc in locations}, steps,
                                      since, end, now) for t in cfg.targets}, windows)
        for loc in locations:
            own = tracker.locations[loc] = Tracker(critical, per[loc], windows)
            own.set_terms(terms)
    tracker.set_terms(terms)
    return tracker


def _locations(tracker: Tracker, a: float, b: float, *, end: float, now: float,
               objective: float) -> dict[str, Any]:
    """Each location's own figures (its checks alone, maintenance laid over)."""
    out: dict[str, Any] = {}
    for loc, own in sorted(tracker.locations.items()):
        timeline = own.service_timeline(a, end, now)
        out[loc] = {
            "service": _scope(Figures.of(timeline.totals(a, end), b - a), objective),
            "targets": {name: _scope(dataclasses.replace(own.target_figures(name, a, end, now),
                                                         length=b - a), objective)
                        for name in own.critical},
        }
    return out


def _scope(f: Figures, objective: float, degraded: float | None = None) -> dict[str, Any]:
    return {
        "availability": f.availability,
        "up_seconds": f.up,
        "down_seconds": f.down,
        "excluded_seconds": f.excluded,
        "excluded_by_reason": {"maintenance": f.maintenance, "probe_network": f.probe_network},
        "unknown_seconds": f.unknown,
        "coverage": f.coverage,
        "error_budget_remaining_ratio": f.budget_remaining(objective),
        "objective_met": f.objective_met(objective),
        # up time that was degraded (DESIGN "degraded"); null where it is not known
        # (a shared history's consensus)
        "degraded_seconds": degraded,
    }


def certificates(cfg: Config, store: HistoryStore, a: float, b: float, now: float
                 ) -> dict[str, Any]:
    """Each configured TLS target's certificates as last recorded by the end of [a, b):
    not-afters and the days left then (the report's `certificates`, when there are any)."""
    end = max(min(b, now), a)
    names = {t.name for t in cfg.targets}
    out: dict[str, Any] = {}
    for target, c in sorted(certlog.latest(store, until=end).items()):
        if target in names:
            out[target] = {"leaf_not_after": iso(c.leaf),
                           "chain_not_after": None if c.chain is None else iso(c.chain),
                           "days_left": round(certs.days_left(c, end), 3)}
    return out


def build(
    cfg: Config, tracker: Tracker, a: float, b: float, now: float, *,
    acks: Mapping[str, float] | None = None,
    updates: Mapping[str, Sequence[Update]] | None = None,
    certificates: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report over [a, b) in DESIGN's JSON shape.

    Time after `now` has no history yet: it counts as unknown (the window is still
    [a, b)), and maintenance there is not yet excluded. The incidents overlapping
    [a, b) are judged at `now` (`acks`: each incident's response instant, `updates`
    its updates: `incidents.notes`; the tracker should hold history from
    `a - incidents.LOOKBACK`).
    """
    end = max(min(b, now), a)
    default = cfg.slo.objective
    targets: dict[str, Any] = {}
    downtime: list[dict[str, Any]] = []
    for t in cfg.targets:

        def totals(s: float, e: float, name: str = t.name) -> list[float]:
            return tracker.target_totals(name, s, e, now)

        targets[t.name] = _scope(
            dataclasses.replace(tracker.target_figures(t.name, a, end, now), length=b - a),
            tracker.objective(a, end, totals, default),
            None if tracker.locations else tracker.degraded_seconds(t.name, a, end, now))
        for s, e, st in tracker.target_spans(t.name, a, end, now):
            if st == State.DOWN:
                downtime.append({"target": t.name, "start": iso(s), "end": iso(e),
                                 "seconds": e - s})
    downtime.sort(key=lambda d: (d["start"], d["target"]))
    timeline = tracker.service_timeline(a, end, now)
    service = Figures.of(timeline.totals(a, end), b - a)
    obj = tracker.objective(a, end, timeline.totals, default)
    history = tracker.terms or TermsHistory([Version(a, of_config(cfg))])
    maintenance = [
        {
            "id": w.id, "start": iso(w.start), "end": iso(w.end), "announced": iso(w.announced),
            "first_seen": iso(w.first_seen),
            "targets": None if w.targets is None else list(w.targets),
            "status": w.status, "notice_seconds": w.notice,
            "excluded_seconds": w.excluded_within(a, end),
        }
        for w in tracker.maintenance if w.end > a and w.start < b
    ]
    out = {
        "from": iso(a), "to": iso(b), "objective": obj,
        "service": _scope(service, obj, None if tracker.locations else
                          tracker.service_degraded_seconds(
                              [(s, e) for s, e, st in timeline.between(a, end)
                               if st == State.UP], a, end, now)),
        "targets": targets, "downtime": downtime,
        "maintenance": maintenance,
        "terms": [{"since": iso(v.since), **v.terms.as_dict()} for v in history.in_range(a, b)],
        "incidents": incidents.to_json(incidents.in_range(cfg, tracker, acks or {}, a=a, b=b,
                                                          now=now), updates),
    }
    if certificates:  # TLS targets: expiry as recorded by the end of the range
        out["certificates"] = dict(certificates)
    if tracker.locations:  # a shared history: the figures above are the consensus
        out["locations"] = _locations(tracker, a, b, end=end, now=now, objective=obj)
    return out


def render_html(cfg: Config, tracker: Tracker, rep: dict[str, Any], now: float) -> str:
    """The HTML page of a report built from `tracker` (the per-day bars from the same)."""
    a, b = parse_instant(rep["from"]), parse_instant(rep["to"])
    scopes = daily.build(tracker, cfg.daemon.service, a, b, now)
    reasons = {w.id: w.reason for w in tracker.maintenance}
    return htmlreport.render(
        rep, scopes, service=cfg.daemon.service, critical=dict(tracker.critical),
        reasons=reasons, generated=iso(now), version=__version__)


def render_json(rep: dict[str, Any], service: str = "",
                support: Support | None = None) -> str:
    """The report as JSON (`service` and `support`: the text renderers' signature)."""
    return json.dumps(rep, indent=2) + "\n"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.3f}%"


def _dur(seconds: float) -> str:
    return format_duration(round(seconds)) if seconds >= 1 else f"{seconds:.1f}s"


def _signed_dur(seconds: float) -> str:
    return _dur(seconds) if seconds >= 0 else "-" + _dur(-seconds)


def _rows(rep: dict[str, Any], service: str) -> list[list[str]]:
    obj = rep["objective"]
    rows = []
    for name, s in [(f"{service} (service)", rep["service"]),
                    *rep["targets"].items()]:
        met = s["objective_met"]
        rows.append([
            name, _pct(s["availability"]),
            "n/a" if met is None else ("met" if met else f"MISSED (< {obj * 100:g}%)"),
            _dur(s["down_seconds"]), _dur(s["excluded_seconds"]), _dur(s["unknown_seconds"]),
            _pct(s["coverage"]), _pct(s["error_budget_remaining_ratio"]),
        ])
    return rows


def _location_rows(rep: dict[str, Any], service: str) -> list[list[str]]:
    rows = []
    for loc, view in rep["locations"].items():
        for name, s in [(f"{service} (service)", view["service"]), *view["targets"].items()]:
            rows.append([loc, name, _pct(s["availability"]), _dur(s["down_seconds"]),
                         _pct(s["coverage"])])
    return rows


def _degraded_lines(rep: dict[str, Any], service: str) -> list[str]:
    """Each scope's degraded time and its share of up time, when any scope has some."""
    scopes = [(f"{service} (service)", rep["service"]), *rep["targets"].items()]
    if not any(s.get("degraded_seconds") for _, s in scopes):
        return []
    out = []
    for name, s in scopes:
        d, up = s.get("degraded_seconds"), s["up_seconds"]
        if d is None:
            continue
        share = f"  ({d / up * 100:.2f}% of up time)" if up else ""
        out.append(f"  {name:<24} {_dur(d)}{share}")
    return out


HEAD = ["scope", "availability", "objective", "down", "excluded", "unknown", "coverage",
        "budget left"]


def render_text(rep: dict[str, Any], service: str, support: Support | None = None) -> str:
    out = [f"SLA report {rep['from']} .. {rep['to']}  objective {rep['objective'] * 100:g}%", ""]
    out += table([HEAD, *_rows(rep, service)], rule=True)
    if degraded := _degraded_lines(rep, service):
        out += ["", "Degraded time (up, but slower than degraded_latency; not downtime)",
                *degraded]
    if rep.get("certificates"):
        out += ["", "Certificates (days left at the end of the range)"]
        out += [f"  {for_terminal(t):<24} {c['days_left']:.1f} days "
                f"(chain {c['chain_not_after'] or '-'}, leaf {c['leaf_not_after']})"
                for t, c in rep["certificates"].items()]
    out += ["", f"Downtime ({len(rep['downtime'])} periods)"]
    out += [f"  {for_terminal(d['target']):<16} {d['start']} .. {d['end']}  {_dur(d['seconds'])}"
            for d in rep["downtime"]] or ["  none"]
    out += ["", f"Maintenance ({len(rep['maintenance'])} windows)"]
    out += [f"  {for_terminal(m['id']):<24} {m['start']} .. {m['end']}  "
            f"{for_terminal(m['status']):<12} notice "
            f"{_signed_dur(m['notice_seconds'])}"
            f"  excluded {_dur(m['excluded_seconds'])}"
            for m in rep["maintenance"]] or ["  none"]
    if rep.get("locations"):
        out += ["", "Locations (each one's own checks; the figures above are their consensus)"]
        out += [f"  {line}" for line in table(
            [["location", "scope", "availability", "down", "coverage"],
             *_location_rows(rep, service)])]
    out += ["", "SLA terms applied (each in force from its time until the next)"]
    out += [f"  {for_terminal(line)}" for line in _terms_lines(rep)]
    out += ["", *incidents.text_lines(rep.get("incidents", []),
                                      incidents.calendar_note(support or Support()))]
    return "\n".join(out) + "\n"


def _describe(v: dict[str, Any]) -> str:
    critical = ", ".join(v["critical"]) or "none"
    text = (f"objective {v['objective'] * 100:g}%, maintenance notice "
            f"{format_duration(v['maintenance_notice_seconds'])}, retroactive maintenance "
            f"{'excluded' if v['allow_retroactive_maintenance'] else 'not excluded'}, "
            f"critical: {critical}")
    if v["not_critical"]:
        text += f"; not critical: {', '.join(v['not_critical'])}"
    if "quorum" in v:
        text += f"; quorum {v['quorum']}"
    if isinstance(sup := v.get("support"), dict):
        hours = "-".join(f"{x // 3600:02d}:{x % 3600 // 60:02d}"
                         for x in (int(sup["opens_seconds"]), int(sup["closes_seconds"])))
        text += (f"; support {sup['timezone']} {hours}, merge gap "
                 f"{format_duration(sup['merge_gap_seconds'])}")
    return text


def _terms_lines(rep: dict[str, Any]) -> list[str]:
    """The first version in force, then each change inside the range."""
    terms = rep.get("terms") or []
    out = []
    for i, v in enumerate(terms):
        if i == 0:
            out.append(f"{v['since']}: {_describe(v)}")
            continue
        prev = terms[i - 1]
        changed = [k for k in v if k != "since" and v[k] != prev.get(k)]
        out.append(f"{v['since']}: changed {', '.join(changed)}: {_describe(v)}")
    return out


def _scope_row(cells: list[str], names: int = 1) -> str:
    """A markdown row whose first `names` cells are names (escaped); the figures after
    them are slaprobe's own text and stay as they are (`MISSED (< 99.9%)`)."""
    return markdown_row(cells[:names])[:-2] + " | " + " | ".join(cells[names:]) + " |"


def render_markdown(rep: dict[str, Any], service: str, support: Support | None = None) -> str:
    out = [f"# SLA report {rep['from']} to {rep['to']}", "",
           f"Objective: **{rep['objective'] * 100:g}%**", "",
           "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    out += [_scope_row(r) for r in _rows(rep, service)]
    degraded = [(n, s["degraded_seconds"], s["up_seconds"])
                for n, s in [(f"{service} (service)", rep["service"]), *rep["targets"].items()]
                if s.get("degraded_seconds") is not None]
    if any(d for _, d, _ in degraded):
        out += ["", "## Degraded time", "",
                "Up, but slower than `degraded_latency`: not downtime.", "",
                "| scope | degraded | share of up time |", "|---|---|---|"]
        out += [markdown_row([n, _dur(d), f"{d / up * 100:.2f}%" if up else ""])
                for n, d, up in degraded]
    if rep.get("certificates"):
        out += ["", "## Certificates", "", "Days left at the end of the range.", "",
                "| target | days left | chain not after | leaf not after |", "|---|---|---|---|"]
        out += [markdown_row([t, f"{c['days_left']:.1f}", c.get("chain_not_after") or "-",
                              c.get("leaf_not_after") or "-"])
                for t, c in rep["certificates"].items()]
    out += ["", "## Downtime", ""]
    if rep["downtime"]:
        out += ["| target | start | end | duration |", "|---|---|---|---|"]
        out += [markdown_row([d["target"], d["start"], d["end"], _dur(d["seconds"])])
                for d in rep["downtime"]]
    else:
        out.append("None.")
    out += ["", "## Maintenance", ""]
    if rep["maintenance"]:
        out += ["| id | start | end | status | notice | excluded |", "|---|---|---|---|---|---|"]
        out += [markdown_row([
            m["id"], m["start"], m["end"], m["status"],
            f"{_dur(abs(m['notice_seconds']))}{' late' if m['notice_seconds'] < 0 else ''}",
            _dur(m["excluded_seconds"])]) for m in rep["maintenance"]]
    else:
        out.append("None.")
    if rep.get("locations"):
        out += ["", "## Locations", "",
                "Each location's own checks; the figures above are their consensus.", "",
                "| location | scope | availability | down | coverage |", "|---|---|---|---|---|"]
        out += [_scope_row(r, names=2) for r in _location_rows(rep, service)]
    out += ["", "## SLA terms", ""]
    out += [f"- {for_markdown(line)}" for line in _terms_lines(rep)]
    out += ["", "## Incidents", "",
            *incidents.markdown_lines(rep.get("incidents", []),
                                      incidents.calendar_note(support or Support()))]
    return "\n".join(out) + "\n"
