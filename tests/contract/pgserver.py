"""A real PostgreSQL server for the tests: its own cluster in a temporary directory.

`initdb` and `pg_ctl` from Debian's `postgresql` package (under /usr/lib/postgresql/N/bin)
make a cluster that listens on 127.0.0.1 on a free port, its unix socket in the same
temporary directory; it is stopped and removed afterwards. initdb refuses to run as root,
so as root (CI) the cluster is made and run by the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

_names = itertools.count(1)


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    host: str
    port: int
    user: str
    data: Path
    bin: Path
    as_user: list[str]

    def url(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.user}@{self.host}:{self.port}/{dbname}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def password_login(self, role: str, password: str) -> str:
        """A role that must log in with `password` over TCP (the other logins stay
        trusted); its URL without the password."""
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        self.ctl("reload")
        return f"postgresql://{role}@{self.host}:{self.port}/postgres"

    def ctl(self, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
                       check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        self.ctl("stop", "-m", "fast", "-w")

    def start(self) -> None:
        self.ctl("start", "-w", "-t", "60", "-l", str(self.data.parent / "log"))


@contextlib.contextmanager
def server() -> Iterator[Server]:
    bindir = binaries()
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="slaprobe-pg-"))
    as_user: list[str] = []
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
        user = "postgres"
    data = root / "data"
    port = free_port()
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                        "-U", user, "--no-sync", "-E", "UTF8", "--locale=C"],
                       check=True, capture_output=True, timeout=120)
        with (data / "postgresql.conf").open("a") as f:  # the cluster is the tests' alone
            f.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{root}'\nfsync = off\n"
                    "synchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 100\nshared_buffers = 32MB\n")
        srv = Server("127.0.0.1", port, user, data, bindir, as_user)
        srv.start()
        try:
            yield srv
        finally:
            with contextlib.suppress(subprocess.SubprocessError):
                srv.ctl("stop", "-m", "immediate", "-w")
    finally:
        shutil.rmtree(root, ignore_errors=True)
