"""A deadline for one call on a PostgreSQL connection, kept by the client.

A hung server (stopped, or behind a partition that drops packets without a reset)
leaves a query waiting for ever: the server's own `statement_timeout` never runs, and
the kernel still acknowledges what is sent, so TCP timeouts do not fire either. Here a
timer shuts the connection's socket down when the deadline passes; libpq's blocked read
then fails at once, psycopg raises, and the connection is marked broken (the caller
drops it and connects again later).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

DEFAULT = 5.0  # seconds: a database call that takes longer counts as failed


class Expired:
    """Whether a deadline fired (the call failed because of it)."""

    def __init__(self) -> None:
        self.fired = False


def _cut(conn: Any, expired: Expired) -> None:
    expired.fired = True
    with suppress(Exception):  # the connection may have closed meanwhile
        fd = conn.pgconn.socket
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.detach()  # the descriptor stays libpq's


@contextmanager
def deadline(conn: Any, seconds: float = DEFAULT) -> Iterator[Expired]:
    """Within the block, calls on `conn` (a psycopg connection) fail once `seconds`
    have passed: its socket is shut down."""
    expired = Expired()
    timer = threading.Timer(seconds, _cut, (conn, expired))
    timer.daemon = True
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()
