"""The feed route `/status/feed.atom` and the badge routes:
`/badge/SCOPE/availability/WINDOW.svg`, `/badge/SCOPE/state.svg` and
`/badge/TARGET/certificate.svg` (`statusfiles` makes them). A window's report (and the
recorded certificates) is computed in a worker thread and kept `ttl` seconds, so a page
embedding many badges costs one computation per window; the responses are cacheable for
as long."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from slaprobe.web import statusfiles

BADGE_TTL = 60.0
SVG = "image/svg+xml"


class Badges:
    def __init__(self, source: Any, *, ttl: float = BADGE_TTL) -> None:
        self.source = source  # pages.Source
        self.ttl = ttl
        self._reports: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = asyncio.Lock()
        self._feed: tuple[float, str] | None = None
        self._certs: tuple[float, dict[str, Any]] | None = None

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/badge/{scope}/availability/{file}", self.availability),
                web.get("/badge/{scope}/state.svg", self.state),
                web.get("/badge/{scope}/certificate.svg", self.certificate),
                web.get("/status/feed.atom", self.feed)]

    async def feed(self, _: web.Request) -> web.Response:
        """The Atom feed (`statusfiles.feed`), kept `ttl` seconds."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._feed is None or loop.time() - self._feed[0] >= self.ttl:
                src = self.source
                tracker, store = src.tracker, src.store
                if tracker is None or store is None:
                    raise web.HTTPServiceUnavailable(text="starting\n")
                cfg, windows, now = src.cfg, list(tracker.maintenance), src.clock.now()
                text = await asyncio.to_thread(lambda: statusfiles.feed(
                    cfg, store, windows, now, self_href="/status/feed.atom",
                    page_href="/status"))
                self._feed = (loop.time(), text)
            body = self._feed[1]
        return web.Response(text=body, content_type="application/atom+xml", charset="utf-8",
                            headers={"Cache-Control": f"public, max-age={int(self.ttl)}"})

    def _reply(self, text: str | None) -> web.Response:
        if text is None:
            raise web.HTTPNotFound(text="no such badge\n")
        return web.Response(text=text, content_type=SVG, charset="utf-8", headers={
            "Cache-Control": f"public, max-age={int(self.ttl)}",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    async def _report(self, window: str) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        async with self._lock:  # one computation at a time; the rest wait and share it
            hit = self._reports.get(window)
            if hit is not None and loop.time() - hit[0] < self.ttl:
                return hit[1]
            src = self.source
            tracker, store = src.tracker, src.store
            if tracker is None or store is None:
                raise web.HTTPServiceUnavailable(text="starting\n")
            cfg, windows, now = src.cfg, list(tracker.maintenance), src.clock.now()
            rep = await asyncio.to_thread(statusfiles.window_report, cfg, store, windows,
                                          window, now)
            self._reports[window] = (loop.time(), rep)
            return rep

    async def availability(self, request: web.Request) -> web.Response:
        scope, name = request.match_info["scope"], request.match_info["file"]
        cfg = self.source.cfg
        window = name.removesuffix(".svg")
        if not name.endswith(".svg") or scope not in statusfiles.scopes(cfg) or not (
                statusfiles.MONTH.fullmatch(window)
                or statusfiles.window_range(cfg, window, 0.0) is not None):
            raise web.HTTPNotFound(text="no such badge\n")
        rep = await self._report(window)
        reports = {window: rep}
        return self._reply(statusfiles.availability_badge(cfg, scope, window, reports.get))

    async def state(self, request: web.Request) -> web.Response:
        src = self.source
        tracker = src.tracker
        if tracker is None:
            raise web.HTTPServiceUnavailable(text="starting\n")
        live = statusfiles.states(src.cfg, tracker, src.clock.now())
        return self._reply(statusfiles.state_badge(src.cfg, request.match_info["scope"], live))

    async def certificate(self, request: web.Request) -> web.Response:
        src, scope = self.source, request.match_info["scope"]
        if statusfiles.certificate_badge(src.cfg, scope, {}) is None:
            raise web.HTTPNotFound(text="no such badge\n")  # before any history is read
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._certs is None or loop.time() - self._certs[0] >= self.ttl:
                store = src.store
                if store is None:
                    raise web.HTTPServiceUnavailable(text="starting\n")
                cfg, now = src.cfg, src.clock.now()
                certs = await asyncio.to_thread(statusfiles.certificates, cfg, store, now)
                self._certs = (loop.time(), certs)
            certs = self._certs[1]
        return self._reply(statusfiles.certificate_badge(src.cfg, scope, certs))
