"""The real daemon talking sd_notify to a socket like systemd's: READY=1 with
STATUS=, and RELOADING=1 + MONOTONIC_USEC then READY=1 around every reload."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from procs import Switch, free_port, write_config

from slaprobe.ops.sdnotify import status_text

pytestmark = pytest.mark.slow


class Socket:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.got: list[tuple[float, dict[str, str]]] = []

    def drain(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096).decode()
            except BlockingIOError:
                return
            fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            self.got.append((time.monotonic(), fields))

    async def wait(self, pred: Callable[[dict[str, str]], bool], after: int = 0,
                   timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.drain()
            for i, (_, f) in enumerate(self.got[after:], after):
                if pred(f):
                    return i
            await asyncio.sleep(0.05)
        raise AssertionError(f"no such message in {self.got}")


def spawn(cfg: Path, log: IO[bytes], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "slaprobe", "run", "--config", str(cfg)],
                            cwd=cfg.parent, stdout=log, stderr=subprocess.STDOUT, env=env)


def test_status_text() -> None:
    assert status_text({"up": 2, "down": 1}, 4, "config loaded 2026-12-01T10:00:00Z") == (
        "4 targets: 1 down, 2 up, 1 not checked yet; config loaded 2026-12-01T10:00:00Z")
    assert status_text({}, 0, "x") == "0 targets: none; x"


async def test_ready_status_and_reload_notifications(
    tmp_path: Path, target: tuple[str, Switch],
) -> None:
    url, _ = target
    port = free_port()
    targets = f'[[targets]]\nname = "app"\nurl = "{url}/"\n'
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=targets)
    notify = Socket(tmp_path / "notify.sock")
    env = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "JOURNAL_STREAM")}
    env["NOTIFY_SOCKET"] = str(tmp_path / "notify.sock")
    log = (tmp_path / "daemon.log").open("wb")
    proc = spawn(cfg, log, env)
    try:
        i = await notify.wait(lambda f: f.get("READY") == "1")
        assert notify.got[i][1]["STATUS"].startswith("1 targets: ")
        assert "config loaded " in notify.got[i][1]["STATUS"]
        # Housekeeping updates STATUS= when the first check lands.
        await notify.wait(lambda f: f.get("STATUS", "").startswith("1 targets: 1 up;"), i)

        cfg.write_text(cfg.read_text() + targets.replace('"app"', '"two"'))
        n = len(notify.got)
        before = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        r = await notify.wait(lambda f: f.get("RELOADING") == "1", n)
        usec = int(notify.got[r][1]["MONOTONIC_USEC"])  # CLOCK_MONOTONIC, like systemd's
        assert before * 1e6 - 1e6 <= usec <= time.monotonic() * 1e6
        done = await notify.wait(lambda f: f.get("READY") == "1", r)
        assert notify.got[done][1]["STATUS"].startswith("2 targets: ")
        assert "config reloaded " in notify.got[done][1]["STATUS"]

        cfg.write_text(cfg.read_text().replace('interval = "1s"', 'interval = "never"'))
        n = len(notify.got)
        proc.send_signal(signal.SIGHUP)
        r = await notify.wait(lambda f: f.get("RELOADING") == "1", n)
        done = await notify.wait(lambda f: f.get("READY") == "1", r)
        assert "reload failed " in notify.got[done][1]["STATUS"]
        assert "old config kept" in notify.got[done][1]["STATUS"]
        assert notify.got[done][1]["STATUS"].startswith("2 targets: ")

        n = len(notify.got)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        await notify.wait(lambda f: f.get("STOPPING") == "1", n)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        notify.sock.close()
