"""tcp:// and dns:// checks against real local servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trustme
from dnsresponder import responder

from slaprobe import config
from slaprobe.core.model import CertExpiry, ErrorKind
from slaprobe.core.spec import ProbeSpec
from slaprobe.probe.prober import attempt, check

pytestmark = pytest.mark.timeout(10)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def spec(url: str, **kw: Any) -> ProbeSpec:
    raw = {"name": "t", "url": url, "retries": 0, "timeout": "1s", **kw}
    return config.parse({"targets": [raw]}, env={}).targets[0]


@asynccontextmanager
async def tcp_server(handle: Handler, ssl_ctx: ssl.SSLContext | None = None
                     ) -> AsyncIterator[int]:
    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The handler, with the connection closed whatever the client did (it aborts)."""
        try:
            await handle(reader, writer)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0, ssl=ssl_ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def smtp_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"220 mail.test ESMTP ready\r\n")
    line = await reader.readline()
    if line == b"QUIT\r\n":
        writer.write(b"221 bye\r\n")
    await writer.drain()
    writer.close()


async def pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers only once asked."""
    if await reader.readline() == b"PING\n":
        writer.write(b"PONG\n")
        await writer.drain()
    writer.close()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # accepts, never answers (until the client goes)
    writer.close()


# --- tcp ------------------------------------------------------------------------------


async def test_tcp_open_port_and_banner() -> None:
    async with tcp_server(smtp_like) as port:
        plain = await attempt(spec(f"tcp://127.0.0.1:{port}"))
        banner = await attempt(spec(f"tcp://127.0.0.1:{port}", expect="^220 .*ESMTP"))
    async with tcp_server(pong) as port:
        reply = await attempt(spec(f"tcp://127.0.0.1:{port}", send="PING\n", expect="^PONG$"))
    assert plain.ok and plain.error is None and plain.status is None, plain
    assert banner.ok, banner
    assert reply.ok, reply


async def test_tcp_closed_port(refused_url: str) -> None:
    port = refused_url.rsplit(":", 1)[1].strip("/")
    a = await attempt(spec(f"tcp://127.0.0.1:{port}"))
    assert (a.ok, a.error) == (False, ErrorKind.CONNECT_ERROR)
    assert a.detail == f"cannot connect to 127.0.0.1:{port}: Connection refused"


async def test_tcp_wrong_banner() -> None:
    async with tcp_server(smtp_like) as port:
        a = await attempt(spec(f"tcp://127.0.0.1:{port}", expect="^SSH-2.0"))
    assert (a.ok, a.error, a.detail) == (
        False, ErrorKind.ANSWER_MISMATCH, "answer does not match /^SSH-2.0/ (line)")


async def test_tcp_accepts_and_never_answers() -> None:
    async with tcp_server(silent) as port:
        connected = await attempt(spec(f"tcp://127.0.0.1:{port}"))
        waited = await attempt(spec(f"tcp://127.0.0.1:{port}", expect="^220", timeout="300ms"))
    assert connected.ok, connected  # a connect is all that was asked
    assert (waited.ok, waited.error) == (False, ErrorKind.TIMEOUT)
    assert 0.3 <= waited.latency < 1.0


async def test_tcp_retries_like_http() -> None:
    attempts = 0

    async def flaky(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        writer.write(b"READY\n" if attempts >= 3 else b"BUSY\n")
        await writer.drain()
        writer.close()

    async with tcp_server(flaky) as port:
        results = await check(spec(f"tcp://127.0.0.1:{port}", expect="^READY", retries=2,
                                   retry_interval="100ms"))
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].error == ErrorKind.ANSWER_MISMATCH


async def test_tcp_with_tls_records_the_certificate() -> None:
    ca = trustme.CA()
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=9)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", not_after=end).configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with tcp_server(smtp_like, server_ctx) as port:
        good = await attempt(spec(f"tcp://127.0.0.1:{port}", tls=True, expect="^220"),
                             ssl_context=client_ctx)
        untrusted = await attempt(spec(f"tcp://127.0.0.1:{port}", tls=True),
                                  ssl_context=ssl.create_default_context())
    async with tcp_server(silent) as port:  # accepts, never starts TLS
        stuck = await attempt(spec(f"tcp://127.0.0.1:{port}", tls=True, timeout="300ms"),
                              ssl_context=client_ctx)
    assert (stuck.ok, stuck.error) == (False, ErrorKind.TIMEOUT)
    assert good.ok, good
    assert good.cert == CertExpiry(leaf=end.timestamp(), chain=end.timestamp())
    assert (untrusted.ok, untrusted.error) == (False, ErrorKind.TLS_ERROR)


# --- dns ------------------------------------------------------------------------------

ZONE = {("app.test.", "A"): ["127.0.0.10", "127.0.0.11"],
        ("app.test.", "MX"): ["10 Mail.Test."],
        ("empty.test.", "A"): []}


async def test_dns_answer() -> None:
    async with responder(ZONE, set()) as (port, seen):
        any_answer = await attempt(spec(f"dns://127.0.0.1:{port}/app.test"))
        expected = await attempt(spec(f"dns://127.0.0.1:{port}/app.test",
                                      expect_answers=["127.0.0.11"]))
        mx = await attempt(spec(f"dns://127.0.0.1:{port}/app.test", record_type="MX",
                                expect_answers=["10 mail.test"]))
    assert any_answer.ok and expected.ok and mx.ok, (any_answer, expected, mx)
    assert seen.queries == ["app.test."] * 3


async def test_dns_nxdomain_and_no_record() -> None:
    async with responder(ZONE, set()) as (port, _):
        gone = await attempt(spec(f"dns://127.0.0.1:{port}/gone.test"))
        empty = await attempt(spec(f"dns://127.0.0.1:{port}/empty.test"))
        no_aaaa = await attempt(spec(f"dns://127.0.0.1:{port}/app.test", record_type="AAAA"))
    assert (gone.ok, gone.error, gone.detail) == (False, ErrorKind.DNS_ERROR,
                                                  "NXDOMAIN for gone.test")
    assert (empty.ok, empty.error, empty.detail) == (False, ErrorKind.DNS_ERROR,
                                                     "no A record for empty.test")
    assert (no_aaaa.error, no_aaaa.detail) == (ErrorKind.DNS_ERROR, "no AAAA record for app.test")


async def test_dns_wrong_address() -> None:
    async with responder(ZONE, set()) as (port, _):
        a = await attempt(spec(f"dns://127.0.0.1:{port}/app.test",
                               expect_answers=["127.0.0.10", "127.0.0.99"]))
    assert (a.ok, a.error, a.detail) == (
        False, ErrorKind.ANSWER_MISMATCH,
        "A answer lacks '127.0.0.99' (got 127.0.0.10, 127.0.0.11)")


async def test_dns_server_never_answers() -> None:
    async with responder(ZONE, {"app.test."}) as (port, seen):
        a = await attempt(spec(f"dns://127.0.0.1:{port}/app.test", timeout="300ms"))
    assert (a.ok, a.error) == (False, ErrorKind.TIMEOUT)
    assert 0.3 <= a.latency < 1.0
    assert seen.queries == ["app.test."]


async def test_dns_max_latency_applies() -> None:
    async with responder(ZONE, set()) as (port, _):
        a = await attempt(spec(f"dns://127.0.0.1:{port}/app.test", max_latency="1ms"))
    assert a.error in (None, ErrorKind.TOO_SLOW)  # the local answer may take under 1 ms
    if a.error is not None:
        assert a.detail.startswith("latency ")
