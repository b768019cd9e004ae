"""Driving Debian's headless chromium in tests: the command line (--dump-dom,
--screenshot) and the DevTools protocol over a websocket on 127.0.0.1 (page
width, requests made, screenshots at a given window width)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

BINARY = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--hide-scrollbars"]


def run(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[bytes]:
    """chromium with the test flags and a fresh profile."""
    assert BINARY is not None
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run([BINARY, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, timeout=timeout, check=False)


def dump_dom(url: str, width: int = 1280) -> str:
    r = run(f"--window-size={width},900", "--dump-dom", url)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r.stdout.decode()


def screenshot(url: str, path: Path, width: int, height: int, *extra: str) -> bytes:
    r = run(f"--window-size={width},{height}", f"--screenshot={path}", *extra, url)
    assert r.returncode == 0 and path.exists(), r.stderr.decode(errors="replace")[-2000:]
    return path.read_bytes()


class Page:
    """One tab over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: str) -> None:
        self.ws = ws
        self.session = session
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        await self.ws.send_str(json.dumps({"id": n, "method": method, "params": params,
                                           "sessionId": self.session}))
        while True:
            msg = json.loads((await asyncio.wait_for(self.ws.receive(), 60)).data)
            if msg.get("id") == n:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            if "method" in msg:
                self.events.append(msg)

    async def wait_event(self, method: str, timeout: float = 60.0) -> dict[str, Any]:
        for e in self.events:
            if e["method"] == method:
                return e
        async with asyncio.timeout(timeout):
            while True:
                msg = json.loads((await self.ws.receive()).data)
                if "method" in msg:
                    self.events.append(msg)
                    if msg["method"] == method:
                        return msg

    async def open(self, url: str, width: int, height: int = 900) -> None:
        self.events.clear()
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                        deviceScaleFactor=1, mobile=width < 600)
        await self.send("Network.enable")
        await self.send("Page.enable")
        await self.send("Page.navigate", url=url)
        await self.wait_event("Page.loadEventFired")

    async def value(self, expression: str) -> Any:
        r = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return r["result"].get("value")

    async def screenshot(self, *, full: bool = False) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if full:
            w = await self.value("document.documentElement.scrollWidth")
            h = await self.value("document.documentElement.scrollHeight")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})
        r = await self.send("Page.captureScreenshot", **params)
        return base64.b64decode(r["data"])

    def requested(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"]


@contextlib.asynccontextmanager
async def devtools() -> AsyncIterator[Page]:
    """A headless chromium with DevTools on 127.0.0.1 (a random port) and one tab."""
    assert BINARY is not None
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            BINARY, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            assert proc.stderr is not None
            url = None
            async with asyncio.timeout(60):
                while url is None:
                    line = (await proc.stderr.readline()).decode(errors="replace")
                    if not line:
                        raise RuntimeError("chromium ended before DevTools listened")
                    m = re.search(r"DevTools listening on (ws://127\.0\.0\.1:\d+/\S+)", line)
                    url = m.group(1) if m else None
            drain = asyncio.create_task(_drain(proc.stderr))
            async with aiohttp.ClientSession() as http, http.ws_connect(
                    url, max_msg_size=0) as ws:
                await ws.send_str(json.dumps({"id": 1, "method": "Target.createTarget",
                                              "params": {"url": "about:blank"}}))
                target = await _reply(ws, 1)
                await ws.send_str(json.dumps({"id": 2, "method": "Target.attachToTarget",
                                              "params": {"targetId": target["targetId"],
                                                         "flatten": True}}))
                session = (await _reply(ws, 2))["sessionId"]
                yield Page(ws, session)
            drain.cancel()
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def _reply(ws: aiohttp.ClientWebSocketResponse, n: int) -> dict[str, Any]:
    while True:
        msg = json.loads((await asyncio.wait_for(ws.receive(), 60)).data)
        if msg.get("id") == n:
            return dict(msg["result"])


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, unfiltered."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            channels = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def ink(data: bytes) -> tuple[float, int]:
    """(share of pixels that differ from the top-left one, distinct colours seen) of a
    PNG screenshot, on a sample of rows: a blank page has (0, 1)."""
    w, h, rows = png_pixels(data)
    ch = len(rows[0]) // w
    bg = rows[0][:3]
    differ = total = 0
    colours: set[bytes] = set()
    for row in rows[:: max(h // 200, 1)]:
        for x in range(0, w, 2):
            px = row[x * ch:x * ch + 3]
            colours.add(px)
            total += 1
            differ += px != bg
    return differ / max(total, 1), len(colours)


def file_url(path: Path) -> str:
    return path.resolve().as_uri()


__all__ = ["BINARY", "devtools", "dump_dom", "file_url", "ink", "os", "screenshot"]
