"""Signed statements: a closed month's statement exported with the chain records it
depends on and an Ed25519 signature by the vendor's key, checked without a database
(the file format: `slaprobe.core.evidence.statementfile`).

The private key (`[evidence] signing_key`, PEM) is read only to sign; it is never
logged or printed, and an error about it names the file, not its contents.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from slaprobe.core.evidence import statementfile as sf
from slaprobe.evidence import statements
from slaprobe.history.storeapi import HistoryStore


class KeyFileError(Exception):
    """A key file that cannot be written or read (exit 2, naming the file)."""


def keygen(key: Path, public_key: Path) -> None:
    """Write a new key pair: the private key mode 0600; an existing file is refused."""
    for p in (key, public_key):
        if p.exists():
            raise KeyFileError(f"{p} exists: a key is never overwritten (move it away first)")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pub = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    written: list[Path] = []
    try:
        for path, data, mode in ((key, pem, 0o600), (public_key, pub, 0o644)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            written.append(path)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
    except OSError as e:
        for path in written:  # nothing half-written
            path.unlink(missing_ok=True)
        raise KeyFileError(f"cannot write {e.filename or key}: {e.strerror}") from None


def load_private(path: Path, where: str) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"{where}: cannot read {path}: {e.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"{where}: {path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{where}: {path} is not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"--public-key: cannot read {path}: {e.strerror}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise KeyFileError(f"--public-key: {path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"--public-key: {path} is not an Ed25519 public key")
    return key


def _raw(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


class NotClosed(Exception):
    """The month has no statement yet."""


def export(store: HistoryStore, month: str, key: Ed25519PrivateKey | None) -> str:
    """The statement file of a closed month (NotClosed if it has no statement)."""
    seqs = [(seq, p["month"]) for seq, _, p in store.records(statements.KIND)]
    mine = next((seq for seq, m in seqs if m == month), None)
    if mine is None:
        raise NotClosed(month)
    before = max((seq for seq, _ in seqs if seq < mine), default=0)
    records = [sf.record(r) for r in store.chain_rows(before + 1, mine)]
    text = statements.stored(store)[month]
    doc = sf.document(month, text, records)
    if key is not None:
        doc["signature"] = {"algorithm": "ed25519", "public_key": _raw(key.public_key()),
                            "value": key.sign(sf.signed_bytes(doc)).hex()}
    return sf.dump(doc)


def verify(text: str, public_key: Ed25519PublicKey | None,
           ) -> tuple[str, dict[str, Any], str]:
    """Check a statement file: (its month, the report, what is said of the signature);
    Mismatch naming what does not match."""
    doc = sf.load(text)
    report = sf.check(doc)
    sig = doc.get("signature")
    if public_key is None:
        said = ("not checked (no --public-key given): the chain records and the statement "
                "agree, but who made the file is not known")
        return doc["month"], report, said + ("" if sig else "; the file is unsigned")
    if not isinstance(sig, dict) or sig.get("algorithm") != "ed25519":
        raise sf.Mismatch("the file is not signed (exported without [evidence] signing_key)")
    try:
        public_key.verify(bytes.fromhex(str(sig.get("value"))), sf.signed_bytes(doc))
    except (InvalidSignature, ValueError):
        raise sf.Mismatch("the signature is not by the key given: another key signed the "
                          "file, or its content was changed") from None
    return doc["month"], report, f"valid: signed by the key given ({_raw(public_key)[:16]}...)"
