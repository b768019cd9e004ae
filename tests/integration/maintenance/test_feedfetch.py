"""Fetching maintenance feeds from a real local HTTP server and local files.

Everything is served on 127.0.0.1: these tests never reach the internet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer

from slaprobe.core.maintenance.feeds import FeedError, parse_feed
from slaprobe.core.spec import MaintenanceSpec
from slaprobe.maintenance import feedfetch
from slaprobe.maintenance.feedfetch import FeedCache, fetch, refresh

DATA = Path(__file__).parents[2] / "data" / "feeds"
ICS = DATA / "maintenance.ics"
STATUSPAGE = DATA / "statuspage.json"
HORIZON = (
    dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp(),
    dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp(),
)

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


class RecordingLog:
    """A structlog-shaped logger that records (level, event, fields)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, event: str, *args: Any, **kw: Any) -> None:
        self.events.append(("info", event, kw))

    def warning(self, event: str, *args: Any, **kw: Any) -> None:
        self.events.append(("warning", event, kw))

    def named(self, event: str) -> list[dict[str, Any]]:
        return [kw for _, e, kw in self.events if e == event]


class Feeds:
    """Handlers for the test server, with switchable behaviour."""

    def __init__(self) -> None:
        self.flaky_status = 200
        self.flaky_body = STATUSPAGE.read_bytes()
        self.hits: dict[str, int] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/maintenance.ics", self.ics)
        app.router.add_get("/statuspage.json", self.statuspage)
        app.router.add_get("/flaky.json", self.flaky)
        app.router.add_get("/missing", self.missing)
        app.router.add_get("/error", self.error)
        app.router.add_get("/big-declared", self.big_declared)
        app.router.add_get("/big-streamed", self.big_streamed)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/login", self.login)
        return app

    def _hit(self, request: web.Request) -> None:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1

    async def ics(self, request: web.Request) -> web.Response:
        self._hit(request)
        return web.Response(body=ICS.read_bytes(), content_type="text/calendar", charset="utf-8")

    async def statuspage(self, request: web.Request) -> web.Response:
        self._hit(request)
        return web.Response(body=STATUSPAGE.read_bytes(), content_type="application/json")

    async def flaky(self, request: web.Request) -> web.Response:
        self._hit(request)
        if self.flaky_status != 200:
            return web.Response(status=self.flaky_status, text="upstream exploded")
        return web.Response(body=self.flaky_body, content_type="application/json")

    async def missing(self, request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def error(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    async def big_declared(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000, content_type="text/calendar")

    async def big_streamed(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "text/calendar"
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(10):
            await resp.write(b"x" * 1000)
        await resp.write_eof()
        return resp

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def login(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>Please log in</html>", content_type="text/html")


@pytest.fixture
def feeds() -> Feeds:
    return Feeds()


@pytest.fixture
async def base(feeds: Feeds, aiohttp_server: ServerFactory) -> str:
    server = await aiohttp_server(feeds.app())
    assert server.host == "127.0.0.1"
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --------------------------------------------------------------------------
# fetch


async def test_fetch_http_ics_and_statuspage(base: str, session: aiohttp.ClientSession) -> None:
    assert await fetch(f"{base}/maintenance.ics", session=session) == ICS.read_bytes()
    assert await fetch(f"{base}/statuspage.json", session=session) == STATUSPAGE.read_bytes()


async def test_fetch_without_session_makes_and_closes_its_own(base: str) -> None:
    assert await fetch(f"{base}/maintenance.ics", session=None) == ICS.read_bytes()
    with pytest.raises(FeedError, match="HTTP 500"):
        await fetch(f"{base}/error", session=None)


async def test_fetch_local_path_and_file_url() -> None:
    assert await fetch(str(ICS), session=None) == ICS.read_bytes()
    assert await fetch(ICS.as_uri(), session=None) == ICS.read_bytes()
    assert await fetch(f"file://localhost{ICS}", session=None) == ICS.read_bytes()


async def test_fetch_file_url_with_escaped_characters(tmp_path: Path) -> None:
    path = tmp_path / "with space.json"
    path.write_bytes(STATUSPAGE.read_bytes())
    assert await fetch(path.as_uri(), session=None) == STATUSPAGE.read_bytes()


@pytest.mark.parametrize(
    ("path", "fragment"),
    [("/missing", "HTTP 404 Not Found"), ("/error", "HTTP 500 Internal Server Error")],
)
async def test_fetch_http_status_not_2xx(
    base: str, session: aiohttp.ClientSession, path: str, fragment: str,
) -> None:
    url = f"{base}{path}"
    with pytest.raises(FeedError, match=fragment) as info:
        await fetch(url, session=session)
    assert url in str(info.value)


@pytest.mark.parametrize("path", ["/big-declared", "/big-streamed"])
async def test_fetch_http_too_large(base: str, session: aiohttp.ClientSession, path: str) -> None:
    with pytest.raises(FeedError, match="larger than 4096 bytes"):
        await fetch(f"{base}{path}", session=session, max_bytes=4096)


async def test_fetch_http_timeout(base: str, session: aiohttp.ClientSession) -> None:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(FeedError, match=r"timed out after 0\.2s"):
        await fetch(f"{base}/slow", session=session, timeout=0.2)
    assert loop.time() - t0 < 2


async def test_fetch_connection_refused(session: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed.ics"
    with pytest.raises(FeedError, match="request failed") as info:
        await fetch(url, session=session)
    assert url in str(info.value)


async def test_fetch_file_errors(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.ics")
    with pytest.raises(FeedError, match="cannot read") as info:
        await fetch(missing, session=None)
    assert missing in str(info.value)
    with pytest.raises(FeedError, match=r"cannot read|not a regular file"):
        await fetch(str(tmp_path), session=None)
    big = tmp_path / "big.ics"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(FeedError, match="larger than 4096 bytes"):
        await fetch(str(big), session=None, max_bytes=4096)
    assert await fetch(str(big), session=None, max_bytes=5000) == b"x" * 5000


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("ftp://127.0.0.1/feed.ics", "unsupported scheme 'ftp'"),
        ("file://elsewhere.example/feed.ics", "remote host"),
    ],
)
async def test_fetch_refuses_other_sources(source: str, fragment: str) -> None:
    with pytest.raises(FeedError, match=fragment):
        await fetch(source, session=None)


async def test_fetched_feeds_parse_like_the_files(
    base: str, session: aiohttp.ClientSession,
) -> None:
    for name in ("maintenance.ics", "statuspage.json"):
        url = f"{base}/{name}"
        data = await fetch(url, session=session)
        got = parse_feed(data, source=url, content_type=None, horizon=HORIZON)
        expected = parse_feed(
            (DATA / name).read_bytes(), source=url, content_type=None, horizon=HORIZON,
        )
        assert got == expected
        assert got


# --------------------------------------------------------------------------
# FeedCache (pure)


def window(wid: str, source: str, start: float = 100.0) -> MaintenanceSpec:
    return MaintenanceSpec(id=wid, start=start, end=start + 60, announced=0.0, source=source)


def test_feed_cache_keeps_last_good_windows_on_failure() -> None:
    cache = FeedCache()
    assert cache.update("a", [window("w1", "a", 200)]) is True
    assert cache.update("b", [window("w2", "b", 100)]) is True
    assert cache.update("b", [window("w2", "b", 100)]) is False
    assert [w.id for w in cache.windows()] == ["w2", "w1"]
    cache.failed("a", FeedError("a", "HTTP 500"))
    cache.failed("a", "boom")
    assert cache.errors == {"a": 2}
    assert cache.last_error == {"a": "boom"}
    assert [w.id for w in cache.windows()] == ["w2", "w1"]
    cache.update("a", [])
    assert cache.last_error == {}
    assert cache.errors == {"a": 2}  # a counter: it does not go back down
    assert [w.id for w in cache.windows()] == ["w2"]


def test_feed_cache_failure_before_any_success_has_no_windows() -> None:
    cache = FeedCache()
    cache.failed("a", "boom")
    assert cache.windows() == []
    assert not cache.has("a")
    assert cache.errors == {"a": 1}


def test_feed_cache_retain_forgets_removed_sources() -> None:
    cache = FeedCache()
    cache.update("a", [window("w1", "a")])
    cache.update("b", [window("w2", "b")], problems=["p"])
    cache.failed("b", "boom")
    cache.retain(["a"])
    assert [w.id for w in cache.windows()] == ["w1"]
    assert cache.errors == {}
    assert cache.problems == {"a": ()}


# --------------------------------------------------------------------------
# refresh


async def test_refresh_500_then_recovers(
    base: str, feeds: Feeds, session: aiohttp.ClientSession,
) -> None:
    url = f"{base}/flaky.json"
    cache = FeedCache()
    log = RecordingLog()

    await refresh(cache, [url], session=session, horizon=HORIZON, log=log)
    good = cache.windows()
    assert [w.id for w in good] == ["tz0hf4gq9m2r", "p3q1xw9d0c8n", "k7mrk2bqp5yv"]
    assert all(w.source == url for w in good)
    assert cache.errors == {}
    assert log.named("maintenance_feed_updated") == [
        {"source": url, "windows": 3, "recovered": False},
    ]

    feeds.flaky_status = 500
    await refresh(cache, [url], session=session, horizon=HORIZON, log=log)
    assert cache.windows() == good  # last good windows kept
    assert cache.errors == {url: 1}
    assert "HTTP 500" in cache.last_error[url]
    (failed,) = log.named("maintenance_feed_failed")
    assert failed["source"] == url
    assert "HTTP 500" in failed["error"]
    assert failed["kept_windows"] == 3

    await refresh(cache, [url], session=session, horizon=HORIZON, log=log)
    assert cache.errors == {url: 2}
    assert cache.windows() == good

    feeds.flaky_status = 200
    feeds.flaky_body = (DATA / "statuspage.json").read_bytes().replace(
        b"Database cluster upgrade", b"Database cluster upgrade (extended)",
    ).replace(b"2026-12-06T04:00:00.000Z", b"2026-12-06T05:00:00.000Z")
    await refresh(cache, [url], session=session, horizon=HORIZON, log=log)
    new = {w.id: w for w in cache.windows()}
    assert new["k7mrk2bqp5yv"].reason == "Database cluster upgrade (extended)"
    assert new["k7mrk2bqp5yv"].end == dt.datetime(2026, 12, 6, 5, tzinfo=dt.UTC).timestamp()
    assert cache.errors == {url: 2}
    assert url not in cache.last_error
    assert log.named("maintenance_feed_updated")[-1] == {
        "source": url, "windows": 3, "recovered": True,
    }
    assert feeds.hits["/flaky.json"] == 4


async def test_refresh_many_sources_one_failing(
    base: str, session: aiohttp.ClientSession, tmp_path: Path,
) -> None:
    local = tmp_path / "local.json"
    local.write_bytes(STATUSPAGE.read_bytes())
    sources = [
        f"{base}/maintenance.ics", f"{base}/error", str(local), f"{base}/login",
        str(DATA / "malformed.ics"),
    ]
    cache = FeedCache()
    log = RecordingLog()
    await refresh(cache, sources, session=session, horizon=HORIZON, log=log)
    by_source: dict[str, list[str]] = {}
    for w in cache.windows():
        by_source.setdefault(w.source, []).append(w.id)
    assert set(by_source) == {f"{base}/maintenance.ics", str(local)}
    assert len(by_source[f"{base}/maintenance.ics"]) == 11
    assert len(by_source[str(local)]) == 3
    assert cache.errors == {
        f"{base}/error": 1, f"{base}/login": 1, str(DATA / "malformed.ics"): 1,
    }
    failed = {kw["source"]: kw["error"] for kw in log.named("maintenance_feed_failed")}
    assert "HTTP 500" in failed[f"{base}/error"]
    assert "Content-Type text/html" in failed[f"{base}/login"]
    assert "DTSTART" in failed[str(DATA / "malformed.ics")]


async def test_refresh_drops_removed_sources(base: str, session: aiohttp.ClientSession) -> None:
    cache = FeedCache()
    log = RecordingLog()
    ics_url, sp_url = f"{base}/maintenance.ics", f"{base}/statuspage.json"
    await refresh(cache, [ics_url, sp_url], session=session, horizon=HORIZON, log=log)
    assert {w.source for w in cache.windows()} == {ics_url, sp_url}
    await refresh(cache, [sp_url], session=session, horizon=HORIZON, log=log)
    assert {w.source for w in cache.windows()} == {sp_url}


async def test_refresh_logs_problems_once(tmp_path: Path) -> None:
    feed = tmp_path / "feed.ics"
    feed.write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
        b"BEGIN:VEVENT\r\nUID:no-stamp\r\nDTSTART:20261201T000000Z\r\n"
        b"DTEND:20261201T010000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    cache = FeedCache()
    log = RecordingLog()
    for _ in range(3):
        await refresh(cache, [str(feed)], session=None, horizon=HORIZON, log=log)
    problems = log.named("maintenance_feed_problem")
    assert len(problems) == 1
    assert "no-stamp" in problems[0]["problem"]
    assert cache.windows() == []
    assert cache.has(str(feed))


async def test_refresh_never_raises_on_unexpected_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*args: Any, **kw: Any) -> list[MaintenanceSpec]:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(feedfetch, "parse_in_worker", broken)  # parsing runs in a child
    cache = FeedCache()
    log = RecordingLog()
    await refresh(cache, [str(ICS)], session=None, horizon=HORIZON, log=log)
    assert cache.errors == {str(ICS): 1}
    (failed,) = log.named("maintenance_feed_failed")
    assert "RuntimeError: parser bug" in failed["error"]


async def test_refresh_with_a_real_structlog_logger(base: str) -> None:
    cache = FeedCache()
    with structlog.testing.capture_logs() as logs:
        await refresh(cache, [f"{base}/error"], session=None, horizon=HORIZON,
                      log=structlog.get_logger())
    assert logs == [{
        "event": "maintenance_feed_failed", "log_level": "warning",
        "source": f"{base}/error", "error": "HTTP 500 Internal Server Error",
        "errors": 1, "kept_windows": 0,
    }]


async def test_refresh_log_masks_password(aiohttp_server: ServerFactory) -> None:
    server = await aiohttp_server(Feeds().app())
    url = str(server.make_url("/error")).replace("http://", "http://bob:hunter2@")
    log = RecordingLog()
    await refresh(FeedCache(), [url], session=None, horizon=HORIZON, log=log)
    (failed,) = log.named("maintenance_feed_failed")
    assert "hunter2" not in failed["source"]
    assert "bob:***@127.0.0.1" in failed["source"]
