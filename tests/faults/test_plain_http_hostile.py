"""The plain http:// path against hostile and unusual servers, judged against aiohttp.

Every scripted raw-socket response goes through the plain path (`plainhttp` and
`core.http1`) and through aiohttp (`prober.PLAIN_PATH` off, as
`SLAPROBE_HTTP_CLIENT=aiohttp` sets it): both must give the same verdict (ok, error
kind, status), and that verdict is the one written here. Servers listen on
127.0.0.1 (or ::1) on ephemeral ports and script their bytes by hand.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import os
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from waits import until

from slaprobe.core.model import Attempt, ErrorKind
from slaprobe.core.spec import ProbeSpec
from slaprobe.probe import prober

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
    """A request head, or the first bytes of a TLS ClientHello (answered as they are)."""
    buf = b""
    with contextlib.suppress(Exception):
        while b"\r\n\r\n" not in buf and buf[:1] != b"\x16":
            data = await asyncio.wait_for(reader.read(65536), 5.0)
            if not data:
                break
            buf += data
    return buf


async def _until_eof(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(Exception):
        while await reader.read(65536):
            pass


@contextlib.asynccontextmanager
async def scripted(script: Script, host: str = "127.0.0.1") -> AsyncIterator[Raw]:
    """Serve every connection with `script(writer, request_head)`, then close."""
    raw = Raw(port=0, host=host)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await _read_head(reader)
            raw.requests.append(head)
            task = asyncio.ensure_future(script(writer, head))
            gone = asyncio.ensure_future(_until_eof(reader))  # the client closed: stop
            try:
                await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (task, gone):
                    t.cancel()
                await asyncio.gather(task, gone, return_exceptions=True)
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
    ("x-gzip-left-encoded", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: x-gzip\r\n",
                                        gz(BODY)), {"body_contains": "ok"}, MISMATCH_200),
    ("gzip-twice-listed", with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\n",
                                      gz(BODY)), {"body_contains": "ok"}, MISMATCH_200),
    ("head-with-a-body-anyway", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
     {"method": "HEAD"}, PROTO),
    ("204-with-a-body-anyway", b"HTTP/1.1 204 No Content\r\n\r\nok",
     {"expect_status": ("204",)}, PROTO),
    ("length-0-then-bytes", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nok", {}, PROTO),
    ("1xx-then-close", b"HTTP/1.1 100 Continue\r\n\r\n", {},
     (False, ErrorKind.CONNECT_ERROR, None)),
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


# --- time: stalls and slow drips end within the timeout, never as up ------------------


def stall_after(first: bytes) -> Script:
    async def script(writer: asyncio.StreamWriter, _: bytes) -> None:
        writer.write(first)
        await writer.drain()
        await asyncio.Event().wait()  # stalls until the client gives up (scripted's `gone`)
    return script


def drip(payload: bytes, every: float = 0.1) -> Script:
    async def script(writer: asyncio.StreamWriter, _: bytes) -> None:
        for i in range(len(payload)):
            writer.write(payload[i:i + 1])
            await writer.drain()
            await asyncio.sleep(every)
    return script


TIMEOUT_200: Verdict = (False, ErrorKind.TIMEOUT, 200)


@pytest.mark.parametrize(("first", "expected"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nall systems ok", TIMEOUT_200),
    (CHUNKED + b"e\r\nall systems ok\r\n", TIMEOUT_200),
    (b"HTTP/1.1 200 OK\r\n\r\nall systems ok", TIMEOUT_200),  # until close: never closes
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", (False, ErrorKind.TIMEOUT, None)),
    (b"", (False, ErrorKind.TIMEOUT, None)),
], ids=["length", "chunked", "until-close", "mid-head", "silent"])
async def test_a_stalled_response_times_out_within_its_timeout(
    first: bytes, expected: Verdict, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with scripted(stall_after(first)) as raw:
        plain, via_aiohttp = await same(spec(raw.url(), timeout=0.5, body_contains="ok"),
                                        monkeypatch, expected)
    assert plain.latency < 0.5 + 1.0 and via_aiohttp.latency < 0.5 + 1.0


async def test_slowloris_one_byte_per_100ms_ends_at_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload = with_length(b"HTTP/1.1 200 OK\r\n", BODY)  # ~6 s to arrive in full
    async with scripted(drip(payload)) as raw:
        plain, via_aiohttp = await same(spec(raw.url(), timeout=1.0), monkeypatch,
                                        (False, ErrorKind.TIMEOUT, None))
    assert plain.latency < 1.0 + 1.0 and via_aiohttp.latency < 1.0 + 1.0


async def test_a_dripped_body_that_completes_in_time_is_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with scripted(drip(with_length(b"HTTP/1.1 200 OK\r\n", b"ok"), every=0.005)) as raw:
        await same(spec(raw.url(), timeout=5.0, body_contains="ok"), monkeypatch, OK)


async def test_max_latency_is_too_slow_on_both(monkeypatch: pytest.MonkeyPatch) -> None:
    async def late(writer: asyncio.StreamWriter, _: bytes) -> None:
        await asyncio.sleep(0.3)
        writer.write(with_length(b"HTTP/1.1 200 OK\r\n", BODY))
        await writer.drain()

    async with scripted(late) as raw:
        plain, _ = await same(spec(raw.url(), max_latency=0.1), monkeypatch,
                              (False, ErrorKind.TOO_SLOW, 200))
        await same(spec(raw.url(), max_latency=1.5), monkeypatch, OK)
    assert plain.latency >= 0.3


# --- size: endless and huge bodies are cut at max_body_bytes ------------------------------


class Endless:
    """Sends `head`, then `prefix`, then `piece` forever; counts what it wrote."""

    def __init__(self, head: bytes, prefix: bytes, piece: bytes) -> None:
        self.head, self.prefix, self.piece = head, prefix, piece
        self.sent = 0

    async def __call__(self, writer: asyncio.StreamWriter, _: bytes) -> None:
        writer.write(self.head + self.prefix)
        while self.sent < 1 << 30:
            writer.write(self.piece)
            self.sent += len(self.piece)
            await writer.drain()


X64K = b"x" * 65536


@pytest.mark.parametrize(("endless", "kw", "expected"), [
    (Endless(b"HTTP/1.1 200 OK\r\n\r\n", b"ok", X64K), {"body_contains": "ok"}, OK),
    (Endless(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n", b"ok", X64K),
     {"body_contains": "ok"}, OK),
    (Endless(CHUNKED, b"2\r\nok\r\n", b"10000\r\n" + X64K + b"\r\n"),
     {"body_contains": "ok"}, OK),
    (Endless(b"HTTP/1.1 200 OK\r\n\r\n", b"", X64K), {"body_contains": "ok"}, MISMATCH_200),
    (Endless(b"HTTP/1.1 200 OK\r\n\r\n", b"", X64K), {}, OK),
    (Endless(b"HTTP/1.1 200 OK\r\n", b"", b"X-Flood: " + b"a" * 100 + b"\r\n"), {}, PROTO),
    (Endless(b"HTTP/1.1 200 OK\r\nX-Flood: ", b"", b"a" * 1000), {}, PROTO),
    (Endless(b"HTTP/1.1 200 ", b"", b"O" * 1000), {}, PROTO),
    (Endless(b"", b"", b"\x00" * 1000), {}, PROTO),
], ids=["until-close", "huge-length", "chunked", "needle-never", "no-condition", "header-flood",
        "endless-header-line", "endless-status-line", "endless-garbage"])
async def test_an_endless_body_is_cut_at_max_body_bytes(
    endless: Endless, kw: dict[str, Any], expected: Verdict, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with scripted(endless) as raw:
        await same(spec(raw.url(), max_body_bytes=200_000, timeout=5.0, **kw), monkeypatch,
                   expected)
    assert endless.sent < 1 << 30  # both stopped reading long before the server would


async def test_a_gzip_bomb_is_decoded_only_up_to_max_body_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = gz(b"ok" + b"\0" * (200 << 20))  # 200 MiB of zeros in ~200 KiB
    async with scripted(send(with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n",
                                         bomb))) as raw:
        await same(spec(raw.url(), max_body_bytes=100_000, timeout=5.0, body_contains="ok"),
                   monkeypatch, OK)


# --- resets -------------------------------------------------------------------------


def reset_after(first: bytes) -> Script:
    async def script(writer: asyncio.StreamWriter, _: bytes) -> None:
        writer.write(first)
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not FIN
    return script


@pytest.mark.parametrize(("first", "expected"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nall systems ok", CUT_200),
    (CHUNKED + b"e\r\nall systems ok\r\n", PROTO_200),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", (False, ErrorKind.CONNECT_ERROR, None)),
    (b"", (False, ErrorKind.CONNECT_ERROR, None)),
], ids=["length", "chunked", "mid-head", "before-anything"])
async def test_a_reset_mid_response_is_down_on_both(
    first: bytes, expected: Verdict, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with scripted(reset_after(first)) as raw:
        await same(spec(raw.url(), body_contains="ok"), monkeypatch, expected)


async def test_a_reset_ends_a_body_until_close_as_aiohttp_ends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No length: HTTP cannot tell a reset from the end; both take what came."""
    async with scripted(reset_after(b"HTTP/1.1 200 OK\r\n\r\nall systems ok")) as raw:
        plain, via_aiohttp = await on_both(spec(raw.url(), body_contains="ok"), monkeypatch)
    assert verdict(plain) == verdict(via_aiohttp), (plain, via_aiohttp)


# --- redirects ----------------------------------------------------------------------


def path_of(head: bytes) -> str:
    target = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
    return target.split(b"?", 1)[0].decode("latin-1")


def routes(table: dict[str, bytes]) -> Script:
    """Answer by request path; `{port}` in a response is the server's own port."""
    async def script(writer: asyncio.StreamWriter, head: bytes) -> None:
        port = writer.get_extra_info("sockname")[1]
        writer.write(table.get(path_of(head), b"HTTP/1.1 404 Not Found\r\n"
                               b"Content-Length: 0\r\n\r\n").replace(b"{port}", b"%d" % port))
        await writer.drain()
    return script


def moved(code: int, location: bytes) -> bytes:
    return b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % (code, location)


def hops(n: int) -> dict[str, bytes]:
    """/h{n} -> /h{n-1} -> ... -> /h0 (200): n redirects."""
    table = {f"/h{i}": moved(302, b"/h%d" % (i - 1)) for i in range(1, n + 1)}
    table["/h0"] = with_length(b"HTTP/1.1 200 OK\r\n", BODY)
    return table


ROUTES = {
    "/ok": with_length(b"HTTP/1.1 200 OK\r\n", BODY),
    "/301-relative": moved(301, b"/ok"),
    "/302-absolute": moved(302, b"http://127.0.0.1:{port}/ok"),
    "/303": moved(303, b"ok"),
    "/307": moved(307, b"/ok?x=1"),
    "/308": moved(308, b"/ok"),
    "/chain": moved(302, b"/301-relative"),
    "/loop": moved(302, b"/loop"),
    "/elsewhere": moved(302, b"http://localhost:{port}/ok"),
    "/to-https": moved(302, b"https://127.0.0.1:{port}/ok"),
    "/bad-location": moved(302, b"http://[::1/ok"),
    "/bad-port": moved(302, b"http://127.0.0.1:99999/ok"),
    "/empty-location": moved(302, b""),
    "/no-location": b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
    "/redirect-with-body": b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 5\r\n\r\nnope!",
    **hops(9), **{k.replace("/h", "/g"): v.replace(b"/h", b"/g") for k, v in hops(10).items()},
}


def bad(code: int) -> Verdict:
    return (False, ErrorKind.BAD_STATUS, code)


@pytest.mark.parametrize(("path", "follow", "expected"), [
    ("/301-relative", True, OK),
    ("/302-absolute", True, OK),
    ("/303", True, OK),
    ("/307", True, OK),
    ("/308", True, OK),
    ("/chain", True, OK),
    ("/redirect-with-body", True, OK),
    ("/loop", True, bad(302)),
    ("/h9", True, OK),  # nine redirects are followed
    ("/g10", True, bad(302)),  # the tenth ends it, as aiohttp's max_redirects
    ("/301-relative", False, bad(301)),
    ("/loop", False, bad(302)),
    ("/chain", "same-origin", OK),
    ("/elsewhere", "same-origin", bad(302)),
    ("/elsewhere", True, OK),
    ("/to-https", True, (False, ErrorKind.TLS_ERROR, None)),
    ("/to-https", "same-origin", bad(302)),
    ("/bad-location", True, bad(302)),
    ("/bad-port", True, bad(302)),
    ("/empty-location", True, bad(302)),
    ("/no-location", True, bad(302)),
])
async def test_redirects_are_judged_alike(
    path: str, follow: bool | str, expected: Verdict, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with scripted(routes(ROUTES)) as raw:
        plain, via_aiohttp = await same(
            spec(raw.url(path), follow_redirects=follow, body_contains="ok"
                 if expected[0] else None), monkeypatch, expected)
    assert not plain.unknown and not via_aiohttp.unknown


@pytest.mark.parametrize(("path", "ok"), [("/h9", True), ("/g10", False), ("/loop", False)])
async def test_the_redirect_limit_is_aiohttps_own(path: str, ok: bool) -> None:
    """The reference: aiohttp following by itself (max_redirects = 10)."""
    async with scripted(routes(ROUTES)) as raw, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)) as session:
        try:
            async with session.get(raw.url(path)) as resp:
                followed = resp.status == 200
        except aiohttp.TooManyRedirects:
            followed = False
        a = await prober.attempt(spec(raw.url(path)))
    assert followed is ok and a.ok is ok


# --- the request: what is sent ----------------------------------------------------------


def parsed(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
    return lines[0], fields


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_the_request_sent_is_aiohttps(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with scripted(send(with_length(b"HTTP/1.1 200 OK\r\n", BODY)), host=host) as raw:
        url = raw.url("/a%2Fb/c%20d/%7Euser?q=x%26y&z=%E2%82%AC&empty=#frag")
        headers = (("X-Api-Key", "k3y"), ("Accept", "application/json"))
        await same(spec(url, headers=headers), monkeypatch, OK)
    (line_p, plain), (line_a, via_aiohttp) = (parsed(r) for r in raw.requests)
    assert line_p == line_a == "GET /a%2Fb/c%20d/~user?q=x%26y&z=%E2%82%AC&empty= HTTP/1.1"
    bracketed = f"[{host}]" if ":" in host else host
    assert plain["host"] == via_aiohttp["host"] == f"{bracketed}:{raw.port}"
    for name in ("x-api-key", "accept", "accept-encoding", "user-agent"):
        assert plain[name] == via_aiohttp[name], name
    assert plain["x-api-key"] == "k3y" and plain["accept"] == "application/json"
    assert "authorization" not in plain and "authorization" not in via_aiohttp


async def test_the_host_header_leaves_out_port_80() -> None:
    req = prober.plainhttp.request_bytes(prober._url("http://example.test/x"), "GET", (), "ua")
    assert b"\r\nHost: example.test\r\n" in req


async def test_url_userinfo_is_basic_auth_and_never_in_a_detail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with scripted(send(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")) as raw:
        url = f"http://us%40er:p%3Ass%40w0rd@127.0.0.1:{raw.port}/"
        plain, via_aiohttp = await same(spec(url), monkeypatch, PROTO)
    (_, p), (_, a) = (parsed(r) for r in raw.requests)
    expected = "Basic " + base64.b64encode(b"us@er:p:ss@w0rd").decode()
    assert p["authorization"] == a["authorization"] == expected
    for att in (plain, via_aiohttp):
        assert "w0rd" not in att.detail and "p%3Ass" not in att.detail


@pytest.mark.parametrize("fault", ["refused", "timeout", "cut"])
async def test_a_url_password_stays_out_of_failure_details(
    fault: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = stall_after(b"") if fault == "timeout" else send(
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nok")
    async with scripted(script) as raw:
        port = raw.port
        if fault == "refused":
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        url = f"http://user:s3cr3tpw@127.0.0.1:{port}/"
        plain, via_aiohttp = await on_both(spec(url, timeout=0.5), monkeypatch)
    assert verdict(plain) == verdict(via_aiohttp)
    assert not plain.ok
    for att in (plain, via_aiohttp):
        assert "s3cr3tpw" not in att.detail, att.detail


# --- resources: no descriptor outlives its check; dual-stack hosts ---------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_no_socket_outlives_its_check(monkeypatch: pytest.MonkeyPatch) -> None:
    scripts: list[tuple[Script, dict[str, Any]]] = [
        (send(with_length(b"HTTP/1.1 200 OK\r\n", BODY)), {}),
        (send(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"), {}),
        (send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok"), {}),
        (stall_after(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok"), {"timeout": 0.2}),
        (Endless(b"HTTP/1.1 200 OK\r\n\r\n", b"ok", X64K), {"max_body_bytes": 70_000}),
        (routes(ROUTES), {}),
    ]
    async with contextlib.AsyncExitStack() as stack:
        servers = [(await stack.enter_async_context(scripted(s)), kw) for s, kw in scripts]
        for raw, kw in servers:  # warm up: lazily opened descriptors (resolver, executor)
            await on_both(spec(raw.url("/chain"), **kw), monkeypatch)
        await asyncio.sleep(0.1)
        before = open_fds()
        for _ in range(10):
            for raw, kw in servers:
                await on_both(spec(raw.url("/chain"), **kw), monkeypatch)
        # once the servers' side has closed too (bounded)
        await until(lambda: open_fds() <= before + 2, timeout=5, every=0.02)
        after = open_fds()
    assert after <= before + 2, (before, after)  # 120 checks: a leak would show ~120


class Ordered(AbstractResolver):
    """Resolves every name to the given addresses, in that order."""

    def __init__(self, *hosts: tuple[int, str]) -> None:
        self.hosts = hosts

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=h, port=port, family=f, proto=0,
                              flags=socket.AI_NUMERICHOST) for f, h in self.hosts]

    async def close(self) -> None:
        return None


@pytest.mark.skipif(not socket.has_ipv6, reason="needs ::1")
async def test_a_blackholed_first_address_falls_back_like_aiohttp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name with a dead first address (SYNs dropped: a full accept queue on ::1) and a
    good second one: aiohttp tries the second after 250 ms (happy eyeballs)."""
    async with scripted(send(with_length(b"HTTP/1.1 200 OK\r\n", BODY))) as raw:
        dead = socket.socket(socket.AF_INET6)
        fillers = []
        try:
            try:
                dead.bind(("::1", raw.port))
            except OSError:
                pytest.skip("the port is taken on ::1")
            dead.listen(0)
            for _ in range(3):  # fill the accept queue: further SYNs are dropped
                c = socket.socket(socket.AF_INET6)
                c.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    c.connect(("::1", raw.port))
                fillers.append(c)
            await asyncio.sleep(0.1)
            resolver = Ordered((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1"))
            url = f"http://dual.test:{raw.port}/"
            started = time.monotonic()
            plain, via_aiohttp = await on_both(spec(url, timeout=3.0, body_contains="ok"),
                                               monkeypatch, resolver=resolver)
        finally:
            for c in fillers:
                c.close()
            dead.close()
    assert verdict(via_aiohttp) == OK, via_aiohttp
    assert verdict(plain) == OK, plain
    assert time.monotonic() - started < 6.0


async def test_hostile_targets_do_not_stall_a_healthy_one() -> None:
    """Floods, drips, stalls and a bomb probed at once, on the plain path: a healthy
    target probed meanwhile stays up (each check well inside a generous timeout)."""
    hostile: list[Script] = [
        Endless(b"HTTP/1.1 200 OK\r\n", b"", b"X-Flood: " + b"a" * 100 + b"\r\n"),
        Endless(b"HTTP/1.1 200 OK\r\nX-Flood: ", b"", b"a" * 1000),
        Endless(b"HTTP/1.1 200 OK\r\n\r\n", b"", X64K),
        drip(with_length(b"HTTP/1.1 200 OK\r\n", BODY), every=0.01),
        stall_after(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok"),
        send(with_length(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n",
                         gz(b"\0" * (50 << 20)))),
    ]
    async with contextlib.AsyncExitStack() as stack:
        bad_urls = [(await stack.enter_async_context(scripted(s))).url() for s in hostile]
        good = await stack.enter_async_context(
            scripted(send(with_length(b"HTTP/1.1 200 OK\r\n", BODY))))

        async def pound(url: str) -> None:
            for _ in range(3):
                await prober.attempt(spec(url, timeout=1.0))

        flood = [asyncio.create_task(pound(u)) for u in bad_urls for _ in range(3)]
        healthy = []
        while not all(t.done() for t in flood):
            healthy.append(await prober.attempt(spec(good.url(), timeout=2.0,
                                                     body_contains="ok")))
        await asyncio.gather(*flood)
    assert len(healthy) >= 3
    assert all(verdict(a) == OK for a in healthy), [a for a in healthy if not a.ok]
