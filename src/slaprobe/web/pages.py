"""The daemon's read-only pages: /status, /api/v1/report, /api/v1/incidents.

The JSON is what `slaprobe report --format json` and `slaprobe incidents --format
json` print for the same range, from the same code.

Nothing here runs on the event loop for long: the history is read and the page
rendered in a worker thread; /status is served from a cache refreshed at most
every `ttl` seconds (one refresh at a time, stale copy served meanwhile), so a
burst of /status requests costs one rendering and a /metrics scrape never waits
behind one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from slaprobe import __version__
from slaprobe.clock import Clock
from slaprobe.core.history.degraded import is_degraded
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import Window
from slaprobe.core.model import CertExpiry, Check, State
from slaprobe.core.reltime import parse_time
from slaprobe.core.reporting import daily, statuspage
from slaprobe.core.spec import Config
from slaprobe.core.timefmt import month_range, month_start, parse_instant, plausible
from slaprobe.history.storeapi import HistoryStore
from slaprobe.incidents import stored as incidents
from slaprobe.reporting import report
from slaprobe.web import badgeviews

DAY = 86400.0
STATUS_DAYS = 90
STATUS_TTL = 15.0
API_CONCURRENCY = 2
MAX_API_DAYS = 400  # the longest range one /api/v1 request may ask for: its work is bounded
STATE_NAMES = {State.UP: "up", State.DOWN: "down", State.PROBE_NETWORK: "probe_network",
               State.MAINTENANCE: "maintenance"}


class Source(Protocol):
    """What the pages read from the daemon."""

    @property
    def cfg(self) -> Config: ...
    @property
    def store(self) -> HistoryStore | None: ...
    @property
    def tracker(self) -> Tracker | None: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def last(self) -> Mapping[str, Check]: ...
    @property
    def certs(self) -> Mapping[str, CertExpiry]: ...


@dataclass(frozen=True, slots=True)
class Page:
    made: float          # monotonic time it was made
    body: bytes
    gz: bytes


def _state(st: State | None) -> str:
    return "unknown" if st is None else STATE_NAMES[st]


def status_ranges(now: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(this month so far, the last STATUS_DAYS UTC days up to the end of today)."""
    m0 = month_start(now)
    today = math.floor(now / DAY) * DAY
    return (m0, max(now, m0 + 1.0)), (today - (STATUS_DAYS - 1) * DAY, today + DAY)


def since(cfg: Config, a: float) -> float:
    """How far back to read so the first check before `a` covers its part of it."""
    return a - 2 * max((t.interval for t in cfg.targets), default=0.0)


def _history(cfg: Config, store: HistoryStore, windows: list[Window],
             a: float, now: float) -> tuple[Tracker, incidents.Notes]:
    """Timelines from far enough before `a` that incidents overlapping it keep their
    start, and what people said of the incidents (responses, updates)."""
    tracker = report.load_tracker(cfg, store, since(cfg, a - incidents.LOOKBACK), windows, now)
    return tracker, incidents.notes(store)


def compute_status(cfg: Config, store: HistoryStore, windows: list[Window], *,
                   targets: list[statuspage.TargetNow], service_state: str,
                   now: float, static: bool = False) -> bytes:
    """The /status page (in a worker thread: reads the store, renders)."""
    (ma, mb), (da, db) = status_ranges(now)
    tracker, (acks, ups) = _history(cfg, store, windows, min(ma, da), now)
    targets = partial(tracker, targets, now)
    month = report.build(cfg, tracker, ma, mb, now, acks=acks, updates=ups)
    last90 = report.build(cfg, tracker, da, db, now, acks=acks, updates=ups)
    scopes = daily.build(tracker, cfg.daemon.service, da, db, now)
    recent = now - statuspage.RECENT_DAYS * DAY
    shown = [i for i in last90.get("incidents", []) if i.get("end") is None
             or parse_instant(i["end"]) >= recent]
    text = statuspage.render(
        service=cfg.daemon.service, now=now, service_state=service_state, targets=targets,
        month=month, last=last90, days=scopes, windows=windows, incidents=shown,
        version=__version__, static=static)
    return text.encode()


def partial(tracker: Tracker, targets: list[statuspage.TargetNow],
            now: float) -> list[statuspage.TargetNow]:
    """On a shared history, each target with the locations that see it down now (their
    own checks); the page shows `partial` when the consensus is not down."""
    if not tracker.locations:
        return targets
    out = []
    for t in targets:
        where = tuple(loc for loc, own in sorted(tracker.locations.items())
                      if t.name in own.critical and own.effective_state(t.name, now) == State.DOWN)
        out.append(dataclasses.replace(t, down_at=where))
    return out


def compute_report(cfg: Config, store: HistoryStore, windows: list[Window], *, a: float,
                   b: float, now: float) -> bytes:
    tracker, (acks, ups) = _history(cfg, store, windows, a, now)
    rep = report.build(cfg, tracker, a, b, now, acks=acks, updates=ups,
                       certificates=report.certificates(cfg, store, a, b, now))
    return report.render_json(rep).encode()


def compute_incidents(cfg: Config, store: HistoryStore, windows: list[Window], *, a: float,
                      b: float, now: float) -> bytes:
    """`slaprobe incidents --format json` for [a, b): {"from", "to", "incidents"}."""
    tracker, (acks, ups) = _history(cfg, store, windows, a, now)
    items = incidents.in_range(cfg, tracker, acks, a=a, b=b, now=now)
    return (json.dumps(incidents.document(items, a, b, ups), indent=2) + "\n").encode()


def parse_range(query: Mapping[str, str], now: float) -> tuple[float, float]:
    """`from` (required) and `to` (default now): RFC 3339, a date, or now-1h style."""
    unknown = sorted(set(query) - {"from", "to"})
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} (use from and to)")
    if not query.get("from"):
        raise ValueError("from is required (e.g. from=now-7d or from=2026-10-01)")
    try:  # what the command line refuses, refused the same way (never a 500)
        a = plausible(parse_time(query["from"], now), repr(query["from"]))
    except (ValueError, OverflowError) as e:
        raise ValueError(f"from: {e}") from None
    try:
        b = (plausible(parse_time(query["to"], now), repr(query["to"])) if query.get("to")
             else now)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"to: {e}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError("from and to must be finite times")
    if b <= a:
        raise ValueError("to must be after from")
    if b - a > MAX_API_DAYS * DAY:
        raise ValueError(f"at most {MAX_API_DAYS} days per request (ask for a shorter range, or"
                         " run `slaprobe report` for longer ones)")
    return a, b


def _json_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": message}) + "\n",
                        content_type="application/json")


class Views:
    def __init__(self, source: Source, *, ttl: float = STATUS_TTL,
                 render: Callable[..., bytes] = compute_status) -> None:
        self.source = source
        self.ttl = ttl
        self._render = render
        self._page: Page | None = None
        self._refresh: asyncio.Task[Page] | None = None
        self._api = asyncio.Semaphore(API_CONCURRENCY)
        self.renders = 0

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/status", self.status), web.get("/api/v1/report", self.api_report),
                web.get("/api/v1/incidents", self.api_incidents),
                *badgeviews.Badges(self.source).routes()]

    # --- /status ---------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any] | None:
        """What the page needs from the live daemon, taken on the loop (cheap)."""
        src = self.source
        tracker, store = src.tracker, src.store
        if tracker is None or store is None:
            return None
        now = src.clock.now()
        targets = []
        for t in src.cfg.targets:
            last = src.last.get(t.name)
            st = tracker.effective_state(t.name, now) if t.name in tracker.critical else None
            state = _state(st)
            if state == "up" and last is not None and is_degraded(last):
                state = "degraded"  # up for availability; its last check was slow
            targets.append(statuspage.TargetNow(
                name=t.name, critical=t.critical, state=state,
                last_check=None if last is None else last.at,
                latency=None if last is None else last.latency,
                error=None if last is None or last.ok else last.error,
                cert=src.certs.get(t.name)))
        return {"cfg": src.cfg, "store": store, "windows": list(tracker.maintenance),
                "targets": targets, "service_state": _state(tracker.service_state(now)),
                "now": now}

    async def _make(self) -> Page:
        snap = self._snapshot()
        if snap is None:
            raise web.HTTPServiceUnavailable(text="starting\n")
        loop = asyncio.get_running_loop()

        def work() -> tuple[bytes, bytes]:
            body = self._render(**snap)
            return body, gzip.compress(body, 5)

        body, gz = await asyncio.to_thread(work)
        self.renders += 1
        return Page(loop.time(), body, gz)

    async def page(self) -> Page:
        """The cached page; a stale one starts a refresh and is served meanwhile."""
        loop = asyncio.get_running_loop()
        cur = self._page
        if cur is not None and loop.time() - cur.made < self.ttl:
            return cur
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._make())
            self._refresh.add_done_callback(self._store_page)
        if cur is not None:
            return cur
        return await asyncio.shield(self._refresh)

    def _store_page(self, task: asyncio.Task[Page]) -> None:
        if not task.cancelled() and task.exception() is None:
            self._page = task.result()

    async def status(self, request: web.Request) -> web.Response:
        p = await self.page()
        headers = {"Cache-Control": f"max-age={int(self.ttl)}",
                   "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return web.Response(body=p.gz, headers=headers, content_type="text/html",
                                charset="utf-8")
        return web.Response(body=p.body, headers=headers, content_type="text/html",
                            charset="utf-8")

    # --- /api/v1 ---------------------------------------------------------------------

    async def api_report(self, request: web.Request) -> web.Response:
        return await self._api_json(request, compute_report)

    async def api_incidents(self, request: web.Request) -> web.Response:
        return await self._api_json(request, compute_incidents)

    async def _api_json(self, request: web.Request, compute: Callable[..., bytes],
                        ) -> web.Response:
        src = self.source
        now = src.clock.now()
        try:
            a, b = parse_range(request.query, now)
        except ValueError as e:
            return _json_error(400, str(e))
        tracker, store = src.tracker, src.store
        if tracker is None or store is None:
            return _json_error(503, "starting")
        cfg, windows = src.cfg, list(tracker.maintenance)
        async with self._api:
            body = await asyncio.to_thread(
                lambda: compute(cfg, store, windows, a=a, b=b, now=now))
        return web.Response(body=body, content_type="application/json")


__all__ = ["Views", "month_range"]
