"""Incidents from the stored history: the `incidents` command, the report's
Incidents section and the acknowledgement rules. The logic is in core.incidents;
here it meets the store and turns into text, markdown and JSON."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from slaprobe.core.escaping import for_markdown, for_terminal, markdown_row
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.incidents.business import DAY_NAMES, Calendar
from slaprobe.core.incidents.interms import InForce
from slaprobe.core.incidents.rules import Incident, Support, incidents, judge, overlapping
from slaprobe.core.reporting.textable import table
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import compound_duration, iso
from slaprobe.history.storeapi import Ack, RecordStore
from slaprobe.incidents import updates as incupdates
from slaprobe.incidents.updates import Update

__all__ = ["LOOKBACK", "AckRefused", "Notes", "check_ack", "document", "first_acks",
           "from_tracker", "in_range", "judge", "notes", "render", "to_json"]

Notes = tuple[dict[str, float], dict[str, list[Update]]]

# How far before a range the history is read, so that an incident that started
# earlier and overlaps the range keeps its true start (and its id).
LOOKBACK = 31 * 86400.0


def first_acks(acks: Iterable[Ack]) -> dict[str, float]:
    """The first stored acknowledgement of each incident (the one that counts)."""
    out: dict[str, float] = {}
    for a in sorted(acks, key=lambda a: a.seq):
        out.setdefault(a.incident, a.at)
    return out


def notes(store: RecordStore) -> Notes:
    """What people said of the incidents, from the history: each incident's response
    instant (first acknowledgement, or first update when earlier) and its updates in
    time order."""
    ups = incupdates.stored(store)
    return incupdates.responses(store.acks(), ups), incupdates.by_incident(ups)


def from_tracker(cfg: Config, tracker: Tracker, acks: Mapping[str, float], since: float,
                 now: float) -> list[Incident]:
    """Every incident in the tracker's timelines from `since` up to `now`, under the
    terms in force at each instant (the tracker's terms history)."""
    timelines = {t.name: tracker.target_spans(t.name, since, now, now) for t in cfg.targets}
    terms = in_force(cfg, tracker)
    return incidents(timelines, terms.critical_from, terms.support_at, now, acks)


def in_force(cfg: Config, tracker: Tracker) -> InForce:
    """The terms incidents are judged on: the tracker's history, else the config's."""
    return InForce(tracker.terms, {t.name: t.critical for t in cfg.targets}, cfg.support,
                   zone=ZoneInfo)


def in_range(cfg: Config, tracker: Tracker, acks: Mapping[str, float], *, a: float, b: float,
             now: float) -> list[Incident]:
    """The incidents overlapping [a, b); the tracker must hold history from a - LOOKBACK."""
    return overlapping(from_tracker(cfg, tracker, acks, a - LOOKBACK, now), a, b, now)


# --- rendering ----------------------------------------------------------------------


def calendar_note(support: Support) -> str:
    """One line saying which support calendar the deadlines use."""
    cal = support.calendar
    text = describe(cal)
    if not support.configured:
        return f"support calendar: the defaults ({text}; the config has no [support])"
    return f"support calendar: {text}"


def describe(cal: Calendar) -> str:
    days = ",".join(DAY_NAMES[d] for d in sorted(cal.days))
    if cal.days == frozenset(range(5)):
        days = "Mon-Fri"
    hours = f"{cal.opens // 3600:02d}:{cal.opens % 3600 // 60:02d}-" \
            f"{cal.closes // 3600:02d}:{cal.closes % 3600 // 60:02d}"
    hol = "no holidays" if cal.holidays is None else (
        f"{cal.holidays}{'-' + cal.subdivision if cal.subdivision else ''} holidays")
    if cal.extra_holidays:
        hol += f" and {len(cal.extra_holidays)} extra"
    return f"{days} {hours} {cal.timezone}, {hol}"


def to_json(items: Sequence[Incident], updates: Mapping[str, Sequence[Update]] | None = None,
            ) -> list[dict[str, Any]]:
    """DESIGN's incident objects, each with its `updates` in time order."""
    ups = updates or {}
    return [{**i.to_json(iso), "updates": incupdates.to_json(ups.get(i.id, ()))}
            for i in items]


def document(items: Sequence[Incident], a: float, b: float,
             updates: Mapping[str, Sequence[Update]] | None = None) -> dict[str, Any]:
    """`slaprobe incidents --format json`: {"from", "to", "incidents"}."""
    return {"from": iso(a), "to": iso(b), "incidents": to_json(items, updates)}


def _clock(deadline: str, outcome: str) -> str:
    return f"{outcome} (by {deadline})"


HEAD = ["id", "priority", "start", "end", "duration", "business", "targets", "acknowledged",
        "response", "resolution"]


def rows(items: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Table rows of incident JSON objects."""
    return [[
        i["id"], i["priority"], i["start"], i["end"] or "open", compound_duration(i["seconds"]),
        compound_duration(i["business_seconds"]), ",".join(i["targets"]), i["acknowledged"] or "-",
        _clock(i["response_deadline"], i["response"]),
        _clock(i["resolution_deadline"], i["resolution"]),
    ] for i in items]


def _one_line(text: str) -> str:
    """Free text on one line: control characters (newlines too) become spaces."""
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text).strip()


def text_lines(items: Sequence[dict[str, Any]], note: str) -> list[str]:
    out = [f"Incidents ({len(items)})  {for_terminal(note)}"]
    if items:
        out += ["  " + line for line in table([HEAD, *rows(items)], rule=True)]
    else:
        out.append("  none")
    for i in items:
        if i.get("updates"):
            out += ["", f"  Updates of {i['id']}"]
            out += [f"    {u['at']}  {u['status']:<13}  {for_terminal(_one_line(u['text']))}  "
                    f"({for_terminal(_one_line(u['by']))})" for u in i["updates"]]
    return out


def _md(text: str) -> str:
    """Free text for a markdown list item: one line, markup escaped (`for_markdown`)."""
    return for_markdown(_one_line(text))


def markdown_lines(items: Sequence[dict[str, Any]], note: str) -> list[str]:
    out = [f"_{for_markdown(note)}_", ""]
    if not items:
        return [*out, "None."]
    out += ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    out += [markdown_row(r) for r in rows(items)]
    for i in items:
        if i.get("updates"):
            out += ["", f"Updates of {for_markdown(i['id'])}:", ""]
            out += [f"- {u['at']} **{u['status']}**: {_md(u['text'])} ({_md(u['by'])})"
                    for u in i["updates"]]
    return out


def render(doc: dict[str, Any], fmt: str, support: Support) -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    note = calendar_note(support)
    if fmt == "markdown":
        return "\n".join([f"# Incidents {doc['from']} to {doc['to']}", "",
                          *markdown_lines(doc["incidents"], note)]) + "\n"
    return "\n".join([f"Incidents {doc['from']} .. {doc['to']}", "",
                      *text_lines(doc["incidents"], note)]) + "\n"


# --- acknowledgements ---------------------------------------------------------------


class AckRefused(Exception):
    """An acknowledgement that cannot be stored, with the reason for the user."""


def check_ack(items: Sequence[Incident], incident: str, at: float, now: float) -> Incident:
    """The incident an acknowledgement names, or AckRefused saying why not."""
    match = next((i for i in items if i.id == incident), None)
    if match is None:
        open_ = [i for i in items if i.open]
        listing = "; ".join(f"{i.id} ({i.priority}, since {iso(i.start)})" for i in open_)
        close = difflib.get_close_matches(incident, [i.id for i in items], n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise AckRefused(f"no incident {incident!r}{hint}; open incidents: {listing or 'none'}")
    if at < match.start:
        raise AckRefused(f"--at {iso(at)} is before {match.id} started ({iso(match.start)})")
    if at > now + 60:
        raise AckRefused(f"--at {iso(at)} is in the future")
    return match
