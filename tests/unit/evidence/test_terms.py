"""SLA terms as history: which version applies at an instant, and over a window."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from slaprobe.config import parse
from slaprobe.core.evidence.terms import (
    Terms,
    TermsHistory,
    Version,
    changes,
    of_config,
    weighted_objective,
)
from slaprobe.core.incidents import supportterms
from slaprobe.core.incidents.interms import InForce
from slaprobe.core.spec import Config

A = Terms(objective=0.999, maintenance_notice=172800.0, allow_retroactive_maintenance=False,
          critical={"app": True, "docs": False})
B = Terms(objective=0.9999, maintenance_notice=10.0, allow_retroactive_maintenance=False,
          critical={"app": True, "docs": True})


def history() -> TermsHistory:
    return TermsHistory([Version(200.0, B), Version(100.0, A)])


def test_json_round_trip_is_canonical() -> None:
    assert Terms.from_json(A.to_json()) == A
    assert A.to_json() == Terms.from_json(A.to_json()).to_json()
    assert A.to_json() != B.to_json()
    extra = Terms(0.99, 1.0, True, {}, extra={"support": {"hours": "09:00-17:00"}})
    assert Terms.from_json(extra.to_json()) == extra


def test_terms_at_an_instant_and_before_the_first() -> None:
    h = history()
    assert h.at(0.0) is A  # before the first recorded version: the first
    assert h.at(100.0) is A and h.at(199.9) is A
    assert h.at(200.0) is B and h.at(1e12) is B
    assert h.latest is B
    assert h.critical_at("docs", 150.0, default=True) is False
    assert h.critical_at("docs", 250.0, default=False) is True
    assert h.critical_at("new", 150.0, default=True) is True


def test_segments_and_versions_in_range() -> None:
    h = history()
    assert h.segments(150.0, 250.0) == [(150.0, 200.0, A), (200.0, 250.0, B)]
    assert h.segments(0.0, 50.0) == [(0.0, 50.0, A)]
    assert h.segments(300.0, 400.0) == [(300.0, 400.0, B)]
    assert h.segments(5.0, 5.0) == []
    assert [v.terms for v in h.in_range(150.0, 250.0)] == [A, B]
    assert [v.terms for v in h.in_range(250.0, 300.0)] == [B]
    assert [v.terms for v in h.in_range(0.0, 150.0)] == [A]


def test_weighted_objective_sums_each_parts_budget() -> None:
    h = history()
    assert weighted_objective(h, 300.0, 400.0, lambda s, e: e - s) == 0.9999
    # half the counted time at 99.9 %, half at 99.99 %: budget 0.1 + 0.01 seconds
    w = weighted_objective(h, 100.0, 300.0, lambda s, e: e - s)
    assert 1 - w == pytest.approx((0.001 * 100 + 0.0001 * 100) / 200)
    # a part with no counted time does not weigh
    assert weighted_objective(h, 100.0, 300.0, lambda s, e: 0.0 if s < 200 else e - s) == \
        pytest.approx(0.9999)


def test_changes() -> None:
    assert changes(A, B) == {
        "critical": (["app"], ["app", "docs"]), "maintenance_notice_seconds": (172800.0, 10.0),
        "not_critical": (["docs"], []), "objective": (0.999, 0.9999)}
    assert changes(A, A) == {}


def test_support_and_quorum_are_terms_read_in_force() -> None:
    def cfg(tz: str, gap: str, quorum: int, critical: bool) -> Config:
        return parse({"slo": {"quorum": quorum}, "support": {
            "timezone": tz, "merge_gap": gap, "extra_holidays": [dt.date(2026, 12, 24)]},
            "targets": [{"name": "app", "url": "http://127.0.0.1:9/", "critical": critical}]})

    first, second = cfg("Europe/London", "10m", 1, True), cfg("Asia/Tokyo", "1h", 2, False)
    old = Terms(0.999, 0.0, False, {"app": True})  # recorded before [support] was a term
    h = TermsHistory([Version(0.0, old), Version(100.0, of_config(first)),
                      Version(200.0, of_config(second))])
    t = Terms.from_json(of_config(first).to_json())
    assert supportterms.decode(t.extra["support"], ZoneInfo) == first.support
    assert h.extra_at("quorum", 50.0) == 1  # the nearest later version that records it
    assert h.steps("quorum", 9) == [(0.0, 1), (200.0, 2)]
    force = InForce(h, {"app": False}, second.support, zone=ZoneInfo)
    assert force.support_at(150.0) == first.support
    assert force.support_at(250.0) is second.support
    assert force.support_at(-5.0).merge_gap == 600.0
    assert force.critical_from("app", 150.0, 300.0) == 150.0
    assert force.critical_from("app", 210.0, 300.0) is None
    assert InForce(None, {"app": False}, second.support).critical_from("app", 0, 9) is None
