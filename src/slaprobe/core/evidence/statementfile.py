"""A month's statement as one self-contained file a customer can check (pure).

The file (`slaprobe statement export`) is one JSON document, written in one exact
layout (`dump`: sorted keys, one-space indent, a final newline), so that any byte
changed is found:

    {"format": "slaprobe-statement/1", "month": "YYYY-MM",
     "statement": "<the report JSON, byte for byte as `report --month` returns it>",
     "records": [<chain records>], "signature": null | {"algorithm": "ed25519",
     "public_key": "<hex>", "value": "<hex>"}}

`records` are the chain records the statement depends on: every record after the
previous month's statement (from the chain's first record for the first month)
through the month's own statement record, in order, each with all its fields
(seq, kind, at, lo, hi, count, last_at, content, payload, prev, digest). A reader
recomputes each digest, follows `prev` from record to record (a missing record
breaks it), checks each payload against its content digest, and the last record's
payload against the statement text. The signature (Ed25519, by the vendor's key) is
over `signed_bytes`: the document without its signature, in canonical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from slaprobe.core.evidence.chain import GENESIS, canonical, content_digest, record_digest

FORMAT = "slaprobe-statement/1"
KIND = "statement"
FIELDS = ("seq", "kind", "at", "lo", "hi", "count", "last_at", "content", "payload", "prev",
          "digest")


class Mismatch(Exception):
    """What in a statement file does not match (the message names it)."""


def record(row: Sequence[Any]) -> dict[str, Any]:
    """A chain row (FIELDS order) as the file holds it."""
    return dict(zip(FIELDS, row, strict=True))


def document(month: str, statement: str, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"format": FORMAT, "month": month, "statement": statement,
            "records": [dict(r) for r in records], "signature": None}


def signed_bytes(doc: Mapping[str, Any]) -> bytes:
    """What the signature covers: the document without its signature."""
    return canonical({k: v for k, v in doc.items() if k != "signature"}).encode()


def dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=True,
                      allow_nan=False) + "\n"


def load(text: str) -> dict[str, Any]:
    """The document in `text`; Mismatch when it is not one, or not byte for byte in the
    layout `dump` writes (a byte changed)."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise Mismatch(f"not a statement file: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Mismatch(f"not a statement file (format {FORMAT} expected)")
    for key, kind in (("month", str), ("statement", str), ("records", list)):
        if not isinstance(doc.get(key), kind):
            raise Mismatch(f"field {key!r} is missing or not a {kind.__name__}")
    try:
        again = dump(doc)
    except (TypeError, ValueError) as e:
        raise Mismatch(f"the file holds a value no export writes: {e}") from None
    if again != text:
        at = next((i for i, (a, b) in enumerate(zip(again, text, strict=False)) if a != b),
                  min(len(again), len(text)))
        line = text.count("\n", 0, at) + 1
        raise Mismatch(f"line {line}: the file was changed (it is not byte for byte as "
                       "exported)")
    return doc


def _name(r: Mapping[str, Any]) -> str:
    return f"chain record #{r.get('seq')} ({r.get('kind')})"


def check(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Check everything but the signature; the statement's report (parsed). Mismatch
    names the first thing that does not match."""
    records = doc["records"]
    if not records:
        raise Mismatch("the file holds no chain records")
    prev: str | None = None
    seq: int | None = None
    for r in records:
        if not isinstance(r, dict) or set(r) != set(FIELDS):
            raise Mismatch(f"{_name(r) if isinstance(r, dict) else 'a record'} lacks fields")
        try:
            fields = (int(r["seq"]), str(r["kind"]), float(r["at"]),
                      None if r["lo"] is None else int(r["lo"]),
                      None if r["hi"] is None else int(r["hi"]), int(r["count"]),
                      None if r["last_at"] is None else float(r["last_at"]), str(r["content"]))
        except (TypeError, ValueError):
            raise Mismatch(f"{_name(r)} has a field of the wrong type") from None
        if seq is not None and fields[0] != seq + 1:
            raise Mismatch(f"chain record #{seq + 1} is missing (#{fields[0]} follows #{seq})")
        if seq is None and fields[0] == 1 and r["prev"] != GENESIS:
            raise Mismatch("chain record #1 does not start the chain")
        if prev is not None and r["prev"] != prev:
            raise Mismatch(f"{_name(r)} does not follow #{seq}: a record is missing or changed")
        if record_digest(str(r["prev"]), fields) != r["digest"]:
            raise Mismatch(f"{_name(r)} does not match its digest: changed")
        if r["kind"] != "checks" and (not isinstance(r["payload"], str)
                                      or content_digest(r["payload"]) != r["content"]):
            raise Mismatch(f"{_name(r)}: its payload does not match its content digest")
        seq, prev = fields[0], str(r["digest"])
    last = records[-1]
    if last["kind"] != KIND:
        raise Mismatch(f"the last record, {_name(last)}, is not the month's statement")
    try:
        payload = json.loads(last["payload"])
    except ValueError:
        raise Mismatch(f"{_name(last)}: its payload is not JSON") from None
    if not isinstance(payload, dict) or payload.get("month") != doc["month"]:
        raise Mismatch(f"{_name(last)} is the statement of {payload.get('month')}, not of "
                       f"{doc['month']}")
    if canonical({"month": doc["month"], "report": doc["statement"]}) != last["payload"]:
        raise Mismatch(f"the statement differs from {_name(last)}: a figure was changed")
    try:
        report: dict[str, Any] = json.loads(doc["statement"])
    except ValueError:
        raise Mismatch("the statement is not JSON") from None
    return report
