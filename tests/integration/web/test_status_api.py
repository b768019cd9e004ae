"""/status and /api/v1 on a real daemon probing a real local server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from faultserver import FaultServer
from promtext import Scrape
from waits import until

from slaprobe.config import parse
from slaprobe.core.timefmt import iso, parse_instant
from slaprobe.incidents import stored as incidents
from slaprobe.ops.daemon import Daemon
from slaprobe.reporting import report
from slaprobe.web import pages as webui
from slaprobe.web import server


async def _nothing_pending(d: Daemon) -> bool:
    return Scrape(await d.rooms.exporter.render()).value("slaprobe_store_pending_checks") == 0


async def poll(pred: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(0.05)
    return bool(pred())


@pytest.fixture
async def running(tmp_path: Path, fault_server: FaultServer) -> AsyncIterator[
        tuple[Daemon, webui.Views, str]]:
    now = time.time()
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db"), "service": "Clone<Ner>"},
        "defaults": {"interval": "1s", "timeout": "150ms", "retries": 0},
        "targets": [{"name": "app", "url": fault_server.url("/ok")},
                    {"name": "docs", "url": fault_server.url("/status/503"),
                     "critical": False}],
        "maintenance": [{"id": "soon", "start": _dt(now + 3 * 86400),
                         "end": _dt(now + 3 * 86400 + 3600), "announced": _dt(now - 60),
                         "reason": "<script>alert(1)</script>"}],
    }, env={})
    d = await Daemon.open(cfg, env={})
    await d.start()
    views = webui.Views(d)
    app = server.make_app(d.rooms.exporter.render, lambda: d.ready, routes=views.routes())
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        assert await poll(lambda: len(d.last) == 2)
        yield d, views, str(srv.make_url(""))
    finally:
        await srv.close()
        await d.shutdown(None)


def _dt(at: float) -> Any:
    return dt.datetime.fromtimestamp(round(at), dt.UTC)


async def test_status_page_is_cached_and_self_contained(
    running: tuple[Daemon, webui.Views, str],
) -> None:
    _d, views, base = running
    async with ClientSession() as s:
        bodies = await asyncio.gather(*(_get(s, f"{base}/status") for _ in range(8)))
        assert views.renders == 1
        status, headers, body = bodies[0]
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert all(b[2] == body for b in bodies)
        text = body.decode()
        assert "<script" not in text and "http://" not in text and "https://" not in text
        assert "Clone&lt;Ner&gt;" in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # upcoming maintenance
        assert "Upcoming maintenance" in text and "soon" in text
        assert text.count('<svg class=bars viewBox="0 0 90 1"') == 3  # service + 2 targets
        assert "DOWN" in text  # docs answers 503
        status2, _, body2 = await _get(s, f"{base}/status")
        assert status2 == 200 and body2 == body and views.renders == 1


async def test_status_refreshes_after_its_ttl(running: tuple[Daemon, webui.Views, str]) -> None:
    _d, views, base = running
    views.ttl = 0.0
    async with ClientSession() as s:
        await _get(s, f"{base}/status")
        assert await poll(lambda: views.renders >= 1)
        await _get(s, f"{base}/status")
        assert await poll(lambda: views.renders >= 2)


async def test_metrics_not_held_up_by_a_slow_status(
    running: tuple[Daemon, webui.Views, str],
) -> None:
    """While a /status rendering is stuck in its worker thread, /metrics answers."""
    _d, views, base = running
    release = threading.Event()
    entered = threading.Event()

    def stuck(**_: Any) -> bytes:
        entered.set()
        release.wait(20)
        return b"<!DOCTYPE html><p>late</p>"

    views._render = stuck
    async with ClientSession() as s:
        pending = asyncio.create_task(_get(s, f"{base}/status"))
        assert await poll(entered.is_set)
        t0 = time.monotonic()
        status, _, body = await asyncio.wait_for(_get(s, f"{base}/metrics"), 10)
        took = time.monotonic() - t0
        assert status == 200 and b"slaprobe_target_up" in body
        assert not pending.done()
        release.set()
        status, _, body = await asyncio.wait_for(pending, 10)
        assert status == 200 and b"late" in body
    print(f"/metrics while /status was rendering: {took * 1000:.1f} ms")


async def test_api_report_equals_the_report_code(
    running: tuple[Daemon, webui.Views, str],
) -> None:
    d, _, base = running
    a, b = (parse_instant(iso(t)) for t in (time.time() - 3600, time.time() + 0.6))
    # checks after b in both timelines: the range holds no provisional time
    assert await poll(lambda: min(c.at for c in d.last.values()) > b + 0.5)
    assert d.store is not None and d.tracker is not None
    async with ClientSession() as s:
        # the checks before b have reached the store: nothing waits to be written
        assert await until(lambda: _nothing_pending(d), timeout=15, every=0.02)
        status, headers, body = await _get(
            s, f"{base}/api/v1/report?from={iso(a)}&to={iso(b)}")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        got = json.loads(body)
        now = time.time()
        tracker = report.load_tracker(d.cfg, d.store, webui.since(d.cfg, a),
                                      d.tracker.maintenance, now)
        want = json.loads(report.render_json(
            report.build(d.cfg, tracker, a, b, now), d.cfg.daemon.service))
        # open incidents are judged at `now` (their seconds grow): compare the rest exactly
        got_inc, want_inc = got.pop("incidents", []), want.pop("incidents", [])
        assert got == want
        assert [i["id"] for i in got_inc] == [i["id"] for i in want_inc], (got_inc, want_inc)
        assert got["targets"]["docs"]["down_seconds"] > 0
        status, _, body = await _get(s, f"{base}/api/v1/report?from=now-1h")
        rel = json.loads(body)
        assert status == 200 and set(rel) >= {"from", "to", "service", "targets"}


@pytest.mark.parametrize(("query", "message"), [
    ("", "from is required"),
    ("?from=yesterday", "from: invalid time"),
    ("?from=now-1x", "from: invalid relative time"),
    ("?from=now-1h&to=2026-13-01", "to: invalid time"),
    ("?from=now&to=now-1h", "to must be after from"),
    ("?from=now-1h&bogus=1", "unknown parameter 'bogus'"),
    # what the command line refuses: never a 500
    ("?from=now-99999999999d", "outside the plausible range"),
    ("?from=1e300", "outside the plausible range"),
    ("?from=-1e300", "outside the plausible range"),
    ("?from=now-1h&to=now%2B99999999999d", "outside the plausible range"),
    ("?from=9999-12-31T23:59:59Z", "outside the plausible range"),
    # work per request is bounded: a range limit
    ("?from=1990-01-01&to=2200-01-01", "at most 400 days"),
])
async def test_api_bad_parameters_get_400_with_a_message(
    running: tuple[Daemon, webui.Views, str], query: str, message: str,
) -> None:
    _, _, base = running
    async with ClientSession() as s:
        for path in ("/api/v1/report", "/api/v1/incidents"):
            status, headers, body = await _get(s, f"{base}{path}{query}")
            assert status == 400, path
            assert headers["Content-Type"].startswith("application/json")
            assert message in json.loads(body)["error"]


async def test_api_incidents_lists_the_open_incident(
    running: tuple[Daemon, webui.Views, str],
) -> None:
    """docs (non-critical) answers 503: one open medium incident, the same as the
    incidents code gives for the range; /status lists it as open."""
    d, _, base = running
    assert d.store is not None and d.tracker is not None
    async with ClientSession() as s:

        async def listed() -> bool:  # docs' failures have opened its incident
            return len(json.loads((await _get(
                s, f"{base}/api/v1/incidents?from=now-1h"))[2])["incidents"]) > 0

        assert await until(listed, timeout=15, every=0.05)
        status, headers, body = await _get(s, f"{base}/api/v1/incidents?from=now-1h")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        got = json.loads(body)
        assert set(got) == {"from", "to", "incidents"}
        (inc,) = got["incidents"]
        assert inc["priority"] == "medium" and inc["end"] is None and inc["targets"] == ["docs"]
        a, b = parse_instant(got["from"]), parse_instant(got["to"])
        tracker = report.load_tracker(d.cfg, d.store, a - incidents.LOOKBACK,
                                      d.tracker.maintenance, b)
        want = incidents.document(incidents.in_range(
            d.cfg, tracker, incidents.first_acks(d.store.acks()), a=a, b=b, now=b), a, b)
        assert [(i["id"], i["priority"], i["start"], i["targets"]) for i in got["incidents"]] == [
            (i["id"], i["priority"], i["start"], i["targets"]) for i in want["incidents"]]
        _, _, page = await _get(s, f"{base}/status")
    assert "Open incidents (1)" in page.decode() and inc["id"] in page.decode()


async def _get(s: ClientSession, url: str) -> tuple[int, Any, bytes]:
    async with s.get(url) as r:
        return r.status, r.headers, await r.read()
