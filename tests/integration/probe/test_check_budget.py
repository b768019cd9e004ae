"""A check keeps inside its budget (the daemon gives it 90% of its interval).

On the fake clock against a target that never answers: the timeouts, pauses and the
budget are all read from the clock, so these run in milliseconds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from faultserver import FaultServer
from waits import drive, until

from slaprobe.clock import FakeClock
from slaprobe.config import parse
from slaprobe.core.model import ErrorKind, State
from slaprobe.core.spec import ProbeSpec
from slaprobe.ops.daemon import Daemon
from slaprobe.probe.prober import check


async def test_hanging_target_check_is_cut_to_its_budget(fault_server: FaultServer) -> None:
    """With a 1.6 s budget, 1 s attempts and 0.2 s pauses, the second attempt is cut
    to what is left (0.4 s) and no third one starts: the next check is never pushed back."""
    clock = FakeClock()
    spec = ProbeSpec(name="t", url=fault_server.url("/slow"), timeout=1.0, retries=5,
                     retry_interval=0.2)
    task = asyncio.create_task(check(spec, budget=1.6, clock=clock))
    await drive(clock, task)
    attempts = task.result()
    assert [a.error for a in attempts] == [ErrorKind.TIMEOUT, ErrorKind.TIMEOUT]
    assert [round(a.latency, 6) for a in attempts] == [1.0, 0.4]
    assert round(clock.monotonic(), 6) == 1.6


async def test_without_a_budget_every_retry_runs(fault_server: FaultServer) -> None:
    """`once` and other callers without a budget keep every configured retry."""
    clock = FakeClock()
    spec = ProbeSpec(name="t", url=fault_server.url("/slow"), timeout=1.0, retries=2,
                     retry_interval=0.5)
    task = asyncio.create_task(check(spec, clock=clock))
    await drive(clock, task)
    assert [a.error for a in task.result()] == [ErrorKind.TIMEOUT] * 3
    assert round(clock.monotonic(), 6) == 4.0  # three full timeouts and two pauses


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
    clock = FakeClock()
    d = await Daemon.open(cfg, clock=clock, env={})
    await d.start()
    states = []
    try:
        for step in range(45):  # 4.5 s of fake time in 0.1 s steps
            await clock.advance(0.1)
            await until(lambda: clock.pending >= 3)  # every loop waits on the clock again
            if step >= 20:  # the first check is spread into the first interval
                states.append(d.tracker.probe_state("hang", clock.now()))
    finally:
        await d.shutdown()
    assert states == [State.DOWN] * len(states)
    h = d.tracker.histories["hang"]
    assert len(h.spans) == 0 and h.open is not None and h.open.state == State.DOWN
