"""Probing: a target's check, its controls, the outcome recorded (real sockets on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from faultserver import FaultServer

from slaprobe import logs
from slaprobe.clock import SystemClock
from slaprobe.core.history.tracker import Tracker
from slaprobe.core.model import State
from slaprobe.core.spec import ProbeSpec
from slaprobe.history.recorder import Recorder
from slaprobe.history.store import Store
from slaprobe.metrics.instruments import Instruments
from slaprobe.probe import prober
from slaprobe.probe.probing import Probing


@pytest.fixture
async def recorder(tmp_path: Path) -> AsyncIterator[Recorder]:
    store = await asyncio.to_thread(Store, tmp_path / "p.db")
    yield Recorder(store, Tracker({"app": True}), SystemClock(), Instruments(), logs.get(),
                   horizon=86400.0, generation=0)
    await asyncio.to_thread(store.close)


def spec(url: str, name: str = "app") -> ProbeSpec:
    return ProbeSpec(name=name, url=url, interval=10.0, timeout=1.0, retries=0)


async def test_a_failure_with_every_control_down_is_probe_network(
    recorder: Recorder, refused_url: str,
) -> None:
    controls = [spec(refused_url, "c1"), spec(refused_url, "c2")]
    probing = Probing(SystemClock(), recorder, recorder.instruments, controls)
    await probing.probe_target(spec(refused_url))
    check = recorder.last["app"]
    assert (check.ok, check.network, check.state) == (False, True, State.PROBE_NETWORK)
    assert set(probing.judge.results) == {"c1", "c2"}


async def test_one_control_up_makes_it_down(
    recorder: Recorder, refused_url: str, fault_server: FaultServer,
) -> None:
    controls = [spec(refused_url, "c1"), spec(fault_server.url("/ok"), "c2")]
    probing = Probing(SystemClock(), recorder, recorder.instruments, controls)
    await probing.probe_target(spec(fault_server.url("/status/503")))
    check = recorder.last["app"]
    assert (check.ok, check.error, check.status, check.state) == (
        False, "bad_status", 503, State.DOWN)
    assert recorder.instruments.probe.results[("app", "bad_status")] == 1


async def test_an_own_failure_is_unknown_never_down(
    recorder: Recorder, fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_: object, **__: object) -> list[object]:
        raise RuntimeError("bug")

    monkeypatch.setattr(prober, "check", broken)
    probing = Probing(SystemClock(), recorder, recorder.instruments, [])
    with structlog.testing.capture_logs() as events:
        await probing.probe_target(spec(fault_server.url("/ok")))
    check = recorder.last["app"]
    assert check.unknown and check.state is None and check.error == "probe_error"
    [unknown] = [e for e in events if e["event"] == "target_unknown"]
    assert unknown["log_level"] == "error" and "RuntimeError" in unknown["detail"]
