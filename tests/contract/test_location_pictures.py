"""The report page and /status on a shared history show each location beside the
consensus, and a target some locations (fewer than the quorum) see down as `partial`;
a single location's pages have neither. On every backend.

Three locations probe one target every 30 s for an hour; for the last ten minutes
east's path to it is cut (east alone sees it down). With quorum 2 the consensus is up.
"""

from __future__ import annotations

from backends import Backend
from htmlscan import scan

from slaprobe.config import parse
from slaprobe.core.model import Check
from slaprobe.core.reporting import statuspage
from slaprobe.core.spec import Config
from slaprobe.reporting import report
from slaprobe.web import pages

T0 = 1790812800.0  # 2026-10-01T00:00:00Z
NOW = T0 + 3600 - 10  # just after the last checks
LOCATIONS = ("east", "north", "west")


def config(quorum: int) -> Config:
    return parse({"daemon": {"service": "CloneNer"}, "slo": {"quorum": quorum},
                  "targets": [{"name": "app", "url": "http://127.0.0.1:9/",
                               "interval": "30s"}]})


def location_checks(loc: str, offset: float) -> list[Check]:
    out = []
    for k in range(120):
        ok = not (loc == "east" and 30 * k >= 3000)  # east's path cut for the last 10 min
        out.append(Check("app", T0 + 30 * k + offset, ok, 30.0,
                         error=None if ok else "connect_error", location=loc))
    return out


def now_targets() -> list[statuspage.TargetNow]:
    return [statuspage.TargetNow("app", True, "up", NOW - 20, 0.01, None)]


def test_each_location_beside_the_consensus_and_partial(backend: Backend) -> None:
    for loc, offset in zip(LOCATIONS, (0.0, 7.0, 13.0), strict=True):
        backend.open(location=loc).write(location_checks(loc, offset))
    reader = backend.open(read_only=True, location="north")
    cfg = config(2)
    tracker = report.load_tracker(cfg, reader, T0 - 3600, [], NOW)
    rep = report.build(cfg, tracker, T0, T0 + 3600, NOW)
    assert rep["targets"]["app"]["down_seconds"] == 0.0  # east alone: not down
    html = report.render_html(cfg, tracker, rep, NOW)
    rows = scan(html).tables["locations"]
    app = [r for r in rows if r[0].startswith("app")]
    assert [r[1] for r in app] == ["consensus", *LOCATIONS]
    assert app[0][3] == "0s" and app[1][3] == "9m 50s"  # consensus; east: 3000 s to now
    assert "partial seen down at east" in app[0][0]
    assert [r[1] for r in rows if r[0].startswith("CloneNer")] == ["consensus", *LOCATIONS]

    targets = pages.partial(tracker, now_targets(), NOW)
    assert targets[0].down_at == ("east",)
    page = pages.compute_status(cfg, reader, [], targets=now_targets(), service_state="up",
                                now=NOW).decode()
    s = scan(page)
    assert s.tables["current"][0][1].startswith("partial seen down at east")
    assert [r[1] for r in s.tables["locations"] if r[0].startswith("app")] == [
        "consensus", *LOCATIONS]
    assert "This month per location (3 locations)" in page


def test_quorum_one_says_down_not_partial(backend: Backend) -> None:
    for loc, offset in zip(LOCATIONS, (0.0, 7.0, 13.0), strict=True):
        backend.open(location=loc).write(location_checks(loc, offset))
    reader = backend.open(read_only=True, location="north")
    cfg = config(1)
    tracker = report.load_tracker(cfg, reader, T0 - 3600, [], NOW)
    down = [statuspage.TargetNow("app", True, "down", NOW - 20, 0.01, "connect_error")]
    page = pages.compute_status(cfg, reader, [], targets=down, service_state="down",
                                now=NOW).decode()
    assert scan(page).tables["current"][0][1] == "DOWN"  # the consensus is down: no partial
    assert tracker.locations


def test_one_location_has_no_location_pictures(backend: Backend) -> None:
    backend.open(location="east").write(location_checks("east", 0.0))
    reader = backend.open(read_only=True, location="east")
    cfg = config(1)
    tracker = report.load_tracker(cfg, reader, T0 - 3600, [], NOW)
    rep = report.build(cfg, tracker, T0, T0 + 3600, NOW)
    html = report.render_html(cfg, tracker, rep, NOW)
    assert "locations" not in scan(html).tables and "partial" not in html
    page = pages.compute_status(cfg, reader, [], targets=now_targets(), service_state="up",
                                now=NOW).decode()
    assert "locations" not in scan(page).tables and "partial" not in page
