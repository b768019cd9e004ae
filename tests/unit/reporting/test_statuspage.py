"""The /status page renderer, from hand-made inputs."""

from __future__ import annotations

import reportcase
from htmlscan import external_references, per_day, scan
from test_htmlreport import INCIDENT

from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import CertExpiry
from slaprobe.core.reporting import daily, statuspage
from slaprobe.reporting import report

NOW = reportcase.t("2026-10-03T02:30:00Z")


def render(incidents: list[dict[str, object]] | None = None) -> str:
    cfg, tr = reportcase.config(), reportcase.tracker("<b>rollout</b>")
    windows = [*reportcase.windows("<b>rollout</b>"),
               Window(id="later", start=NOW + 86400, end=NOW + 90000, announced=NOW - 4 * 86400,
                      first_seen=NOW - 4 * 86400, targets=None, reason="next",
                      source="t", status="excused", excluded=True),
               Window(id="rushed", start=NOW + 3600, end=NOW + 7200, announced=NOW,
                      first_seen=NOW, targets=("app",), reason="late", source="t",
                      status="late_notice", excluded=False)]
    month = report.build(cfg, tr, reportcase.A, NOW, NOW)
    da, db = NOW - 5 * 86400, NOW + 86400
    last = report.build(cfg, tr, da, db, NOW)
    targets = [statuspage.TargetNow("app", True, "up", NOW - 20, 0.012, None,
                                    cert=CertExpiry(leaf=NOW + 30 * 86400,
                                                    chain=NOW + 12.5 * 86400)),
               statuspage.TargetNow("api", True, "maintenance", NOW - 20, 0.01, "bad_status"),
               statuspage.TargetNow("docs", False, "down", NOW - 20, 1.2, "too_slow")]
    return statuspage.render(
        service="Clone<Ner>", now=NOW, service_state="maintenance", targets=targets,
        month=month, last=last, days=daily.build(tr, "Clone<Ner>", da, db, NOW),
        windows=windows, incidents=incidents, version="t")


def test_current_state_upcoming_maintenance_and_days() -> None:
    text = render()
    s = scan(text)
    assert "script" not in s.tags and external_references(text) == []
    # the feed, relative: autodiscovery in <head> and a link in the page; nothing fetched
    assert s.urls == ["status/feed.atom", "status/feed.atom"]
    assert '<link rel="alternate" type="application/atom+xml"' in text
    assert "Clone&lt;Ner&gt;" in text and "<b>rollout</b>" not in text
    current = {r[0].split()[0]: r for r in s.tables["current"]}
    assert current["app"][1] == "up" and current["docs"][1] == "DOWN"
    assert current["api"][1] == "in maintenance" and current["docs"][5] == "too_slow"
    assert current["app"][4] == "12.5d" and current["docs"][4] == ""  # certificate days left
    upcoming = {r[0]: r for r in s.tables["upcoming"]}
    assert list(upcoming) == ["db-upgrade", "rushed", "later"]  # not over, soonest first
    assert upcoming["db-upgrade"][2] == "in progress"
    # each with its notice and status: excused, or announced too late (counts as downtime)
    assert upcoming["later"][4].startswith("excused") and upcoming["later"][5] == "5d ahead"
    assert upcoming["rushed"][4].startswith("late_notice")
    assert "announced too late" in upcoming["rushed"][4] and upcoming["rushed"][5] == "1h ahead"
    # past windows with what they excluded: the late hotfix excluded nothing
    past = {r[0]: r for r in s.tables["past-maintenance"]}
    assert list(past) == ["hotfix"]
    assert past["hotfix"][3].startswith("late_notice") and past["hotfix"][5] == "0s"
    assert past["hotfix"][4] == "1h ahead"
    days = per_day(s.days[("target", "app")])
    assert next(iter(days)) == "2026-09-28" and len(days) == 7  # partial first and last
    assert days["2026-10-01"]["down s"] == "1800"
    assert days["2026-10-04"]["availability %"] == ""  # after now: nothing known yet
    assert '<meta http-equiv="refresh" content="60">' in text
    assert "Open incidents" not in text  # not tracked: no section


def test_open_incidents_when_tracked() -> None:
    assert "Open incidents (0)" in render([])
    s = scan(render([{**INCIDENT, "end": None, "id": "inc-<open>"}]))
    assert [r[0] for r in s.tables["incidents"]] == ["inc-<open>"]
