"""The daemon's check paths: plain HTTP on its own protocol, the rest on one shared
aiohttp session; either way a fresh connection for every check, so target
failures stay visible (real local servers). Each test runs on both paths."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from faultserver import FaultServer
from test_prober import NxDomainResolver

from slaprobe.core.model import ErrorKind
from slaprobe.core.spec import ProbeSpec
from slaprobe.probe import prober
from slaprobe.probe.prober import attempt, check, probe_session

pytestmark = pytest.mark.timeout(15)


@pytest.fixture(autouse=True, params=["plain", "aiohttp"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """plain: http:// on slaprobe's own protocol (the default); aiohttp: through the
    shared session, as https:// always is."""
    monkeypatch.setattr(prober, "PLAIN_PATH", request.param == "plain")
    return str(request.param)


def spec(url: str, **kw: Any) -> ProbeSpec:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 0)
    return ProbeSpec(name="t", url=url, **kw)


async def test_every_check_opens_its_own_connection(fault_server: FaultServer) -> None:
    async with probe_session() as session:
        for _ in range(4):
            a = await attempt(spec(fault_server.url("/ok")), session=session)
            assert a.ok, a
    ports = [port for _, port in fault_server.stats.peers]
    assert len(ports) == 4
    assert len(set(ports)) == 4  # four connections, none reused


async def test_failures_stay_visible_through_the_shared_session(
    fault_server: FaultServer, refused_url: str,
) -> None:
    async with probe_session() as session:
        refused = await attempt(spec(refused_url), session=session)
        slow = await attempt(spec(fault_server.url("/slow?delay=3"), timeout=0.3),
                             session=session)
        reset = await attempt(spec(fault_server.url("/reset")), session=session)
        ok = await attempt(spec(fault_server.url("/ok")), session=session)
    assert refused.error == ErrorKind.CONNECT_ERROR
    assert slow.error == ErrorKind.TIMEOUT
    assert not reset.ok and reset.error == ErrorKind.CONNECT_ERROR
    assert ok.ok  # a failed check leaves nothing behind for the next


async def test_tls_is_verified_per_check(
    tls_server: FaultServer, trusting_context: ssl.SSLContext,
) -> None:
    url = tls_server.url("/ok")
    async with probe_session() as session:
        untrusted = await attempt(spec(url), session=session)
        unverified = await attempt(spec(url, verify_tls=False), session=session)
        trusted = await attempt(spec(url), ssl_context=trusting_context, session=session)
        again = await attempt(spec(url), session=session)
    assert (untrusted.ok, untrusted.error) == (False, ErrorKind.TLS_ERROR)
    assert unverified.ok, unverified
    assert trusted.ok, trusted
    assert (again.ok, again.error) == (False, ErrorKind.TLS_ERROR)  # no verified session kept
    assert len(set(tls_server.stats.peers)) == 2  # the two that completed a handshake


async def test_dns_is_resolved_for_every_check() -> None:
    resolver = NxDomainResolver()
    async with probe_session(resolver) as session:
        for _ in range(2):
            a = await attempt(spec("http://nonexistent.invalid/"), session=session,
                              resolver=resolver)
            assert (a.ok, a.error) == (False, ErrorKind.DNS_ERROR)


@pytest.fixture
async def cookie_server() -> AsyncIterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        resp = web.Response(text="ok")
        resp.set_cookie("session", "secret")
        return resp

    app = web.Application()
    app.router.add_get("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/", seen
    await runner.cleanup()


async def test_no_cookie_is_carried_from_one_check_to_the_next(
    cookie_server: tuple[str, list[str | None]],
) -> None:
    url, seen = cookie_server
    async with probe_session() as session:
        results = await check(spec(url, retries=0), session=session)
        results += await check(spec(url, retries=0), session=session)
    assert all(a.ok for a in results)
    assert seen == [None, None]
