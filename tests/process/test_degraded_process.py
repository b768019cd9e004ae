"""Degraded time in the real daemon: a target that answers slower than degraded_latency is
up (availability 1), degraded on /status, its degraded seconds credited and its latency SLI
0; the other target's SLI is 1; the report shows the degraded time; the history verifies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from procs import Daemon, free_port, sample, slaprobe, write_config

pytestmark = pytest.mark.slow


@pytest.fixture
async def slow_and_fast() -> AsyncIterator[str]:
    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(0.25)
        return web.Response(text="ok")

    async def fast(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/fast", fast)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_slow_target_is_up_and_degraded(
        tmp_path: Path, slow_and_fast: str, daemons: Callable[[Path, int], Daemon]) -> None:
    port = free_port()
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "slow"
url = "{slow_and_fast}/slow"
timeout = "800ms"             # (a loaded machine must not make it fail)
degraded_latency = "100ms"    # it takes 250 ms
latency_objective = 0.99

[[targets]]
name = "fast"
url = "{slow_and_fast}/fast"
timeout = "800ms"
degraded_latency = "600ms"    # it answers at once (a loaded machine stays well under)
""")
    d = daemons(cfg, port)
    await d.launch()
    m = await d.wait_until(
        lambda m: sample(m, "slaprobe_degraded_seconds_total", target="slow") >= 2.0
        and sample(m, "slaprobe_probes_total", target="fast", result="success") >= 3,
        "degraded time credited")
    assert sample(m, "slaprobe_target_up", target="slow") == 1.0
    assert sample(m, "slaprobe_availability_ratio", target="slow", window="1h") == 1.0
    assert sample(m, "slaprobe_latency_sli_ratio", target="slow", window="1h") == 0.0
    assert sample(m, "slaprobe_latency_sli_ratio", target="fast", window="1h") == 1.0
    assert sample(m, "slaprobe_degraded_seconds_total", target="fast") == 0.0
    assert sample(m, "slaprobe_latency_objective_ratio", target="slow") == 0.99
    async with aiohttp.ClientSession() as s, s.get(f"{d.url}/status") as r:
        page = await r.text()
    assert "degraded (up, slow)" in page
    d.stop()
    rep = slaprobe("report", "--config", str(cfg), "--from", "now-1h", "--to", "now",
                   "--format", "json", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    doc = json.loads(rep.stdout)
    slow = doc["targets"]["slow"]
    assert slow["availability"] == 1.0 and slow["down_seconds"] == 0.0
    assert slow["degraded_seconds"] > 0 and slow["degraded_seconds"] <= slow["up_seconds"]
    assert doc["targets"]["fast"]["degraded_seconds"] == 0.0
    assert doc["service"]["degraded_seconds"] == pytest.approx(slow["degraded_seconds"])
    text = slaprobe("report", "--config", str(cfg), "--from", "now-1h", "--to", "now",
                    cwd=tmp_path)
    assert "Degraded time" in text.stdout
    md = slaprobe("report", "--config", str(cfg), "--from", "now-1h", "--to", "now",
                  "--format", "markdown", cwd=tmp_path).stdout
    section = md.split("## Degraded time", 1)[1].split("\n## ", 1)[0]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in section.splitlines()
            if line.startswith("| ") and "---" not in line}
    assert set(rows) >= {"slow", "fast"}, section
    assert rows["fast"].split(" | ")[1] in {"0s", "0.0s"}
    assert rows["slow"].split(" | ")[1] not in {"0s", "0.0s"}
    verified = slaprobe("verify", "--config", str(cfg), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
