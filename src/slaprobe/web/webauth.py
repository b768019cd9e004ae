"""HTTP basic auth against bcrypt hashes (web-config `basic_auth_users`).

Checks are constant-time where it matters: an unknown user costs a bcrypt
against a dummy hash like a known one, so timing does not tell which user
names exist. bcrypt is slow on purpose (tens of milliseconds), so it runs in a
worker thread, never on the event loop, and results are cached: a Prometheus
scraping every 15 s with the same credentials pays for one bcrypt, not one per
scrape. The cache is keyed by an HMAC of user and password under a key made at
start, so no password is kept in memory in the clear; it is bounded (least
recently used entries leave first) so a flood of wrong guesses cannot grow it.

A flood of wrong passwords must not slow the scrape: bcrypt runs in a small pool of
its own (`AUTH_THREADS`), never asyncio's default pool (which writes the store and
renders /metrics), with at most `AUTH_QUEUE` checks waiting (429 beyond); each
client (address) has a failure budget (`FAILURES` per `FAILURE_WINDOW` seconds):
past it, its unknown credentials get 429 without a bcrypt, and one
`auth_failures_throttled` event is logged. Credentials already known good pass
whatever the budget (a scraper keeps scraping). The dummy hash for unknown users
has the cost of the configured users' hashes (the highest), so a user name that
exists takes as long as one that does not, whatever the cost.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import structlog
from aiohttp import web

__all__ = ["BasicAuth"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CACHE_SIZE = 1024
AUTH_THREADS = 2        # bcrypt checks at once (its own pool)
AUTH_QUEUE = 32         # checks waiting for the pool, at most: 429 beyond
FAILURES = 20           # wrong credentials per client per window before 429
FAILURE_WINDOW = 60.0   # seconds
MAX_CLIENTS = 4096      # clients whose failures are remembered (least recent leave)
DEFAULT_COST = 10


def cost_of(hashed: bytes) -> int:
    """A bcrypt hash's cost ($2b$12$... is 12); DEFAULT_COST if unreadable."""
    try:
        return int(hashed.split(b"$")[2])
    except (IndexError, ValueError):
        return DEFAULT_COST


def dummy_hash(users: Mapping[str, bytes]) -> bytes:
    """A valid hash no password is known for, with the cost of the users' hashes (the
    highest): unknown users are checked against it, as slowly as a known one."""
    cost = max((cost_of(h) for h in users.values()), default=DEFAULT_COST)
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=min(max(cost, 4), 31)))


class BasicAuth:
    def __init__(
        self, users: Mapping[str, bytes], *,
        checkpw: Callable[[bytes, bytes], bool] = bcrypt.checkpw,
        cache_size: int = CACHE_SIZE, realm: str = "slaprobe",
    ) -> None:
        self.users = dict(users)
        self.checkpw = checkpw
        self.cache_size = cache_size
        self.realm = realm
        self._key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._dummy = dummy_hash(self.users)
        self._pool = ThreadPoolExecutor(AUTH_THREADS, thread_name_prefix="slaprobe-auth")
        self._waiting = 0
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._throttled: set[str] = set()  # clients told once (logged) in this episode
        self.log = structlog.get_logger("slaprobe.web")

    def credentials(self, header: str | None) -> tuple[str, bytes] | None:
        """(user, password) from an `Authorization: Basic ...` header, or None."""
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        user, sep, password = decoded.partition(b":")
        if not sep:
            return None
        try:
            return user.decode("utf-8"), password
        except UnicodeDecodeError:
            return None

    async def allowed(self, header: str | None) -> bool:
        return await self.verdict(header) == "ok"

    async def verdict(self, header: str | None, client: str = "") -> str:
        """`ok`, `denied`, or `throttled` (the client is past its failure budget, or
        too many checks wait: no bcrypt was run)."""
        creds = self.credentials(header)
        if creds is None:  # no credentials (a browser's first try): no bcrypt, not counted
            return "denied"
        user, password = creds
        key = hmac.new(self._key, user.encode() + b"\0" + password, hashlib.sha256).digest()
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return "ok" if cached else self._failed(client)
        if self._over_budget(client) or self._waiting >= AUTH_QUEUE:
            return "throttled"
        hashed = self.users.get(user)
        loop = asyncio.get_running_loop()
        self._waiting += 1
        try:
            ok = await loop.run_in_executor(self._pool, self._check, password, hashed)
        finally:
            self._waiting -= 1
        self._cache[key] = ok
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return "ok" if ok else self._failed(client)

    def _recent(self, client: str) -> deque[float]:
        now = asyncio.get_running_loop().time()
        times = self._failures.get(client)
        if times is None:
            times = self._failures[client] = deque()
        self._failures.move_to_end(client)
        while times and now - times[0] > FAILURE_WINDOW:
            times.popleft()
        while len(self._failures) > MAX_CLIENTS:
            gone, _ = self._failures.popitem(last=False)
            self._throttled.discard(gone)
        return times

    def _over_budget(self, client: str) -> bool:
        if len(self._recent(client)) < FAILURES:
            self._throttled.discard(client)
            return False
        if client not in self._throttled:
            self._throttled.add(client)
            self.log.warning("auth_failures_throttled", client=client, failures=FAILURES,
                             window_seconds=FAILURE_WINDOW,
                             consequence="its unknown credentials get 429 until the window"
                                         " passes")
        return True

    def _failed(self, client: str) -> str:
        times = self._recent(client)
        times.append(asyncio.get_running_loop().time())
        return "throttled" if self._over_budget(client) else "denied"

    def _check(self, password: bytes, hashed: bytes | None) -> bool:
        try:
            ok = self.checkpw(password, self._dummy if hashed is None else hashed)
        except ValueError:  # a hash bcrypt cannot read (load() refuses those)
            return False
        return ok and hashed is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        verdict = await self.verdict(request.headers.get("Authorization"),
                                     request.remote or "")
        if verdict == "ok":
            return await handler(request)
        if verdict == "throttled":
            return web.Response(status=429, text="Too many failed logins; retry later\n",
                                headers={"Retry-After": str(int(FAILURE_WINDOW))})
        return web.Response(
            status=401, text="Unauthorized\n",
            headers={"WWW-Authenticate": f'Basic realm="{self.realm}", charset="UTF-8"'},
        )
