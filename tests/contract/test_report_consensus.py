"""Reports on a shared history are the consensus of its locations, on every backend.

Three locations probe one target every 30 s for an hour. East's path to the target is cut
for 10 minutes (east alone sees it down); later a real 30 s outage is seen by all three.
With quorum 2 the report counts the 30 s and nothing of east's cut; east's own figures,
in the report's `locations` section, show its cut as down time at east.
"""

from __future__ import annotations

from backends import Backend

from slaprobe.config import parse
from slaprobe.core.model import Check
from slaprobe.core.spec import Config
from slaprobe.reporting import report

T0 = 1790812800.0  # 2026-10-01T00:00:00Z
LOCATIONS = ("east", "north", "west")


def config() -> Config:
    return parse({"daemon": {"service": "CloneNer"},
                  "targets": [{"name": "app", "url": "http://127.0.0.1:9/", "interval": "30s"}]})


def location_checks(loc: str, offset: float) -> list[Check]:
    out = []
    for k in range(120):
        at = T0 + 30 * k + offset
        cut = loc == "east" and 600 <= 30 * k < 1200
        outage = 1800 <= 30 * k < 1830
        ok = not (cut or outage)
        out.append(Check("app", at, ok, 30.0, error=None if ok else "connect_error",
                         location=loc))
    return out


def test_quorum_two_counts_what_two_locations_saw(backend: Backend) -> None:
    for loc, offset in zip(LOCATIONS, (0.0, 7.0, 13.0), strict=True):  # schedules apart
        backend.open(location=loc).write(location_checks(loc, offset))
    reader = backend.open(read_only=True, location="north")
    assert reader.locations() == list(LOCATIONS)
    cfg = config()
    now = T0 + 3600
    tracker = report.load_tracker(cfg, reader, T0 - 3600, [], now, quorum=2)
    rep = report.build(cfg, tracker, T0, T0 + 3600, now)
    # down from the second location's first failed check to the second one's recovery
    assert rep["targets"]["app"]["down_seconds"] == 30.0
    assert rep["service"]["down_seconds"] == 30.0
    assert rep["downtime"] == [{"target": "app", "start": "2026-10-01T00:30:07Z",
                                "end": "2026-10-01T00:30:37Z", "seconds": 30.0}]
    # the first 7 s only east looked: fewer than a quorum, unknown
    assert rep["targets"]["app"]["coverage"] == (3600 - 7) / 3600
    east = rep["locations"]["east"]["targets"]["app"]
    assert east["down_seconds"] == 630.0
    assert rep["locations"]["west"]["targets"]["app"]["down_seconds"] == 30.0
    assert rep["locations"]["east"]["service"]["down_seconds"] == 630.0
    text = report.render_text(rep, "CloneNer")
    assert "Locations (each one's own checks" in text
    assert "east" in text and "north" in text

    # quorum 1: any location that sees it down counts it down: east's cut (600 s) and
    # the outage from the first location's failure to the last one's recovery (43 s)
    tracker = report.load_tracker(cfg, reader, T0 - 3600, [], now, quorum=1)
    assert report.build(cfg, tracker, T0, T0 + 3600, now)["targets"]["app"][
        "down_seconds"] == 643.0


def test_one_location_reports_as_before(backend: Backend) -> None:
    """A history of one location has no `locations` section and the old figures."""
    backend.open().write(location_checks("default", 0.0))
    cfg = config()
    tracker = report.load_tracker(cfg, backend.open(read_only=True), T0 - 3600, [], T0 + 3600,
                                  quorum=1)
    rep = report.build(cfg, tracker, T0, T0 + 3600, T0 + 3600)
    assert "locations" not in rep
    assert rep["targets"]["app"]["down_seconds"] == 30.0


def test_a_quorum_changed_later_does_not_rewrite_the_past_consensus(backend: Backend) -> None:
    """The quorum is a term: recorded with the time slaprobe first saw it, the consensus
    of each instant takes the quorum in force then."""
    for loc, offset in zip(LOCATIONS, (0.0, 7.0, 13.0), strict=True):
        backend.open(location=loc).write(location_checks(loc, offset))
    writer = backend.open(location="north")
    two = parse({"daemon": {"service": "CloneNer"}, "slo": {"quorum": 2},
                 "targets": [{"name": "app", "url": "http://127.0.0.1:9/", "interval": "30s"}]})
    one = config()  # quorum 1
    now = T0 + 3600
    before = report.render_json(report.build(
        two, report.load_tracker(two, writer, T0 - 3600, [], now), T0, T0 + 3600, now))
    assert report.load_tracker(two, writer, T0 - 3600, [], now).terms is not None
    later = T0 + 7200
    tracker = report.load_tracker(one, writer, T0 - 3600, [], later)
    assert [v.terms.extra["quorum"] for v in tracker.terms.versions] == [2, 1]  # type: ignore[union-attr]
    rep = report.build(one, tracker, T0, T0 + 3600, later)
    assert rep["targets"]["app"]["down_seconds"] == 30.0  # quorum 2, in force then
    assert report.render_json(rep) == before
    # a reader with the edited config computes the same past
    reader = backend.open(read_only=True, location="west")
    rep = report.build(one, report.load_tracker(one, reader, T0 - 3600, [], later), T0,
                       T0 + 3600, later)
    assert report.render_json(rep) == before
