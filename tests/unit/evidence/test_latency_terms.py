"""degraded_latency and latency_objective are SLA terms when set; terms without them are
exactly what they were before (no new version is recorded on upgrade)."""

from __future__ import annotations

from slaprobe import config
from slaprobe.core.evidence.terms import Terms, of_config


def test_latency_settings_join_the_terms_only_when_set() -> None:
    plain = config.parse({"targets": [{"name": "app", "url": "http://127.0.0.1/"}]}, env={})
    assert set(of_config(plain).as_dict()) == {
        "objective", "maintenance_notice_seconds", "allow_retroactive_maintenance", "critical",
        "not_critical", "support", "quorum"}  # [support] and quorum are always terms
    cfg = config.parse({"targets": [
        {"name": "app", "url": "http://127.0.0.1/", "degraded_latency": "800ms",
         "latency_objective": 0.99},
        {"name": "api", "url": "http://127.0.0.1/api", "degraded_latency": "1s"}]}, env={})
    terms = of_config(cfg)
    assert terms.as_dict()["degraded_latency_seconds"] == {"app": 0.8, "api": 1.0}
    assert terms.as_dict()["latency_objective"] == {"app": 0.99}
    assert Terms.from_json(terms.to_json()) == terms  # stored and read back whole
    assert terms.to_json() != of_config(plain).to_json()
