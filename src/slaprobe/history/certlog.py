"""Certificates in the history: each TLS target's certificate expiry, recorded when it
changes (a chain-only record of kind `certificate`: `{"target", "leaf", "chain"}`, the
not-afters in Unix seconds), so that a report can say how many days were left at the end
of its range, and a renewal (or a server that went back to an old certificate) is on
record. Written off the event loop, from housekeeping."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from slaprobe.core.model import CertExpiry
from slaprobe.history.storeapi import HistoryStore, StoreError

KIND = "certificate"


class CertificateLog:
    """Appends a record for each target whose last seen certificates differ from its last
    recorded ones."""

    def __init__(self, store: HistoryStore, log: Any) -> None:
        self.store = store
        self.log = log
        self._recorded: dict[str, CertExpiry] | None = None  # read on first use

    async def record(self, seen: Mapping[str, CertExpiry], now: float) -> int:
        """Record the changed ones; how many were recorded (0 when the store failed)."""
        if self._recorded is None:
            try:
                self._recorded = await asyncio.to_thread(latest, self.store)
            except (OSError, StoreError) as e:
                self.log.warning("certificates_not_read", error=str(e))
                return 0
        changed = {t: c for t, c in seen.items() if self._recorded.get(t) != c}
        for target, cert in sorted(changed.items()):
            payload = {"target": target, "leaf": cert.leaf, "chain": cert.chain}
            try:
                await asyncio.to_thread(self.store.append_record, KIND, payload, now)
            except (OSError, StoreError) as e:
                self.log.warning("certificate_not_recorded", target=target, error=str(e))
                return 0
            self._recorded[target] = cert
            self.log.info("certificate_seen", target=target, leaf_not_after=cert.leaf,
                          chain_not_after=cert.chain)
        return len(changed)


def latest(store: HistoryStore, until: float | None = None) -> dict[str, CertExpiry]:
    """Each target's last recorded certificates (recorded at or before `until`)."""
    out: dict[str, CertExpiry] = {}
    for _, at, p in store.records(KIND):
        if until is None or at <= until:
            chain = p.get("chain")
            out[str(p["target"])] = CertExpiry(leaf=float(p["leaf"]),
                                               chain=None if chain is None else float(chain))
    return out
