"""The Atom feed renderer: valid for a real parser, every kind of entry, stable ids,
text XML cannot carry dropped."""

from __future__ import annotations

import feedparser
from test_htmlreport import INCIDENT

from slaprobe.core.reporting import atomfeed

UPDATES = [{"at": "2026-10-01T10:05:00Z", "status": "investigating", "text": "bad\x00\x1b ]]>",
            "by": "a&b"},
           {"at": "2026-10-01T10:05:00Z", "status": "investigating", "text": "bad\x00\x1b ]]>",
            "by": "a&b"}]  # the same words twice: two entries, two ids
WINDOW = atomfeed.Announcement(id="w<1>", start="2026-10-05T00:00:00Z",
                               end="2026-10-05T01:00:00Z", first_seen="2026-09-30T00:00:00Z",
                               announced="2026-09-30T00:00:00Z", targets=("app",),
                               reason="r", status="late_notice")


def render(incidents: list[dict[str, object]]) -> str:
    return atomfeed.render(service="S", generated="2026-10-02T00:00:00Z", incidents=incidents,
                           maintenance=[WINDOW], self_href="feed.atom", page_href="index.html")


def test_entries_ids_and_validity() -> None:
    text = render([{**INCIDENT, "updates": UPDATES}])
    f = feedparser.parse(text)
    assert f.bozo == 0 and f.version == "atom10"
    assert [e.title for e in f.entries] == [
        "Incident inc-20261001T100000Z resolved", "Incident inc-20261001T100000Z: investigating",
        "Incident inc-20261001T100000Z: investigating",
        "Incident inc-20261001T100000Z opened (high priority, app)",
        "Maintenance w<1>: 2026-10-05T00:00:00Z to 2026-10-05T01:00:00Z"]
    assert len({e.id for e in f.entries}) == 5
    assert f.entries[1].summary == "bad ]]>" and f.entries[1].author == "a&b"
    assert "announced too late" in f.entries[4].summary
    assert f.feed.updated == "2026-10-01T10:30:00Z"
    assert f.entries[0].link == "index.html#inc-20261001T100000Z"
    again = feedparser.parse(render([{**INCIDENT, "updates": UPDATES}]))
    assert [e.id for e in again.entries] == [e.id for e in f.entries]
    empty = feedparser.parse(atomfeed.render(
        service="S", generated="2026-10-02T00:00:00Z", incidents=[], maintenance=[],
        self_href="feed.atom", page_href="index.html"))
    assert empty.bozo == 0 and empty.entries == [] and empty.feed.updated == "2026-10-02T00:00:00Z"
