"""Pure Atom 1.0 (RFC 4287) feed of what customers subscribe to: incidents (opened,
each update, resolved) and maintenance announcements.

Entry ids are `urn:uuid:` names derived (UUID 5) from what the entry says happened, so
they are the same in every rendering and every export: an incident's opening and
resolution by its id, an update by its content (updates are immutable records), a
maintenance announcement by its window. Built with ElementTree (every text escaped);
characters XML 1.0 cannot carry are dropped.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ATOM = "http://www.w3.org/2005/Atom"
NS = uuid.UUID("6f0c5d2e-7a43-5b8e-9a51-3c1f7d9e2b40")  # slaprobe's feed namespace
_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class Announcement:
    """One maintenance window as announced."""

    id: str
    start: str
    end: str
    first_seen: str   # when slaprobe first saw the announcement (the entry's time)
    announced: str
    targets: tuple[str, ...] | None
    reason: str
    status: str


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    updated: str
    title: str
    text: str
    author: str = ""
    anchor: str = ""


def clean(text: str) -> str:
    return _INVALID.sub("", text)


def entry_id(service: str, key: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(NS, f"{service}\n{key}"))


def _incident_entries(i: Mapping[str, Any]) -> list[Entry]:
    iid = str(i["id"])
    what = f"{i['priority']} priority, {', '.join(i.get('targets') or [])}"
    out = [Entry(f"incident:{iid}:opened", i["start"], f"Incident {iid} opened ({what})",
                 f"Measured down since {i['start']}.", anchor=iid)]
    seen: dict[str, int] = {}
    for u in i.get("updates") or []:
        digest = hashlib.sha256("\n".join(
            (u["at"], u["status"], u["text"], u["by"])).encode()).hexdigest()[:32]
        n = seen[digest] = seen.get(digest, 0) + 1
        out.append(Entry(f"incident:{iid}:update:{digest}:{n}", u["at"],
                         f"Incident {iid}: {u['status']}", u["text"], author=u["by"],
                         anchor=iid))
    if i.get("end"):
        out.append(Entry(f"incident:{iid}:resolved", i["end"], f"Incident {iid} resolved",
                         f"Measured down from {i['start']} to {i['end']} "
                         f"({i.get('seconds', 0):g} s).", anchor=iid))
    return out


def _maintenance_entry(m: Announcement) -> Entry:
    scope = "all targets" if m.targets is None else ", ".join(m.targets)
    note = {"excused": "announced in time: excluded from the SLA figures",
            "late_notice": "announced too late: counts as downtime",
            "retroactive": "seen after its start"}.get(m.status, m.status)
    return Entry(f"maintenance:{m.id}:{m.start}:{m.end}", m.first_seen,
                 f"Maintenance {m.id}: {m.start} to {m.end}",
                 f"{m.reason} ({scope}; announced {m.announced}; {note}).")


def render(*, service: str, generated: str, incidents: Sequence[Mapping[str, Any]],
           maintenance: Sequence[Announcement], self_href: str, page_href: str) -> str:
    """The feed, newest entry first. `generated` is its `updated` when it has no entry."""
    entries = [e for i in incidents for e in _incident_entries(i)]
    entries += [_maintenance_entry(m) for m in maintenance]
    entries.sort(key=lambda e: (e.updated, e.key), reverse=True)
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = clean(text)
        return el

    sub(feed, "id", entry_id(service, "feed"))
    sub(feed, "title", f"{service} status")
    sub(feed, "updated", entries[0].updated if entries else generated)
    sub(feed, "link", rel="self", type="application/atom+xml", href=self_href)
    sub(feed, "link", rel="alternate", type="text/html", href=page_href)
    sub(sub(feed, "author"), "name", f"{service} status (slaprobe)")
    for e in entries:
        el = sub(feed, "entry")
        sub(el, "id", entry_id(service, e.key))
        sub(el, "title", e.title)
        sub(el, "updated", e.updated)
        if e.author:
            sub(sub(el, "author"), "name", e.author)
        sub(el, "link", rel="alternate", type="text/html",
            href=page_href + (f"#{e.anchor}" if e.anchor else ""))
        sub(el, "content", e.text, type="text")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") \
        + "\n"
