"""The hash chain in SQLite: appending records, blocks of checks, verification.

Every record is a row of `chain` (seq, kind, at, lo, hi, count, last_at, content,
payload, prev, digest); `digest` covers the other fields and `prev`, the digest of
the record before (see `slaprobe.core.evidence.chain`).

Appending a record of any kind (the generic API, for acknowledgements and any later
kind): inside the transaction that writes the record's own rows, call

    chainstore.append(db, "ack", {"incident": "inc-...", "at": t, "by": "alice"}, at=now)

The payload is kept in the chain row as canonical JSON and covered by the digest, so a
kind whose record lives only in the chain needs no table: `Store.append_record(kind,
payload, now)` appends in its own transaction and `Store.records(kind)` reads them
back. A kind with a table of its own (maintenance first-seen, terms) also appends its
row as the payload; `verify` then checks the table against the chain (`TABLES`).

Checks: each row has `n`, its insertion number. A *block* of checks is one record
covering n in [lo, hi]. A write batch extends the open block (the chain's last record)
in the same transaction as the checks, so a crash leaves the chain valid; a block
closes at BLOCK_CHECKS checks or when any other record is appended. Its content digest
is SHA-256 over its columns as SQLite concatenates them (`_COLUMNS`). Pruning deletes
whole blocks whose checks are all past retention and appends a `checkpoint` naming
them, so the rest stays verifiable. Hand-written: no library keeps a hash chain inside
a SQLite database.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from slaprobe.core.evidence.chain import GENESIS, content_digest, next_record, record_digest
from slaprobe.core.timefmt import iso

BLOCK_CHECKS = 4096
BLOCK_SECONDS = 3600.0  # a block also closes when its checks span an hour
CHECKS = "checks"
CHECKPOINT = "checkpoint"
# The columns of a block of checks, each concatenated (comma-separated, in n order) by
# SQLite itself: per-row work stays in C, which keeps `verify` of millions of checks fast.
# `n` itself needs no column: the count and the n order of every column pin each row's
# place (a row moved, removed or added changes the count or some column).
# Integers and text only (REAL values as integer microseconds; target names cannot hold
# a comma, error texts are quoted), so every SQLite version writes the same text; NULLs
# are written, never skipped, so the columns stay aligned.
# A check's target is written `target@location` when its location is not "default"
# (names cannot hold "@"), so the blocks of a history from before locations keep their
# digests and a location changed outside slaprobe is detected.
_COLUMNS = (
    "SELECT count(*), group_concat(CASE location WHEN 'default' THEN target"
    " ELSE target || '@' || location END),"
    " group_concat(CAST(at * 1000000 AS INTEGER)), group_concat(ok + 2 * network + 4 * unknown),"
    " group_concat(coalesce(CAST(latency * 1000000 AS INTEGER), '-')),"
    " group_concat(coalesce(status, '-')), group_concat(quote(error)),"
    " group_concat(CAST(interval * 1000000 AS INTEGER))"
    " FROM checks WHERE n BETWEEN ? AND ?")
# the same before checks had a location (schema 7: its migration chains the rows)
COLUMNS_V7 = _COLUMNS.replace(
    "CASE location WHEN 'default' THEN target ELSE target || '@' || location END", "target")
N_COLUMNS = 7


class Content:
    """The content digest of a block of checks, extendable batch by batch: SHA-256 of
    each column's concatenation, then SHA-256 of those digests."""

    def __init__(self) -> None:
        self.count = 0
        self._cols = [hashlib.sha256() for _ in range(N_COLUMNS)]

    def add(self, count: int, columns: Sequence[str | None]) -> None:
        if not count:
            return
        for h, text in zip(self._cols, columns, strict=True):
            h.update((b"," if self.count else b"") + (text or "").encode())
        self.count += count

    def digest(self) -> str:
        return content_digest("".join(h.hexdigest() for h in self._cols))


def read_block(db: sqlite3.Connection, lo: int, hi: int, columns_sql: str = _COLUMNS,
               ) -> Content:
    """The content of the checks with n in [lo, hi] as stored now."""
    count, *columns = db.execute(columns_sql, (lo, hi)).fetchone()
    c = Content()
    c.add(int(count), columns)
    return c


SCHEMA = """
    CREATE TABLE chain (
        seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at REAL NOT NULL,
        lo INTEGER, hi INTEGER, count INTEGER NOT NULL, last_at REAL,
        content TEXT NOT NULL, payload TEXT, prev TEXT NOT NULL, digest TEXT NOT NULL
    )
"""


def tail(db: sqlite3.Connection) -> tuple[int, str]:
    """(seq, digest) of the last record; (0, GENESIS) for an empty chain."""
    row = db.execute("SELECT seq, digest FROM chain ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def append(db: sqlite3.Connection, kind: str, payload: Mapping[str, Any], *, at: float) -> int:
    """Append one record carrying `payload`; returns its seq. Call inside a transaction."""
    if kind == CHECKS:
        raise ValueError("checks are chained by blocks (BlockWriter), not by append")
    seq, kind, at, content, text, prev, digest = next_record(tail(db), kind, payload, at)
    db.execute("INSERT INTO chain VALUES (?, ?, ?, NULL, NULL, 0, NULL, ?, ?, ?, ?)",
               (seq, kind, at, content, text, prev, digest))
    return seq


def records(db: sqlite3.Connection, kind: str) -> list[tuple[int, float, dict[str, Any]]]:
    """(seq, at, payload) of every record of a kind, in chain order."""
    return [(seq, at, json.loads(p)) for seq, at, p in db.execute(
        "SELECT seq, at, payload FROM chain WHERE kind = ? ORDER BY seq", (kind,))]


@dataclass(slots=True)
class _Open:
    seq: int
    at: float
    lo: int
    hi: int
    last_at: float
    prev: str
    digest: str
    content: Content


class BlockWriter:
    """Extends the open block of checks; one per connection that writes checks."""

    def __init__(self) -> None:
        self._open: _Open | None = None

    def reset(self) -> None:
        """Forget the open block (after a rolled-back transaction)."""
        self._open = None

    def add(self, db: sqlite3.Connection, lo: int, hi: int, last_at: float, *, at: float,
            ) -> None:
        """Chain the checks just inserted with n in [lo, hi] (inside that transaction)."""
        if hi < lo:
            return
        count, *columns = db.execute(_COLUMNS, (lo, hi)).fetchone()
        seq, prev = tail(db)
        ob = self._open
        if (ob is None or ob.seq != seq or ob.digest != prev or ob.hi + 1 != lo
                or ob.content.count + count > BLOCK_CHECKS or last_at - ob.at >= BLOCK_SECONDS):
            ob = _Open(seq=seq + 1, at=at, lo=lo, hi=hi, last_at=last_at, prev=prev, digest="",
                       content=Content())
            ob.content.add(int(count), columns)
            content = ob.content.digest()
            ob.digest = record_digest(
                prev, (ob.seq, CHECKS, at, lo, hi, ob.content.count, last_at, content))
            db.execute("INSERT INTO chain VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                       (ob.seq, CHECKS, at, lo, hi, ob.content.count, last_at, content, prev,
                        ob.digest))
        else:
            ob.content.add(int(count), columns)
            ob.hi, ob.last_at = hi, max(ob.last_at, last_at)
            content = ob.content.digest()
            ob.digest = record_digest(ob.prev, (ob.seq, CHECKS, ob.at, ob.lo, ob.hi,
                                                ob.content.count, ob.last_at, content))
            db.execute("UPDATE chain SET hi = ?, count = ?, last_at = ?, content = ?, digest = ?"
                       " WHERE seq = ?", (ob.hi, ob.content.count, ob.last_at, content,
                                          ob.digest, ob.seq))
        self._open = ob


def chain_range(db: sqlite3.Connection, lo: int, hi: int, columns_sql: str = _COLUMNS) -> None:
    """Chain checks n in [lo, hi] as closed blocks of at most BLOCK_CHECKS (imports,
    migration); each record's time is its latest check's."""
    for a in range(lo, hi + 1, BLOCK_CHECKS):
        b = min(a + BLOCK_CHECKS - 1, hi)
        block = read_block(db, a, b, columns_sql)
        if not block.count:
            continue
        last_at = db.execute("SELECT max(at) FROM checks WHERE n BETWEEN ? AND ?",
                             (a, b)).fetchone()[0]
        seq, prev = tail(db)
        content = block.digest()
        digest = record_digest(
            prev, (seq + 1, CHECKS, last_at, a, b, block.count, last_at, content))
        db.execute("INSERT INTO chain VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                   (seq + 1, CHECKS, last_at, a, b, block.count, last_at, content, prev, digest))


def prune(db: sqlite3.Connection, before: float, *, at: float) -> int:
    """Delete every block of checks whose checks all started before `before`, with a
    checkpoint naming them; returns the checks deleted. Call inside a transaction."""
    done = pruned_blocks(db)
    blocks = [(seq, lo, hi) for seq, lo, hi in db.execute(
        "SELECT seq, lo, hi FROM chain WHERE kind = ? AND last_at < ? ORDER BY seq",
        (CHECKS, before)) if seq not in done]
    if not blocks:
        return 0
    deleted = 0
    for _, lo, hi in blocks:
        deleted += db.execute("DELETE FROM checks WHERE n BETWEEN ? AND ?", (lo, hi)).rowcount
    append(db, CHECKPOINT, {"before": before, "blocks": [b[0] for b in blocks],
                            "checks": deleted}, at=at)
    return deleted


def pruned_blocks(db: sqlite3.Connection) -> set[int]:
    return {seq for _, _, p in records(db, CHECKPOINT) for seq in p["blocks"]}


# --- verification ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    problem: str
    records: int
    checks: int
    head: str


# tables whose rows are also chained as payloads: kind -> (query of rows as payloads, key)
TABLES: dict[str, tuple[str, str]] = {
    "maintenance_seen": (
        'SELECT key, id, start, "end", announced, targets, first_seen FROM maintenance_seen',
        "key"),
    "terms": ("SELECT rowid, since, body FROM terms", "rowid"),
}


def seen_payload(row: tuple[Any, ...]) -> dict[str, Any]:
    key, mid, start, end, announced, targets, first_seen = row
    return {"key": key, "id": mid, "start": start, "end": end, "announced": announced,
            "targets": targets, "first_seen": first_seen}


def terms_payload(row: tuple[Any, ...]) -> dict[str, Any]:
    rowid, since, body = row
    return {"rowid": rowid, "since": since, "body": body}


_PAYLOAD = {"maintenance_seen": seen_payload, "terms": terms_payload}


def _walk(db: sqlite3.Connection, since: int) -> Iterator[tuple[Any, ...]]:
    cur = db.execute("SELECT seq, kind, at, lo, hi, count, last_at, content, payload, prev,"
                     " digest FROM chain WHERE seq >= ? ORDER BY seq", (since,))
    while rows := cur.fetchmany(10000):
        yield from rows


def record_name(kind: str, seq: int, at: float) -> str:
    return f"chain record #{seq} ({kind}, written {iso(at)})"



Block = tuple[int, float, int, int, int, str]  # seq, at, lo, hi, count, content


def _block_problem(db: sqlite3.Connection, block: Block, pruned: set[int]) -> tuple[int, str]:
    """(checks found, '' or what is wrong with one block)."""
    seq, at, lo, hi, count, content = block
    stored = read_block(db, lo, hi)
    found = stored.count
    if seq in pruned:
        if found:
            return 0, (f"{record_name(CHECKS, seq, at)} was pruned, but {found} checks with n "
                       f"{lo}..{hi} are back: inserted outside slaprobe")
        return 0, ""
    if found == count and stored.digest() == content:
        return found, ""
    where = _block_where(db, lo, hi)
    if found < count:
        what = f"{count - found} of its {count} checks deleted"
    elif found > count:
        what = f"{found - count} checks inserted"
    else:
        what = "a check changed"
    name = record_name(CHECKS, seq, at)
    return found, f"{name}, checks n {lo}..{hi}{where}: {what} outside slaprobe"


def _suspects(connect: Callable[[], sqlite3.Connection], blocks: list[Block],
              pruned: set[int]) -> tuple[int, list[int]]:
    """Check closed blocks on a connection of one's own: (checks, seqs that failed)."""
    db = connect()
    try:
        db.execute("BEGIN")
        n, bad = 0, []
        for block in blocks:
            found, problem = _block_problem(db, block, pruned)
            if problem:
                bad.append(block[0])
            else:
                n += found
        return n, bad
    finally:
        db.close()


def verify(db: sqlite3.Connection, *, since_seq: int = 0,
           connect: Callable[[], sqlite3.Connection] | None = None,
           workers: int = 2) -> Verdict:
    """Walk the chain (from record `since_seq` on: the tail) and the checks its blocks
    cover; check the rows in no block and the chained tables against the chain; the
    first problem found names the record or row.

    With `connect` (fresh read-only connections to the same database), closed blocks
    are checked by `workers` threads at once (SQLite and SHA-256 run without the GIL);
    a block one of them flags is checked again here, in this transaction's snapshot,
    before it counts (a prune may have committed in between)."""
    prev, expect = GENESIS, 1
    if since_seq > 1:
        row = db.execute("SELECT seq, prev FROM chain WHERE seq >= ? ORDER BY seq LIMIT 1",
                         (since_seq,)).fetchone()
        if row is not None:
            expect, prev = int(row[0]), str(row[1])
    n_records = n_checks = 0
    blocks: list[tuple[int, float, int, int, int, str]] = []
    payloads = {k: records(db, k) for k in TABLES}
    pruned = pruned_blocks(db)
    head = prev

    def fail(problem: str) -> Verdict:
        return Verdict(False, problem, n_records, n_checks, head)

    for seq, kind, at, lo, hi, count, last_at, content, payload, prev_s, digest in _walk(
            db, expect):
        if seq != expect:
            return fail(f"chain record #{expect} is missing: deleted outside slaprobe")
        if record_digest(prev_s, (seq, kind, at, lo, hi, count, last_at, content)) != digest:
            return fail(f"{record_name(kind, seq, at)} was changed outside slaprobe")
        if prev_s != prev:
            return fail(f"{record_name(kind, seq, at)} does not follow #{seq - 1}: a record was "
                        "deleted or inserted outside slaprobe")
        if kind != CHECKS:
            if payload is None or content_digest(payload) != content:
                return fail(f"{record_name(kind, seq, at)} was changed outside slaprobe (payload)")
        else:
            blocks.append((seq, at, lo, hi, count, content))
        prev = head = digest
        expect += 1
        n_records += 1
    here, suspects = blocks[-1:], set()
    closed = blocks[:-1]
    if connect is not None and workers > 1 and len(closed) >= 2 * workers:
        parts = [closed[i::workers] for i in range(workers)]
        with ThreadPoolExecutor(workers) as pool:
            for n, bad in pool.map(lambda p: _suspects(connect, p, pruned), parts):
                n_checks += n
                suspects.update(bad)
        here += [b for b in closed if b[0] in suspects]
        here.sort()
    else:
        here = blocks
    for block in here:  # a suspect that passes here saw a prune commit between snapshots
        found, problem = _block_problem(db, block, pruned)
        if problem:
            return fail(problem)
        n_checks += found
    top = db.execute("SELECT max(hi) FROM chain WHERE kind = ?", (CHECKS,)).fetchone()[0]
    stray = db.execute("SELECT n, target, at FROM checks WHERE n > ? ORDER BY n LIMIT 1",
                       (top or 0,)).fetchone()
    if stray is not None:
        return fail(f"check {stray[1]} at {iso(stray[2])} (n {stray[0]}) is in no chain "
                    "record: inserted outside slaprobe")
    for kind, (query, key) in TABLES.items():
        problem = _cross_check(db, kind, query, key, payloads[kind])
        if problem:
            return fail(problem)
    return Verdict(True, "", n_records, n_checks, head)


def _block_where(db: sqlite3.Connection, lo: int, hi: int) -> str:
    row = db.execute("SELECT group_concat(DISTINCT target), min(at), max(at) FROM checks"
                     " WHERE n BETWEEN ? AND ?", (lo, hi)).fetchone()
    if row is None or row[0] is None:
        return ""
    return f" ({row[0]}, {iso(row[1])} .. {iso(row[2])})"


def _cross_check(db: sqlite3.Connection, kind: str, query: str, key: str,
                 chained: list[tuple[int, float, dict[str, Any]]]) -> str:
    return cross_check(kind, db.execute(query), key, chained)


def cross_check(kind: str, rows: Iterable[Sequence[Any]], key: str,
                chained: list[tuple[int, float, dict[str, Any]]]) -> str:
    """The table's rows (`rows`, as its query returns them) against the payloads the
    chain holds for them: '' if they agree, else the first row changed, deleted or
    inserted outside slaprobe. Shared by the SQLite and PostgreSQL stores."""
    found = {r[key]: r for r in (_PAYLOAD[kind](tuple(row)) for row in rows)}
    by_key = {p[key]: (seq, at, p) for seq, at, p in chained}
    for k, (seq, at, p) in by_key.items():
        row = found.get(k)
        if row is None:
            return f"{kind} row {k!r} of {record_name(kind, seq, at)} was deleted outside slaprobe"
        if row != p:
            fields = sorted(f for f in p if row.get(f) != p.get(f))
            return (f"{kind} row {k!r} was changed outside slaprobe ({', '.join(fields)} "
                    f"differ from {record_name(kind, seq, at)})")
    extra = sorted(found.keys() - by_key.keys(), key=str)
    if extra:
        return f"{kind} row {extra[0]!r} is in no chain record: inserted outside slaprobe"
    return ""
