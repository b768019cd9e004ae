"""Admission by kind of request: the scrape and the health checks always get through.

Requests come in kinds (`kind_of`): `cheap` (/metrics, /healthz, /readyz), `api`
(/api/v1/*), `status` (/status pages) and `other`. Of the server's connection slots,
`reserve` are kept for the cheap kind: every other request in flight counts against
`limit - reserve`, and one beyond that is answered 503 at once (its connection
closed), so no mix of slow requests can take the slots a scraper needs. Expensive
kinds also run a few at a time (`KIND_CONCURRENCY`) with a short queue
(`KIND_QUEUE`); a request beyond the queue is answered 429 at once. A queued
request does no work: it counts as stalled, and the server evicts it first when
a new connection needs room (`evictable`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CHEAP = frozenset({"/metrics", "/healthz", "/readyz"})
KIND_CONCURRENCY = {"api": 2, "status": 4}  # requests of the kind running at once
KIND_QUEUE = {"api": 8, "status": 16}       # waiting for one of those, at most
RETRY_AFTER = "2"


def kind_of(path: str) -> str:
    if path in CHEAP:
        return "cheap"
    if path.startswith("/api/"):
        return "api"
    if path == "/status" or path.startswith("/status/"):
        return "status"
    return "other"


def reserve_for(limit: int) -> int:
    """Connection slots kept for /metrics, /healthz and /readyz."""
    return max(2, limit // 8)


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, headers={
        "Connection": "close", "Retry-After": RETRY_AFTER, "Cache-Control": "no-store"})


class Admission:
    """Counts requests in flight by kind; its middleware admits, queues or refuses."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self.active: dict[Any, str] = {}      # connection (its protocol) -> kind in flight
        self.queued: dict[Any, float] = {}    # connection -> when its request queued
        self.idle_since: dict[Any, float] = {}  # connection -> when its last request ended
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._waiting: dict[str, int] = dict.fromkeys(KIND_QUEUE, 0)
        self.refused: dict[str, int] = {}     # by reason: for tests and logs

    @property
    def reserve(self) -> int:
        return reserve_for(self.limit)

    def non_cheap(self) -> int:
        return sum(1 for k in self.active.values() if k != "cheap")

    def evictable(self, now: float, idle: float) -> list[Any]:
        """Connections that hold a slot for nothing, best to close first: a request
        waiting in a queue (longest waiting first), then a kept-alive connection idle
        for `idle` seconds since its last request."""
        queued = sorted(self.queued, key=self.queued.__getitem__)
        idle_ones = sorted((c for c, t in self.idle_since.items()
                            if c not in self.active and now - t >= idle),
                           key=self.idle_since.__getitem__)
        return queued + idle_ones

    def forget(self, conn: Any) -> None:
        """A connection closed."""
        self.idle_since.pop(conn, None)

    def _count(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def _slot(self, kind: str) -> asyncio.Semaphore:
        if kind not in self._slots:
            self._slots[kind] = asyncio.Semaphore(KIND_CONCURRENCY[kind])
        return self._slots[kind]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = kind_of(request.path)
        conn = request.protocol
        if kind != "cheap" and self.non_cheap() >= self.limit - self.reserve:
            self._count("slots")
            return _refuse(503, "busy: the remaining connections are kept for /metrics and"
                                " the health checks\n")
        self.active[conn] = kind
        try:
            if kind not in KIND_CONCURRENCY:
                return await handler(request)
            return await self._bounded(kind, conn, request, handler)
        finally:
            self.active.pop(conn, None)
            self.idle_since[conn] = asyncio.get_running_loop().time()

    async def _bounded(self, kind: str, conn: Any, request: web.Request,
                       handler: Handler) -> web.StreamResponse:
        slot = self._slot(kind)
        if slot.locked() and self._waiting[kind] >= KIND_QUEUE[kind]:
            self._count(kind)
            return _refuse(429, f"too many {kind} requests at once; retry later\n")
        self._waiting[kind] += 1
        self.queued[conn] = asyncio.get_running_loop().time()
        try:
            await slot.acquire()
        finally:
            self._waiting[kind] -= 1
            self.queued.pop(conn, None)
        try:
            if request.transport is None or request.transport.is_closing():
                raise web.HTTPServiceUnavailable(text="evicted while queued\n")  # nobody reads
            return await handler(request)
        finally:
            slot.release()
