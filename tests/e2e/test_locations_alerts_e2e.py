"""End to end: three daemons on one PostgreSQL history page once, through a real
Prometheus (the shipped rules, times shortened) and a real Alertmanager (the shipped
route) to a webhook served by this test.

Three locations (east, west, north; quorum 2) probe one critical target, each at a
path of its own, so the test can cut one location's path alone. Prometheus scrapes
the three daemons, each labelled with its location as the shipped scrape config does.
  A. east's path alone is cut: east sees the target down, the consensus does not; no
     SLA alert fires (no SlaprobeCriticalTargetDown, no burn page).
  B. a real outage, seen from everywhere: SlaprobeCriticalTargetDown fires as one
     alert (no `instance`, no `location`), and the pager gets that one alert.
  C. north is killed with SIGKILL during the outage: still that one alert, and
     SlaprobeLocationSilent fires for north (from the two daemons left).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

HERE = Path(__file__).resolve().parent
for sub in (HERE, HERE.parent / "process", HERE.parent / "contract"):
    if str(sub) not in sys.path:
        sys.path.insert(0, str(sub))

import pgserver  # noqa: E402
from procs import Daemon  # noqa: E402
from test_alerting_e2e import (  # noqa: E402
    ALERTMANAGER,
    DEPLOY,
    HOST,
    PROMETHEUS,
    Procs,
    Webhook,
    e2e_alertmanager,
    e2e_rules,
    free_port,
    serve,
    until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(PROMETHEUS is None or ALERTMANAGER is None,
                       reason="prometheus and prometheus-alertmanager are needed"),
    pytest.mark.skipif(pgserver.binaries() is None,
                       reason="no PostgreSQL server binaries (Debian package postgresql)"),
]
LOCATIONS = ("east", "west", "north")
SLA_PAGES = "SlaprobeCriticalTargetDown|SlaprobeErrorBudgetBurn1h|SlaprobeErrorBudgetBurn6h"


class Target:
    def __init__(self) -> None:
        self.cut: set[str] = set()
        self.down = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        loc = request.match_info["loc"]
        if loc in self.cut:
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        if self.down:
            return web.Response(status=503, text="down")
        return web.Response(text="ok")


@pytest.fixture
def pg() -> Iterator[pgserver.Server]:
    with pgserver.server() as srv:
        yield srv


def probe_toml(tmp: Path, loc: str, port: int, target: int) -> Path:
    path = tmp / f"{loc}.toml"
    path.write_text(f"""
[daemon]
listen = "{HOST}:{port}"
database = "env:SLAPROBE_TEST_DB"
location = "{loc}"
service = "CloneNer"

[slo]
quorum = 2

[[targets]]
name = "app"
url = "http://{HOST}:{target}/{loc}"
critical = true
interval = "1s"
timeout = "500ms"
retries = 0
""")
    return path


def prometheus_yml(rules: Path, daemons: dict[str, int], alertmanager: int) -> str:
    return json.dumps({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "alerting": {"alertmanagers": [{"static_configs": [
            {"targets": [f"{HOST}:{alertmanager}"]}]}]},
        "scrape_configs": [{"job_name": "slaprobe", "static_configs": [
            {"targets": [f"{HOST}:{port}"], "labels": {"location": loc}}
            for loc, port in daemons.items()]}],
    }, indent=2)


@pytest.fixture
async def target() -> AsyncIterator[tuple[int, Target]]:
    t = Target()
    app = web.Application()
    app.router.add_get("/{loc}", t.handle)
    port = free_port()
    async with serve(app, port):
        yield port, t


async def test_three_daemons_page_once(pg: pgserver.Server, target: tuple[int, Target],
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       ) -> None:
    assert PROMETHEUS is not None and ALERTMANAGER is not None
    monkeypatch.setenv("SLAPROBE_TEST_DB", pg.new_database())
    target_port, tgt = target
    ports = {loc: free_port() for loc in LOCATIONS}
    prom_port, am_port, hook_port = free_port(), free_port(), free_port()
    rules = tmp_path / "slaprobe.rules.yml"
    rules.write_text(e2e_rules((DEPLOY / "prometheus" / "slaprobe.rules.yml").read_text()))
    prom_cfg = tmp_path / "prometheus.yml"
    prom_cfg.write_text(prometheus_yml(rules, ports, am_port))
    am_cfg = tmp_path / "alertmanager.yml"
    am_cfg.write_text(e2e_alertmanager((DEPLOY / "alertmanager" / "alertmanager.yml")
                                       .read_text(), f"http://{HOST}:{hook_port}"))
    daemons = {loc: Daemon(probe_toml(tmp_path, loc, ports[loc], target_port), ports[loc])
               for loc in LOCATIONS}
    webhook = Webhook()
    hook_app = web.Application()
    hook_app.router.add_post("/{receiver}", webhook.post)
    procs = Procs(tmp_path)
    base = f"http://{HOST}:{prom_port}"
    try:
        async with serve(hook_app, hook_port), aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=5)) as http:
            for d in daemons.values():
                await d.launch()
            procs.start("alertmanager", [
                ALERTMANAGER, f"--config.file={am_cfg}", f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address={HOST}:{am_port}", "--cluster.listen-address="])
            procs.start("prometheus", [
                PROMETHEUS, f"--config.file={prom_cfg}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={HOST}:{prom_port}"])

            async def query(expr: str) -> list[dict[str, Any]]:
                async with http.get(f"{base}/api/v1/query", params={"query": expr}) as r:
                    body = await r.json()
                assert body["status"] == "success", f"{expr}: {body}"
                return list(body["data"]["result"])

            async def alerts(name: str) -> list[dict[str, str]]:
                found = await query(f'ALERTS{{alertname=~"{name}",alertstate="firing"}}')
                return [a["metric"] for a in found]

            async def scraped() -> bool:
                return len(await query('up{job="slaprobe"} == 1')) == 3 and bool(
                    await query("slaprobe:service_measured_seconds:rate5m > 0"))

            await until("three daemons scraped", scraped, 90, procs)

            # A. one location's path alone is cut: that location's view, no SLA alert
            tgt.cut.add("east")

            async def east_cut_long() -> bool:
                assert await alerts(SLA_PAGES) == [], "a cut at one location paged"
                seen = await query('slaprobe_probe_success{location="east"} == 0')
                held = await query('min_over_time(slaprobe_probe_success{location="east"}[20s])'
                                   " == 0")
                return bool(seen and held)

            await until("east cut for 20 s", east_cut_long, 90, procs)
            assert await alerts(SLA_PAGES) == []
            assert (await query('max without (instance, location) (slaprobe_target_up)')
                    )[0]["value"][1] == "1"
            tgt.cut.clear()

            # B. a real outage: one alert, one notification
            tgt.down = True

            async def paged() -> bool:
                return bool(await alerts("SlaprobeCriticalTargetDown"))

            await until("SlaprobeCriticalTargetDown", paged, 90, procs)
            fired = await alerts("SlaprobeCriticalTargetDown")
            assert len(fired) == 1, fired
            assert "instance" not in fired[0] and "location" not in fired[0]

            def pages() -> list[dict[str, str]]:
                return [a["labels"] for n in webhook.received for a in n.body["alerts"]
                        if a["labels"].get("alertname") in SLA_PAGES.split("|")
                        and a["status"] == "firing"]

            async def notified() -> bool:
                return bool(pages())

            await until("the page notified", notified, 60, procs)

            # C. north killed with SIGKILL during the outage
            north = daemons["north"]
            assert north.proc is not None
            north.proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(north.proc.wait, 10)

            async def silent() -> bool:
                got = await alerts("SlaprobeLocationSilent")
                return any(a.get("vantage") == "north" for a in got)

            await until("SlaprobeLocationSilent for north", silent, 120, procs)
            assert [a.get("vantage") for a in await alerts("SlaprobeLocationSilent")] == [
                "north"]
            still = await alerts("SlaprobeCriticalTargetDown")
            assert len(still) == 1, still
            # each SLA page that reached the pager is one alert: one label set per name
            distinct = {json.dumps(p, sort_keys=True) for p in pages()}
            names = [json.loads(p)["alertname"] for p in distinct]
            assert len(names) == len(set(names)), distinct
            assert all("instance" not in json.loads(p) for p in distinct), distinct
    finally:
        for d in daemons.values():
            d.stop()
        procs.stop_all()
