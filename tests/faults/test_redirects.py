"""Redirect safety: configured headers (secrets) never follow a redirect to another
origin; `follow_redirects = "same-origin"` stops at one and judges it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from clirun import assert_no_traceback, slaprobe
from procs import free_port

from slaprobe.config import parse
from slaprobe.probe import prober

pytestmark = pytest.mark.timeout(60)
SECRETS = {"Authorization": "Bearer s3cret", "X-Api-Key": "k3y"}


class Seen:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []


@pytest.fixture
async def origins() -> AsyncIterator[tuple[str, str, Seen]]:
    """Two local origins (two ports): A redirects, both echo what headers they got."""
    seen = Seen()

    async def echo(request: web.Request) -> web.Response:
        seen.headers.append({k: v for k, v in request.headers.items() if k in SECRETS})
        return web.Response(text="ok")

    runners = []
    bases = []
    for _ in range(2):
        app = web.Application()
        app.router.add_get("/echo", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append((runner, app))
        bases.append(f"http://127.0.0.1:{port}")
    a, b = bases

    async def away(_: web.Request) -> web.Response:
        raise web.HTTPFound(f"{b}/echo")

    async def home(_: web.Request) -> web.Response:
        raise web.HTTPFound("/echo")

    # routes on A only (added before its router froze? rebuild A with them)
    await runners[0][0].cleanup()
    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/away", away)
    app.router.add_get("/home", home)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(a.rsplit(":", 1)[1])).start()
    runners[0] = (runner, app)
    try:
        yield a, b, seen
    finally:
        for r, _ in runners:
            await r.cleanup()


def spec_for(url: str, follow: object = True) -> object:
    cfg = parse({"targets": [{"name": "t", "url": url, "headers": SECRETS, "retries": 0,
                              "follow_redirects": follow}]}, env={})
    return cfg.targets[0]


async def test_headers_do_not_follow_a_redirect_to_another_origin(
    origins: tuple[str, str, Seen],
) -> None:
    a, _, seen = origins
    result = await prober.attempt(spec_for(f"{a}/away"))  # type: ignore[arg-type]
    assert result.ok and result.status == 200
    assert seen.headers == [{}]  # B got neither the token nor the key


async def test_same_origin_redirects_keep_the_headers(origins: tuple[str, str, Seen]) -> None:
    a, _, seen = origins
    result = await prober.attempt(spec_for(f"{a}/home"))  # type: ignore[arg-type]
    assert result.ok
    assert seen.headers == [SECRETS]


async def test_same_origin_mode_stops_at_a_redirect_elsewhere(
    origins: tuple[str, str, Seen],
) -> None:
    a, _, seen = origins
    away = await prober.attempt(spec_for(f"{a}/away", "same-origin"))  # type: ignore[arg-type]
    assert not away.ok and away.status == 302 and away.detail == "status 302"
    assert seen.headers == []  # B was never asked
    home = await prober.attempt(spec_for(f"{a}/home", "same-origin"))  # type: ignore[arg-type]
    assert home.ok and seen.headers == [SECRETS]


async def test_check_accepts_same_origin_and_refuses_other_values(tmp_path: Path) -> None:
    cfg = tmp_path / "probe.toml"
    cfg.write_text("""
[[targets]]
name = "a"
url = "http://127.0.0.1:9/"
follow_redirects = "same-origin"
[[targets]]
name = "b"
url = "http://127.0.0.1:9/"
follow_redirects = "sometimes"
""")
    r = await slaprobe("check", "--config", str(cfg), cwd=tmp_path)
    assert_no_traceback(r)
    assert r.returncode == 2
    assert 'targets[1].follow_redirects: must be true, false or "same-origin"' in r.stderr
    assert "targets[0]" not in r.stderr
