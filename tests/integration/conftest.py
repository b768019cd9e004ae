"""Fixtures for prober tests: local fault servers (plain and TLS) and a refused port."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Iterator

import pytest
import trustme
from faultserver import FaultServer, serve


@pytest.fixture
async def fault_server() -> AsyncIterator[FaultServer]:
    """The fault app over plain HTTP on 127.0.0.1."""
    async with serve() as server:
        yield server


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway CA that nothing trusts unless told to."""
    return trustme.CA()


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[FaultServer]:
    """The fault app over HTTPS, with a cert for 127.0.0.1 issued by `ca`."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    async with serve(ssl_context=ctx) as server:
        yield server


@pytest.fixture
def trusting_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts `ca` (and verifies as usual)."""
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A URL whose port is bound but not listening: connecting is refused, no race."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
