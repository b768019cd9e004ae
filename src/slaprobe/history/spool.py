"""Checks not yet written to the store, in finishing order, kept on local disk whenever
the database cannot take them (a `kill -9` while it is away loses at most the checks in
flight).

While the database takes every batch, the checks wait in memory (they are written
within a second). Once a write fails (or memory holds `memory` checks), the spool
*spills*: every pending check goes to the file (one JSON object a line, flushed and
fsynced), and from then on each new check is appended to the file as it comes
(`sync`, off the event loop, flushed), until everything is written: then the file is
truncated and memory alone serves again. The file is the record of what is unwritten:
the oldest lines are read back into memory in chunks to be written, and stay in the
file until the file is emptied, so a killed daemon finds at its next start every check
not known written (some written ones again, which the store skips as duplicates). A
damaged line (a write cut short by the kill) is skipped and counted (`skipped`); the
rest is kept.

Bounded: the file holds at most `max_bytes`; past it new checks are dropped and
counted (`dropped`), so the recorder can say so (an event and a metric). Dropped
checks are gaps in the record: unknown time, never a false up or down.

Thread use: the event loop only appends (under a short lock); every file operation
(`sync`, `spill`, `head`, `drop`, `close`) runs in a worker thread, one at a time
(the file lock), appends and reads never interleaved out of order.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slaprobe.core.model import Check

MEMORY = 100_000  # checks held in memory (while the database is up) before spilling
REFILL = 10_000  # checks read back from the file at a time
MAX_BYTES = 512 * 1024 * 1024  # the file's bound (about 5 million checks)

_FIELDS = ("target", "at", "ok", "interval", "latency", "status", "error", "network", "unknown",
           "location")


def dump(c: Check) -> str:
    return json.dumps([getattr(c, f) for f in _FIELDS], separators=(",", ":"))


def load(line: str) -> Check:
    values: list[Any] = json.loads(line)
    return Check(**dict(zip(_FIELDS, values, strict=True)))


def _parse(line: bytes) -> Check | None:
    """A line's check; None for a damaged line."""
    try:
        return load(line.decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


class Spool:
    def __init__(self, path: Path | None, *, memory: int = MEMORY,
                 max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.memory_limit = memory
        self.max_bytes = max_bytes
        self._mem: deque[Check] = deque()  # the oldest (in the file too while durable)
        self._buffer: list[Check] = []  # newest, appended while durable, not yet in the file
        self.durable = False  # the file holds every pending check (but the buffer's)
        self._on_disk = 0  # lines in the file not yet read back
        self._offset = 0  # where the next unread line of the file starts
        self._bytes = 0  # the file's size
        self.dropped = 0  # checks refused because the file was full
        self.skipped = 0  # damaged lines skipped
        self._state = threading.Lock()  # _mem, _buffer, durable
        self._io = threading.RLock()  # one file operation at a time
        if path is not None and path.exists() and path.stat().st_size:
            with path.open("rb+") as f:  # left by a run that stopped with checks unwritten
                data = f.read()
                if not data.endswith(b"\n"):  # a line cut short: keep it apart from new ones
                    f.write(b"\n")
                    data += b"\n"
            self._on_disk = sum(1 for line in data.splitlines() if line.strip())
            self._bytes = len(data)
            self.durable = True
            self._refill()

    def __len__(self) -> int:
        return len(self._mem) + self._on_disk + len(self._buffer)

    @property
    def on_disk(self) -> int:
        """Checks whose only copy (besides memory being written) is the file."""
        return self._on_disk + (len(self._mem) if self.durable else 0)

    @property
    def wants_spill(self) -> bool:
        return self.path is not None and not self.durable and len(self._mem) >= self.memory_limit

    def append(self, check: Check) -> None:
        """A new check (on the event loop: no I/O; `sync` puts it in the file)."""
        with self._state:
            if self.durable:
                self._buffer.append(check)
            else:
                self._mem.append(check)

    def sync(self) -> None:
        """Append the buffered checks to the file, flushed (blocking: a worker thread)."""
        if self.path is None:
            return
        with self._io:
            with self._state:
                if not self.durable or not self._buffer:
                    return
                rest = list(self._buffer)  # they stay counted in the buffer until on disk
            before, dropped = self._bytes, self.dropped
            lines = self._fit(rest)
            if lines:
                try:
                    with self.path.open("ab") as f:
                        f.write(b"".join(lines))
                        f.flush()
                        os.fsync(f.fileno())
                except OSError:  # not in the file: cut what may have gone in, keep them
                    with contextlib.suppress(OSError):
                        os.truncate(self.path, before)
                    self._bytes, self.dropped = before, dropped  # offered again next time
                    raise
            with self._state:  # from the buffer to the file (len, read unlocked, may
                self._on_disk += len(lines)  # count them twice for a moment, never not)
                del self._buffer[:len(rest)]

    def _fit(self, checks: list[Check]) -> list[bytes]:
        out = []
        for c in checks:
            line = (dump(c) + "\n").encode()
            if self._bytes + len(line) > self.max_bytes:
                self.dropped += 1
                continue
            self._bytes += len(line)
            out.append(line)
        return out

    def spill(self) -> None:
        """Put every pending check in the file (blocking: a worker thread): the database
        cannot take them, so the daemon must not rely on memory to keep them."""
        if self.path is None:
            return
        with self._io:
            with self._state:
                if self.durable:
                    pending: list[Check] = []
                else:
                    pending = list(self._mem)
                    self._mem.clear()
                    self.durable = True
            if pending:
                self._truncate_file()
                lines = self._fit(pending)
                with self.path.open("wb") as f:
                    f.write(b"".join(lines))
                    f.flush()
                    os.fsync(f.fileno())
                self._on_disk = len(lines)
                self._offset = 0
        self.sync()
        with self._io:
            self._refill()

    def head(self, n: int) -> list[Check]:
        """The `n` oldest checks (fewer if there are fewer), left in place."""
        with self._io:
            self.sync()  # the newest, appended while durable, go through the file
            while len(self._mem) < n and self._on_disk:
                if not self._refill():
                    break
            with self._state:
                return [self._mem[i] for i in range(min(n, len(self._mem)))]

    def drop(self, n: int) -> None:
        """Remove the `n` oldest checks (after they were written)."""
        with self._io, self._state:
            for _ in range(min(n, len(self._mem))):
                self._mem.popleft()
            if self.durable and not self._mem and not self._on_disk and not self._buffer:
                self._truncate_file()  # all written: memory alone serves again
                self.durable = False

    def __iter__(self) -> Iterator[Check]:
        """Every check, oldest first (the file read, not consumed)."""
        with self._io:
            with self._state:
                out = list(self._mem)
                buffered = list(self._buffer)
            if self._on_disk and self.path is not None:
                with self.path.open("rb") as f:
                    f.seek(self._offset)
                    for line in f:
                        if line.strip() and (c := _parse(line)) is not None:
                            out.append(c)
        return iter(out + buffered)

    def _refill(self) -> bool:
        """Read the next lines of the file into memory; False when nothing was read."""
        if self.path is None or not self._on_disk:
            return False
        got: list[Check] = []
        read = 0
        with self.path.open("rb") as f:
            f.seek(self._offset)
            while read < REFILL:
                line = f.readline()
                if not line:
                    break
                self._offset += len(line)
                if line.strip():
                    read += 1
                    c = _parse(line)
                    if c is None:
                        self.skipped += 1
                    else:
                        got.append(c)
        self._on_disk = 0 if read == 0 else self._on_disk - read
        with self._state:
            self._mem.extend(got)
        return read > 0

    def _truncate_file(self) -> None:
        if self.path is not None and self.path.exists():
            os.truncate(self.path, 0)
        self._offset = self._bytes = 0

    def close(self) -> None:
        """Keep what is still unwritten in the file for the next start (nothing
        already written: the file is rewritten with the rest)."""
        if self.path is None:
            return
        rest = list(self)
        with self._io:
            if not rest:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                return
            tmp = self.path.with_name(self.path.name + ".tmp")
            with tmp.open("w", encoding="utf-8") as f:
                f.writelines(dump(c) + "\n" for c in rest)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.path)
