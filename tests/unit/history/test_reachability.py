"""Which failed first connections to a PostgreSQL history are a server that could not
be reached (the daemon starts and tries again) and which are config mistakes (exit 2):
on libpq's own messages, as psycopg passes them on."""

from __future__ import annotations

import pytest

from slaprobe.core.history.reachability import unreachable

AT = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: '


@pytest.mark.parametrize("message", [
    AT + "Connection refused\n\tIs the server running on that host and accepting TCP/IP"
         " connections?",
    AT + "timeout expired",
    AT + "No route to host",
    AT + "Network is unreachable",
    AT + "FATAL:  the database system is starting up",
    AT + "FATAL:  the database system is shutting down",
    AT + "FATAL:  the database system is not yet accepting connections",
    AT + "FATAL:  sorry, too many clients already",
    AT + "server closed the connection unexpectedly",
    AT + "FATAL:  remaining connection slots are reserved for roles with the SUPERUSER"
         " attribute",
    AT + "FATAL:  terminating connection due to administrator command",
    AT + "SSL SYSCALL error: EOF detected",
    "failed to resolve host 'db': [Errno -3] Temporary failure in name resolution",
    'could not translate host name "db" to address: Temporary failure in name resolution',
    'connection is bad: connection to server on socket "/run/postgresql/.s.PGSQL.5432"'
    " failed: No such file or directory",
])
def test_a_server_that_is_not_there_yet_is_unreachable(message: str) -> None:
    assert unreachable(message)


@pytest.mark.parametrize("message", [
    AT + 'FATAL:  password authentication failed for user "probe"',
    AT + 'FATAL:  database "slaprob" does not exist',
    AT + 'FATAL:  role "nobody" does not exist',
    AT + 'FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "probe", database "x"',
    'connection is bad: invalid integer value "notaport" for connection option "port"',
    "failed to resolve host 'db.example.invalid': [Errno -2] Name or service not known",
    AT + 'could not open certificate file "/etc/x.crt": No such file or directory',
    AT + "received invalid response to SSL negotiation: H",
    "",
])
def test_a_config_mistake_is_not(message: str) -> None:
    assert not unreachable(message)
