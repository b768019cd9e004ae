"""An import's rows staged on disk, so a file of any size is checked and written in
bounded memory.

The rows go into a throwaway SQLite file in a fresh temporary directory (the
system's, `TMPDIR`), removed when the stage closes, also on error. The first row of
each (target, time) lands in `first` (clustered by target and time, so a target's
rows read back in time order); any later row of the same target and time lands in
`again`, where a row that says something else is found by SQL.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from slaprobe.core.model import Check

CHUNK = 10000  # rows read back at a time
_VALUES = "line, target, at, ok, latency, status, error, interval, network, unknown"
_SCHEMA = f"""
CREATE TABLE first ({_VALUES}, PRIMARY KEY (target, at)) WITHOUT ROWID;
CREATE TABLE again ({_VALUES});
CREATE TRIGGER seen BEFORE INSERT ON first WHEN EXISTS (SELECT 1 FROM first WHERE
  target = NEW.target AND at = NEW.at)
BEGIN
  INSERT INTO again VALUES (NEW.line, NEW.target, NEW.at, NEW.ok, NEW.latency, NEW.status,
                            NEW.error, NEW.interval, NEW.network, NEW.unknown);
END;
"""  # noqa: S608
_DIFFERS = " OR ".join(f"r.{c} IS NOT s.{c}" for c in (
    "ok", "latency", "status", "error", "interval", "network", "unknown"))
# rows of a time that also appears in `again`; the one with the smallest line speaks for
# the time; the smallest line of another that says something else conflicts
_CONFLICT = f"""
WITH g AS (
  SELECT {_VALUES} FROM again
  UNION ALL
  SELECT f.line, f.target, f.at, f.ok, f.latency, f.status, f.error, f.interval, f.network,
    f.unknown FROM (SELECT DISTINCT target, at FROM again) d CROSS JOIN first f ON
    f.target = d.target AND f.at = d.at),
m AS (SELECT target, at, min(line) AS line FROM g GROUP BY target, at)
SELECT r.line, s.line, r.target, r.at FROM g r JOIN m ON m.target = r.target AND
  m.at = r.at JOIN g s ON s.line = m.line AND s.target = r.target AND s.at = r.at
WHERE r.line <> s.line AND ({_DIFFERS}) ORDER BY r.line LIMIT 1
"""  # noqa: S608


class InFileConflict(Exception):
    """Two rows of the file for one target and time that say different things."""

    def __init__(self, line: int, first_line: int, target: str, at: float) -> None:
        super().__init__(line, first_line, target, at)
        self.line, self.first_line, self.target, self.at = line, first_line, target, at


def _row(line: int, c: Check) -> tuple[Any, ...]:
    return (line, c.target, c.at, c.ok, c.latency, c.status, c.error, c.interval, c.network,
            c.unknown)


class Stage:
    """Staged rows; use as a context manager (the file is removed on exit)."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="slaprobe-import-"))
        try:
            self._db = sqlite3.connect(self._dir / "rows.db", isolation_level=None)
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -65536",
                           "temp_store = FILE"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.executescript(_SCHEMA)
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        self.total = 0  # rows staged
        self._targets: set[str] = set()
        self._last_line = -1
        self._in_order = True  # lines given in increasing order (as a file is read)

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def add(self, rows: Iterable[tuple[int, Check]]) -> None:
        """Stage every row (a CSV line and its check), CHUNK rows a statement; then
        refuse with InFileConflict the smallest line that says something else than
        the row of the same target and time with the smallest line."""
        db = self._db
        db.execute("BEGIN")
        batch: list[tuple[Any, ...]] = []
        for line, c in rows:
            batch.append(_row(line, c))
            self._targets.add(c.target)
            self._in_order = self._in_order and line > self._last_line
            self._last_line = line
            if len(batch) >= CHUNK:
                self._insert(batch)
        self._insert(batch)
        db.execute("COMMIT")
        if db.execute("SELECT 1 FROM again LIMIT 1").fetchone() is None:
            return
        hit = db.execute(_CONFLICT).fetchone()
        if hit is not None:
            raise InFileConflict(int(hit[0]), int(hit[1]), str(hit[2]), float(hit[3]))
        if not self._in_order:  # the smallest line speaks for its time
            db.execute("CREATE INDEX again_time ON again (target, at)")
            db.execute("UPDATE first SET line = (SELECT min(a.line) FROM again a WHERE"
                       " a.target = first.target AND a.at = first.at) WHERE EXISTS (SELECT 1"
                       " FROM again a WHERE a.target = first.target AND a.at = first.at AND"
                       " a.line < first.line)")

    def _insert(self, batch: list[tuple[Any, ...]]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO first VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             batch)
        self.total += len(batch)
        batch.clear()

    def targets(self) -> list[str]:
        """The targets with rows, in order."""
        return sorted(self._targets)

    def span(self, target: str) -> tuple[float, float]:
        """The first and last time of a target's rows."""
        lo, hi = self._db.execute("SELECT min(at), max(at) FROM first WHERE target = ?",
                                  (target,)).fetchone()
        return float(lo), float(hi)

    def rows(self, target: str, location: str) -> Iterator[tuple[int, Check]]:
        """A target's rows, one per time (the smallest line of it), in time order, as
        checks at `location`; read CHUNK at a time."""
        after = -float("inf")
        while True:
            part = self._db.execute(f"SELECT {_VALUES} FROM first WHERE target = ? AND"  # noqa: S608
                                    " at > ? ORDER BY at LIMIT ?",
                                    (target, after, CHUNK)).fetchall()
            for line, t, at, ok, latency, status, error, interval, network, unknown in part:
                yield line, Check(target=t, at=at, ok=bool(ok), interval=interval,
                                  latency=latency, status=status, error=error,
                                  network=bool(network), unknown=bool(unknown),
                                  location=location)
            if len(part) < CHUNK:
                return
            after = part[-1][2]
