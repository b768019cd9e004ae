"""Checks not yet written to the store, in finishing order: in memory up to a bound, then
in a file on local disk (a database that is away for hours must not cost the daemon's
memory, nor lose a check).

The oldest checks are in memory, the newest past the bound in the file (one JSON object
a line, appended and flushed as they come), so the order is kept: `head` reads from
memory, and memory is refilled from the file as it drains; an emptied file is
truncated. The file outlives the process: a daemon that stops (or is killed) while the
database is away finds its checks there at the next start (`Spool(path)` reads them
back first). Hand-written: a list and a file of lines is all this needs.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slaprobe.core.model import Check

MEMORY = 100_000  # checks held in memory before the file takes the rest
REFILL = 10_000  # checks read back from the file at a time

_FIELDS = ("target", "at", "ok", "interval", "latency", "status", "error", "network", "unknown",
           "location")


def dump(c: Check) -> str:
    return json.dumps([getattr(c, f) for f in _FIELDS], separators=(",", ":"))


def load(line: str) -> Check:
    values: list[Any] = json.loads(line)
    return Check(**dict(zip(_FIELDS, values, strict=True)))


class Spool:
    def __init__(self, path: Path | None, *, memory: int = MEMORY) -> None:
        self.path = path
        self.memory_limit = memory
        self._mem: deque[Check] = deque()
        self._on_disk = 0  # checks in the file not yet read back
        self._offset = 0  # where the next unread line of the file starts
        self._file: Any = None
        if path is not None and path.exists() and path.stat().st_size:
            with path.open("rb") as f:  # left by a run that stopped with checks unwritten
                self._on_disk = sum(1 for line in f if line.strip())
            self._refill()

    def __len__(self) -> int:
        return len(self._mem) + self._on_disk

    @property
    def on_disk(self) -> int:
        return self._on_disk

    def append(self, check: Check) -> None:
        if self.path is None or (not self._on_disk and len(self._mem) < self.memory_limit):
            self._mem.append(check)
            return
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(dump(check) + "\n")
        self._file.flush()
        self._on_disk += 1

    def head(self, n: int) -> list[Check]:
        """The `n` oldest checks (fewer if there are fewer), left in place."""
        while len(self._mem) < n and self._on_disk:
            self._refill()
        return [self._mem[i] for i in range(min(n, len(self._mem)))]

    def drop(self, n: int) -> None:
        """Remove the `n` oldest checks (after they were written)."""
        for _ in range(min(n, len(self._mem))):
            self._mem.popleft()
        if not self._mem and self._on_disk:
            self._refill()

    def __iter__(self) -> Iterator[Check]:
        """Every check, oldest first (the file read, not consumed)."""
        yield from self._mem
        if self._on_disk and self.path is not None:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                for line in f:
                    if line.strip():
                        yield load(line.decode())

    def _refill(self) -> None:
        if self.path is None:  # memory only: nothing on disk to read back
            return
        if self._file is not None:
            self._file.flush()
        with self.path.open("rb") as f:
            f.seek(self._offset)
            read = 0
            while read < REFILL:
                line = f.readline()
                if not line:
                    break
                self._offset += len(line)
                if line.strip():
                    self._mem.append(load(line.decode()))
                    read += 1
        self._on_disk -= read
        if not self._on_disk:
            self._truncate()

    def _truncate(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.path is not None and self.path.exists():
            os.truncate(self.path, 0)
        self._offset = 0

    def close(self) -> None:
        """Keep what is still unwritten in the file for the next start."""
        if self.path is None:
            return
        rest = list(self)
        if self._file is not None:
            self._file.close()
            self._file = None
        if not rest:
            if self.path.exists():
                self.path.unlink()
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.writelines(dump(c) + "\n" for c in rest)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)
