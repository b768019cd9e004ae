"""Certificate expiry series: set from attempts, one per target, gone with the target."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from slaprobe.core.model import CertExpiry
from slaprobe.core.probe import certs
from slaprobe.metrics.exposition import encode
from slaprobe.metrics.instruments import ProbeStats

LEAF = "slaprobe_tls_leaf_expiry_timestamp_seconds"
CHAIN = "slaprobe_tls_chain_expiry_timestamp_seconds"


def samples(stats: ProbeStats) -> dict[tuple[str, str], float]:
    text = encode(stats.families()).decode()
    return {(s.name, s.labels.get("target", "")): s.value
            for f in text_string_to_metric_families(text) for s in f.samples
            if s.name in (LEAF, CHAIN)}


def test_last_certificate_per_target_and_forget() -> None:
    stats = ProbeStats()
    stats.cert("app", CertExpiry(leaf=1_900_000_000.0, chain=1_850_000_000.0))
    stats.cert("app", CertExpiry(leaf=1_950_000_000.0, chain=1_950_000_000.0))  # renewed
    stats.cert("legacy", CertExpiry(leaf=1_800_000_000.0))  # verify_tls = false: no chain
    assert samples(stats) == {(LEAF, "app"): 1_950_000_000.0, (CHAIN, "app"): 1_950_000_000.0,
                              (LEAF, "legacy"): 1_800_000_000.0}
    stats.forget("app")
    assert samples(stats) == {(LEAF, "legacy"): 1_800_000_000.0}


def test_days_left() -> None:
    now = 1_800_000_000.0
    c = CertExpiry(leaf=now + 30 * 86400, chain=now + 10 * 86400 + 43200)
    assert certs.days_left(c, now) == 10.5
    assert certs.days_text(c, now) == "10.5d"
    assert certs.days_text(CertExpiry(leaf=now + 86400 * 2), now) == "2.0d"
    assert certs.days_text(CertExpiry(leaf=now - 1, chain=now - 1), now) == "expired"
    assert certs.days_text(None, now) == "-"
