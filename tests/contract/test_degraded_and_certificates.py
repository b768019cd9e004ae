"""Degraded checks and certificate records on both backends: stored, read back, chained."""

from __future__ import annotations

from slaprobe.core.history.degraded import DEGRADED
from slaprobe.core.model import CertExpiry, Check
from slaprobe.history import certlog
from slaprobe.history.storeapi import HistoryStore

T0 = 1_800_000_000.0


def test_degraded_time_reads_back_with_its_successors(store: HistoryStore) -> None:
    """Each degraded check covers until the next check (at most 2 x interval); the last
    one stays open; ok checks without the mark and failures are not degraded."""
    checks = [Check("app", T0 + 10 * i, i != 5, 10.0,
                    error=DEGRADED if i in (2, 3, 7, 9) else (None if i != 5 else "timeout"))
              for i in range(10)]
    checks.append(Check("other", T0, True, 10.0, error=DEGRADED))
    store.write(checks)
    deg = store.load_degraded("app", T0 - 3600)
    assert deg.closed == [(T0 + 20, T0 + 40), (T0 + 70, T0 + 80)]
    assert deg.open == (T0 + 90, T0 + 110)
    assert deg.seconds(T0, T0 + 200, now=T0 + 95) == 20 + 10 + 5
    later = store.load_degraded("app", T0 + 75)  # (a check up to 2 days before may cover it)
    assert later.intervals(T0 + 75, T0 + 200, now=T0 + 95) == [(T0 + 75, T0 + 80),
                                                                (T0 + 90, T0 + 95)]
    assert store.load_degraded("app", T0 + 3 * 86400).open is None
    assert store.verify().ok


def test_certificate_records_are_chained_and_read_latest(store: HistoryStore) -> None:
    store.append_record(certlog.KIND, {"target": "app", "leaf": T0 + 50, "chain": T0 + 40}, T0)
    store.append_record(certlog.KIND, {"target": "app", "leaf": T0 + 90, "chain": None},
                        T0 + 10)
    store.append_record(certlog.KIND, {"target": "api", "leaf": T0 + 70, "chain": T0 + 70},
                        T0 + 20)
    assert certlog.latest(store) == {"app": CertExpiry(T0 + 90, None),
                                     "api": CertExpiry(T0 + 70, T0 + 70)}
    assert certlog.latest(store, until=T0 + 5) == {"app": CertExpiry(T0 + 50, T0 + 40)}
    assert store.verify().ok
