"""HTTP I/O: one attempt on a fresh connection, and a check with retries.

Like blackbox_exporter, every attempt opens its own connection, so DNS, TCP and
TLS failures are seen each time instead of hidden by a pool. Plain `http://`
requests go through `plainhttp` (an asyncio protocol: most of the CPU per check
was aiohttp's client machinery); `https://` ones through aiohttp, on a session
of the attempt's own or on a shared `probe_session()` whose connector never
keeps or reuses a connection and never caches DNS (nor keeps cookies). Setting
`SLAPROBE_HTTP_CLIENT=aiohttp` sends plain HTTP through aiohttp too (to compare
the two). Redirects are followed here, hop by hop, on either path. The
whole attempt (connect, headers, body) is bounded by `spec.timeout`, and at most
`spec.max_body_bytes` of the body is read. Target failures come back as
`Attempt` values with an `ErrorKind`; so do failures on slaprobe's own side
(descriptors or memory exhausted, the loop too late to judge a timeout, an
exception nobody expected): those carry an own-side kind (`ErrorKind.own`), and
the check's outcome is unknown, never down. Only cancellation raises.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import errno
import functools
import os
import socket
import ssl
from collections.abc import Callable

import aiohttp
import yarl
from aiohttp import http_exceptions
from aiohttp.abc import AbstractResolver

from slaprobe import __version__
from slaprobe.clock import Clock, SystemClock
from slaprobe.core.model import Attempt, CertExpiry, ErrorKind
from slaprobe.core.probe import http1
from slaprobe.core.probe.checks import degraded, judge
from slaprobe.core.spec import ProbeSpec
from slaprobe.core.urls import masked
from slaprobe.probe import netchecks, plainhttp, tlscerts

USER_AGENT = f"slaprobe/{__version__}"
MAX_REDIRECTS = 10
_CHUNK = 64 * 1024
_DETAIL_MAX = 160
MIN_ATTEMPT = 0.1  # seconds: a shorter attempt is not worth starting
# A timeout that fires this late (seconds, or this share of the limit, the larger) means
# the event loop was too busy to read the answer: slaprobe's fault, not the target's.
LATE_TIMER = 0.5
LATE_SHARE = 0.5
# A loop that ran this late (seconds, or this share of the limit, the larger) during a
# timed-out attempt could not read the answer in time either.
LAG_FLOOR = 0.1
LAG_SHARE = 0.2
_OWN_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
PLAIN_PATH = os.environ.get("SLAPROBE_HTTP_CLIENT", "") != "aiohttp"


class RedirectLoop(Exception):
    """The redirects went on past MAX_REDIRECTS; `status` is the last one's."""

    def __init__(self, status: int) -> None:
        super().__init__("redirect loop")
        self.status = status


class LoopWatch:
    """How late the event loop runs: a task that sleeps `tick` and notes the overshoot.

    A timed-out attempt is the target's fault only if slaprobe was reading in time:
    when the loop ran late by a good share of the attempt's limit while it waited
    (a scrape storm, CPU starvation), the timeout says nothing about the target.
    """

    def __init__(self, clock: Clock, tick: float = 0.05, keep: int = 1200) -> None:
        self.clock = clock
        self.tick = tick
        self._lags: collections.deque[tuple[float, float]] = collections.deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            before = self.clock.monotonic()
            await self.clock.sleep(self.tick)
            after = self.clock.monotonic()
            self._lags.append((after, after - before - self.tick))

    def max_lag(self, since: float) -> float:
        """The largest overshoot (seconds) of a tick that ended after `since` (monotonic)."""
        worst = 0.0
        for at, lag in reversed(self._lags):
            if at < since:
                break
            worst = max(worst, lag)
        return worst


def probe_session(resolver: AbstractResolver | None = None) -> aiohttp.ClientSession:
    """A session to share between checks that still opens a fresh connection for
    every request: no keep-alive, no pool, no DNS cache, no cookies. TLS
    verification is chosen per request. Create and close it on the event loop."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True, limit=0, use_dns_cache=False,
                                       resolver=resolver),
        timeout=aiohttp.ClientTimeout(total=None),  # the clock's timeout bounds each attempt
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def _tls(spec: ProbeSpec, ssl_context: ssl.SSLContext | None) -> ssl.SSLContext:
    """The TLS context of an attempt: the given one or the default (verifying or not),
    each recording its connections' certificates (`tlscerts`)."""
    if spec.verify_tls and ssl_context is not None:
        return tlscerts.recorded(ssl_context)
    return tlscerts.default_context(spec.verify_tls)


class _Client:
    """The HTTP side of one attempt: plain HTTP on `plainhttp`, the rest on aiohttp
    (a shared session, or one made on first use and closed with the attempt)."""

    __slots__ = ("own", "resolver", "session", "spec", "ssl_context")

    def __init__(self, session: aiohttp.ClientSession | None, resolver: AbstractResolver | None,
                 spec: ProbeSpec, ssl_context: ssl.SSLContext | None) -> None:
        self.session = session
        self.own: aiohttp.ClientSession | None = None
        self.resolver = resolver
        self.spec = spec
        self.ssl_context = ssl_context

    def aiohttp(self) -> tuple[aiohttp.ClientSession, ssl.SSLContext | None]:
        tls = _tls(self.spec, self.ssl_context)  # only here: plain HTTP never needs one
        if self.session is not None:
            return self.session, tls
        if self.own is None:
            self.own = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True, limit=0, use_dns_cache=False,
                                               ssl=tls, resolver=self.resolver),
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"User-Agent": USER_AGENT})
        return self.own, None  # the connector's own TLS setting

    async def close(self) -> None:
        if self.own is not None:
            await self.own.close()


async def attempt(
    spec: ProbeSpec,
    *,
    ssl_context: ssl.SSLContext | None = None,
    resolver: AbstractResolver | None = None,
    time_limit: float | None = None,
    watch: LoopWatch | None = None,
    clock: Clock | None = None,
    session: aiohttp.ClientSession | None = None,
) -> Attempt:
    """One attempt against `spec.url` on a fresh connection, judged by `checks.judge`.

    `ssl_context` replaces the default trust store when `spec.verify_tls` is on
    (ignored when it is off). `resolver` replaces the default resolver (of the
    plain path, and of aiohttp's when the attempt makes its own session).
    `time_limit` (default `spec.timeout`) bounds the whole attempt. `clock` times
    it. `session`, a `probe_session()`, serves https:// instead of a session of
    the attempt's own.
    """
    clock = clock or SystemClock()
    start = clock.monotonic()
    client = _Client(session, resolver, spec, ssl_context)
    try:
        return await _attempt_in(
            client, spec, clock, start,
            spec.timeout if time_limit is None else time_limit, watch=watch)
    except Exception as exc:  # outside the request itself (session set-up or teardown)
        kind, detail = own_failure(exc)
        return Attempt(ok=False, latency=clock.monotonic() - start, error=kind,
                       detail=masked(detail, spec.url)[:_DETAIL_MAX])
    finally:
        await client.close()


async def _attempt_in(
    client: _Client, spec: ProbeSpec, clock: Clock, start: float, limit: float,
    *, watch: LoopWatch | None,
) -> Attempt:
    seen: list[int] = []  # the final response's status, once its headers arrived
    certs: list[CertExpiry] = []  # the first TLS hop's certificates (https only)
    other: netchecks.Verdict | None = None  # a tcp:// or dns:// check's verdict
    try:
        async with clock.timeout(limit):
            if spec.kind == "http":
                body = await _fetch(client, spec, seen, certs)
            elif spec.kind == "tcp":
                other = await netchecks.tcp(spec, client.ssl_context)
            else:
                other = await netchecks.query(spec)
    except TimeoutError:  # includes aiohttp.ServerTimeoutError
        late = clock.monotonic() - start - limit
        lag = 0.0 if watch is None else watch.max_lag(start)
        if late > max(LATE_TIMER, LATE_SHARE * limit) or lag > max(LAG_FLOOR, LAG_SHARE * limit):
            kind, detail = (ErrorKind.OVERLOADED,
                            f"event loop {max(late, lag):.3g}s late while waiting"
                            f" out a {limit:.3g}s timeout")
        else:
            kind, detail = ErrorKind.TIMEOUT, f"no complete response within {limit:.3g}s"
    except (aiohttp.ClientError, OSError) as exc:
        kind, detail = classify(exc)
    except (http1.HttpViolation, http1.BodyCut, http1.Disconnected, RedirectLoop,
            netchecks.DnsNoAnswer) as exc:
        kind, detail = classify(exc)
        if isinstance(exc, RedirectLoop):
            seen.append(exc.status)
    except Exception as exc:  # not the target's doing: the outcome is unknown
        kind, detail = own_failure(exc)
    else:
        if other is not None:
            return _judge_other(spec, other, clock.monotonic() - start)
        judged = judge(spec, status=seen[-1], body=body, latency=clock.monotonic() - start)
        return dataclasses.replace(judged, cert=certs[0]) if certs else judged
    return Attempt(
        ok=False,
        latency=clock.monotonic() - start,
        status=seen[-1] if seen else None,
        error=kind,
        detail=masked(detail, spec.url)[:_DETAIL_MAX],  # a reason quoting the URL: masked
        cert=certs[0] if certs else None,
    )


def _judge_other(spec: ProbeSpec, verdict: netchecks.Verdict, latency: float) -> Attempt:
    """A tcp:// or dns:// attempt: its own verdict, then `max_latency` as for HTTP."""
    kind, detail, cert = verdict
    if kind is None and spec.max_latency is not None and latency > spec.max_latency:
        kind, detail = ErrorKind.TOO_SLOW, f"latency {latency:.3f}s > {spec.max_latency:g}s"
    if kind is None and spec.degraded_latency is not None and latency > spec.degraded_latency:
        return dataclasses.replace(degraded(spec, latency), cert=cert)
    return Attempt(ok=kind is None, latency=latency, error=kind, detail=detail[:_DETAIL_MAX],
                   cert=cert)


async def check(
    spec: ProbeSpec,
    *,
    clock: Clock | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    resolver: AbstractResolver | None = None,
    budget: float | None = None,
    watch: LoopWatch | None = None,
    session: aiohttp.ClientSession | None = None,
) -> list[Attempt]:
    """A first attempt and up to `spec.retries` more, `spec.retry_interval` apart.

    Stops at the first success. The check is ok iff the last attempt is ok.
    `on_attempt` sees every attempt as it completes (per-attempt metrics).
    `budget` bounds the whole check, retries and pauses included: the daemon
    keeps each check inside its interval, so consecutive checks always touch
    and a hanging target is measured as down, never as unknown.
    """
    clock = clock or SystemClock()
    deadline = None if budget is None else clock.monotonic() + budget
    attempts: list[Attempt] = []
    for n in range(spec.retries + 1):
        timeout = spec.timeout
        if deadline is not None:
            left = deadline - clock.monotonic() - (spec.retry_interval if n else 0.0)
            if n and left < MIN_ATTEMPT:
                break  # no time left for another attempt in this check
            timeout = min(timeout, max(left, MIN_ATTEMPT))
        if n:
            await clock.sleep(spec.retry_interval)
        result = await attempt(
            spec, ssl_context=ssl_context, resolver=resolver, time_limit=timeout, watch=watch,
            clock=clock, session=session)
        attempts.append(result)
        if on_attempt is not None:
            on_attempt(result)
        if result.ok:
            break
    return attempts


def verdict(attempts: list[Attempt]) -> Attempt:
    """The attempt that stands for a check: its last, unless that one failed and an
    earlier one failed on slaprobe's side (then not every attempt judged the target
    failed: the check's outcome is unknown)."""
    last = attempts[-1]
    if last.ok or last.unknown:
        return last
    return next((a for a in attempts if a.unknown), last)


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@functools.lru_cache(maxsize=16384)
def _url(text: str) -> yarl.URL:
    """A configured URL, parsed once (URLs are immutable; checks repeat them)."""
    return yarl.URL(text)


def _origin(url: yarl.URL) -> tuple[str, str, int | None]:
    return url.scheme, (url.host or "").lower(), url.port


async def _fetch(client: _Client, spec: ProbeSpec, seen: list[int],
                 certs: list[CertExpiry]) -> bytes:
    """The final response's body (status into `seen`), redirects followed by hand:
    configured headers (secrets) go to the target's own origin only, never to
    another origin a redirect points at; `same-origin` stops at such a redirect
    and judges the redirect response itself."""
    url = _url(spec.url)
    origin = _origin(url)
    method = spec.method
    for hop in range(MAX_REDIRECTS):
        headers = spec.headers if _origin(url) == origin else ()
        nxt: list[yarl.URL] = []

        def follow(status: int, location: str | None, url: yarl.URL = url,
                   nxt: list[yarl.URL] = nxt) -> bool:
            """Whether this response is the final one (else `nxt` holds where to go)."""
            if spec.follow_redirects and status in _REDIRECTS and location:
                try:
                    target = url.join(yarl.URL(location))
                    there = _origin(target)
                except ValueError:  # an unusable Location: the redirect itself is judged
                    return True
                if spec.follow_redirects is True or there == origin:
                    nxt.append(target)
                    return False
            return True

        if url.scheme == "http" and PLAIN_PATH:
            response = await plainhttp.exchange(
                url, method, headers, max_body=spec.max_body_bytes, seen=seen,
                wants_body=follow, user_agent=USER_AGENT, resolver=client.resolver)
            status, body = response.status, bytes(response.body)
        else:
            status, body = await _aiohttp_hop(client, url, method, headers, spec=spec, seen=seen,
                                              follow=follow, certs=certs)
        if not nxt:
            return body
        if hop + 1 >= MAX_REDIRECTS:  # as aiohttp: the 10th redirect ends it
            raise RedirectLoop(status)
        if status == 303 or (status in (301, 302) and method == "POST"):
            method = "GET"
        url = nxt[0]
    raise AssertionError("unreachable")  # the loop returns or raises


async def _aiohttp_hop(
    client: _Client, url: yarl.URL, method: str, headers: tuple[tuple[str, str], ...], *,
    spec: ProbeSpec, seen: list[int], follow: plainhttp.FollowHint, certs: list[CertExpiry],
) -> tuple[int, bytes]:
    session, tls = client.aiohttp()
    kw: dict[str, object] = {} if tls is None else {"ssl": tls}
    with tlscerts.recording() as made:
        resp = await session.request(method, url, headers=dict(headers),
                                     allow_redirects=False, **kw)  # type: ignore[arg-type]
    if url.scheme == "https" and not certs and made:
        cert = tlscerts.expiry(made[0], verified=spec.verify_tls)
        if cert is not None:
            certs.append(cert)
    async with resp:
        if not follow(resp.status, resp.headers.get("Location")):
            return resp.status, b""
        seen.append(resp.status)
        body = await _read_capped(resp.content, spec.max_body_bytes)
        if not resp.content.at_eof():
            resp.close()  # drop the connection rather than drain the rest of the body
        return resp.status, body


async def _read_capped(content: aiohttp.StreamReader, limit: int) -> bytes:
    buf = bytearray()
    while len(buf) < limit:
        chunk = await content.read(min(_CHUNK, limit - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def classify(exc: BaseException) -> tuple[ErrorKind, str]:
    """The error kind and a short detail for an exception raised by an attempt.

    Details name the exception and the OS or TLS reason; never headers, and not
    the URL (which may embed credentials). Descriptor or buffer exhaustion is
    slaprobe's own failure (`FD_EXHAUSTED`), whatever the target does.
    """
    if (code := _own_errno(exc)) is not None:
        return ErrorKind.FD_EXHAUSTED, f"slaprobe out of resources: {os.strerror(code)}"
    if isinstance(exc, TimeoutError):
        return ErrorKind.TIMEOUT, "timed out"
    if isinstance(exc, aiohttp.TooManyRedirects | RedirectLoop):
        return ErrorKind.BAD_STATUS, "redirect loop"
    if isinstance(exc, netchecks.DnsNoAnswer):
        return ErrorKind.PROTOCOL_ERROR, f"unusable DNS answer: {exc}"
    if isinstance(exc, http1.HttpViolation):
        return ErrorKind.PROTOCOL_ERROR, f"invalid HTTP response: {exc}"
    if isinstance(exc, http1.BodyCut):
        return ErrorKind.CONNECT_ERROR, "connection lost mid-body"
    if isinstance(exc, http1.Disconnected):
        return ErrorKind.CONNECT_ERROR, "ServerDisconnectedError: Server disconnected"
    if isinstance(exc, plainhttp.DnsFailed):
        return ErrorKind.DNS_ERROR, f"cannot resolve {exc.host}: {_reason(exc.os_error)}"
    if isinstance(exc, plainhttp.ConnectFailed):
        return (ErrorKind.CONNECT_ERROR,
                f"cannot connect to {exc.host}:{exc.port}: {_reason(exc.os_error)}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or (
        isinstance(exc, aiohttp.ClientConnectorError)
        and isinstance(exc.os_error, socket.gaierror)
    ):
        return ErrorKind.DNS_ERROR, f"cannot resolve {exc.host}: {_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ErrorKind.TLS_ERROR, f"certificate: {_reason(exc.certificate_error)}"
    if isinstance(exc, aiohttp.ClientSSLError):
        # aiohttp >= 3.14: the SSL error is the os_error; the exception itself has no reason
        return ErrorKind.TLS_ERROR, f"TLS handshake: {_reason(exc.os_error)}"
    if isinstance(exc, ssl.SSLError):
        return ErrorKind.TLS_ERROR, f"TLS: {_reason(exc)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return (
            ErrorKind.CONNECT_ERROR,
            f"cannot connect to {exc.host}:{exc.port}: {_reason(exc.os_error)}",
        )
    violation = _http_violation(exc)
    if violation is not None:
        return ErrorKind.PROTOCOL_ERROR, f"invalid HTTP response: {violation}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ErrorKind.CONNECT_ERROR, "connection lost mid-body"
    if isinstance(exc, aiohttp.ClientResponseError):
        # its str() carries the request URL; the class name is enough
        return ErrorKind.CONNECT_ERROR, type(exc).__name__
    return ErrorKind.CONNECT_ERROR, f"{type(exc).__name__}: {_reason(exc)}"


def own_failure(exc: BaseException) -> tuple[ErrorKind, str]:
    """The own-side kind and detail of an exception no target can cause."""
    if isinstance(exc, MemoryError):
        return ErrorKind.OUT_OF_MEMORY, "slaprobe out of memory"
    if (code := _own_errno(exc)) is not None:
        return ErrorKind.FD_EXHAUSTED, f"slaprobe out of resources: {os.strerror(code)}"
    # the type only: a message may quote the URL or a header
    return ErrorKind.PROBE_ERROR, f"unexpected {type(exc).__name__}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (os_error) and its causes, outermost first."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 8:
        out.append(cur)
        inner = getattr(cur, "os_error", None)
        if isinstance(inner, BaseException) and inner not in out:
            out.append(inner)
        cur = cur.__cause__ or cur.__context__
    return out


def _own_errno(exc: BaseException) -> int | None:
    for e in _causes(exc):
        if isinstance(e, OSError) and e.errno in _OWN_ERRNOS:
            return e.errno
    return None


_PAYLOAD_VIOLATIONS = (http_exceptions.TransferEncodingError,
                       http_exceptions.ContentEncodingError)


def _http_violation(exc: BaseException) -> str | None:
    """What was wrong with a response that broke HTTP's rules, if that is the failure.

    aiohttp raises ClientResponseError caused by an HttpProcessingError (bad status
    line, oversize or too many headers, bad chunk sizes, bad Content-Length), and
    ClientPayloadError for a broken chunked or compressed body. A body cut short
    (ContentLengthError) is a lost connection, not a violation.
    """
    for e in _causes(exc):
        if isinstance(e, http_exceptions.ContentLengthError):
            return None
        if isinstance(e, http_exceptions.HttpProcessingError) and (
                isinstance(exc, aiohttp.ClientResponseError)
                or isinstance(e, _PAYLOAD_VIOLATIONS)):
            return _violation_text(e)
    return None


def _violation_text(e: http_exceptions.HttpProcessingError) -> str:
    """The first line of aiohttp's message, without the bytes it quotes."""
    text = (e.message or type(e).__name__).strip().splitlines()[0]
    for cut in (": b'", ': b"', " b'", ' b"'):
        text = text.split(cut)[0]
    return text.rstrip(" :.") or type(e).__name__


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message)
    if isinstance(exc, ssl.SSLError) and getattr(exc, "reason", None):
        return str(exc.reason)
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)  # "Connection refused", not aiohttp's "Connect call failed"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
