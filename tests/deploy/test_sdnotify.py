"""sd_notify against a real AF_UNIX datagram socket, as systemd provides it."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from slaprobe.ops.sdnotify import Notifier, notify, watchdog_interval, watchdog_loop


class Receiver:
    """A systemd-like notify socket that timestamps every datagram on arrival.

    It reads in a thread, so datagrams are timestamped even while the test's
    event loop is blocked on purpose.
    """

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.02)
        self.received: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            with self._lock:
                self.received.append((time.monotonic(), data.decode()))

    def messages(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 2.0) -> list[tuple[float, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages()
            if len(got) >= count:
                return got
            time.sleep(0.005)
        return self.messages()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[Receiver, str]]:
    path = tmp_path / "notify.sock"
    if len(str(path)) >= 100:  # sun_path is 108 bytes; fall back to a short dir
        path = Path("/tmp") / f"slaprobe-test-{uuid.uuid4().hex[:8]}.sock"
    rx = Receiver(str(path))
    try:
        yield rx, str(path)
    finally:
        rx.close()
        path.unlink(missing_ok=True)


def test_ready_is_received(receiver: tuple[Receiver, str]) -> None:
    rx, path = receiver
    assert notify("READY=1", env={"NOTIFY_SOCKET": path}) is True
    assert [m for _, m in rx.wait_for(1)] == ["READY=1"]


def test_multiline_message_is_one_datagram(receiver: tuple[Receiver, str]) -> None:
    rx, path = receiver
    assert notify("READY=1\nSTATUS=probing 3 targets", env={"NOTIFY_SOCKET": path})
    assert [m for _, m in rx.wait_for(1)] == ["READY=1\nSTATUS=probing 3 targets"]


def test_abstract_namespace_socket() -> None:
    name = f"slaprobe-test-{uuid.uuid4().hex}"
    rx = Receiver("\0" + name)
    try:
        assert notify("READY=1", env={"NOTIFY_SOCKET": "@" + name}) is True
        assert [m for _, m in rx.wait_for(1)] == ["READY=1"]
    finally:
        rx.close()


def test_unset_socket_is_a_noop(receiver: tuple[Receiver, str]) -> None:
    rx, _ = receiver
    assert notify("READY=1", env={}) is False
    assert notify("READY=1", env={"NOTIFY_SOCKET": ""}) is False
    time.sleep(0.05)
    assert rx.messages() == []


def test_default_env_without_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False


def test_missing_socket_fails_quietly(tmp_path: Path) -> None:
    assert notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False
    assert notify("READY=1", env={"NOTIFY_SOCKET": "relative/path"}) is False


def test_watchdog_interval_is_half_the_period() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert (
        watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    )


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"WATCHDOG_USEC": ""},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "-5"},
        {"WATCHDOG_USEC": "soon"},
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"},  # someone else's watchdog
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"},
    ],
)
def test_watchdog_interval_disabled(env: dict[str, str]) -> None:
    if env.get("WATCHDOG_PID") == "1":
        assert os.getpid() != 1
    assert watchdog_interval(env) is None


async def test_watchdog_loop_pets(receiver: tuple[Receiver, str]) -> None:
    rx, path = receiver
    task = asyncio.create_task(
        watchdog_loop(0.02, notify=lambda m: notify(m, env={"NOTIFY_SOCKET": path}))
    )
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    got = rx.wait_for(3)
    assert len(got) >= 3
    assert {m for _, m in got} == {"WATCHDOG=1"}


async def test_watchdog_loop_skips_when_unhealthy(receiver: tuple[Receiver, str]) -> None:
    rx, path = receiver
    healthy = False
    task = asyncio.create_task(
        watchdog_loop(
            0.02,
            notify=lambda m: notify(m, env={"NOTIFY_SOCKET": path}),
            healthy=lambda: healthy,
        )
    )
    await asyncio.sleep(0.15)
    assert rx.messages() == []
    healthy = True
    await asyncio.sleep(0.15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(rx.wait_for(2)) >= 2


async def test_watchdog_loop_rejects_bad_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        await watchdog_loop(0)


async def test_blocked_event_loop_stops_petting(receiver: tuple[Receiver, str]) -> None:
    """A stalled loop must starve systemd's watchdog, then petting resumes."""
    rx, path = receiver
    interval = 0.05
    block = 0.5
    task = asyncio.create_task(
        watchdog_loop(interval, notify=lambda m: notify(m, env={"NOTIFY_SOCKET": path}))
    )
    await asyncio.sleep(0.3)  # healthy petting first

    async def stall() -> tuple[float, float]:
        start = time.monotonic()
        time.sleep(block)  # noqa: ASYNC251 - blocking the loop is the point
        return start, time.monotonic()

    block_start, block_end = await stall()
    await asyncio.sleep(0.3)  # petting resumes
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stamps = [t for t, m in rx.wait_for(1) if m == "WATCHDOG=1"]

    before = [t for t in stamps if t <= block_start]
    during = [t for t in stamps if block_start < t < block_end]
    after = [t for t in stamps if t >= block_end]
    assert len(before) >= 3, stamps
    assert during == [], "the watchdog was petted while the event loop was blocked"
    assert len(after) >= 2, "petting did not resume after the loop unblocked"
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # The largest gap spans the block; the others are about one interval.
    assert max(gaps) >= block
    assert sorted(gaps)[-2] < block


def test_notifier_says_ready_reloading_status_on_change_and_stopping(
    receiver: tuple[Receiver, str],
) -> None:
    rx, path = receiver
    states = {"up": 1}
    n = Notifier(lambda: states, lambda: 2, env={"NOTIFY_SOCKET": path})
    n.tick()  # before READY=1: nothing
    n.ready("config loaded T")
    n.tick()  # unchanged: nothing
    states = {"up": 1, "down": 1}
    n.tick()
    n.reloading(12.5)
    n.ready("config reloaded T2")
    n.stopping()
    got = [m for _, m in rx.wait_for(5)]
    assert got == [
        "READY=1\nSTATUS=2 targets: 1 up, 1 not checked yet; config loaded T",
        "STATUS=2 targets: 1 down, 1 up; config loaded T",
        "RELOADING=1\nMONOTONIC_USEC=12500000",
        "READY=1\nSTATUS=2 targets: 1 down, 1 up; config reloaded T2",
        "STOPPING=1",
    ]
