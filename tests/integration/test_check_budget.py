"""A check keeps inside its budget (the daemon gives it 90% of its interval)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from faultserver import FaultServer
from prometheus_client import CollectorRegistry

from slaprobe.config import parse
from slaprobe.core.model import ErrorKind, State
from slaprobe.core.spec import ProbeSpec
from slaprobe.daemon import Daemon
from slaprobe.prober import check


async def test_hanging_target_check_is_cut_to_its_budget(fault_server: FaultServer) -> None:
    """With a 1.6 s budget, 1 s attempts and 0.2 s pauses, the second attempt is cut
    short and no third one starts: the next scheduled check is never pushed back."""
    spec = ProbeSpec(name="t", url=fault_server.url("/slow"), timeout=1.0, retries=5,
                     retry_interval=0.2)
    attempts = await check(spec, budget=1.6)
    assert [a.error for a in attempts] == [ErrorKind.TIMEOUT, ErrorKind.TIMEOUT]
    assert attempts[1].latency < 0.9  # cut to what was left (about 0.4 s), not 1 s


async def test_without_a_budget_every_retry_runs(fault_server: FaultServer) -> None:
    """`once` and other callers without a budget keep every configured retry."""
    spec = ProbeSpec(name="t", url=fault_server.url("/status/503"), timeout=1.0, retries=2,
                     retry_interval=0.0)
    attempts = await check(spec)
    assert [a.error for a in attempts] == [ErrorKind.BAD_STATUS] * 3


async def test_daemon_measures_a_hanging_target_as_one_continuous_outage(
    tmp_path: Path, fault_server: FaultServer,
) -> None:
    """Retries that would overrun the interval are cut, so a hanging target is one
    unbroken down run: never unknown, never split into one period per check."""
    cfg = parse({
        "daemon": {"database": str(tmp_path / "h.db")},
        "defaults": {"interval": "1s", "timeout": "500ms", "retries": 2,
                     "retry_interval": "200ms"},
        "targets": [{"name": "hang", "url": fault_server.url("/slow")}],
    }, env={})
    d = Daemon(cfg, registry=CollectorRegistry(), env={})
    await d.start()
    states = []
    try:
        await asyncio.sleep(2.0)  # the first check is spread into the first interval
        for _ in range(25):
            assert d.tracker is not None
            states.append(d.tracker.probe_state("hang", time.time()))
            await asyncio.sleep(0.1)
    finally:
        await d.shutdown(None)
    assert states == [State.DOWN] * len(states)
    h = d.tracker.histories["hang"]
    assert len(h.spans) == 0 and h.open is not None and h.open.state == State.DOWN
