"""Badges: served by the daemon (SVG that parses, cacheable, 404 for what does not
exist, the figure the report JSON gives) and made from a real history (`unknown` for a
window without data, a closed month from its frozen statement)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from test_status_api import _get, _nothing_pending, running  # noqa: F401  (the fixture)
from waits import until

from slaprobe.config import parse
from slaprobe.core.model import Check
from slaprobe.core.reporting import badges
from slaprobe.core.timefmt import parse_instant
from slaprobe.evidence import statements
from slaprobe.history import certlog
from slaprobe.history.store import Store
from slaprobe.ops.daemon import Daemon
from slaprobe.reporting import report
from slaprobe.web import pages as webui
from slaprobe.web import statusfiles

SVG_NS = "{http://www.w3.org/2000/svg}"


def parsed(body: bytes) -> tuple[str, str | None]:
    """(the value text, data-value) of a badge; raises if it is not well-formed SVG."""
    root = ET.fromstring(body)
    assert root.tag == f"{SVG_NS}svg" and root.get("role") == "img"
    [value] = [t for t in root.iter(f"{SVG_NS}text") if t.get("class") == "value"]
    assert root.find(f"{SVG_NS}title") is not None
    return value.text or "", root.get("data-value")


async def test_badges_served_cacheable_and_equal_to_the_report(
        running: tuple[Daemon, webui.Views, str]) -> None:  # noqa: F811
    d, _, base = running
    assert d.store is not None
    store = d.store
    # both targets' first checks are in the history before the first badge is computed
    assert await until(lambda: store.count_checks() >= 4, timeout=15, every=0.05)
    assert await until(lambda: _nothing_pending(d), timeout=15, every=0.02)
    async with ClientSession() as s:
        for scope in ("service", "app", "docs"):
            status, headers, body = await _get(s, f"{base}/badge/{scope}/availability/1h.svg")
            assert status == 200, body
            assert headers["Content-Type"].startswith("image/svg+xml")
            assert "max-age=" in headers["Cache-Control"]
            text, value = parsed(body)
            _, _, rep_body = await _get(s, f"{base}/api/v1/report?from=now-1h")
            rep = json.loads(rep_body)
            fig = rep["service"] if scope == "service" else rep["targets"][scope]
            # app up, docs down the whole time: the ratio does not move between the calls
            assert value is not None and json.loads(value) == fig["availability"]
            assert text == badges.availability_text(fig["availability"])
        _, _, body = await _get(s, f"{base}/badge/docs/availability/month.svg")
        assert parsed(body) == ("0.000%", "0.0")
        assert b'fill="' + badges.RED.encode() in body
        _, _, body = await _get(s, f"{base}/badge/app/availability/30d.svg")
        assert parsed(body) == ("100.000%", "1.0") and badges.GREEN.encode() in body
        status, _, body = await _get(s, f"{base}/badge/docs/state.svg")
        assert status == 200 and parsed(body) == ("down", "down")
        assert parsed((await _get(s, f"{base}/badge/app/state.svg"))[2]) == ("up", "up")
        assert parsed((await _get(s, f"{base}/badge/service/state.svg"))[2])[1] == "up"
        for path in ("/badge/nope/state.svg", "/badge/nope/availability/1h.svg",
                     "/badge/app/availability/2h.svg", "/badge/app/availability/1h.png",
                     "/badge/app/availability/2019-01.svg", "/badge/app/availability/2026-13.svg",
                     "/badge/app/uptime/1h.svg", "/badge/app/certificate.svg",
                     "/badge/service/certificate.svg", "/badge/nope/certificate.svg"):
            assert (await _get(s, base + path))[0] == 404, path
    assert d.cfg.daemon.service == "Clone<Ner>"


def test_unknown_without_data_and_a_closed_month_from_its_statement(tmp_path: Path) -> None:
    cfg = parse({"daemon": {"database": str(tmp_path / "h.db"), "service": "S"},
                 "targets": [{"name": "app", "url": "http://127.0.0.1:9/"},
                             {"name": "idle", "url": "http://127.0.0.1:9/idle"}]}, env={})
    store = Store(str(tmp_path / "h.db"))
    try:
        a = parse_instant("2026-10-01T00:00:00Z")
        store.write([Check("app", a + i * 30, i % 100 != 0, 30.0) for i in range(2880 * 31)])
        now = parse_instant("2026-11-02T00:00:00Z")
        assert statements.close(store, cfg, [], now, upto=now) == ["2026-10"]
        tracker = report.load_tracker(cfg, store, now - 40 * 86400, [], now)
        got: dict[str, Any] = statusfiles.all_badges(cfg, store, [], tracker, now)
        assert set(got) == {f"{s}/{p}" for s in ("service", "app", "idle") for p in (
            "state.svg", *(f"availability/{w}.svg" for w in ("1h", "1d", "7d", "30d", "month",
                                                              "2026-10")))}
        # idle was never probed: unknown (grey), never 100%
        for w in ("1h", "30d", "month", "2026-10"):
            text, value = parsed(got[f"idle/availability/{w}.svg"])
            assert (text, value) == ("unknown", "null"), w
            assert badges.GREY.encode() in got[f"idle/availability/{w}.svg"]
        assert parsed(got["idle/state.svg"]) == ("unknown", "unknown")
        # nothing in the last hour: unknown for app too
        assert parsed(got["app/availability/1h.svg"]) == ("unknown", "null")
        # the closed month: its statement's figure, exactly
        stmt = json.loads(statements.stored(store)["2026-10"])
        want = stmt["targets"]["app"]["availability"]
        assert 0.98 < want < 0.999
        assert parsed(got["app/availability/2026-10.svg"]) == (
            badges.availability_text(want), json.dumps(want))
        assert parsed(got["service/availability/2026-10.svg"])[1] == json.dumps(
            stmt["service"]["availability"])
        assert badges.RED.encode() in got["app/availability/2026-10.svg"]  # 99% < 99% far line
    finally:
        store.close()


def test_certificate_badges_for_tls_targets_only(tmp_path: Path) -> None:
    cfg = parse({"daemon": {"database": str(tmp_path / "h.db"), "service": "S"},
                 "targets": [{"name": "web", "url": "https://127.0.0.1:9/"},
                             {"name": "smtp", "url": "tcp://127.0.0.1:9", "tls": True},
                             {"name": "raw", "url": "tcp://127.0.0.1:9"},
                             {"name": "plain", "url": "http://127.0.0.1:9/"}]}, env={})
    store = Store(str(tmp_path / "h.db"))
    try:
        now = parse_instant("2026-11-02T00:00:00Z")
        # web's chain (an intermediate) ends before its leaf; recorded an hour ago
        store.append_record(certlog.KIND, {"target": "web", "leaf": now + 40 * 86400,
                                           "chain": now + 10.25 * 86400}, now - 3600)
        # a certificate of a target no longer configured, or not TLS: never a badge
        for gone in ("old", "plain"):
            store.append_record(certlog.KIND, {"target": gone, "leaf": now + 86400,
                                               "chain": None}, now - 60)
        tracker = report.load_tracker(cfg, store, now - 86400, [], now)
        got = statusfiles.all_badges(cfg, store, [], tracker, now)
        assert {p for p in got if p.endswith("certificate.svg")} == {
            "web/certificate.svg", "smtp/certificate.svg"}
        rep = report.certificates(cfg, store, now - 3600, now, now)
        assert set(rep) == {"web", "plain"}  # the report lists what is recorded
        assert rep["web"]["days_left"] == 10.25
        body = got["web/certificate.svg"]
        assert parsed(body) == ("10.2 days", "10.25") and badges.YELLOW.encode() in body
        # smtp has no certificate recorded yet: unknown, grey
        body = got["smtp/certificate.svg"]
        assert parsed(body) == ("unknown", "null") and badges.GREY.encode() in body
        for scope in ("service", "raw", "plain", "old"):
            assert statusfiles.certificate_badge(cfg, scope, rep) is None, scope
    finally:
        store.close()
