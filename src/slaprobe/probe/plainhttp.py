"""One plain-HTTP exchange on a fresh TCP connection, on an asyncio protocol.

The daemon's check path for `http://` URLs (`https://` goes through aiohttp).
Hand-written for speed: profiled at 1,000 targets every 10 s, aiohttp's client
(session request, connector, connection objects, request building, response
machinery) was most of the daemon's CPU per check, while a check needs one
request written and one response judged. Here each exchange resolves the name
afresh (unless the host is an address), opens its own connection (never pooled
or reused, like blackbox_exporter; a single address connected by the loop itself,
several tried as aiohttp tries them, the next one 250 ms after one that does not
answer), writes one request (asking for
gzip or deflate as aiohttp does), feeds the bytes to
`core.http1.ResponseParser`, and closes. Every failure stays visible with the
kind it has on the aiohttp path: a resolver failure (`DnsFailed`), a refused or
unreachable connect (`ConnectFailed`), a response that breaks HTTP
(`core.http1.HttpViolation`), a body cut short (`core.http1.BodyCut`), a close
before the headers (`core.http1.Disconnected`). Timeouts are the caller's: it
cancels the exchange, and the connection is aborted.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import cast

import aiohappyeyeballs
import yarl
from aiohttp.abc import AbstractResolver

from slaprobe.core.probe.http1 import ResponseParser

HAPPY_EYEBALLS_DELAY = 0.25  # seconds, aiohttp's TCPConnector default
FollowHint = Callable[[int, str | None], bool]  # (status, Location) -> read the body?


class DnsFailed(OSError):
    """The host name did not resolve."""

    def __init__(self, host: str, error: OSError) -> None:
        super().__init__(error.errno, error.strerror)
        self.host = host
        self.os_error = error


class ConnectFailed(OSError):
    """No connection could be opened to any of the host's addresses."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(error.errno, error.strerror)
        self.host = host
        self.port = port
        self.os_error = error


class _Exchange(asyncio.Protocol):
    """Writes the request on connect; feeds the response to the parser."""

    __slots__ = ("done", "parser", "request", "seen", "transport", "wants_body")

    def __init__(self, request: bytes, parser: ResponseParser, seen: list[int],
                 wants_body: FollowHint, done: asyncio.Future[None]) -> None:
        self.request = request
        self.parser = parser
        self.seen = seen
        self.wants_body = wants_body
        self.done = done
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        parser = self.parser
        try:
            if not parser.head_done:
                rest = parser.feed_head(data)
                if rest is None:
                    return
                if not self.wants_body(parser.status, parser.location):
                    parser.stop_after_head()
                    self.done.set_result(None)
                    return
                self.seen.append(parser.status)
                data = rest
            finished = parser.feed_body(data)
        except Exception as e:  # a violation (or a bug): the exchange fails with it
            self._fail(e)
            return
        if finished:
            self.done.set_result(None)

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)

    def _fail(self, e: Exception) -> None:
        """Fail the exchange with `e`. Marked as seen at once: the check awaiting it
        raises it, and when none awaits any more (it already ended) asyncio must not log
        "Future exception was never retrieved"."""
        self.done.set_exception(e)
        self.done.exception()

    def _ended(self, exc: Exception | None) -> None:
        if self.done.done():
            return
        try:
            head = self.parser.head_done
            complete = self.parser.eof()
            if not head:  # a head completed by the close itself
                self.seen.append(self.parser.status)
        except Exception as e:
            if exc is not None and not isinstance(exc, asyncio.CancelledError):
                e.__cause__ = exc  # e.g. a reset: the OS error is the cause
            self._fail(e)
            return
        if complete:
            self.done.set_result(None)


@functools.lru_cache(maxsize=16384)
def _request(url: yarl.URL, method: str, headers: tuple[tuple[str, str], ...],
             user_agent: str) -> bytes:
    return request_bytes(url, method, headers, user_agent)  # a check repeats its request


def request_bytes(url: yarl.URL, method: str, headers: Sequence[tuple[str, str]],
                  user_agent: str) -> bytes:
    """The request: the caller's headers replace the defaults of the same name."""
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    if url.port is not None and url.port != 80:
        host = f"{host}:{url.port}"
    given = {k.lower() for k, _ in headers}
    lines = [f"{method} {url.raw_path_qs or '/'} HTTP/1.1"]
    defaults = [("Host", host), ("User-Agent", user_agent), ("Accept", "*/*"),
                ("Accept-Encoding", "gzip, deflate")]  # as aiohttp asks (the parser decodes)
    lines += [f"{k}: {v}" for k, v in defaults if k.lower() not in given]
    if url.raw_user is not None and "authorization" not in given:
        cred = f"{url.user or ''}:{url.password or ''}".encode("latin-1")
        lines.append("Authorization: Basic " + base64.b64encode(cred).decode("ascii"))
    lines += [f"{k}: {v}" for k, v in headers if k.lower() != "connection"]
    if method in ("POST", "PUT", "PATCH") and "content-length" not in given:
        lines.append("Content-Length: 0")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@functools.lru_cache(maxsize=4096)
def _literal(host: str) -> int | None:
    """The address family of a host that is an IP address (no lookup), else None."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return socket.AF_INET6 if ip.version == 6 else socket.AF_INET


async def addresses(host: str, port: int, resolver: AbstractResolver | None,
                    ) -> list[tuple[int, str]]:
    """(family, address) of each address of `host` (itself when it is one); DnsFailed."""
    if (family := _literal(host)) is not None:
        return [(family, host)]
    try:
        if resolver is not None:
            found = await resolver.resolve(host, port, family=socket.AF_UNSPEC)
            return [(int(r["family"]), str(r["host"])) for r in found]
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise DnsFailed(host, e) from e
    return [(int(fam), str(addr[0])) for fam, _, _, _, addr in infos]


def address_infos(found: list[tuple[int, str]], port: int) -> list[aiohappyeyeballs.AddrInfoType]:
    """What aiohappyeyeballs connects to: each (family, address) at `port`."""
    return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
             (address, port, 0, 0) if family == socket.AF_INET6 else (address, port))
            for family, address in found]


async def _connect(loop: asyncio.AbstractEventLoop, proto: asyncio.Protocol, host: str,
                   port: int, found: list[tuple[int, str]]) -> asyncio.Transport:
    """A connection to one of `found` (the addresses of `host`), `proto` on it.

    One address (an address literal, or a name with one record: the usual case) is
    connected by the loop itself; several are tried as aiohttp tries them, the next
    one 250 ms after one that does not answer (aiohappyeyeballs). The two give the
    same errors; the first costs about a third less CPU per check (no Python socket
    object, no second wrapping of a connected socket). An IPv6 address with a scope
    (`fe80::1%eth1`) takes the second way: uvloop's own connect drops the scope and
    would reach the address on another interface."""
    try:
        if len(found) == 1 and "%" not in found[0][1]:
            family, address = found[0]
            transport, _ = await loop.create_connection(lambda: proto, address, port,
                                                        family=family)
            return transport
        sock = await aiohappyeyeballs.start_connection(
            address_infos(found, port), happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY, loop=loop)
    except OSError as e:
        raise ConnectFailed(host, port, e) from e
    try:
        transport, _ = await loop.create_connection(lambda: proto, sock=sock)
    except BaseException:
        sock.close()
        raise
    return transport


async def exchange(url: yarl.URL, method: str, headers: Sequence[tuple[str, str]], *,
                   max_body: int, seen: list[int], wants_body: FollowHint,
                   user_agent: str, resolver: AbstractResolver | None = None,
                   ) -> ResponseParser:
    """One request to a plain `http://` URL on a fresh connection; the parsed response.

    `wants_body(status, location)` is asked once the headers are in: False stops
    there (a redirect to follow); True appends the status to `seen` and reads up to
    `max_body` bytes of the body.
    """
    host = url.raw_host or ""
    port = url.port or 80
    loop = asyncio.get_running_loop()
    found = await addresses(host, port, resolver)
    parser = ResponseParser(max_body, head_request=method == "HEAD")
    done: asyncio.Future[None] = loop.create_future()
    proto = _Exchange(_request(url, method, tuple(headers), user_agent), parser, seen,
                      wants_body, done)
    transport = await _connect(loop, proto, host, port, found)
    try:
        await done
    finally:
        if parser.complete:
            transport.close()
        else:
            transport.abort()  # cut short (a cap, a timeout, a violation): do not drain
    return parser
