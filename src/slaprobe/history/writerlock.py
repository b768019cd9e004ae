"""One writer per database: an OS lock held by the daemon for its life.

The lock is `flock(2)` on a sibling file `<database>.lock`, so it is the kernel's: it
goes away with the process that holds it (a `kill -9` never leaves a stale lock), and a
second daemon on the same database, in this process or another, is refused at once. The
holder writes its pid and listen address into the file so the refusal can name it.
Hand-written on `fcntl` (stdlib): the lock libraries on PyPI add nothing this needs.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path


class LockHeld(Exception):
    """Another daemon writes this database."""

    def __init__(self, database: Path, holder: dict[str, object]) -> None:
        pid = holder.get("pid", "?")
        listen = holder.get("listen", "?")
        super().__init__(
            f"database {database} is in use by another slaprobe run (pid {pid}, listening on "
            f"{listen}); one daemon writes a database: stop it, or give this one another "
            "[daemon] database")
        self.holder = holder


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class WriterLock:
    """The exclusive writer lock of one database, held until `release`."""

    def __init__(self, database: Path, *, listen: str) -> None:
        self.path = lock_path(database)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(database, holder) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps({"pid": os.getpid(), "listen": listen}) + "\n").encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _read_holder(fd: int) -> dict[str, object]:
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data.decode() or "{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
