"""Helpers that run the real `slaprobe` program against local servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refused_port() -> int:
    """A port with nothing listening (bound then closed)."""
    return free_port()


class Switch:
    """A local target whose health the test flips."""

    def __init__(self) -> None:
        self.status = 200
        self.hits = 0

    async def handle(self, _: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(status=self.status, text="ok" if self.status == 200 else "down")


def slaprobe(*args: str, cwd: Path, check: bool = False, timeout: float = 60
             ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "NOTIFY_SOCKET")}
    return subprocess.run(
        [sys.executable, "-m", "slaprobe", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=check, env=env,
    )


Metrics = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def sample(m: Metrics, name: str, **labels: str) -> float:
    """One sample of scraped metrics, 0 when absent (a counter not yet incremented)."""
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


class Daemon:
    """A `slaprobe run` child process."""

    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.port = port
        self.log = config.parent / f"daemon-{port}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "NOTIFY_SOCKET")}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "slaprobe", "run", "--config", str(self.config),
                 "--log-format", "json"],
                cwd=self.config.parent, stdout=out, stderr=subprocess.STDOUT, env=env,
            )

    async def launch(self) -> None:
        """Start the daemon and wait until it is ready."""
        self.start()
        await self.wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"daemon exited {self.proc.returncode}: {self.logs()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with s.get(f"{self.url}/readyz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"daemon not ready: {self.logs()}")

    async def metrics(self) -> Metrics:
        async with aiohttp.ClientSession() as s, s.get(f"{self.url}/metrics") as r:
            text = await r.text()
        out = {}
        for fam in text_string_to_metric_families(text):
            for sample in fam.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    async def value(self, name: str, **labels: str) -> float | None:
        return (await self.metrics()).get((name, tuple(sorted(labels.items()))))

    async def wait_for_value(self, name: str, value: float, timeout: float = 20,
                             **labels: str) -> None:
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = await self.value(name, **labels)
            if seen == value:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{name}{labels} = {seen}, wanted {value}; logs: {self.logs()}")

    async def wait_until(self, check: Callable[[Metrics], bool], what: str,
                         timeout: float = 30) -> Metrics:
        """Poll /metrics until `check` holds on them (bounded); those metrics. Instead of a
        fixed sleep: waits as long as the condition takes, and no longer."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.logs()}")
            m = await self.metrics()
            if check(m):
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {what}; metrics: "
                                     f"{ {k: v for k, v in m.items() if 'slaprobe' in k[0]} }; "
                                     f"logs: {self.logs()[-3000:]}")
            await asyncio.sleep(0.1)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 10) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """The daemon's structlog events (its JSON lines), those named `name` if given."""
        out = []
        for line in self.logs().splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and (name is None or event.get("event") == name):
                    out.append(event)
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def write_config(path: Path, *, port: int, targets: str, extra: str = "") -> Path:
    path.write_text(f"""
[daemon]
listen = "127.0.0.1:{port}"
database = "history.db"

[defaults]
interval = "1s"
timeout = "500ms"
retries = 0

{extra}

{targets}
""")
    return path


@contextlib.asynccontextmanager
async def switch_target() -> AsyncIterator[tuple[str, Switch]]:
    """A local HTTP target on 127.0.0.1 whose health the test flips: (url, switch)."""
    sw = Switch()
    app = web.Application()
    app.router.add_get("/{tail:.*}", sw.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", sw
    finally:
        await runner.cleanup()


def shared_config(folder: Path, *, port: int, target: str) -> Path:
    """`folder`/probe.toml (the folder made): a daemon at location "east" on the shared
    history in $SLAPROBE_TEST_DB, listening on `port`, probing one target "app" at
    `target` every second (timeout 500 ms, no retries)."""
    folder.mkdir(exist_ok=True)
    path = folder / "probe.toml"
    path.write_text(f"""
[daemon]
listen = "127.0.0.1:{port}"
database = "env:SLAPROBE_TEST_DB"
location = "east"

[defaults]
interval = "1s"
timeout = "500ms"
retries = 0

[[targets]]
name = "app"
url = "{target}/"
""")
    return path
