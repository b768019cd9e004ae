"""Pure hash-chain arithmetic: the digest of one chain record, canonical payloads.

Each record commits to the record before it (`prev`), to its own place and kind, and
to a content digest (SHA-256 of what it covers: the lines of a block of checks, or
a canonical JSON payload). Changing, removing or inserting any covered row, or any
record, changes a digest that `verify` recomputes. There is no secret key: the chain
proves that history was not edited *outside slaprobe* (a hand edit with the sqlite3
shell); anchoring the head digest elsewhere extends that to the whole database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64


def canonical(payload: Mapping[str, Any]) -> str:
    """One text per payload: sorted keys, no spaces, floats as Python writes them."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record_digest(prev: str, record: tuple[int, str, float, int | None, int | None, int,
                                           float | None, str]) -> str:
    """The digest of one record from the digest before it and its fields: (seq, kind,
    at, lo, hi, count, last_at, content)."""
    seq, kind, at, lo, hi, count, last_at, content = record
    head = f"{prev}\n{seq}\n{kind}\n{at!r}\n{lo}\n{hi}\n{count}\n{last_at!r}\n{content}"
    return hashlib.sha256(head.encode()).hexdigest()


def next_record(tail: tuple[int, str], kind: str, payload: Mapping[str, Any], at: float
                ) -> tuple[int, str, float, str, str, str, str]:
    """The chain row that follows `tail` (seq, digest) for a payload record: seq, kind,
    at, content digest, canonical text, prev and digest (the store writes it)."""
    seq, prev = tail[0] + 1, tail[1]
    text = canonical(payload)
    content = content_digest(text)
    digest = record_digest(prev, (seq, kind, at, None, None, 0, None, content))
    return seq, kind, at, content, text, prev, digest
