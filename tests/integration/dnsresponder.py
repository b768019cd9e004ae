"""A small UDP DNS responder on 127.0.0.1 for the dns:// check tests (dnspython builds the
answers): a zone of names to records, NXDOMAIN for any other name, and names it never
answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, zone: Mapping[tuple[str, str], list[str]], silent: set[str]) -> None:
        self.zone = zone
        self.silent = silent
        self.queries: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        q = dns.message.from_wire(data)
        question = q.question[0]
        name = question.name.to_text().lower()
        self.queries.append(name)
        if name in self.silent:
            return
        r = dns.message.make_response(q)
        kind = dns.rdatatype.to_text(question.rdtype)
        records = self.zone.get((name, kind))
        if records is None and not any(n == name for n, _ in self.zone):
            r.set_rcode(dns.rcode.NXDOMAIN)
        elif records:
            r.answer.append(dns.rrset.from_text_list(name, 60, "IN", kind, records))
        assert self.transport is not None
        self.transport.sendto(r.to_wire(), addr)


@asynccontextmanager
async def responder(zone: Mapping[tuple[str, str], list[str]], silent: set[str]
                    ) -> AsyncIterator[tuple[int, _Responder]]:
    """Serves `zone` ((name with the final dot, type) -> records) on 127.0.0.1:<port>."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Responder(zone, silent), local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname")[1], proto
    finally:
        transport.close()
