"""End to end: three daemons at three locations, one local target, one real PostgreSQL.

Each location reaches the target at a path of its own (`/east`, `/west`, `/north`), so
the test can cut one location's path alone: its requests are answered by closing the
connection, as a broken route would. With quorum 2:
  - east's path is cut (for about 20 s): the consensus shows no downtime, and east's own
    view (the report's `locations` section) shows the cut;
  - during it a real outage (of ten checks) is seen by all three: the consensus counts
    it, give or take one interval;
  - north is killed with SIGKILL: east and west keep the consensus and its coverage.
A fourth daemon started with east's location refuses (exit 2, naming the holder).

The PostgreSQL cluster is the tests' own (initdb + pg_ctl in a temporary directory);
skipped only when PostgreSQL is not installed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

HERE = Path(__file__).resolve().parent
for sub in ("process", "contract"):
    path = str(HERE.parent / sub)
    if path not in sys.path:
        sys.path.insert(0, path)

import pgserver  # noqa: E402
from procs import Daemon, Metrics, free_port, slaprobe  # noqa: E402

from slaprobe.core.timefmt import iso  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(pgserver.binaries() is None,
                       reason="no PostgreSQL server binaries (Debian package postgresql)"),
]
LOCATIONS = ("east", "west", "north")
INTERVAL = 1.0


class Target:
    """The target, reached by each location at its own path."""

    def __init__(self) -> None:
        self.cut: set[str] = set()  # locations whose path is broken
        self.down = False  # a real outage: every location sees it

    async def handle(self, request: web.Request) -> web.StreamResponse:
        loc = request.match_info["loc"]
        if loc in self.cut:
            assert request.transport is not None
            request.transport.abort()  # a broken route: the connection dies
            return web.Response(status=500)
        if self.down:
            return web.Response(status=503, text="down")
        return web.Response(text="ok")


@pytest.fixture(scope="module")
def pg() -> Iterator[pgserver.Server]:
    with pgserver.server() as srv:
        yield srv


@pytest.fixture
async def target() -> AsyncIterator[tuple[int, Target]]:
    t = Target()
    app = web.Application()
    app.router.add_get("/{loc}", t.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port, t
    finally:
        await runner.cleanup()


def config(tmp: Path, loc: str, *, port: int, target_port: int) -> Path:
    path = tmp / f"{loc}.toml"
    path.write_text(f"""
[daemon]
listen = "127.0.0.1:{port}"
database = "env:SLAPROBE_TEST_DB"
location = "{loc}"

[slo]
quorum = 2

[defaults]
interval = "1s"
timeout = "500ms"
retries = 0

[[targets]]
name = "app"
url = "http://127.0.0.1:{target_port}/{loc}"
""")
    return path


async def report(cfg: Path, a: float, b: float) -> dict[str, object]:
    done = await asyncio.to_thread(slaprobe, "report", "--config", str(cfg), "--from", iso(a),
                                   "--to", iso(b), "--format", "json", cwd=cfg.parent)
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


async def checked(daemons: dict[str, Daemon], where: Iterable[str], result: str, more: int,
                  ) -> None:
    """Until each daemon in `where` made `more` further checks with `result` ("failed":
    any but success), counted from now; bounded."""

    def count(m: Metrics) -> float:
        return sum(v for (name, labels), v in m.items()
                   if name == "slaprobe_probes_total" and ("target", "app") in labels
                   and (dict(labels)["result"] != "success" if result == "failed"
                        else ("result", result) in labels))

    starts = {loc: count(await daemons[loc].metrics()) for loc in where}
    for loc, start in starts.items():
        await daemons[loc].wait_until(lambda m, start=start: count(m) >= start + more,
                                      f"{loc}: {more} more checks with result {result}",
                                      timeout=60)


async def test_three_locations_one_truth(pg: pgserver.Server, target: tuple[int, Target],
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         ) -> None:
    monkeypatch.setenv("SLAPROBE_TEST_DB", pg.new_database())
    target_port, tgt = target
    ports = {loc: free_port() for loc in LOCATIONS}
    daemons = {loc: Daemon(config(tmp_path, loc, port=ports[loc], target_port=target_port),
                           ports[loc]) for loc in LOCATIONS}
    try:
        for d in daemons.values():
            await d.launch()
        # each phase lasts until the checks it needs were made (bounded), not a fixed time
        await checked(daemons, LOCATIONS, "success", 2)
        t0 = time.time()

        # a fourth daemon at east's location is refused
        second = tmp_path / "second"
        second.mkdir()
        dup = config(second, "east", port=free_port(), target_port=target_port)
        # (in a thread: this loop serves the target meanwhile)
        refused = await asyncio.to_thread(slaprobe, "run", "--config", str(dup), cwd=second,
                                          timeout=30)
        assert refused.returncode == 2, refused.stderr
        assert "location 'east'" in refused.stderr, refused.stderr
        assert "in use by another slaprobe run (pid " in refused.stderr

        tgt.cut.add("east")  # east's path is cut, around the whole outage
        cut_at = time.time()
        await checked(daemons, ["east"], "failed", 5)
        tgt.down = True  # a real outage, seen from everywhere
        down_at = time.time()
        await checked(daemons, ["west", "north"], "bad_status", 10)
        tgt.down = False
        up_at = time.time()
        await checked(daemons, ["west", "north"], "success", 5)
        tgt.cut.clear()
        uncut_at = time.time()
        await checked(daemons, ["east"], "success", 3)
        daemons["north"].signal(signal.SIGKILL)  # north dies; east and west go on
        daemons["north"].wait()
        killed_at = time.time()
        await checked(daemons, ["east", "west"], "success", 12)
        end = time.time()

        rep = await report(daemons["west"].config, t0, end)
        app = rep["targets"]["app"]  # type: ignore[index]
        assert abs(app["down_seconds"] - (up_at - down_at)) <= INTERVAL + 0.5, app
        assert len(rep["downtime"]) == 1, rep["downtime"]  # type: ignore[arg-type]
        assert app["coverage"] > 0.97, app  # two of three always looked
        views = rep["locations"]  # type: ignore[index]
        assert set(views) == set(LOCATIONS)
        east = views["east"]["targets"]["app"]
        # its cut, all of it
        assert abs(east["down_seconds"] - (uncut_at - cut_at)) <= 2 * INTERVAL + 1, east
        west = views["west"]["targets"]["app"]
        assert abs(west["down_seconds"] - (up_at - down_at)) <= INTERVAL + 0.5, west
        north = views["north"]["targets"]["app"]
        assert north["coverage"] < (killed_at - t0 + 3) / (end - t0), north  # lost coverage

        # after the kill, the consensus keeps its coverage from east and west
        after = await report(daemons["east"].config, killed_at + 3, end)
        assert after["targets"]["app"]["coverage"] > 0.95, after  # type: ignore[index]
        assert after["targets"]["app"]["down_seconds"] == 0  # type: ignore[index]

        # every daemon exports the consensus; the probe metrics stay each one's own
        for d in (daemons["east"], daemons["west"]):
            await d.wait_for_value("slaprobe_target_up", 1.0, target="app")
        east_m, west_m = await daemons["east"].metrics(), await daemons["west"].metrics()
        fails = [k for k in east_m if k[0] == "slaprobe_probes_total"
                 and ("result", "success") not in k[1] and east_m[k] > 0]
        assert fails, "east's own probe counters show its cut"
        wfails = {k: v for k, v in west_m.items() if k[0] == "slaprobe_probes_total"
                  and ("result", "bad_status") in k[1]}
        assert sum(wfails.values()) <= 32
        assert not any(k[0] == "slaprobe_probes_total" and v > 0 and "result" in dict(k[1])
                       and dict(k[1])["result"] not in ("success", "bad_status")
                       for k, v in west_m.items())

        done = await asyncio.to_thread(slaprobe, "verify", "--config",
                                       str(daemons["west"].config), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    finally:
        for d in daemons.values():
            d.stop()
