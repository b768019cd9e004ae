"""Whether a failed first connection to a PostgreSQL history means the server could not
be *reached* (down, starting, stopping, not answering: retrying will get through) or
that the config is wrong (a bad URL, a refused login, a missing database or role: no
retry fixes it). libpq gives no SQLSTATE for a failed connection, only its message
(psycopg passes it on), so the decision is made on the message's known phrases.
Anything not known to be transient counts as a mistake: the daemon exits and says so.
"""

from __future__ import annotations

# libpq's (and the server's) words for a server that is not there yet, or not now
TRANSIENT = (
    "connection refused",  # nothing listens on the port: the server is stopped
    "timeout expired",  # connect_timeout passed: the host or the server does not answer
    "connection timed out",
    "no route to host",
    "network is unreachable",
    "connection reset by peer",
    "server closed the connection unexpectedly",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "the database system is not accepting connections",
    "sorry, too many clients already",
    "remaining connection slots are reserved",  # full, but for superusers
    "terminating connection due to administrator command",  # stopped while connecting
    "ssl syscall error: eof detected",  # the connection cut during the TLS handshake
    # a DNS server not answering now (EAI_AGAIN; libpq's and psycopg's wording): a name
    # that does not exist stays a mistake
    "temporary failure in name resolution",
)


def unreachable(message: str) -> bool:
    """Whether a connection failure's message says the server could not be reached
    (and a later try may succeed), rather than that the config is wrong."""
    text = message.lower()
    if "socket" in text and "no such file or directory" in text:
        return True  # a local socket that is not there: the server is stopped
    return any(phrase in text for phrase in TRANSIENT)
