"""HTTP basic auth against bcrypt hashes (web-config `basic_auth_users`).

Checks are constant-time where it matters: an unknown user costs a bcrypt
against a dummy hash like a known one, so timing does not tell which user
names exist. bcrypt is slow on purpose (tens of milliseconds), so it runs in a
worker thread, never on the event loop, and results are cached: a Prometheus
scraping every 15 s with the same credentials pays for one bcrypt, not one per
scrape. The cache is keyed by an HMAC of user and password under a key made at
start, so no password is kept in memory in the clear; it is bounded (least
recently used entries leave first) so a flood of wrong guesses cannot grow it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

import bcrypt
from aiohttp import web

__all__ = ["BasicAuth"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CACHE_SIZE = 1024
# A valid hash no password is known for: unknown users are checked against it.
_DUMMY = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=10))


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
        creds = self.credentials(header)
        if creds is None:
            return False
        user, password = creds
        key = hmac.new(self._key, user.encode() + b"\0" + password, hashlib.sha256).digest()
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        hashed = self.users.get(user)
        ok = await asyncio.to_thread(self._check, password, hashed)
        self._cache[key] = ok
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return ok

    def _check(self, password: bytes, hashed: bytes | None) -> bool:
        try:
            ok = self.checkpw(password, _DUMMY if hashed is None else hashed)
        except ValueError:  # a hash bcrypt cannot read (load() refuses those)
            return False
        return ok and hashed is not None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if await self.allowed(request.headers.get("Authorization")):
            return await handler(request)
        return web.Response(
            status=401, text="Unauthorized\n",
            headers={"WWW-Authenticate": f'Basic realm="{self.realm}", charset="UTF-8"'},
        )
