"""A raw TCP server that answers every connection with scripted bytes.

For responses no HTTP framework would send: oversize headers, broken chunking,
garbage instead of a status line. Bound to 127.0.0.1 on an ephemeral port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def raw_server(payload: bytes) -> AsyncIterator[int]:
    """Serve `payload` to every client once its request has arrived; yields the port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(65536)  # a request, or a TLS ClientHello
            writer.write(payload)
            await writer.drain()
        except (Exception, asyncio.CancelledError):
            pass  # the client went away, or the server is closing
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def big_header(size: int = 20000) -> bytes:
    return b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * size + b"\r\nContent-Length: 2\r\n\r\nok"


BAD_CHUNK = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n"
GARBAGE = b"SSH-2.0-OpenSSH_9.2\r\n\r\n"
PLAIN_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
