"""Incident timelines on the HTML report and /status: in time order, escaped, under
their incident; the measured figures unchanged beside them."""

from __future__ import annotations

import re

from htmlscan import external_references, scan
from test_htmlreport import INCIDENT, page
from test_statuspage import render

from slaprobe.core.reporting import timelines

UPDATES = [
    {"at": "2026-10-01T10:05:00Z", "status": "investigating", "text": "<script>x</script>",
     "by": 'a "b" & c'},
    {"at": "2026-10-01T10:20:00Z", "status": "identified", "text": "line one\nline two",
     "by": "bob"},
    {"at": "2026-10-01T10:31:00Z", "status": "resolved", "text": "done", "by": "carol"},
]


def statuses(text: str) -> list[str]:
    return re.findall(r'<li data-status="([a-z]+)"', text)


def test_timeline_in_order_and_escaped() -> None:
    html = timelines.timeline({**INCIDENT, "updates": UPDATES})
    assert statuses(html) == ["investigating", "identified", "resolved"]
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "by a &quot;b&quot; &amp; c" in html
    assert timelines.timeline(INCIDENT) == "" and timelines.timelines_section([INCIDENT]) == ""


def test_report_page_shows_the_updates_of_its_incidents() -> None:
    _, text = page(incidents=[{**INCIDENT, "updates": UPDATES}])
    s = scan(text)
    assert "script" not in s.tags and external_references(text) == []
    assert [r[0] for r in s.tables["incidents"]] == ["inc-20261001T100000Z"]
    assert "Incident updates" in text and statuses(text) == ["investigating", "identified",
                                                              "resolved"]
    assert text.index('id="inc-20261001T100000Z"') < text.index('data-status="investigating"')


def test_status_page_open_and_recent_incidents_with_their_timelines() -> None:
    open_ = {**INCIDENT, "id": "inc-<open>", "end": None, "updates": UPDATES[:1]}
    done = {**INCIDENT, "updates": UPDATES}
    quiet = {**INCIDENT, "id": "inc-quiet", "start": "2026-10-02T00:00:00Z",
             "end": "2026-10-02T00:10:00Z", "updates": []}
    text = render([open_, done, quiet])
    s = scan(text)
    assert "script" not in s.tags
    assert "Open incidents (1)" in text and "Resolved in the last 7 days (2)" in text
    assert text.index("inc-&lt;open&gt;") < text.index("Resolved in the last 7 days")
    assert "<open>" not in text
    # each incident with its own timeline, right under it; one with none says so
    blocks = re.findall(r'<div class="incident" data-id="([^"]+)">(.*?)</div>', text, re.S)
    by_id = {i: statuses(b) for i, b in blocks}
    assert by_id == {"inc-&lt;open&gt;": ["investigating"], "inc-quiet": [],
                     INCIDENT["id"]: ["investigating", "identified", "resolved"]}
    assert "No update yet." in dict(blocks)["inc-quiet"]
    assert "Open incidents (0)" in render([done]) and "Resolved in the last 7 days (0)" in \
        render([open_])
