"""tcp:// and dns:// targets in the real daemon: recorded and figured like HTTP targets."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from dnsresponder import responder
from procs import Daemon, free_port, sample, write_config

pytestmark = pytest.mark.slow


async def test_tcp_and_dns_targets_are_up_down_and_recorded(
        tmp_path: Path, daemons: Callable[[Path, int], Daemon]) -> None:
    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 ready\r\n")
        try:
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(banner, "127.0.0.1", 0)
    tcp_port = server.sockets[0].getsockname()[1]
    zone = {("app.test.", "A"): ["127.0.0.10"]}
    try:
        async with responder(zone, set()) as (dns_port, _):
            port = free_port()
            cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "mail"
url = "tcp://127.0.0.1:{tcp_port}"
expect = "^220 "

[[targets]]
name = "dns"
url = "dns://127.0.0.1:{dns_port}/app.test"
expect_answers = ["127.0.0.10"]

[[targets]]
name = "moved"
url = "dns://127.0.0.1:{dns_port}/app.test"
expect_answers = ["127.0.0.99"]
critical = false
""")
            d = daemons(cfg, port)
            await d.launch()
            m = await d.wait_until(
                lambda m: all(sample(m, "slaprobe_probes_total", target=t, result=r) >= 2
                              for t, r in (("mail", "success"), ("dns", "success"),
                                           ("moved", "answer_mismatch"))),
                "two checks of each target")
            assert sample(m, "slaprobe_target_up", target="mail") == 1.0
            assert sample(m, "slaprobe_target_up", target="dns") == 1.0
            assert sample(m, "slaprobe_target_up", target="moved") == 0.0
            assert sample(m, "slaprobe_service_up", service="CloneNer") == 1.0
    finally:
        server.close()
        await server.wait_closed()
    d.stop()
    with sqlite3.connect(tmp_path / "history.db") as db:
        rows = {(t, ok, error) for t, ok, error in db.execute(
            "SELECT target, ok, error FROM checks")}
    assert rows == {("mail", 1, None), ("dns", 1, None), ("moved", 0, "answer_mismatch")}
