"""Incidents from real timelines (checks folded by the Tracker), exact seconds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.core.evidence.terms import Terms, TermsHistory, Version
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.incidents import supportterms
from slaprobe.core.incidents.business import Calendar
from slaprobe.core.incidents.interms import InForce
from slaprobe.core.incidents.rules import (
    BREACHED,
    HIGH,
    MEDIUM,
    MET,
    PENDING,
    Book,
    Incident,
    Support,
    Targets,
    incident_id,
    incidents,
    overlapping,
    settled,
    shapes,
)
from slaprobe.core.maintenance.rules import EXCUSED, Window
from slaprobe.core.model import Check
from slaprobe.core.timefmt import parse_instant

H = 3600.0
IV = 30.0
UTC_SUPPORT = Support(merge_gap=900.0)
LONDON = Support(Calendar(ZoneInfo("Europe/London"), holidays="GB", subdivision="ENG"),
                 merge_gap=900.0,
                 high=Targets(4 * H, 8 * H), medium=Targets(8 * H, 16 * H), configured=True)


def t(s: str) -> float:
    return parse_instant(s)


def run(target: str, a: float, b: float, *, down: Sequence[tuple[float, float]] = (),
        net: Sequence[tuple[float, float]] = ()) -> list[Check]:
    """Checks every 30 s in [a, b): failing inside `down`, probe_network inside `net`."""
    out = []
    at = a
    while at < b:
        is_down = any(s <= at < e for s, e in down)
        is_net = any(s <= at < e for s, e in net)
        out.append(Check(target, at, not (is_down or is_net), IV, network=is_net))
        at += IV
    return out


def judge_all(checks: Iterable[Check], critical: dict[str, bool], support: Support, now: float, *,
              windows: Sequence[Window] = (), acks: dict[str, float] | None = None,
              ) -> list[Incident]:
    tr = Tracker(critical, windows=windows)
    for c in sorted(checks, key=lambda c: (c.at, c.target)):
        tr.add(c)
    lo = min(c.at for c in checks) if checks else 0.0
    timelines = {n: tr.target_spans(n, lo, now, now) for n in critical}
    return incidents(timelines, critical, support, now, acks)


def test_friday_evening_to_monday_morning_is_a_met_high_incident() -> None:
    a, b = t("2026-11-27T16:30:00Z"), t("2026-11-30T10:00:00Z")
    checks = run("app", a - H, b + H, down=[(a, b)])
    [inc] = judge_all(checks, {"app": True}, LONDON, now=b + H)
    assert inc.id == "inc-20261127T163000Z"
    assert inc.priority == HIGH
    assert (inc.start, inc.end) == (a, b)
    assert inc.seconds == b - a
    assert inc.business_seconds == 1.5 * H
    assert inc.resolution_deadline == t("2026-11-30T16:30:00Z")  # 0.5 h Fri + 7.5 h Mon
    assert inc.response_deadline == t("2026-11-30T12:30:00Z")
    assert inc.resolution == MET
    assert inc.response == PENDING  # 11:00: not acknowledged yet, 1.5 business h left
    assert inc.to_json(str)["end"] == str(b)
    [later] = judge_all(checks, {"app": True}, LONDON, now=b + 3 * H)
    assert later.response == BREACHED and later.resolution == MET


def test_christmas_outage_with_boxing_day_observed() -> None:
    a, b = t("2026-12-24T18:00:00Z"), t("2026-12-29T12:00:00Z")
    checks = run("app", a - H, b + H, down=[(a, b)])
    [inc] = judge_all(checks, {"app": True}, LONDON, now=b + H)
    assert inc.business_seconds == 3 * H
    assert inc.resolution_deadline == t("2026-12-29T17:00:00Z")
    assert inc.resolution == MET


def test_easter_outage_breaches_its_resolution() -> None:
    a, b = t("2026-04-02T15:00:00Z"), t("2026-04-07T16:00:00Z")  # Thu 16:00 BST .. Tue 17:00
    checks = run("app", a - H, b + H, down=[(a, b)])
    [inc] = judge_all(checks, {"app": True}, LONDON, now=b + H)
    assert inc.business_seconds == 9 * H
    assert inc.resolution_deadline == t("2026-04-07T15:00:00Z")
    assert inc.resolution == BREACHED


def flapping(merge_gap: float) -> list[Incident]:
    base = t("2026-11-30T10:00:00Z")
    outages = [(base + k * 150, base + k * 150 + 30) for k in range(5)]  # 30 s down, 2 min up
    checks = run("app", base - 600, base + 3600, down=outages)
    return judge_all(checks, {"app": True}, Support(merge_gap=merge_gap), now=base + 3600)


def test_flapping_is_one_incident_at_15m_and_five_at_1m() -> None:
    [one] = flapping(900.0)
    base = t("2026-11-30T10:00:00Z")
    assert (one.start, one.end) == (base, base + 4 * 150 + 30)
    five = flapping(60.0)
    assert len(five) == 5
    assert [i.seconds for i in five] == [30.0] * 5


def test_unknown_time_between_does_not_end_an_incident() -> None:
    a = t("2026-11-30T10:00:00Z")
    # down 10 min, then the daemon is away for 2 h (no checks), then down again, then up
    checks = run("app", a, a + 600, down=[(a, a + 600)])
    checks += run("app", a + 2 * H, a + 3 * H, down=[(a + 2 * H, a + 2 * H + 300)])
    [inc] = judge_all(checks, {"app": True}, UTC_SUPPORT, now=a + 3 * H)
    assert (inc.start, inc.end) == (a, a + 2 * H + 300)
    # with a healthy stretch of 20 min in between they are two
    checks2 = run("app", a, a + 3 * H, down=[(a, a + 600), (a + 1800, a + 2100)])
    assert len(judge_all(checks2, {"app": True}, UTC_SUPPORT, now=a + 3 * H)) == 2


def test_open_until_an_up_check_follows() -> None:
    a = t("2026-11-30T10:00:00Z")
    checks = run("app", a - 600, a + 900, down=[(a, a + 900)])
    now = a + 900 + 10 * 60  # the daemon stopped: unknown after the last check's cover
    [inc] = judge_all(checks, {"app": True}, UTC_SUPPORT, now=now)
    assert inc.end is None and inc.open
    assert inc.seconds == now - a
    assert inc.resolution == PENDING
    # a day later it is still open and has breached its 1-day resolution
    [late] = judge_all(checks, {"app": True}, UTC_SUPPORT, now=a + 86400 + 60)
    assert late.end is None and late.resolution == BREACHED


def test_maintenance_only_opens_nothing() -> None:
    a = t("2026-11-30T10:00:00Z")
    w = Window("db", a, a + H, a - 3 * 86400, a - 3 * 86400, None, "", "config", EXCUSED, True)
    checks = run("app", a - 600, a + 2 * H, down=[(a, a + H)])
    assert judge_all(checks, {"app": True}, UTC_SUPPORT, now=a + 2 * H, windows=[w]) == []
    # without the window the same record is a 1 h incident
    [inc] = judge_all(checks, {"app": True}, UTC_SUPPORT, now=a + 2 * H)
    assert inc.seconds == H


def test_probe_network_opens_nothing() -> None:
    a = t("2026-11-30T10:00:00Z")
    checks = run("app", a - 600, a + 2 * H, net=[(a, a + H)])
    assert judge_all(checks, {"app": True}, UTC_SUPPORT, now=a + 2 * H) == []


def test_non_critical_is_medium_and_escalates_when_a_critical_target_follows() -> None:
    a = t("2026-11-30T10:00:00Z")  # Monday
    checks = run("search", a - 600, a + 4 * H, down=[(a, a + 3 * H)])
    checks += run("app", a - 600, a + 4 * H, down=[(a + H, a + 2 * H)])
    crit = {"search": False, "app": True}
    only_search = [c for c in checks if c.target == "search"]
    [med] = judge_all(only_search, crit, UTC_SUPPORT, now=a + 4 * H)
    assert med.priority == MEDIUM
    assert med.shape.priority_since == a
    assert med.response_deadline == t("2026-12-01T10:00:00Z")
    [inc] = judge_all(checks, crit, UTC_SUPPORT, now=a + 4 * H)
    assert inc.priority == HIGH
    assert inc.shape.targets == ("app", "search")
    assert inc.shape.priority_since == a + H  # the high clocks start at the escalation
    assert inc.response_deadline == a + 5 * H
    assert inc.resolution_deadline == t("2026-12-01T11:00:00Z")
    assert (inc.start, inc.end) == (a, a + 3 * H)


def test_acknowledgement_outcomes() -> None:
    a = t("2026-11-30T10:00:00Z")
    checks = run("app", a - 600, a + H, down=[(a, a + 1800)])
    iid = incident_id(a)
    [pending] = judge_all(checks, {"app": True}, UTC_SUPPORT, now=a + H)
    assert pending.response == PENDING and pending.acknowledged is None
    [met] = judge_all(checks, {"app": True}, UTC_SUPPORT, now=a + H, acks={iid: a + 600})
    assert met.response == MET and met.acknowledged == a + 600
    [late] = judge_all(checks, {"app": True}, UTC_SUPPORT, now=a + 86400,
                       acks={iid: a + 5 * H})
    assert late.response == BREACHED
    [before] = judge_all(checks, {"app": True}, UTC_SUPPORT, now=a + H, acks={iid: a - 1})
    assert before.acknowledged is None


def test_overlapping_and_settled() -> None:
    a = t("2026-11-30T10:00:00Z")
    checks = run("app", a - 600, a + 2 * H, down=[(a, a + 600)])
    tr = Tracker({"app": True})
    for c in checks:
        tr.add(c)
    now = a + 2 * H
    tl = {"app": tr.target_spans("app", a - 600, now, now)}
    items = incidents(tl, {"app": True}, UTC_SUPPORT, now)
    assert overlapping(items, a + 600, a + H, now) == []
    assert overlapping(items, a + 599, a + H, now) == items
    [shape] = shapes(tl, {"app": True}, 900.0, now)
    assert settled(shape, tl, 900.0, a + 600 + 900)
    assert not settled(shape, tl, 900.0, a + 600 + 899)


# --- the daemon's incremental book -------------------------------------------------


def test_book_agrees_with_a_full_recompute_and_logs_each_change() -> None:
    a = t("2026-11-30T10:00:00Z")
    crit = {"app": True, "search": False}
    checks = run("search", a, a + 6 * H, down=[(a + H, a + 3 * H)])
    checks += run("app", a, a + 6 * H,
                  down=[(a + 2 * H, a + 2 * H + 600), (a + 4 * H, a + 4 * H + 90),
                        (a + 4 * H + 300, a + 4 * H + 330)])
    checks.sort(key=lambda c: (c.at, c.target))
    tr = Tracker(crit)
    book = Book(UTC_SUPPORT, a)
    events: list[tuple[str, str]] = []
    for k, c in enumerate(checks):
        tr.add(c)
        if k % 7 == 0:
            if c.at >= a + 2 * H + 60 and not book.acks:
                book.acknowledge(incident_id(a + H), c.at)
            events += [(e.kind, e.incident.id) for e in book.update(tr, c.at)]
    now = a + 6 * H
    events += [(e.kind, e.incident.id) for e in book.update(tr, now)]
    timelines = {n: tr.target_spans(n, a, now, now) for n in crit}
    assert book.all(now) == incidents(timelines, crit, UTC_SUPPORT, now, book.acks)
    first, second = incident_id(a + H), incident_id(a + 4 * H)
    assert events == [
        ("opened", first), ("escalated", first), ("acknowledged", first), ("resolved", first),
        ("opened", second), ("resolved", second),
    ]
    assert [s.id for s in book.settled] == [first, second]
    assert book.horizon > a + 4 * H  # nothing before is folded again
    assert [i.id for i in book.since(a + 2 * H, now)] == [second]
    # a change of maintenance rebuilds from the start, with the same incidents
    tr.set_maintenance([Window("w", a + 4 * H, a + 5 * H, a - 9e5, a - 9e5, None, "", "config",
                               EXCUSED, True)])
    book.update(tr, now)
    assert [i.id for i in book.all(now)] == [first]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_book_matches_a_full_recompute_at_every_step(data: st.DataObject) -> None:
    """Random flapping on three targets (one non-critical), gaps of no data, a random
    merge gap; the book, updated at random moments, always equals a recompute."""
    a = t("2026-11-30T08:00:00Z")
    crit = {"app": True, "api": True, "docs": False}
    gap = data.draw(st.sampled_from([60.0, 300.0, 900.0]))
    support = Support(merge_gap=gap)
    checks: list[Check] = []
    for name in crit:
        at = a
        for _ in range(data.draw(st.integers(1, 6))):
            n = data.draw(st.integers(1, 40))
            ok = data.draw(st.booleans())
            for _ in range(n):
                checks.append(Check(name, at, ok, IV))
                at += IV
            at += data.draw(st.sampled_from([0.0, 0.0, 0.0, 600.0]))  # sometimes no data
    checks.sort(key=lambda c: (c.at, c.target))
    tr = Tracker(crit)
    book = Book(support, a)
    stride = data.draw(st.integers(1, 25))
    for k, c in enumerate(checks):
        tr.add(c)
        if k % stride == 0 or k == len(checks) - 1:
            now = c.at + data.draw(st.sampled_from([0.0, 5.0, 29.0]))
            book.update(tr, now)
            timelines = {n: tr.target_spans(n, a, now, now) for n in crit}
            assert book.all(now) == incidents(timelines, crit, support, now), k


def test_each_incident_is_judged_on_the_terms_in_force_and_the_book_agrees() -> None:
    """`app` critical with a 15m merge gap and London hours until `change`, then not
    critical, a 2h merge gap and 1h medium clocks in Tokyo: the incidents before the
    change keep their priority, separation and deadlines; the ones after take the new."""
    a = t("2026-11-30T10:00:00Z")  # a Monday
    change = a + 5 * H
    old = Terms(0.999, 0.0, False, {"app": True},
                extra={"support": supportterms.encode(LONDON), "quorum": 1})
    tokyo = Support(Calendar(ZoneInfo("Asia/Tokyo")), merge_gap=2 * H, high=Targets(H, 2 * H),
                    medium=Targets(H, H), configured=True)
    new = Terms(0.999, 0.0, False, {"app": False},
                extra={"support": supportterms.encode(tokyo), "quorum": 1})
    history = TermsHistory([Version(a - H, old), Version(change, new)])
    force = InForce(history, {"app": False}, tokyo, zone=ZoneInfo)
    downs = [(a + H, a + H + 600), (a + H + 1800, a + H + 2400),  # 20 min apart, before
             (a + 6 * H, a + 6 * H + 600), (a + 6 * H + 1800, a + 6 * H + 2400)]  # after
    checks = run("app", a, a + 9 * H, down=downs)
    tr = Tracker({"app": False})
    for c in checks:
        tr.add(c)
    now = a + 9 * H
    timelines = {"app": tr.target_spans("app", a, now, now)}
    got = incidents(timelines, force.critical_from, force.support_at, now)
    assert [(i.id, i.priority) for i in got] == [
        (incident_id(a + H), HIGH), (incident_id(a + H + 1800), HIGH),
        (incident_id(a + 6 * H), MEDIUM)]  # after the change: medium, merged under 2h
    # deadlines: before the change on London's calendar (4 h of its business time)
    assert got[0].response_deadline == LONDON.calendar.add(a + H, 4 * H)
    assert got[2].resolution_deadline == tokyo.calendar.add(a + 6 * H, H)
    book = Book(tokyo, a)
    book.set_terms(force.critical_from, force.support_at)
    for k, c in enumerate(checks):
        if k % 9 == 0:
            book.update(tr, c.at + 1)
    book.update(tr, now)
    assert book.all(now) == got
