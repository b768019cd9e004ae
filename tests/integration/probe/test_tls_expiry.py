"""Certificate expiry of https:// checks against real local TLS servers: the leaf's
not-after and the earliest not-after of the chain that was verified, exact."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
import trustme
from certchain import make_chain
from cryptography import x509
from faultserver import serve

from slaprobe.core.model import CertExpiry, ErrorKind
from slaprobe.core.spec import ProbeSpec
from slaprobe.probe.prober import attempt

pytestmark = pytest.mark.timeout(10)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def spec(url: str, **kw: object) -> ProbeSpec:
    return ProbeSpec(name="t", url=url, timeout=2.0, retries=0, **kw)  # type: ignore[arg-type]


def not_after(pem: bytes) -> float:
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()


async def test_short_leaf_longer_intermediate_from_trustme() -> None:
    """trustme: a root, an intermediate and a leaf that expires in 5 days: the leaf's
    not-after is exact and is also the chain's earliest (the CAs last longer)."""
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf_end = NOW + dt.timedelta(days=5)
    leaf = intermediate.issue_cert("127.0.0.1", not_after=leaf_end)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    root.configure_trust(client_ctx)
    inter_end = not_after(intermediate.cert_pem.bytes())
    assert inter_end > leaf_end.timestamp()
    async with serve(ssl_context=server_ctx) as server:
        a = await attempt(spec(server.url("/ok")), ssl_context=client_ctx)
    assert a.ok, a
    assert a.cert == CertExpiry(leaf=leaf_end.timestamp(), chain=leaf_end.timestamp())


async def test_intermediate_expiring_first_sets_the_chain_expiry(tmp_path: Path) -> None:
    """A leaf for 60 days under an intermediate that ends in 10: the chain expiry is the
    intermediate's, the leaf's stays its own. A root that is trusted but not used (and ends
    in 2 days) does not count, nor does the one of the chain (it lasts a year)."""
    chain = make_chain(root=NOW + dt.timedelta(days=365), intermediate=NOW + dt.timedelta(days=10),
                       leaf=NOW + dt.timedelta(days=60))
    unused = make_chain(root=NOW + dt.timedelta(days=2), intermediate=NOW + dt.timedelta(days=2),
                        leaf=NOW + dt.timedelta(days=2), prefix="unused").root
    async with serve(ssl_context=chain.server_context(tmp_path)) as server:
        a = await attempt(spec(server.url("/ok")), ssl_context=chain.client_context(unused))
    assert a.ok, a
    assert a.cert == CertExpiry(leaf=(NOW + dt.timedelta(days=60)).timestamp(),
                                chain=(NOW + dt.timedelta(days=10)).timestamp())


async def test_failed_check_after_the_handshake_keeps_the_expiry(tmp_path: Path) -> None:
    """Expiry is about the certificate, not the answer: a 503 still reports it."""
    chain = make_chain(root=NOW + dt.timedelta(days=365), intermediate=NOW + dt.timedelta(days=90),
                       leaf=NOW + dt.timedelta(days=20))
    async with serve(ssl_context=chain.server_context(tmp_path)) as server:
        a = await attempt(spec(server.url("/status/503")), ssl_context=chain.client_context())
    assert (a.ok, a.error) == (False, ErrorKind.BAD_STATUS)
    assert a.cert == CertExpiry(leaf=(NOW + dt.timedelta(days=20)).timestamp(),
                                chain=(NOW + dt.timedelta(days=20)).timestamp())


async def test_untrusted_or_unverified(tmp_path: Path) -> None:
    """An untrusted chain stays a tls_error (no expiry recorded); with verify_tls = false
    only the leaf is known (nothing was verified)."""
    chain = make_chain(root=NOW + dt.timedelta(days=365), intermediate=NOW + dt.timedelta(days=90),
                       leaf=NOW + dt.timedelta(days=30))
    async with serve(ssl_context=chain.server_context(tmp_path)) as server:
        bad = await attempt(spec(server.url("/ok")), ssl_context=ssl.create_default_context())
        off = await attempt(spec(server.url("/ok"), verify_tls=False))
    assert (bad.ok, bad.error, bad.cert) == (False, ErrorKind.TLS_ERROR, None)
    assert off.ok and off.cert == CertExpiry(leaf=(NOW + dt.timedelta(days=30)).timestamp())


async def test_expired_leaf_is_a_tls_error(tmp_path: Path) -> None:
    chain = make_chain(root=NOW + dt.timedelta(days=365), intermediate=NOW + dt.timedelta(days=90),
                       leaf=NOW - dt.timedelta(hours=1))
    async with serve(ssl_context=chain.server_context(tmp_path)) as server:
        a = await attempt(spec(server.url("/ok")), ssl_context=chain.client_context())
    assert (a.ok, a.error) == (False, ErrorKind.TLS_ERROR)
    assert "expired" in a.detail


async def test_plain_http_has_no_certificate(tmp_path: Path) -> None:
    async with serve() as server:
        a = await attempt(spec(server.url("/ok")))
    assert a.ok and a.cert is None
