"""Fixtures: local fault servers (plain and TLS), a refused port, and a guard that fails a
test when slaprobe's code blocks the event loop (blockbuster), on every async test here."""

from __future__ import annotations

import inspect
import re
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme
from blockbuster import BlockBuster, blockbuster_ctx
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


@pytest.fixture(autouse=True)
def no_blocking(request: pytest.FixtureRequest) -> Iterator[BlockBuster | None]:
    """Blocking calls (file stat/read/write, SQLite, time.sleep, ...) made by slaprobe's code
    on the event loop raise BlockingError while this is active: in every async test of
    tests/integration (a sync test has no loop to block).

    The test module's own functions may block (a test reading the store it set up is not
    the daemon stalling): only calls from the daemon's tasks count.
    """
    if not inspect.iscoroutinefunction(request.function):
        yield None
        return
    path = Path(request.module.__file__)
    # the module's own function names, read as text: ast.parse inside a running test
    # has hit CPython 3.11's "AST constructor recursion depth mismatch" SystemError
    own = set(re.findall(r"^\s*(?:async\s+)?def\s+(\w+)", path.read_text(), re.MULTILINE))
    with blockbuster_ctx("slaprobe") as bb:
        for function in bb.functions.values():
            function.can_block_in(path.name, own)
        yield bb
