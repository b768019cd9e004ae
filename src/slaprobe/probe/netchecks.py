"""One attempt of a `tcp://` or `dns://` check (DESIGN "Check kinds").

`tcp://HOST:PORT`: resolve (unless HOST is an address) and connect as the plain HTTP
path does (every address, the next 250 ms after one that does not answer); optionally
TLS (`tls = true`, verified like https://, its certificates' expiry recorded), optionally
`send` a string, and with `expect` read until the answer matches the regex (searched in
what has arrived): it fails once a line (the answer so far ends with a newline) does not
match, the server closes, or `max_body_bytes` arrived without a match. No `expect`: a
completed connect (and handshake) is success.

`dns://SERVER[:PORT]/NAME`: one query for `record_type` to that server over UDP (TCP
when the answer is truncated), with dnspython. NXDOMAIN, another error code or no
record of the type is `dns_error`; with `expect_answers`, each string must be one of
the answer's records (as dnspython writes them; a trailing dot and case in names do not
matter), else `answer_mismatch`. No answer at all is the caller's timeout.

Both raise what the HTTP path raises for the same failure (`plainhttp.DnsFailed`,
`plainhttp.ConnectFailed`, `ssl.SSLError`, ...) so that `prober.classify` names it; the
caller bounds the attempt with its timeout. Judged failures come back as values.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

import aiohappyeyeballs

from slaprobe.core.model import CertExpiry, ErrorKind
from slaprobe.core.spec import ProbeSpec
from slaprobe.probe import plainhttp, tlscerts

_SHOWN = 40
Verdict = tuple[ErrorKind | None, str, CertExpiry | None]  # None: success


class DnsNoAnswer(Exception):
    """The DNS server's answer was an error code, or held no record of the type."""


async def tcp(spec: ProbeSpec, ssl_context: ssl.SSLContext | None) -> Verdict:
    parts = urlsplit(spec.url)
    host, port = parts.hostname or "", parts.port or 0
    loop = asyncio.get_running_loop()
    addresses = await plainhttp.addresses(host, port, None)
    try:
        sock = await aiohappyeyeballs.start_connection(
            plainhttp.address_infos(addresses, port),
            happy_eyeballs_delay=plainhttp.HAPPY_EYEBALLS_DELAY, loop=loop)
    except OSError as e:
        raise plainhttp.ConnectFailed(host, port, e) from e
    cert = None
    try:
        if spec.tls:
            ctx = (tlscerts.recorded(ssl_context) if spec.verify_tls and ssl_context
                   else tlscerts.default_context(spec.verify_tls))
            with tlscerts.recording() as made:
                reader, writer = await asyncio.open_connection(
                    sock=sock, ssl=ctx, server_hostname=host,
                    ssl_handshake_timeout=max(spec.timeout, 0.1))
            cert = tlscerts.expiry(made[0], verified=spec.verify_tls) if made else None
        else:
            reader, writer = await asyncio.open_connection(sock=sock)
    except BaseException:
        if sock.fileno() != -1 and not spec.tls:  # (a TLS transport closes it itself)
            sock.close()
        raise
    try:
        if spec.send is not None:
            writer.write(spec.send.encode())
            await writer.drain()
        if spec.expect is None:
            return None, "", cert
        seen = b""
        while len(seen) < spec.max_body_bytes:
            chunk = await reader.read(spec.max_body_bytes - len(seen))
            if not chunk:
                break
            seen += chunk
            if spec.expect.search(seen.decode("utf-8", errors="replace")):
                return None, "", cert
            if seen.endswith(b"\n"):  # a whole line (a banner, a reply) that does not match
                break
        how = ("line" if seen.endswith(b"\n") else "closed" if len(seen) < spec.max_body_bytes
               else f"read {len(seen)} bytes")
        return (ErrorKind.ANSWER_MISMATCH,
                f"answer does not match /{_short(spec.expect.pattern)}/ ({how})", cert)
    finally:
        writer.transport.abort()


async def query(spec: ProbeSpec) -> Verdict:
    # dnspython is loaded by the first dns:// check (a daemon without one never loads it)
    import dns.asyncquery  # noqa: PLC0415
    import dns.exception  # noqa: PLC0415
    import dns.message  # noqa: PLC0415
    import dns.rcode  # noqa: PLC0415
    import dns.rdatatype  # noqa: PLC0415

    parts = urlsplit(spec.url)
    server, port = parts.hostname or "", parts.port or 53
    name = parts.path.strip("/")
    where = (await plainhttp.addresses(server, port, None))[0][1]
    rdtype = dns.rdatatype.from_text(spec.record_type)
    q = dns.message.make_query(name, rdtype)
    try:
        response, _ = await dns.asyncquery.udp_with_fallback(q, where, port=port)
    except dns.exception.DNSException as e:
        raise DnsNoAnswer(f"{type(e).__name__} from {server}") from e
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        return ErrorKind.DNS_ERROR, f"{dns.rcode.to_text(rcode)} for {_short(name)}", None
    answers = [rd.to_text() for rrset in response.answer if rrset.rdtype == rdtype
               for rd in rrset]
    if not answers:
        return (ErrorKind.DNS_ERROR,
                f"no {spec.record_type} record for {_short(name)}", None)
    have = {_norm(a) for a in answers}
    for want in spec.expect_answers:
        if _norm(want) not in have:
            return (ErrorKind.ANSWER_MISMATCH,
                    f"{spec.record_type} answer lacks {_short(want)!r}"
                    f" (got {_short(', '.join(sorted(answers)))})", None)
    return None, "", None


def _norm(text: str) -> str:
    return text.strip().rstrip(".").lower()


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
