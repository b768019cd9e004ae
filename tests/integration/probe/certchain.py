"""A certificate chain with chosen lifetimes (root, intermediate, leaf for 127.0.0.1), built
with `cryptography`: trustme makes its CAs last until the year 3000, so a chain whose
intermediate expires first is built here."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Key = ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(cn: str, key: Key, issuer: x509.Name, issuer_key: Key, not_after: dt.datetime, *,
          ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.PEM)


@dataclass
class Chain:
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: Key

    def server_context(self, tmp: Path) -> ssl.SSLContext:
        """Serves the leaf and the intermediate (not the root)."""
        certfile, keyfile = tmp / "chain.pem", tmp / "key.pem"
        certfile.write_bytes(_pem(self.leaf) + _pem(self.intermediate))
        keyfile.write_bytes(self.leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certfile, keyfile)
        return ctx

    def client_context(self, *extra_roots: x509.Certificate) -> ssl.SSLContext:
        """Trusts the root (and any other roots given, which the chain does not use)."""
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(
            cadata=b"".join(_pem(c) for c in (self.root, *extra_roots)).decode())
        return ctx


def make_chain(*, root: dt.datetime, intermediate: dt.datetime, leaf: dt.datetime,
               prefix: str = "test") -> Chain:
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_cert = _cert(f"{prefix} root", root_key, _name(f"{prefix} root"), root_key, root,
                      ca=True)
    inter_cert = _cert(f"{prefix} intermediate", inter_key, root_cert.subject, root_key,
                       intermediate, ca=True)
    leaf_cert = _cert("127.0.0.1", leaf_key, inter_cert.subject, inter_key, leaf, ca=False)
    return Chain(root_cert, inter_cert, leaf_cert, leaf_key)
