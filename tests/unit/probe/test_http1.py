"""The plain-HTTP response parser: framing, limits and violations, bytes in."""

from __future__ import annotations

import gzip
import zlib

import pytest
import yarl

from slaprobe.core.probe.http1 import BodyCut, Disconnected, HttpViolation, ResponseParser
from slaprobe.probe.plainhttp import request_bytes


def parse(raw: bytes, max_body: int = 1 << 20, *, split: int = 0, head: bool = False,
          close: bool = True) -> ResponseParser:
    """Feed `raw` (in pieces of `split` bytes, 0: at once), then the close."""
    p = ResponseParser(max_body, head_request=head)
    pieces = [raw] if not split else [raw[i:i + split] for i in range(0, len(raw), split)]
    for piece in pieces:
        if p.feed(piece):
            return p
    if close:
        p.eof()
    return p


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: x\r\n\r\nok"
CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n")


@pytest.mark.parametrize("split", [0, 1, 7])
def test_length_and_chunked_bodies_in_any_pieces(split: int) -> None:
    p = parse(OK, split=split, close=False)
    assert (p.status, bytes(p.body), p.complete) == (200, b"ok", True)
    p = parse(CHUNKED, split=split, close=False)
    assert (p.status, bytes(p.body), p.complete) == (200, b"abcde", True)


def test_a_body_delimited_by_the_close_and_bare_line_feeds() -> None:
    p = parse(b"HTTP/1.0 503 Busy\n\nnot now")
    assert (p.status, bytes(p.body), p.complete) == (503, b"not now", True)


def test_the_body_is_read_at_most_max_body_far() -> None:
    p = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", max_body=4,
              close=False)
    assert (bytes(p.body), p.complete) == (b"0123", False)


def test_gzip_and_deflate_bodies_are_decoded_within_the_cap() -> None:
    body = b"needle " * 1000
    for enc, data in ((b"gzip", gzip.compress(body)), (b"deflate", zlib.compress(body)),
                      (b"deflate", zlib.compress(body)[2:-4])):  # raw deflate too
        raw = (b"HTTP/1.1 200 OK\r\nContent-Encoding: " + enc + b"\r\nContent-Length: "
               + str(len(data)).encode() + b"\r\n\r\n" + data)
        assert bytes(parse(raw, close=False).body) == body
        assert bytes(parse(raw, max_body=10, close=False).body) == body[:10]


def test_interim_responses_are_skipped_and_some_answers_have_no_body() -> None:
    p = parse(b"HTTP/1.1 100 Continue\r\n\r\n" + OK, close=False)
    assert (p.status, bytes(p.body)) == (200, b"ok")
    assert parse(b"HTTP/1.1 204 No Content\r\n\r\n", close=False).complete
    p = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", head=True, close=False)
    assert (p.status, p.complete, bytes(p.body)) == (200, True, b"")


def test_location_is_kept_for_redirects() -> None:
    p = parse(b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n",
              close=False)
    assert (p.status, p.location) == (302, "/next")


@pytest.mark.parametrize(("raw", "message"), [
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", "more than 8190 bytes"),
    (b"HTTP/1.1 200 " + b"a" * 9000, "more than 8190 bytes"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 32769 + b"\r\n", "Too many headers"),
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "Bad status line"),
    (b"HTTP/2 200\r\n\r\n", "Bad status line"),
    (b"HTTP/1.1 20 OK\r\n\r\n", "Bad status line"),
    (b"HTTP/1.1 200 OK\r\nX Bad: y\r\n\r\n", "Invalid header token"),
    (b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", "Invalid HTTP header"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Invalid character in Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
     "Duplicate Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
     "Content-Length can't be present with Transfer-Encoding"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
     "Invalid character in chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n",
     "Invalid character in chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\nok",
     "Not enough data to satisfy transfer length header"),
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
     "Can not decode content-encoding: gzip"),
])
def test_violations_name_the_cause_without_quoting_bytes(raw: bytes, message: str) -> None:
    with pytest.raises(HttpViolation) as e:
        parse(raw, split=4096)
    assert message in str(e.value)
    assert "aaaa" not in str(e.value)


def test_cut_short_before_the_head_or_the_length() -> None:
    with pytest.raises(Disconnected):
        parse(b"")
    with pytest.raises(Disconnected):
        parse(b"HTTP/1.1 200 OK\r\nContent-")
    with pytest.raises(BodyCut):
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")


def test_the_request_carries_host_credentials_and_the_configured_headers() -> None:
    req = request_bytes(yarl.URL("http://u:p%40ss@[::1]:8080/a/b?q=1"), "GET",
                        (("X-Key", "k"), ("Accept", "text/plain")), "slaprobe/t")
    lines = req.decode().split("\r\n")
    assert lines[0] == "GET /a/b?q=1 HTTP/1.1"
    assert "Host: [::1]:8080" in lines
    assert "Authorization: Basic dTpwQHNz" in lines  # u:p@ss
    assert "Accept: text/plain" in lines and "Accept: */*" not in lines
    assert lines[-3:] == ["Connection: close", "", ""]
    post = request_bytes(yarl.URL("http://example.test/"), "POST", (), "slaprobe/t").decode()
    assert "Host: example.test\r\n" in post and "Content-Length: 0\r\n" in post
