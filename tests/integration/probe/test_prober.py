"""The prober against real local servers that fail on purpose (no aiohttp mocks)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import time
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from faultserver import FaultServer
from waits import until

from slaprobe.clock import SystemClock
from slaprobe.core.model import Attempt, ErrorKind
from slaprobe.core.spec import ProbeSpec
from slaprobe.probe.prober import attempt, check

pytestmark = pytest.mark.timeout(10)


def spec(url: str, **kw: Any) -> ProbeSpec:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 0)
    return ProbeSpec(name="t", url=url, **kw)


# --- single attempts ------------------------------------------------------------------


async def test_ok(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/ok"), body_contains="ok"))
    assert a == Attempt(ok=True, latency=a.latency, status=200)
    assert 0 < a.latency < 1


async def test_head_and_other_methods(fault_server: FaultServer) -> None:
    assert (await attempt(spec(fault_server.url("/ok"), method="HEAD"))).ok
    a = await attempt(spec(fault_server.url("/method"), method="POST", body_contains="method POST"))
    assert a.ok, a


async def test_bad_status(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/status/503")))
    assert (a.ok, a.error, a.status, a.detail) == (False, ErrorKind.BAD_STATUS, 503, "status 503")


async def test_slow_response_times_out(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/slow?delay=2"), timeout=0.3))
    assert (a.ok, a.error, a.status) == (False, ErrorKind.TIMEOUT, None)
    assert 0.3 <= a.latency < 1.0


async def test_connection_refused(refused_url: str) -> None:
    a = await attempt(spec(refused_url))
    assert (a.ok, a.error, a.status) == (False, ErrorKind.CONNECT_ERROR, None)
    assert "refused" in a.detail.lower()


async def test_reset_mid_body(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/reset")))
    assert (a.ok, a.error) == (False, ErrorKind.CONNECT_ERROR)
    assert a.status == 200  # headers arrived; the body did not


async def test_wrong_body(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/ok"), body_contains="healthy"))
    assert (a.ok, a.error, a.status) == (False, ErrorKind.BODY_MISMATCH, 200)
    assert a.detail == "body lacks 'healthy'"


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        (r'"status":\s*"healthy"', True),
        (r'"version":\s*"1\.\d+', True),
        (r'"status":\s*"down"', False),
    ],
)
async def test_body_regex(fault_server: FaultServer, pattern: str, ok: bool) -> None:
    a = await attempt(spec(fault_server.url("/json"), body_regex=re.compile(pattern)))
    assert a.ok is ok
    assert a.error is (None if ok else ErrorKind.BODY_MISMATCH)


@pytest.mark.parametrize(
    ("path", "expect", "follow", "status", "error"),
    [
        ("/status/204", ("2xx",), True, 204, None),
        ("/status/404", ("2xx",), True, 404, ErrorKind.BAD_STATUS),
        ("/redirect", ("301",), False, 301, None),
        ("/redirect", ("2xx",), False, 301, ErrorKind.BAD_STATUS),
        ("/redirect", ("200", "301"), False, 301, None),
        ("/redirect", ("301",), True, 200, ErrorKind.BAD_STATUS),  # followed to /ok
        ("/redirect", ("2xx",), True, 200, None),
        ("/status/500", ("200", "301"), True, 500, ErrorKind.BAD_STATUS),
        ("/status/503", ("5xx",), True, 503, None),
    ],
)
async def test_expect_status(
    *, fault_server: FaultServer, path: str, expect: tuple[str, ...], follow: bool,
    status: int, error: ErrorKind | None,
) -> None:
    a = await attempt(spec(fault_server.url(path), expect_status=expect, follow_redirects=follow))
    assert (a.ok, a.status, a.error) == (error is None, status, error)


async def test_cancellation_propagates_and_cleans_up(fault_server: FaultServer) -> None:
    task = asyncio.create_task(attempt(spec(fault_server.url("/slow?delay=2"))))
    # cancelled mid-request: once the server has the request
    assert await until(lambda: fault_server.stats.hits["slow"] == 1, timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # not turned into a timeout Attempt; no unclosed-session warning either


async def test_max_latency_exceeded(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/slow?delay=0.2"), max_latency=0.05))
    assert (a.ok, a.error, a.status) == (False, ErrorKind.TOO_SLOW, 200)
    assert a.latency >= 0.2


async def test_max_latency_met(fault_server: FaultServer) -> None:
    assert (await attempt(spec(fault_server.url("/ok"), max_latency=1.0))).ok


async def test_huge_body_is_cut_at_max_body_bytes(fault_server: FaultServer) -> None:
    t0 = time.monotonic()
    a = await attempt(spec(fault_server.url("/big"), timeout=2.5))  # 100 MiB offered
    assert (a.ok, a.status) == (True, 200), a
    assert time.monotonic() - t0 < 2
    # 1 MiB read; the rest sent is whatever the kernel's socket buffers held
    assert fault_server.stats.body_bytes_sent < 32 * 1024 * 1024


async def test_needle_past_max_body_bytes_is_not_seen(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/big?tail=needle"), body_contains="needle"))
    assert (a.ok, a.error, a.status) == (False, ErrorKind.BODY_MISMATCH, 200)
    assert fault_server.stats.body_bytes_sent < 32 * 1024 * 1024


@pytest.mark.parametrize(("limit", "ok"), [(100, False), (205, False), (206, True), (1000, True)])
async def test_body_conditions_see_only_max_body_bytes(
    fault_server: FaultServer, limit: int, ok: bool,
) -> None:
    url = fault_server.url("/big?size=200&tail=needle")  # "needle" is bytes 200..205
    a = await attempt(spec(url, body_contains="needle", max_body_bytes=limit))
    assert a.ok is ok
    assert a.error is (None if ok else ErrorKind.BODY_MISMATCH)


async def test_endless_drip_times_out(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/drip"), timeout=0.5))
    assert (a.ok, a.error, a.status) == (False, ErrorKind.TIMEOUT, 200)
    assert 0.5 <= a.latency < 1.5


async def test_redirect_loop(fault_server: FaultServer) -> None:
    a = await attempt(spec(fault_server.url("/loop")))
    assert (a.ok, a.error, a.status) == (False, ErrorKind.BAD_STATUS, 302)
    assert a.detail == "redirect loop"
    assert fault_server.stats.hits["loop"] == 10  # aiohttp gives up on the 10th redirect


async def test_redirect_loop_not_followed(fault_server: FaultServer) -> None:
    s = spec(fault_server.url("/loop"), follow_redirects=False, expect_status=("302",))
    a = await attempt(s)
    assert a.ok, a


async def test_authorization_header_is_sent(fault_server: FaultServer) -> None:
    s = spec(
        fault_server.url("/auth"),
        headers=(("Authorization", "Bearer s3cret"),),
        body_contains="authorization: present",
    )
    assert (await attempt(s)).ok
    assert fault_server.stats.authorization == ["Bearer s3cret"]
    assert (await attempt(spec(fault_server.url("/auth"), body_contains="present"))).error == (
        ErrorKind.BODY_MISMATCH
    )


async def test_header_values_stay_out_of_details(
    fault_server: FaultServer, refused_url: str,
) -> None:
    headers = (("Authorization", "Bearer s3cret"),)
    for url in [fault_server.url("/status/503"), fault_server.url("/loop"), refused_url]:
        a = await attempt(spec(url, headers=headers))
        assert not a.ok
        assert "s3cret" not in a.detail


# --- TLS --------------------------------------------------------------------------------


async def test_untrusted_cert_is_tls_error(tls_server: FaultServer) -> None:
    a = await attempt(spec(tls_server.url("/ok")))
    assert (a.ok, a.error, a.status) == (False, ErrorKind.TLS_ERROR, None)
    assert "certificate" in a.detail


async def test_untrusted_cert_passes_without_verification(tls_server: FaultServer) -> None:
    a = await attempt(spec(tls_server.url("/ok"), verify_tls=False, body_contains="ok"))
    assert a.ok, a


async def test_cert_trusted_through_ssl_context(
    tls_server: FaultServer, trusting_context: ssl.SSLContext,
) -> None:
    a = await attempt(spec(tls_server.url("/ok"), body_contains="ok"), ssl_context=trusting_context)
    assert a.ok, a


async def test_plain_http_to_tls_port_fails(tls_server: FaultServer) -> None:
    url = tls_server.url("/ok").replace("https://", "http://")
    a = await attempt(spec(url, timeout=1.0))
    assert not a.ok
    assert a.error in (ErrorKind.CONNECT_ERROR, ErrorKind.BAD_STATUS)


# --- DNS --------------------------------------------------------------------------------


class NxDomainResolver(AbstractResolver):
    """Answers every name like a resolver saying NXDOMAIN, without any network."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
    ) -> list[ResolveResult]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        pass


class FixedResolver(AbstractResolver):
    """Answers every name with the given IPv4 addresses, in order, without any network."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
    ) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET,
                              proto=0, flags=0) for a in self.addresses]

    async def close(self) -> None:
        pass


async def test_a_name_with_one_address_and_with_several(fault_server: FaultServer) -> None:
    """One address is connected by the loop itself; with several, one that refuses is
    passed over for the next (the two connect paths of the plain HTTP client)."""
    port = int(fault_server.base.rsplit(":", 1)[1])
    url = f"http://service.test:{port}/ok"
    one = await attempt(spec(url, body_contains="ok"), resolver=FixedResolver("127.0.0.1"))
    assert (one.ok, one.status) == (True, 200), one
    # 127.0.0.2 is loopback too, but nothing listens there on this port: refused
    two = await attempt(spec(url, body_contains="ok"),
                        resolver=FixedResolver("127.0.0.2", "127.0.0.1"))
    assert (two.ok, two.status) == (True, 200), two
    down = await attempt(spec(url), resolver=FixedResolver("127.0.0.2"))
    assert (down.ok, down.error) == (False, ErrorKind.CONNECT_ERROR), down
    assert down.detail == f"cannot connect to service.test:{port}: Connection refused"
    both = await attempt(spec(url), resolver=FixedResolver("127.0.0.2", "127.0.0.3"))
    assert (both.ok, both.error) == (False, ErrorKind.CONNECT_ERROR), both
    assert both.detail.startswith(f"cannot connect to service.test:{port}: "), both


async def test_unresolvable_host_is_dns_error() -> None:
    a = await attempt(spec("http://nonexistent.invalid/"), resolver=NxDomainResolver())
    assert (a.ok, a.error, a.status) == (False, ErrorKind.DNS_ERROR, None)
    assert a.detail == "cannot resolve nonexistent.invalid: Name or service not known"


@pytest.mark.skipif(
    os.environ.get("SLAPROBE_NETWORK_TESTS") != "1",
    reason="resolving .invalid through the system resolver queries the configured DNS server "
    "(network); set SLAPROBE_NETWORK_TESTS=1 to run",
)
async def test_unresolvable_host_with_system_resolver() -> None:
    a = await attempt(spec("http://nonexistent.invalid/", timeout=5.0))
    assert (a.ok, a.error) == (False, ErrorKind.DNS_ERROR)


# --- retries ----------------------------------------------------------------------------


class PausesSeen(SystemClock):
    """The real clock, except that pauses between attempts are noted, not slept."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)


async def test_retries_until_success(fault_server: FaultServer) -> None:
    sleep, seen = PausesSeen(), list[Attempt]()
    attempts = await check(
        spec(fault_server.url(f"/flaky?fail={quote('2')}"), retries=2, retry_interval=7.0),
        clock=sleep, on_attempt=seen.append,
    )
    assert [(a.ok, a.error) for a in attempts] == [
        (False, ErrorKind.BAD_STATUS), (False, ErrorKind.BAD_STATUS), (True, None),
    ]
    assert seen == attempts
    assert sleep.calls == [7.0, 7.0]
    # every attempt opened its own connection
    assert len(set(fault_server.stats.peers)) == 3


async def test_retries_stop_at_first_success(fault_server: FaultServer) -> None:
    sleep = PausesSeen()
    attempts = await check(
        spec(fault_server.url("/flaky?fail=1"), retries=5, retry_interval=1.0), clock=sleep,
    )
    assert [a.ok for a in attempts] == [False, True]
    assert sleep.calls == [1.0]
    assert fault_server.stats.hits["flaky"] == 2


async def test_all_attempts_fail(fault_server: FaultServer) -> None:
    sleep, seen = PausesSeen(), list[Attempt]()
    attempts = await check(
        spec(fault_server.url("/status/503"), retries=2, retry_interval=2.0),
        clock=sleep, on_attempt=seen.append,
    )
    assert len(attempts) == 3
    assert not any(a.ok for a in attempts)
    assert {a.error for a in attempts} == {ErrorKind.BAD_STATUS}
    assert seen == attempts
    assert sleep.calls == [2.0, 2.0]


async def test_no_retries_no_sleep(fault_server: FaultServer) -> None:
    sleep = PausesSeen()
    attempts = await check(spec(fault_server.url("/status/503")), clock=sleep)
    assert len(attempts) == 1
    assert sleep.calls == []


async def test_success_first_time(fault_server: FaultServer) -> None:
    sleep = PausesSeen()
    attempts = await check(spec(fault_server.url("/ok"), retries=2), clock=sleep)
    assert [a.ok for a in attempts] == [True]
    assert sleep.calls == []


async def test_retries_after_connect_errors(refused_url: str) -> None:
    attempts = await check(spec(refused_url, retries=1, retry_interval=0.5), clock=PausesSeen())
    assert [a.error for a in attempts] == [ErrorKind.CONNECT_ERROR] * 2
