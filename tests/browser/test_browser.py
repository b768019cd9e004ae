"""The HTML report and /status in a real browser (Debian's headless chromium).

Checked: every per-day figure in the DOM equals the CSV; nothing is fetched
(no external reference in the DOM, and the DevTools protocol sees no request
but the page itself); no horizontal overflow at 1280 px and at 390 px; the
screenshots are not blank. Skipped, with the reason, when chromium is missing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import reportcase
from aiohttp import web
from aiohttp.test_utils import TestServer
from chromium import BINARY, devtools, dump_dom, file_url, ink, png_pixels, screenshot
from htmlscan import external_references, per_day, scan

from slaprobe.config import parse
from slaprobe.core.reporting import csvout
from slaprobe.ops.daemon import Daemon
from slaprobe.reporting import report
from slaprobe.web import pages as webui
from slaprobe.web import server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BINARY is None, reason="chromium missing (Debian package chromium; "
                                              ".ci/run installs it)"),
]
HOSTILE = '<script>alert("reason")</script>'
WIDTHS = (1280, 390)


@pytest.fixture(name="report_page")
def _report_page(tmp_path: Path) -> tuple[Path, str]:
    cfg, tr = reportcase.config(), reportcase.tracker(HOSTILE)
    rep = report.build(cfg, tr, reportcase.A, reportcase.B, reportcase.NOW)
    page = tmp_path / "report.html"
    page.write_text(report.render_html(cfg, tr, rep, reportcase.NOW), encoding="utf-8")
    _, scopes = reportcase.build(HOSTILE)
    return page, csvout.render(scopes)


def test_report_dom_figures_equal_the_csv(report_page: tuple[Path, str]) -> None:
    page, csv_text = report_page
    dom = dump_dom(file_url(page))
    s = scan(dom)
    assert "script" not in s.tags and s.urls == [] and external_references(dom) == []
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert rows
    for r in rows:
        day = per_day(s.days[(r["kind"], r["name"])])[r["day"]]
        assert day["availability %"] == ("" if r["availability"] == "" else
                                         f"{float(r['availability']) * 100:.4f}")
        assert (day["up s"], day["down s"], day["excluded s"], day["unknown s"]) == (
            r["up_seconds"], r["down_seconds"], r["excluded_seconds"], r["unknown_seconds"])
        assert day["coverage %"] == f"{float(r['coverage']) * 100:.4f}"
    # the hostile maintenance reason is text in the DOM, not an element
    assert any(HOSTILE in cell for row in s.tables["maintenance"] for cell in row)


def test_report_screenshot_is_not_blank(report_page: tuple[Path, str], tmp_path: Path) -> None:
    page, _ = report_page
    png = screenshot(file_url(page), tmp_path / "shot.png", 1280, 1600)
    share, colours = ink(png)
    assert share > 0.03 and colours > 8, (share, colours)


def test_report_follows_the_dark_colour_scheme(report_page: tuple[Path, str],
                                               tmp_path: Path) -> None:
    """prefers-color-scheme: the page background is light by default, dark when the
    browser prefers dark."""
    page, _ = report_page

    def background(*extra: str) -> int:
        png = screenshot(file_url(page), tmp_path / "bg.png", 800, 600, *extra)
        _, _, rows = png_pixels(png)
        return sum(rows[0][:3])

    assert background() > 600
    assert background("--force-dark-mode", "--blink-settings=preferredColorScheme=0") < 150


async def _layout(url: str) -> dict[int, tuple[int, int, list[str], float]]:
    """Per window width: (page width, viewport width, URLs requested, ink share)."""
    out = {}
    async with devtools() as tab:
        for width in WIDTHS:
            await tab.open(url, width)
            sw = await tab.value("document.documentElement.scrollWidth")
            cw = await tab.value("document.documentElement.clientWidth")
            share, _ = ink(await tab.screenshot())
            out[width] = (sw, cw, tab.requested(), share)
    return out


async def test_report_layout_and_requests(report_page: tuple[Path, str]) -> None:
    page, _ = report_page
    url = file_url(page)
    for width, (sw, cw, requested, share) in (await _layout(url)).items():
        assert sw <= cw, f"horizontal overflow at {width} px: {sw} > {cw}"
        assert requested == [url], requested
        assert share > 0.03


@pytest.fixture(name="status_url")
async def _status_url(tmp_path: Path) -> AsyncIterator[str]:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def bad(_: web.Request) -> web.Response:
        return web.Response(status=503)

    target = web.Application()
    target.router.add_get("/ok", ok)
    target.router.add_get("/bad", bad)
    tsrv = TestServer(target, host="127.0.0.1")
    await tsrv.start_server()
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db")},
        "defaults": {"interval": "1s", "timeout": "200ms", "retries": 0},
        "targets": [{"name": "app", "url": str(tsrv.make_url("/ok"))},
                    {"name": "a-target-with-a-rather-long-name-for-phones",
                     "url": str(tsrv.make_url("/ok"))},
                    {"name": "docs", "url": str(tsrv.make_url("/bad")), "critical": False}],
    }, env={})
    d = await Daemon.open(cfg, env={})
    await d.start()
    app = server.make_app(d.rooms.exporter.render, lambda: d.ready, webui.Views(d).routes())
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        deadline = time.monotonic() + 15
        while len(d.last) < 3 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        yield str(srv.make_url("/status"))
    finally:
        await srv.close()
        await d.shutdown(None)
        await tsrv.close()


async def test_status_in_the_browser(status_url: str, tmp_path: Path) -> None:
    dom = await asyncio.to_thread(dump_dom, status_url)
    s = scan(dom)
    assert "script" not in s.tags and external_references(dom) == []
    assert set(s.urls) == {"status/feed.atom"}  # links to the feed, never fetched
    assert set(s.days) == {("service", "CloneNer"), ("target", "app"), ("target", "docs"),
                           ("target", "a-target-with-a-rather-long-name-for-phones")}
    assert all(len(per_day(t)) == 90 for t in s.days.values())
    current = {r[0].split()[0]: r[1] for r in s.tables["current"]}
    assert current["docs"] == "DOWN" and current["app"] == "up"
    for width, (sw, cw, requested, share) in (await _layout(status_url)).items():
        assert sw <= cw, f"horizontal overflow at {width} px: {sw} > {cw}"
        assert requested == [status_url], requested
        assert share > 0.03
    png = await asyncio.to_thread(screenshot, status_url, tmp_path / "s.png", 390, 1200)
    assert ink(png)[0] > 0.03
