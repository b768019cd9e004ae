"""The plain http:// path against hostile and unusual servers, judged against aiohttp.

Every scripted raw-socket response goes through the plain path (`plainhttp` and
`core.http1`) and through aiohttp (`prober.PLAIN_PATH` off, as
`SLAPROBE_HTTP_CLIENT=aiohttp` sets it): both must give the same verdict (ok, error
kind, status), and that verdict is the one written here. Servers listen on
127.0.0.1 (or ::1) on ephemeral ports and script their bytes by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import socket
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from slaprobe import prober
from slaprobe.core.model import Attempt, ErrorKind
from slaprobe.core.spec import ProbeSpec

pytestmark = pytest.mark.timeout(60)

Verdict = tuple[bool, ErrorKind | None, int | None]
Script = Callable[[asyncio.StreamWriter, bytes], Awaitable[None]]


@dataclass
class Raw:
    """A running scripted server: its port and the request heads it received."""

    port: int
    host: str = "127.0.0.1"
    requests: list[bytes] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    with contextlib.suppress(Exception):
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
    return b""


@contextlib.asynccontextmanager
async def scripted(script: Script, host: str = "127.0.0.1") -> AsyncIterator[Raw]:
    """Serve every connection with `script(writer, request_head)`, then close."""
    raw = Raw(port=0, host=host)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await _read_head(reader)
            raw.requests.append(head)
            await script(writer, head)
        except (Exception, asyncio.CancelledError):
            pass  # the client went away, or the server is closing
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, 0)
    raw.port = int(server.sockets[0].getsockname()[1])
    try:
        yield raw
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2.0)


def send(payload: bytes) -> Script:
    async def script(writer: asyncio.StreamWriter, _: bytes) -> None:
        writer.write(payload)
        await writer.drain()
    return script


def spec(url: str, **kw: Any) -> ProbeSpec:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retries", 0)
    return ProbeSpec(name="t", url=url, **kw)


def verdict(a: Attempt) -> Verdict:
    return a.ok, a.error, a.status


async def on_both(s: ProbeSpec, monkeypatch: pytest.MonkeyPatch, **kw: Any,
                  ) -> tuple[Attempt, Attempt]:
    """The same attempt on the plain path and on aiohttp."""
    monkeypatch.setattr(prober, "PLAIN_PATH", True)
    plain = await prober.attempt(s, **kw)
    monkeypatch.setattr(prober, "PLAIN_PATH", False)
    try:
        via_aiohttp = await prober.attempt(s, **kw)
    finally:
        monkeypatch.setattr(prober, "PLAIN_PATH", True)
    return plain, via_aiohttp


async def same(s: ProbeSpec, monkeypatch: pytest.MonkeyPatch, expected: Verdict,
               **kw: Any) -> tuple[Attempt, Attempt]:
    """Both paths give `expected`. One liberty: when a violation comes in the same read
    as a complete head, aiohttp's parser fails before it hands over the status (None),
    while the plain path has it (the violation is the same protocol_error)."""
    plain, via_aiohttp = await on_both(s, monkeypatch, **kw)
    assert verdict(via_aiohttp) == expected, via_aiohttp
    got = verdict(plain)
    if expected[1] is ErrorKind.PROTOCOL_ERROR and expected[2] is None and got[2] is not None:
        assert plain.detail.startswith("invalid HTTP response: "), plain
        got = (got[0], got[1], None)
    assert got == verdict(via_aiohttp), (plain, via_aiohttp)
    return plain, via_aiohttp


OK: Verdict = (True, None, 200)
PROTO: Verdict = (False, ErrorKind.PROTOCOL_ERROR, None)
PROTO_200: Verdict = (False, ErrorKind.PROTOCOL_ERROR, 200)
CUT_200: Verdict = (False, ErrorKind.CONNECT_ERROR, 200)
MISMATCH_200: Verdict = (False, ErrorKind.BODY_MISMATCH, 200)


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def zl(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def with_length(head: bytes, body: bytes) -> bytes:
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


BODY = b"all systems ok"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
HEADERS_128 = b"".join(b"X-H%d: v\r\n" % i for i in range(127))  # + Content-Length
HEADERS_129 = b"".join(b"X-H%d: v\r\n" % i for i in range(128))

# (id, response bytes, spec keywords, verdict on both paths)
CASES: list[tuple[str, bytes, dict[str, Any], Verdict]] = [
    ("content-length", with_length(b"HTTP/1.1 200 OK\r\n", BODY), {"body_contains": "ok"}, OK),
    ("chunked-ext-trailers",
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"4;name=value\r\nall \r\n3;x\r\nsys\r\nb\r\ntems ok now\r\n0\r\nX-Trailer: t\r\n\r\n",
     {"body_contains": "systems ok"}, OK),
    ("chunked-upper-hex", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"E\r\n" + BODY + b"\r\n0\r\n\r\n", {"body_contains": "ok"}, OK),
    ("until-close-1.0", b"HTTP/1.0 200 OK\r\n\r\n" + BODY, {"body_contains": "ok"}, OK),
    ("until-close-1.1", b"HTTP/1.1 200 OK\r\n\r\n" + BODY, {"body_contains": "ok"}, OK),
    ("until-close-needle-missing", b"HTTP/1.1 200 OK\r\n\r\nall systems down",
     {"body_contains": "ok"}, MISMATCH_200),
    ("gzip", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n", gz(BODY)),
     {"body_contains": "systems ok"}, OK),
    ("gzip-chunked", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(gz(BODY)), gz(BODY)),
     {"body_contains": "systems ok"}, OK),
    ("gzip-until-close", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gz(BODY),
     {"body_contains": "systems ok"}, OK),
    ("deflate-zlib", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n", zl(BODY)),
     {"body_contains": "systems ok"}, OK),
    ("deflate-raw",
     with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n", raw_deflate(BODY)),
     {"body_contains": "systems ok"}, OK),
    ("gzip-garbage", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n",
                                 b"not gzip at all"), {"body_contains": "ok"}, PROTO_200),
    ("gzip-needle-only-compressed", with_length(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n", gz(b"all systems down")),
     {"body_contains": "down"}, OK),
    ("gzip-uppercase", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: GZIP\r\n", gz(BODY)),
     {"body_contains": "systems ok"}, OK),
    ("identity", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\n", BODY),
     {"body_contains": "ok"}, OK),
    ("100-continue", b"HTTP/1.1 100 Continue\r\n\r\n" + with_length(b"HTTP/1.1 200 OK\r\n", BODY),
     {"body_contains": "ok"}, OK),
    ("two-1xx", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     + with_length(b"HTTP/1.1 200 OK\r\n", BODY), {"body_contains": "ok"}, OK),
    ("204", b"HTTP/1.1 204 No Content\r\n\r\n", {"expect_status": ("204",)},
     (True, None, 204)),
    ("204-with-length", b"HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n",
     {"expect_status": ("204",)}, (True, None, 204)),
    ("304", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
     {"expect_status": ("304",)}, (True, None, 304)),
    ("204-not-expected", b"HTTP/1.1 204 No Content\r\n\r\n", {},
     (False, ErrorKind.BAD_STATUS, 204)),
    ("head-no-body", b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", {"method": "HEAD"}, OK),
    ("head-chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     {"method": "HEAD"}, OK),
    ("no-reason-phrase", with_length(b"HTTP/1.1 200\r\n", BODY), {}, OK),
    ("ssh-banner", b"SSH-2.0-OpenSSH_9.2\r\n\r\n", {}, PROTO),
    ("status-garbage", b"HTTP/1.1 2xx OK\r\n\r\n", {}, PROTO),
    ("status-lowercase", b"http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", {}, PROTO),
    ("empty-then-close", b"", {}, (False, ErrorKind.CONNECT_ERROR, None)),
    ("half-head-then-close", b"HTTP/1.1 200 OK\r\nContent-Le", {},
     (False, ErrorKind.CONNECT_ERROR, None)),
    ("header-8190", with_length(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 8189 + b"\r\n", BODY),
     {"body_contains": "ok"}, OK),
    ("header-8191", with_length(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 8190 + b"\r\n", BODY),
     {"body_contains": "ok"}, PROTO),
    ("header-20000", with_length(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 20000 + b"\r\n", BODY),
     {}, PROTO),
    ("headers-128", with_length(b"HTTP/1.1 200 OK\r\n" + HEADERS_128, BODY),
     {"body_contains": "ok"}, OK),
    ("headers-129", with_length(b"HTTP/1.1 200 OK\r\n" + HEADERS_129, BODY),
     {"body_contains": "ok"}, PROTO),
    ("headers-5000", with_length(b"HTTP/1.1 200 OK\r\n" + b"X: v\r\n" * 5000, BODY), {}, PROTO),
    ("length-short-then-close", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + BODY,
     {"body_contains": "ok"}, CUT_200),
    ("length-longer", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nall systems ok",
     {"body_contains": "ok"}, PROTO),
    ("length-negative", b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n" + BODY, {}, PROTO),
    ("length-plus", b"HTTP/1.1 200 OK\r\nContent-Length: +14\r\n\r\n" + BODY, {}, PROTO),
    ("length-list", b"HTTP/1.1 200 OK\r\nContent-Length: 14, 14\r\n\r\n" + BODY, {}, PROTO),
    ("duplicate-length-same", b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n"
     b"Content-Length: 14\r\n\r\n" + BODY, {}, PROTO),
    ("duplicate-length-differ", b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n"
     b"Content-Length: 2\r\n\r\n" + BODY, {}, PROTO),
    ("chunk-size-invalid", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zz\r\nok\r\n0\r\n\r\n", {}, PROTO),
    ("chunk-size-negative", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"-2\r\nok\r\n0\r\n\r\n", {}, PROTO),
    ("chunk-data-overrun", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"2\r\nokay\r\n0\r\n\r\n", {}, PROTO),
    ("chunked-cut-then-close", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"e\r\nall systems ok\r\n", {"body_contains": "ok"}, PROTO_200),
    ("te-and-length", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n"
     b"\r\n2\r\nok\r\n0\r\n\r\n", {}, PROTO),
    ("lf-only", b"HTTP/1.1 200 OK\nContent-Length: 14\nX-A: b\n\n" + BODY,
     {"body_contains": "ok"}, OK),
    ("lf-only-chunked", b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
     b"e\n" + BODY + b"\n0\n\n", {"body_contains": "ok"}, PROTO),
    ("header-ctl-char", with_length(b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\n", BODY),
     {"body_contains": "ok"}, OK),
    ("header-nul", with_length(b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n", BODY), {}, PROTO),
    ("header-no-colon", with_length(b"HTTP/1.1 200 OK\r\nnonsense\r\n", BODY), {}, PROTO),
    ("header-space-before-colon",
     with_length(b"HTTP/1.1 200 OK\r\nX-A : b\r\n", BODY), {}, PROTO),
    ("lf-after-chunk-data", CHUNKED + b"2\r\nok\n0\r\n\r\n", {}, OK),
    ("lf-after-chunk-size", CHUNKED + b"2\nok\r\n0\r\n\r\n", {}, PROTO),
    ("lf-after-last-size", CHUNKED + b"2\r\nok\r\n0\n\r\n", {}, PROTO),
    ("lf-at-chunked-end", CHUNKED + b"2\r\nok\r\n0\r\n\n", {}, OK),
    ("space-after-chunk-size", CHUNKED + b"2 \r\nok\r\n0\r\n\r\n", {}, OK),
    ("quoted-chunk-ext", CHUNKED + b'2;a="b;c"\r\nok\r\n0\r\n\r\n', {}, OK),
    ("trailer-no-colon", CHUNKED + b"2\r\nok\r\n0\r\nnocolon\r\n\r\n", {}, PROTO),
    ("data-after-chunked-end", CHUNKED + b"2\r\nok\r\n0\r\n\r\nXX", {}, PROTO),
    ("data-after-length-close", b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
     b"Content-Length: 2\r\n\r\nokXX", {}, PROTO),
    ("crlf-after-length", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\r\n", {}, OK),
    ("header-del-char", with_length(b"HTTP/1.1 200 OK\r\nX: a\x7fb\x1bc\r\n", BODY), {}, OK),
    ("header-bare-cr", with_length(b"HTTP/1.1 200 OK\r\nX: a\rb\r\n", BODY), {}, PROTO),
    ("obs-fold", with_length(b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n", BODY), {}, OK),
    ("obs-fold-first-line", with_length(b"HTTP/1.1 200 OK\r\n X: a\r\n", BODY), {}, OK),
    ("http-2.0-status-line", with_length(b"HTTP/2.0 200 OK\r\n", BODY), {}, OK),
    ("http-0.9-status-line", with_length(b"HTTP/0.9 200 OK\r\n", BODY), {}, OK),
    ("http-1.2-status-line", with_length(b"HTTP/1.2 200 OK\r\n", BODY), {}, PROTO),
    ("status-099", with_length(b"HTTP/1.1 099 Odd\r\n", BODY), {},
     (False, ErrorKind.BAD_STATUS, 99)),
    ("status-1000", with_length(b"HTTP/1.1 1000 Odd\r\n", BODY), {}, PROTO),
    ("status-tab", with_length(b"HTTP/1.1 200\tOK\r\n", BODY), {}, PROTO),
    ("status-two-spaces", with_length(b"HTTP/1.1  200 OK\r\n", BODY), {}, PROTO),
    ("status-8bit-reason", with_length(b"HTTP/1.1 200 \xe9\x01\r\n", BODY), {}, OK),
    ("status-line-8200", with_length(b"HTTP/1.1 200 " + b"O" * 8200 + b"\r\n", BODY), {}, PROTO),
    ("header-name-8191", with_length(b"HTTP/1.1 200 OK\r\n" + b"X" * 8191 + b": a\r\n", BODY),
     {}, PROTO),
    ("header-name-8bit", with_length(b"HTTP/1.1 200 OK\r\nX\xe9: a\r\n", BODY), {}, PROTO),
    ("101-switching", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nok", {},
     (False, ErrorKind.BAD_STATUS, 101)),
    ("te-gzip-and-length", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
     b"Content-Length: 2\r\n\r\nok", {}, PROTO),
    ("te-not-chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok",
     {"body_contains": "ok"}, OK),
    ("te-uppercase", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n"
     b"2\r\nok\r\n0\r\n\r\n", {"body_contains": "ok"}, OK),
    ("length-empty", b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nok", {}, PROTO),
    ("length-trailing-space", b"HTTP/1.1 200 OK\r\nContent-Length: 2 \r\n\r\nok", {}, OK),
    ("brotli-undecodable", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n", b"ok"),
     {}, PROTO),
    ("zstd-undecodable", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\n", b"ok"),
     {}, PROTO),
    ("deflate-truncated", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\n",
                                      zl(BODY * 10)[:8]), {}, PROTO),
    ("gzip-truncated", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n",
                                   gz(BODY * 10)[:12]), {}, OK),
    ("gzip-empty-body", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
     b"Content-Length: 0\r\n\r\n", {}, OK),
    ("header-8bit-value", with_length(b"HTTP/1.1 200 OK\r\nX-A: caf\xe9\r\n", BODY),
     {"body_contains": "ok"}, OK),
]


@pytest.mark.parametrize(("payload", "kw", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_scripted_response_gets_aiohttps_verdict(
    payload: bytes, kw: dict[str, Any], expected: Verdict, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with scripted(send(payload)) as raw:
        plain, _ = await same(spec(raw.url(), **kw), monkeypatch, expected)
    assert b"\x01" not in plain.detail.encode() and "aaaa" not in plain.detail
