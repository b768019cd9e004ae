"""SLA terms as history, through the store and the report: a config edit changes the
future only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slaprobe.config import parse
from slaprobe.core.evidence.terms import of_config
from slaprobe.core.model import Check
from slaprobe.core.spec import Config
from slaprobe.history.store import Store
from slaprobe.reporting import report

T0 = 1790812800.0  # 2026-10-01T00:00:00Z
HOUR = 3600.0


def config(*, objective: float = 0.999, api_critical: bool = True) -> Config:
    return parse({
        "slo": {"objective": objective},
        "defaults": {"interval": "30s"},
        "targets": [{"name": "app", "url": "http://127.0.0.1:9/"},
                    {"name": "api", "url": "http://127.0.0.1:9/", "critical": api_critical}],
    }, env={})


def checks(target: str, down: list[tuple[float, float]]) -> list[Check]:
    """A check every 30 s over the hour, failing inside the `down` ranges."""
    return [Check(target, T0 + k * 30.0, not any(a <= k * 30.0 < b for a, b in down), 30.0)
            for k in range(121)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "h.db")
    yield s
    s.close()


def build(store: Store, cfg: Config, a: float, b: float) -> dict[str, Any]:
    tracker = report.load_tracker(cfg, store, a - 60, [], now=T0 + HOUR)
    return report.build(cfg, tracker, a, b, T0 + HOUR)


def test_flipping_critical_after_an_outage_keeps_the_past(store: Store) -> None:
    """api is critical during its first outage and not during its second: the service
    was down for the first only, before and after the config edit."""
    store.write(checks("app", []) + checks("api", [(600, 1200), (2400, 3000)]))
    store.record_terms(of_config(config()), T0)
    store.record_terms(of_config(config(api_critical=False)), T0 + 1800)
    for cfg in (config(api_critical=False), config()):  # whatever the config says now
        rep = build(store, cfg, T0, T0 + HOUR)
        assert rep["targets"]["api"]["down_seconds"] == 1200.0
        assert rep["service"]["down_seconds"] == 600.0, cfg
        assert [(t["since"], t["critical"]) for t in rep["terms"]][:2] == [
            ("2026-10-01T00:00:00Z", ["api", "app"]), ("2026-10-01T00:30:00Z", ["app"])]
    text = report.render_text(build(store, config(api_critical=False), T0, T0 + HOUR), "svc")
    assert "2026-10-01T00:30:00Z: changed critical, not_critical" in text


def test_raising_the_objective_mid_month(store: Store) -> None:
    """The objective rises at 00:30: the first half keeps 99.9 %; the hour's budget is
    the sum of each half's; figures of the first half do not move."""
    store.write(checks("app", [(300, 330)]) + checks("api", []))
    store.record_terms(of_config(config()), T0)
    store.record_terms(of_config(config(objective=0.9999)), T0 + 1800)
    first = build(store, config(objective=0.9999), T0, T0 + 1800)
    assert first["objective"] == 0.999
    assert first["service"]["error_budget_remaining_ratio"] == pytest.approx(1 - 30 / 1.8)
    assert [t["objective"] for t in first["terms"]] == [0.999]
    hour = build(store, config(objective=0.9999), T0, T0 + HOUR)
    allowed = 0.001 * 1800 + 0.0001 * 1800
    assert hour["objective"] == pytest.approx(1 - allowed / 3600)
    assert hour["service"]["error_budget_remaining_ratio"] == pytest.approx(1 - 30 / allowed)
    assert hour["targets"]["app"]["error_budget_remaining_ratio"] == pytest.approx(
        1 - 30 / allowed)
    assert [t["objective"] for t in hour["terms"]] == [0.999, 0.9999]
    second = build(store, config(), T0 + 1800, T0 + HOUR)  # the config went back: no matter
    assert second["objective"] == 0.9999
    md = report.render_markdown(hour, "svc")
    assert "## SLA terms" in md and "changed objective" in md


def test_terms_are_recorded_once_per_version(store: Store) -> None:
    a, b = of_config(config()), of_config(config(objective=0.99))
    assert len(store.record_terms(a, T0).versions) == 1
    assert len(store.record_terms(a, T0 + 10).versions) == 1  # unchanged: nothing new
    h = store.record_terms(b, T0 + 20)
    assert [(v.since, v.terms) for v in h.versions] == [(T0, a), (T0 + 20, b)]
    h = store.record_terms(a, T0 + 30)  # back to the first: a new version
    assert [v.since for v in h.versions] == [T0, T0 + 20, T0 + 30]
