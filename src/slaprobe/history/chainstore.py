"""The hash chain in the history database: appending records, blocks of checks, and
verification, written once for SQLite and PostgreSQL (over `sql.Sql`).

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
row as the payload; `verify` then checks the table against the chain (`tables`).

Checks: each row has `n`, its insertion number. A *block* of checks is one record
covering n in [lo, hi]. A write batch extends the open block (the chain's last record)
in the same transaction as the checks, so a crash leaves the chain valid; a block
closes at BLOCK_CHECKS checks or when any other record is appended. Its content digest
is SHA-256 over its column texts (`Sql.block`: the same text on both databases).
Pruning deletes whole blocks whose checks are all past retention and appends a
`checkpoint` naming them, so the rest stays verifiable. Hand-written: no library keeps
a hash chain inside an SQL database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from slaprobe.core.evidence.chain import GENESIS, content_digest, next_record, record_digest
from slaprobe.core.model import Check
from slaprobe.core.timefmt import iso
from slaprobe.history import derived
from slaprobe.history.sql import Sql
from slaprobe.history.storeapi import Stop, Verdict, until_stopped

__all__ = ["BLOCK_CHECKS", "BLOCK_SECONDS", "CHECKPOINT", "CHECKS", "BlockWriter", "Content",
           "Verdict", "append", "chain_range", "cross_check", "prune", "records", "tail",
           "verify"]

BLOCK_CHECKS = 4096
BLOCK_SECONDS = 3600.0  # a block also closes when its checks span an hour
CHECKS = "checks"
CHECKPOINT = "checkpoint"
N_COLUMNS = 7  # the column texts of a block of checks (`Sql.block`)
Connect = Callable[[], AbstractContextManager[Sql]]


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


def read_block(db: Sql, lo: int, hi: int) -> Content:
    """The content of the checks with n in [lo, hi] as stored now."""
    count, columns = db.block(lo, hi)
    c = Content()
    c.add(int(count), columns)
    return c


_INSERT = "INSERT INTO chain VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def tail(db: Sql) -> tuple[int, str]:
    """(seq, digest) of the last record; (0, GENESIS) for an empty chain."""
    row = db.one("SELECT seq, digest FROM chain ORDER BY seq DESC LIMIT 1")
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def append(db: Sql, kind: str, payload: Mapping[str, Any], *, at: float) -> int:
    """Append one record carrying `payload`; returns its seq. Call inside a transaction."""
    if kind == CHECKS:
        raise ValueError("checks are chained by blocks (BlockWriter), not by append")
    seq, kind, at, content, text, prev, digest = next_record(tail(db), kind, payload, at)
    db.run(_INSERT, (seq, kind, at, None, None, 0, None, content, text, prev, digest))
    return seq


def records(db: Sql, kind: str) -> list[tuple[int, float, dict[str, Any]]]:
    """(seq, at, payload) of every record of a kind, in chain order."""
    return [(int(seq), float(at), json.loads(p)) for seq, at, p in db.all(
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

    def insert(self, db: Sql) -> None:
        """Insert this block's record, its digest computed."""
        text = self.content.digest()
        self.digest = record_digest(self.prev, (self.seq, CHECKS, self.at, self.lo, self.hi,
                                                self.content.count, self.last_at, text))
        db.run(_INSERT, (self.seq, CHECKS, self.at, self.lo, self.hi, self.content.count,
                         self.last_at, text, None, self.prev, self.digest))


class BlockWriter:
    """Extends the open block of checks; one per store that writes checks."""

    def __init__(self) -> None:
        self._open: _Open | None = None

    def reset(self) -> None:
        """Forget the open block (after a rolled-back transaction)."""
        self._open = None

    def add(self, db: Sql, written: Sequence[tuple[int, Check]]) -> None:
        """Chain the checks just inserted (`Sql.insert_checks`, inside that transaction):
        extend the open block while it is still the chain's last record (no other
        record, no other writer appended since), else open a new one."""
        if not written:
            return
        lo, hi = written[0][0], written[-1][0]
        last_at = max(c.at for _, c in written)
        count, columns = db.written_block(written)
        seq, prev = tail(db)
        ob = self._open
        if (ob is None or ob.seq != seq or ob.digest != prev or ob.hi >= lo
                or ob.content.count + count > BLOCK_CHECKS or last_at - ob.at >= BLOCK_SECONDS):
            ob = _Open(seq=seq + 1, at=last_at, lo=lo, hi=hi, last_at=last_at, prev=prev,
                       digest="", content=Content())
            ob.content.add(int(count), columns)
            ob.insert(db)
        else:
            ob.content.add(int(count), columns)
            ob.hi, ob.last_at = hi, max(ob.last_at, last_at)
            content = ob.content.digest()
            ob.digest = record_digest(ob.prev, (ob.seq, CHECKS, ob.at, ob.lo, ob.hi,
                                                ob.content.count, ob.last_at, content))
            db.run("UPDATE chain SET hi = ?, count = ?, last_at = ?, content = ?, digest = ?"
                   " WHERE seq = ?", (ob.hi, ob.content.count, ob.last_at, content, ob.digest,
                                      ob.seq))
        self._open = ob


def chain_range(db: Sql, lo: int, hi: int) -> None:
    """Chain checks n in [lo, hi] as closed blocks of at most BLOCK_CHECKS (imports,
    migration); each record's time is its latest check's."""
    for a in range(lo, hi + 1, BLOCK_CHECKS):
        b = min(a + BLOCK_CHECKS - 1, hi)
        content = read_block(db, a, b)
        if not content.count:
            continue
        last_at = float(db.value("SELECT max(at) FROM checks WHERE n BETWEEN ? AND ?", (a, b)))
        seq, prev = tail(db)
        _Open(seq=seq + 1, at=last_at, lo=a, hi=b, last_at=last_at, prev=prev, digest="",
              content=content).insert(db)


def prune(db: Sql, before: float, *, at: float) -> int:
    """Delete every block of checks whose checks all started before `before`, with a
    checkpoint naming them; returns the checks deleted. Call inside a transaction."""
    done = pruned_blocks(db)
    blocks = [(int(seq), lo, hi) for seq, lo, hi in db.all(
        "SELECT seq, lo, hi FROM chain WHERE kind = ? AND last_at < ? ORDER BY seq",
        (CHECKS, before)) if int(seq) not in done]
    if not blocks:
        return 0
    deleted = 0
    for _, lo, hi in blocks:
        deleted += int(db.run("DELETE FROM checks WHERE n BETWEEN ? AND ?", (lo, hi)).rowcount)
    append(db, CHECKPOINT, {"before": before, "blocks": [b[0] for b in blocks],
                            "checks": deleted}, at=at)
    return deleted


def pruned_blocks(db: Sql) -> set[int]:
    return {int(seq) for _, _, p in records(db, CHECKPOINT) for seq in p["blocks"]}


# --- verification ------------------------------------------------------------------


def tables(db: Sql) -> dict[str, tuple[str, str]]:
    """Tables whose rows are also chained as payloads: kind -> (query of its rows as
    payloads, the key naming a row)."""
    return {
        "maintenance_seen": (
            'SELECT key, id, start, "end", announced, targets, first_seen FROM maintenance_seen',
            "key"),
        "terms": (f"SELECT {db.terms_id}, since, body FROM terms", "rowid"),  # noqa: S608
    }


def seen_payload(row: tuple[Any, ...]) -> dict[str, Any]:
    key, mid, start, end, announced, targets, first_seen = row
    return {"key": key, "id": mid, "start": start, "end": end, "announced": announced,
            "targets": targets, "first_seen": first_seen}


def terms_payload(row: tuple[Any, ...]) -> dict[str, Any]:
    rowid, since, body = row
    return {"rowid": int(rowid), "since": since, "body": body}


_PAYLOAD = {"maintenance_seen": seen_payload, "terms": terms_payload}


def record_name(kind: str, seq: int, at: float) -> str:
    return f"chain record #{seq} ({kind}, written {iso(at)})"


Block = tuple[int, float, int, int, int, str]  # seq, at, lo, hi, count, content


def _block_problem(db: Sql, block: Block, pruned: set[int]) -> tuple[int, str]:
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


def _suspects(connect: Connect, blocks: list[Block], pruned: set[int],
              stop: Stop | None = None) -> tuple[int, list[int]]:
    """Check closed blocks on a snapshot of one's own: (checks, seqs that failed)."""
    with connect() as db:
        n, bad = 0, []
        for block in until_stopped(blocks, stop, every=1):
            found, problem = _block_problem(db, block, pruned)
            if problem:
                bad.append(block[0])
            else:
                n += found
        return n, bad


def verify(db: Sql, *, since_seq: int = 0, connect: Connect | None = None, workers: int = 2,
           stop: Stop | None = None) -> Verdict:
    """Walk the chain (from record `since_seq` on: the tail) and the checks its blocks
    cover; check the rows in no block and the chained tables against the chain; the
    first problem found names the record or row. One function for both databases,
    over the rows `db` returns (inside one read snapshot).

    With `connect` (other read-only snapshots of the same database), closed blocks
    are checked by `workers` threads at once (SQLite and SHA-256 run without the GIL);
    a block one of them flags is checked again here, in this transaction's snapshot,
    before it counts (a prune may have committed in between)."""
    prev, expect = GENESIS, 1
    if since_seq > 1:
        row = db.one("SELECT seq, prev FROM chain WHERE seq >= ? ORDER BY seq LIMIT 1",
                     (since_seq,))
        if row is not None:
            expect, prev = int(row[0]), str(row[1])
    n_records = n_checks = 0
    blocks: list[Block] = []
    chained = tables(db)
    payloads = {k: records(db, k) for k in chained}
    pruned = pruned_blocks(db)
    head = prev

    def fail(problem: str) -> Verdict:
        return Verdict(False, problem, n_records, n_checks, head, expect - 1)

    for seq_v, kind, at, lo_v, hi_v, count, last_at, content, payload, prev_s, digest in (
            until_stopped(db.stream(
                "SELECT seq, kind, at, lo, hi, count, last_at, content, payload, prev, digest"
                " FROM chain WHERE seq >= ? ORDER BY seq", (expect,)), stop)):
        seq = int(seq_v)
        lo, hi = (None if lo_v is None else int(lo_v)), (None if hi_v is None else int(hi_v))
        if seq != expect:
            return fail(f"chain record #{expect} is missing: deleted outside slaprobe")
        if record_digest(prev_s, (seq, kind, at, lo, hi, int(count), last_at, content)) != digest:
            return fail(f"{record_name(kind, seq, at)} was changed outside slaprobe")
        if prev_s != prev:
            return fail(f"{record_name(kind, seq, at)} does not follow #{seq - 1}: a record was "
                        "deleted or inserted outside slaprobe")
        if kind != CHECKS:
            if payload is None or content_digest(payload) != content:
                return fail(f"{record_name(kind, seq, at)} was changed outside slaprobe (payload)")
        else:
            blocks.append((seq, at, int(lo or 0), int(hi or 0), int(count), content))
        prev = head = digest
        expect += 1
        n_records += 1
    here = blocks[-1:]
    closed = blocks[:-1]
    full = since_seq <= 1  # the whole walk: also what the figures read, against the checks
    derived_problem = ""
    if connect is not None and workers > 1 and len(closed) >= 2 * workers:
        n_checks, suspects, derived_problem = _in_parallel(connect, closed, pruned, workers,
                                                           timelines=full, stop=stop)
        full = False
        here += [b for b in closed if b[0] in suspects]
        here.sort()
    else:
        here = blocks
    for block in until_stopped(here, stop, every=1):  # a suspect that passes here saw a
        # prune commit between snapshots
        found, problem = _block_problem(db, block, pruned)
        if problem:
            return fail(problem)
        n_checks += found
    top = db.value("SELECT max(hi) FROM chain WHERE kind = ?", (CHECKS,))
    stray = db.one("SELECT n, target, at FROM checks WHERE n > ? ORDER BY n LIMIT 1",
                   (top or 0,))
    if stray is not None:
        return fail(f"check {stray[1]} at {iso(stray[2])} (n {stray[0]}) is in no chain "
                    "record: inserted outside slaprobe")
    for kind, (query, key) in chained.items():
        problem = cross_check(kind, db.all(query), key, payloads[kind])
        if problem:
            return fail(problem)
    problem = derived_problem
    if full and not problem:
        problem = derived.check(db, horizon(db), stop=stop)
    if problem:
        return fail(problem)
    return Verdict(True, "", n_records, n_checks, head, expect - 1)


def _in_parallel(connect: Connect, closed: list[Block], pruned: set[int], workers: int, *,
                 timelines: bool, stop: Stop | None = None) -> tuple[int, set[int], str]:
    """Closed blocks checked by `workers` threads (checks found, suspect seqs) and, with
    `timelines`, the derived timelines on a snapshot of their own beside them (mostly
    Python, while the blocks' threads spend theirs in SQLite and SHA-256)."""
    n_checks, suspects = 0, set()
    parts = [closed[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(workers + timelines) as pool:
        derived_future = pool.submit(_derived, connect, stop) if timelines else None
        for n, bad in pool.map(lambda p: _suspects(connect, p, pruned, stop), parts):
            n_checks += n
            suspects.update(bad)
        problem = "" if derived_future is None else derived_future.result()
    return n_checks, suspects, problem


def _derived(connect: Connect, stop: Stop | None = None) -> str:
    """The timelines checked on a snapshot of their own (see `derived.check`)."""
    with connect() as db:
        return derived.check(db, horizon(db), stop=stop)


def horizon(db: Sql) -> float | None:
    """The latest prune horizon (None: nothing was ever pruned)."""
    befores = [float(p["before"]) for _, _, p in records(db, CHECKPOINT)]
    return max(befores) if befores else None


def _block_where(db: Sql, lo: int, hi: int) -> str:
    row = db.one(f"SELECT {db.distinct_list('target')}, min(at), max(at) FROM checks"  # noqa: S608
                 " WHERE n BETWEEN ? AND ?", (lo, hi))
    if row is None or row[0] is None:
        return ""
    return f" ({row[0]}, {iso(row[1])} .. {iso(row[2])})"


def cross_check(kind: str, rows: Iterable[Sequence[Any]], key: str,
                chained: list[tuple[int, float, dict[str, Any]]]) -> str:
    """The table's rows (`rows`, as its query returns them) against the payloads the
    chain holds for them: '' if they agree, else the first row changed, deleted or
    inserted outside slaprobe."""
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
