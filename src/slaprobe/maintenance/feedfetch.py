"""Fetching maintenance feeds, and the cache of their last good windows.

`fetch` reads one feed (http/https URL, file:// URL or local path), bounded in
time and size, raising FeedError on any failure. `FeedCache` holds the last
good windows per feed, so a feed that fails keeps excusing the windows it
announced. `refresh` fetches and parses every feed into the cache and never
raises: a failure is counted and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import aiohttp

from slaprobe.core.maintenance.feeds import FeedError
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.core.urls import masked

__all__ = ["DEFAULT_MAX_BYTES", "FeedCache", "FeedLogger", "fetch", "refresh"]

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_CHUNK = 64 * 1024
_ACCEPT = "text/calendar, application/json;q=0.9, */*;q=0.1"
PARSE_SECONDS = 20.0  # one feed's parse (recurrences expanded) at most, in a child process


class FeedLogger(Protocol):
    """The part of a structlog logger that refresh uses."""

    def info(self, event: str, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: str, *args: Any, **kw: Any) -> Any: ...


def _user_agent() -> str:
    try:
        return f"slaprobe/{version('slaprobe')}"
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "slaprobe"


_USER_AGENT = _user_agent()


async def fetch(
    source: str,
    *,
    session: aiohttp.ClientSession | None,
    timeout: float = 10,  # noqa: ASYNC109 - a per-feed budget, part of the API
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """Read a feed: an http(s) URL, a file:// URL or a local path.

    Raises FeedError (naming the source) on any failure: a status other than
    2xx, a timeout, a body over `max_bytes`, a missing or unreadable file.
    With `session=None` a session is made for this one request and closed.
    """
    data, _ = await _fetch(source, session=session, seconds=timeout, max_bytes=max_bytes)
    return data


async def _fetch(
    source: str, *, session: aiohttp.ClientSession | None, seconds: float, max_bytes: int,
) -> tuple[bytes, str | None]:
    """The body and, for HTTP, the Content-Type."""
    try:
        scheme = urlsplit(source).scheme.lower()
    except ValueError as e:
        raise FeedError(source, f"invalid source: {e}") from None
    if scheme in ("http", "https"):
        return await _fetch_http(source, session, seconds, max_bytes)
    if scheme == "file":
        path = _file_url_path(source)
    elif scheme == "":
        path = Path(source)
    else:
        raise FeedError(
            source, f"unsupported scheme {scheme!r} (use http://, https://, file:// or a path)",
        )
    try:
        async with asyncio.timeout(seconds):
            return await asyncio.to_thread(_read_file, path, source, max_bytes), None
    except TimeoutError:
        raise FeedError(source, f"reading {path} timed out after {seconds:g}s") from None


def _file_url_path(source: str) -> Path:
    parts = urlsplit(source)
    if parts.netloc not in ("", "localhost"):
        raise FeedError(source, f"file:// URL names a remote host {parts.netloc!r}")
    if not parts.path:
        raise FeedError(source, "file:// URL without a path")
    return Path(url2pathname(unquote(parts.path)))


def _read_file(path: Path, source: str, max_bytes: int) -> bytes:
    path = path.expanduser()
    try:
        with path.open("rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise FeedError(source, f"{path} is not a regular file")
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise FeedError(source, f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise FeedError(source, f"larger than {max_bytes} bytes")
    return data


async def _fetch_http(
    source: str, session: aiohttp.ClientSession | None, seconds: float, max_bytes: int,
) -> tuple[bytes, str | None]:
    own = session is None
    sess = aiohttp.ClientSession() if session is None else session
    try:
        async with asyncio.timeout(seconds):
            return await _get(sess, source, seconds, max_bytes)
    except FeedError:
        raise
    except TimeoutError:
        raise FeedError(source, f"timed out after {seconds:g}s") from None
    except aiohttp.ClientError as e:
        raise FeedError(source, f"request failed: {type(e).__name__}: {e}") from None
    except ValueError as e:  # e.g. a URL yarl refuses
        raise FeedError(source, f"request failed: {e}") from None
    finally:
        if own:
            await sess.close()


async def _get(
    session: aiohttp.ClientSession, source: str, seconds: float, max_bytes: int,
) -> tuple[bytes, str | None]:
    headers = {"Accept": _ACCEPT, "User-Agent": _USER_AGENT}
    async with session.get(
        source, headers=headers, timeout=aiohttp.ClientTimeout(total=seconds),
    ) as resp:
        if not 200 <= resp.status < 300:
            raise FeedError(source, f"HTTP {resp.status} {resp.reason or ''}".rstrip())
        if resp.content_length is not None and resp.content_length > max_bytes:
            raise FeedError(
                source, f"larger than {max_bytes} bytes (Content-Length {resp.content_length})",
            )
        buf = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            buf += chunk
            if len(buf) > max_bytes:
                raise FeedError(source, f"larger than {max_bytes} bytes")
        return bytes(buf), resp.headers.get("Content-Type")


async def parse_in_worker(
    data: bytes, *, source: str, content_type: str | None, horizon: tuple[float, float],
    problems: list[str], seconds: float = PARSE_SECONDS,
) -> list[MaintenanceSpec]:
    """`parse_feed` in a child process (`slaprobe.maintenance.feedworker`) bounded in time and
    memory. A feed that takes longer is a FeedError for that feed; cancelling (the
    daemon stopping) kills the child at once, so a runaway rule never holds up a
    stop, a report or the event loop."""
    meta = json.dumps({"source": source, "content_type": content_type,
                       "horizon": list(horizon)}).encode()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "slaprobe.maintenance.feedworker", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(seconds):
            out, err = await proc.communicate(meta + b"\n" + data)
    except TimeoutError:
        raise FeedError(source, f"parsing took longer than {seconds:g}s and was stopped "
                                "(is a recurrence rule runaway?)") from None
    finally:
        if proc.returncode is None:
            proc.kill()
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()
    try:
        result = json.loads(out)
    except ValueError:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise FeedError(source, f"parser exited {proc.returncode}: {tail[0][:200]}") from None
    if "error" in result:
        raise FeedError(source, str(result["error"]))
    problems.extend(str(p) for p in result["problems"])
    return [MaintenanceSpec(**{**w, "targets": None if w["targets"] is None
                                else tuple(w["targets"])}) for w in result["windows"]]


class FeedCache:
    """The last good windows of each feed; no I/O.

    `errors` counts failures per source (cumulative, a counter's semantics);
    `last_error` holds the latest failure of a source until it next succeeds;
    `problems` the latest skipped-event notes of each source.
    """

    def __init__(self) -> None:
        self._windows: dict[str, tuple[MaintenanceSpec, ...]] = {}
        self.errors: dict[str, int] = {}
        self.last_error: dict[str, str] = {}
        self.problems: dict[str, tuple[str, ...]] = {}

    def update(
        self, source: str, windows: Iterable[MaintenanceSpec], problems: Iterable[str] = (),
    ) -> bool:
        """Store a successful read; return whether the source's windows changed."""
        new = tuple(windows)
        changed = self._windows.get(source) != new
        self._windows[source] = new
        self.last_error.pop(source, None)
        self.problems[source] = tuple(problems)
        return changed

    def failed(self, source: str, error: BaseException | str) -> None:
        """Count a failed read; the source's last good windows stay."""
        self.errors[source] = self.errors.get(source, 0) + 1
        self.last_error[source] = (
            error.message if isinstance(error, FeedError) else str(error)
        )

    def retain(self, sources: Iterable[str]) -> None:
        """Forget every source not listed (a feed removed from the config)."""
        keep = set(sources)
        for table in (self._windows, self.errors, self.last_error, self.problems):
            for source in [s for s in table if s not in keep]:
                del table[source]

    def has(self, source: str) -> bool:
        """Whether the source was ever read successfully."""
        return source in self._windows

    def windows(self, source: str | None = None) -> list[MaintenanceSpec]:
        """Every current window (or one source's), sorted by start."""
        if source is not None:
            return list(self._windows.get(source, ()))
        out = [w for ws in self._windows.values() for w in ws]
        out.sort(key=lambda m: (m.start, m.source, m.id))
        return out


async def refresh(
    cache: FeedCache,
    sources: Sequence[str],
    *,
    session: aiohttp.ClientSession | None,
    horizon: tuple[float, float],
    log: FeedLogger,
    timeout: float = 10,  # noqa: ASYNC109 - a per-feed budget, part of the API
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> None:
    """Fetch and parse every source into `cache`, concurrently; never raises.

    Sources not listed are dropped from the cache. A failing source keeps its
    last good windows, is counted in `cache.errors` and logged as
    `maintenance_feed_failed`. Skipped events are logged as
    `maintenance_feed_problem` when they change. Parsing runs in a thread so
    a large calendar does not stall the event loop.
    """
    unique = list(dict.fromkeys(sources))
    cache.retain(unique)
    await asyncio.gather(*(
        _refresh_one(cache, s, session=session, horizon=horizon, log=log,
                     seconds=timeout, max_bytes=max_bytes)
        for s in unique
    ))


async def _refresh_one(
    cache: FeedCache,
    source: str,
    *,
    session: aiohttp.ClientSession | None,
    horizon: tuple[float, float],
    log: FeedLogger,
    seconds: float,
    max_bytes: int,
) -> None:
    shown = masked(source)
    problems: list[str] = []
    try:
        data, content_type = await _fetch(
            source, session=session, seconds=seconds, max_bytes=max_bytes,
        )
        windows = await parse_in_worker(
            data, source=source, content_type=content_type, horizon=horizon,
            problems=problems,
        )
    except FeedError as e:
        cache.failed(source, e)
        log.warning("maintenance_feed_failed", source=shown, error=e.message,
                    errors=cache.errors[source], kept_windows=len(cache.windows(source)))
        return
    except Exception as e:  # a bug must not stop the other feeds or the daemon
        message = f"unexpected {type(e).__name__}: {e}"
        cache.failed(source, message)
        log.warning("maintenance_feed_failed", source=shown, error=message,
                    errors=cache.errors[source], kept_windows=len(cache.windows(source)))
        return
    recovered = source in cache.last_error
    before = cache.problems.get(source, ())
    changed = cache.update(source, windows, problems)
    if tuple(problems) != before:
        for problem in problems:
            log.warning("maintenance_feed_problem", source=shown, problem=problem)
    if changed or recovered:
        log.info("maintenance_feed_updated", source=shown, windows=len(windows),
                 recovered=recovered)
