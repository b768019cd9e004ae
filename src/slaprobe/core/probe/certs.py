"""PURE: days left on a TLS target's certificates, as `once`, /status and reports show them."""

from __future__ import annotations

from slaprobe.core.model import CertExpiry

DAY = 86400.0


def earliest(cert: CertExpiry) -> float:
    """The first not-after that matters: the verified chain's (leaf included), else the leaf's."""
    return cert.leaf if cert.chain is None else min(cert.leaf, cert.chain)


def days_left(cert: CertExpiry, now: float) -> float:
    return (earliest(cert) - now) / DAY


def days_text(cert: CertExpiry | None, now: float) -> str:
    """`41.5d`, `expired`, or `-` for a target without a certificate."""
    if cert is None:
        return "-"
    days = days_left(cert, now)
    return "expired" if days < 0 else f"{days:.1f}d"
