"""The expiry of the certificates a TLS connection verified (DESIGN "certificates").

For every TLS check slaprobe records the leaf certificate's not-after and the earliest
not-after of the chain that was actually verified, leaf and the trust anchor used
included; roots in the trust store that did not take part, and extra certificates the
server sent that the verified path does not use, are not counted (blackbox_exporter's
"earliest" includes those, and is often misread for it).

How the verified chain is obtained: Python 3.11's `ssl` has no public call for it
(`SSLObject.get_verified_chain()` is public from 3.13 on). Its C object,
`SSLObject._sslobj`, has had `get_verified_chain()` since 3.10: OpenSSL's
`SSL_get0_verified_chain`, the path the handshake built and verified, from the leaf to
the trust anchor. The public method is used where it exists, else that one; each
certificate comes as DER and `cryptography` reads its not-after. Where neither exists
(another Python implementation), or verification is off (`verify_tls = false`: nothing
was verified), only the leaf is known and the chain expiry is left unset.

How the connection's `SSLObject` is reached: aiohttp releases (and, never reusing a
connection, closes) a connection as soon as a short body is read, before the caller
sees the response, so the transport is gone by then. Instead the contexts of TLS checks
make their `SSLObject`s through `Recorded` (`SSLContext.sslobject_class`, which both
asyncio's and uvloop's TLS use), and `recording()` collects those made in the current
task's context: the attempt reads its certificates from the first one afterwards.
Plain `http://` checks never touch any of this, and `cryptography` is imported at the
first certificate read (a daemon without TLS checks never loads it: about 8 MB).
"""

from __future__ import annotations

import contextvars
import functools
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slaprobe.core.model import CertExpiry

_DER = 2  # _ssl.ENCODING_DER
_SINK: contextvars.ContextVar[list[ssl.SSLObject] | None] = contextvars.ContextVar(
    "slaprobe_tls_sink", default=None)


class Recorded(ssl.SSLObject):
    """An SSLObject that a `recording()` block in its task sees being made."""

    @classmethod
    def _create(cls, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        obj: ssl.SSLObject = super()._create(*args, **kwargs)  # type: ignore[misc]
        sink = _SINK.get()
        if sink is not None:
            sink.append(obj)
        return obj


def recorded(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """`ctx`, making its TLS objects so that `recording()` sees them."""
    if ctx.sslobject_class is not Recorded:
        ctx.sslobject_class = Recorded
    return ctx


@functools.cache
def default_context(verify: bool) -> ssl.SSLContext:
    """The client context of TLS checks: the system trust store (honouring SSL_CERT_FILE
    and SSL_CERT_DIR as Python's ssl does), or no verification at all."""
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return recorded(ctx)


# made at import, as aiohttp makes its own: loading the trust store reads files, which a
# check on the event loop must not wait for
default_context(True)
default_context(False)


@contextmanager
def recording() -> Iterator[list[ssl.SSLObject]]:
    """The TLS objects made inside the block (in this task and tasks it starts)."""
    sink: list[ssl.SSLObject] = []
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)


def expiry(ssl_object: Any, *, verified: bool) -> CertExpiry | None:
    """The leaf's and the verified chain's earliest not-after (Unix seconds), or None
    when the connection has no peer certificate (the handshake did not complete)."""
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    try:
        leaf_der = ssl_object.getpeercert(binary_form=True)
    except ValueError:  # "handshake not done yet"
        return None
    if not leaf_der:
        return None
    chain: float | None = None
    if verified:
        ders = _verified_chain(ssl_object)
        if ders:
            chain = min(_not_after(d) for d in ders)
    return CertExpiry(leaf=_not_after(leaf_der), chain=chain)


def _verified_chain(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> list[bytes]:
    call = getattr(ssl_object, "get_verified_chain", None)  # Python >= 3.13
    if call is None:
        call = getattr(getattr(ssl_object, "_sslobj", None), "get_verified_chain", None)
    if call is None:
        return []
    certs = call() or []
    return [c if isinstance(c, bytes) else c.public_bytes(_DER) for c in certs]


def _not_after(der: bytes) -> float:
    from cryptography import x509  # noqa: PLC0415 (loaded at the first TLS check)

    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
