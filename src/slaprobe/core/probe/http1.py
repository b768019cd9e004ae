"""PURE: an HTTP/1.1 response parser for the plain-HTTP check path (bytes in, verdict out).

Hand-written because the daemon's plain `http://` checks run on asyncio protocols
instead of aiohttp's client (see `slaprobe.probe.plainhttp`: aiohttp's per-request
machinery was most of the daemon's CPU), and a check needs only a response's
status, its `Location` and the first `max_body` bytes of its body. It keeps the
limits and verdicts of aiohttp's client parser (llhttp, lenient as aiohttp sets it
for responses), so a broken response is judged the same on either path: a header
over 8190 bytes (name and value), more than 128 headers, a bad status line, a bad
header (a NUL or a bare CR in a value; other control bytes pass), a bad or
duplicate `Content-Length`, a length with any `Transfer-Encoding`, bad chunk sizes
(a chunk size line must end in CRLF), bad trailers, a chunked body cut short,
bytes after a complete response, a `br`/`zstd` body (aiohttp here decodes
neither) and an undecodable or unfinished `gzip`/`deflate` body are
`HttpViolation`s (protocol errors); a body cut short of
its `Content-Length` is `BodyCut` and a connection closed before the headers is
`Disconnected` (connection errors, as aiohttp judges them). Messages never
quote the offending bytes.

The parser is three layers of one object (no allocation between them): `_Body`
keeps and decodes the body, `_Framing` finds where it ends (length, chunks or the
close), `ResponseParser` reads the head and is the API.
"""

from __future__ import annotations

import re
import zlib

MAX_LINE = 8190
MAX_HEADERS = 128  # aiohttp ClientSession max_headers
MAX_RAW_LINE = MAX_LINE + 16  # an unfinished line longer than this cannot be valid
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_STATUS = re.compile(rb"HTTP/(?:1\.[01]|0\.9|2\.0) ([0-9][0-9][0-9])(?: ([^\r\n]*))?\r?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00\r]")  # lenient like aiohttp: other CTLs pass
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_TRAILERS_END = re.compile(rb"(?:^|\n)\r?\n")
_NO_BODY = frozenset({204, 304})
_UNDECODABLE = {b"br": "brotli (br)", b"zstd": "zstandard (zstd)"}


class HttpViolation(Exception):
    """The response breaks HTTP/1.1: the message names what (never the bytes)."""


class BodyCut(Exception):
    """The connection closed before the body its Content-Length announced."""


class Disconnected(Exception):
    """The connection closed before a complete status line and headers."""


class _Body:
    """The body kept: at most `max_body` bytes of it, decoded (`gzip`, `deflate`) as
    aiohttp decodes it; `complete` once its end was seen. (State set by
    `ResponseParser.__init__`.)"""

    __slots__ = ("_decoder", "_encoding", "body", "complete", "max_body")
    body: bytearray
    complete: bool
    max_body: int
    _decoder: zlib._Decompress | None
    _encoding: bytes

    def _decode_as(self, encoding: bytes, has_body: bool) -> None:
        """The response's Content-Encoding (lower case, not empty)."""
        if encoding == b"gzip":  # not x-gzip: aiohttp leaves that undecoded
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == b"deflate":
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS)  # raw deflate: see _keep
        self._encoding = encoding if self._decoder is not None else b""
        if encoding in _UNDECODABLE and has_body:  # aiohttp without brotli / zstandard
            raise HttpViolation(f"Can not decode content-encoding: {_UNDECODABLE[encoding]}")

    def _keep(self, data: bytes) -> bool:
        """Add body bytes (decoded); True once `max_body` bytes are held."""
        room = self.max_body - len(self.body)
        if self._decoder is not None and data:
            try:
                out = self._decoder.decompress(data, room) if room > 0 else b""
            except zlib.error:
                if self._encoding == b"deflate" and not self.body and not self._decoder.eof:
                    self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
                    self._encoding = b"raw deflate"
                    return self._keep(data)
                name = "deflate" if self._encoding == b"raw deflate" else self._encoding.decode()
                raise HttpViolation(f"Can not decode content-encoding: {name}") from None
            data = out
        self.body += data[:room]
        return len(self.body) >= self.max_body

    def _finish(self) -> bool:
        if self._encoding in (b"deflate", b"raw deflate") and self._decoder is not None \
                and not self._decoder.eof:  # as aiohttp: a deflate stream must end
            raise HttpViolation("Can not decode content-encoding: deflate")
        self.complete = True
        return True


class _Framing(_Body):
    """Where the body ends: its Content-Length, its chunks (size lines, data, trailers)
    or the connection's close; and the bounded scan of an unfinished head or trailers.
    (State set by `ResponseParser.__init__`.)"""

    __slots__ = ("_buf", "_chunk_left", "_left", "_lines", "_mode", "_scanned", "_trailers")
    _buf: bytearray
    _chunk_left: int
    _left: int
    _lines: int
    _mode: str
    _scanned: int
    _trailers: bool

    def _frame(self, no_body: bool, chunked: bool, length: int | None) -> None:
        """The body's framing, from the head."""
        if no_body:
            self._mode = ""
        elif chunked:
            self._mode = "chunked"
        elif length is not None:
            self._mode = "length" if length else ""
            self._left = length
        else:
            self._mode = "close"

    def _guard(self, buf: bytes | bytearray) -> None:
        """Bounds an unfinished head (or trailers) as it grows, scanning only new bytes:
        no line can be valid past MAX_RAW_LINE, nor so many lines."""
        start = buf.rfind(b"\n", 0, self._scanned) + 1
        pos = self._scanned
        while True:
            end = buf.find(b"\n", pos)
            if (end if end >= 0 else len(buf)) - start > MAX_RAW_LINE:
                raise HttpViolation(f"Got more than {MAX_LINE} bytes when reading")
            if end < 0:
                self._scanned = len(buf)
                return
            self._lines += 1
            if self._lines > 4 * MAX_HEADERS + 2:
                raise HttpViolation("Too many headers received")
            start = pos = end + 1

    def _body(self, data: bytes) -> bool:
        if self._mode == "length":
            take = data[:self._left]
            self._left -= len(take)
            if self._keep(take):
                return True
            if self._left == 0:
                _after_end(data[len(take):])
                return self._finish()
            return False
        if self._mode == "chunked":
            return self._chunks(data)
        if self._mode == "close":
            return self._keep(data)
        return True

    def _chunks(self, data: bytes) -> bool:
        buf = self._buf
        buf += data
        while True:
            if self._trailers:
                m = _TRAILERS_END.search(buf, max(0, self._scanned - 2))
                if m is None:
                    self._guard(buf)
                    return False
                _headers(bytes(buf[:m.start()]).split(b"\n") if m.start() else [])
                _after_end(bytes(buf[m.end():]))
                return self._finish()
            if self._chunk_left == -1:  # a size line
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > MAX_LINE:
                        raise HttpViolation(f"Got more than {MAX_LINE} bytes when reading")
                    return False
                if buf[nl - 1:nl] != b"\r":  # llhttp wants CRLF here, even when lenient
                    raise HttpViolation("Expected LF after chunk size")
                line = bytes(buf[:nl - 1]).split(b";", 1)[0].strip()
                del buf[:nl + 1]
                if not _HEX.fullmatch(line):
                    raise HttpViolation("Invalid character in chunk size")
                size = int(line, 16)
                if size == 0:
                    self._trailers = True
                    continue
                self._chunk_left = size
            elif self._chunk_left == -2:  # the line end after a chunk's data
                if len(buf) < 2:
                    if buf in (b"\n",):
                        del buf[:1]
                        self._chunk_left = -1
                        continue
                    return False
                if buf[:2] == b"\r\n":
                    del buf[:2]
                elif buf[:1] == b"\n":
                    del buf[:1]
                else:
                    raise HttpViolation("Invalid character in chunk size")
                self._chunk_left = -1
            else:
                if not buf:
                    return False
                take = bytes(buf[:self._chunk_left])
                del buf[:len(take)]
                self._chunk_left -= len(take)
                if self._chunk_left == 0:
                    self._chunk_left = -2
                if self._keep(take):
                    return True


class ResponseParser(_Framing):
    """Feed it the bytes of one connection; it says when the response is complete.

    `status` and `location` are set once the headers are in (`head_done`); `body`
    holds at most `max_body` bytes of the (decoded) body. `feed` returns True when
    nothing more is needed: the body is complete, or `max_body` bytes were read
    (`complete` tells the two apart), or the caller asked for the head only.
    """

    __slots__ = ("_head_only", "head_done", "location", "status")

    def __init__(self, max_body: int, *, head_request: bool = False) -> None:
        self.max_body = max_body
        self._head_only = head_request  # a HEAD request's response has no body
        self._buf = bytearray()
        self.status = 0
        self.location: str | None = None
        self.head_done = False
        self.complete = False
        self.body = bytearray()
        self._mode = ""  # "length", "chunked", "close" or "" (no body)
        self._left = 0  # bytes of the Content-Length still to come
        self._chunk_left = -1  # -1: a chunk size line is next; -2: the CRLF after data
        self._trailers = False
        self._decoder = None
        self._encoding = b""
        self._scanned = 0  # the unfinished head (or trailers) is scanned up to here
        self._lines = 0  # complete lines in it so far

    def feed(self, data: bytes) -> bool:
        """Head and body in one go: `feed_head`, then `feed_body` with the rest."""
        if not self.head_done:
            rest = self.feed_head(data)
            if rest is None:
                return False
            data = rest
        return self.feed_body(data)

    def feed_head(self, data: bytes) -> bytes | None:
        """Bytes before the head is complete: None until it is, then what followed it."""
        self._buf += data
        if not self._head():
            return None
        rest, self._buf = bytes(self._buf), bytearray()
        return rest

    def feed_body(self, data: bytes) -> bool:
        """Body bytes (after the head): True when nothing more is needed."""
        if self._mode == "":
            self.complete = True
            if self.status != 101:  # after a 101 the bytes are another protocol's
                _after_end(data)
            return True
        return self._body(data)

    def eof(self) -> bool:
        """The peer closed the connection: True if the response is complete by now
        (a body delimited by the close); raises if it was cut short."""
        if not self.head_done:
            if self._buf.strip():
                self._head(final=True)
            raise Disconnected("Server disconnected")
        if self.complete:
            return True
        if self._mode == "close":
            return self._finish()
        if self._mode == "length":
            raise BodyCut("connection lost mid-body")
        raise HttpViolation("Not enough data to satisfy transfer length header")

    def stop_after_head(self) -> None:
        """Read no body (the caller decided from the head, e.g. a redirect to follow)."""
        self._mode = ""
        self.complete = True

    # --- the head --------------------------------------------------------------------

    def _head(self, *, final: bool = False) -> bool:
        while True:
            m = _HEAD_END.search(self._buf, max(0, self._scanned - 3))
            if m is None:
                self._guard(self._buf)
                if final:
                    raise Disconnected("Server disconnected")
                return False
            head, rest = bytes(self._buf[:m.start()]), self._buf[m.end():]
            self._scanned = self._lines = 0
            lines = head.split(b"\n")
            status = _STATUS.fullmatch(lines[0])
            if status is None:
                if len(lines[0]) > MAX_LINE:
                    raise HttpViolation(f"Got more than {MAX_LINE} bytes when reading")
                raise HttpViolation("Bad status line")
            if len(status.group(2) or b"") > MAX_LINE:
                raise HttpViolation(f"Got more than {MAX_LINE} bytes when reading")
            code = int(status.group(1))
            headers = _headers(lines[1:])
            if 100 <= code < 200 and code != 101:  # an interim response: the next follows
                self._buf = rest
                continue
            self._buf = rest
            self.status = code
            self._framing(code, headers)
            self.head_done = True
            return True

    def _framing(self, code: int, headers: list[tuple[bytes, bytes]]) -> None:
        length: int | None = None
        chunked = coded = False
        encoding = b""
        for name, value in headers:
            lname = name.lower()
            if lname == b"content-length":
                if length is not None:
                    raise HttpViolation("Duplicate Content-Length")
                if not value.isdigit():
                    raise HttpViolation("Invalid character in Content-Length")
                length = int(value)
            elif lname == b"transfer-encoding":
                coded = True
                chunked = value.rsplit(b",", 1)[-1].strip().lower() == b"chunked"
            elif lname == b"location":
                self.location = value.decode("latin-1")
            elif lname == b"content-encoding":
                encoding = value.strip().lower()
        if coded and length is not None:  # as llhttp: whatever the coding
            raise HttpViolation("Content-Length can't be present with Transfer-Encoding")
        self._frame(self._head_only or code in _NO_BODY or code == 101, chunked, length)
        if encoding:
            self._decode_as(encoding, self._mode != "")


def _after_end(extra: bytes) -> None:
    """Bytes after a complete response on a connection that closes: aiohttp parses them as
    a next response and fails (blank lines aside)."""
    if extra.lstrip(b"\r\n"):
        raise HttpViolation("Data after the end of the response")


def _headers(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Header (or trailer) lines, checked as aiohttp checks them (lenient llhttp)."""
    out: list[tuple[bytes, bytes]] = []
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line[:1] in (b" ", b"\t"):  # obsolete line folding: part of the previous value
            if not out:
                continue  # llhttp (lenient) passes a folded first line
            name, value = out[-1]
            out[-1] = (name, value + b" " + line.strip())
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HttpViolation("Invalid header token")
        value = value.lstrip(b" \t")
        if len(name) + len(value) > MAX_LINE:  # aiohttp's max_field_size: name and value
            raise HttpViolation(f"Got more than {MAX_LINE} bytes when reading")
        value = value.rstrip(b" \t")
        if _BAD_VALUE.search(value):
            raise HttpViolation("Invalid HTTP header")
        out.append((name, value))
        if len(out) > MAX_HEADERS:
            raise HttpViolation("Too many headers received")
    return out
