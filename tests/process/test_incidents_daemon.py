"""End to end: the running daemon sees an incident open, an acknowledgement stored
by `slaprobe incidents ack` from another process, and the recovery; the report
lists the incident with its outcome."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from procs import Daemon, Switch, free_port, slaprobe, write_config

from slaprobe.core.timefmt import iso

pytestmark = pytest.mark.slow

# every hour of every day is business time, so the clocks run while the test does
SUPPORT = """
[support]
hours = "00:00-24:00"
days = "mon-sun"
merge_gap = "2s"
"""


async def wait_for(pred: Callable[[], object], what: str, d: Daemon, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pred():  # type: ignore[misc]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; logs: {d.logs()[-3000:]}")


async def test_incident_lifecycle_in_the_running_daemon(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    url, sw = target
    port = free_port()
    cfg = write_config(tmp_path / "probe.toml", port=port, extra=SUPPORT, targets=f"""
[[targets]]
name = "app"
url = "{url}/"
""")
    d = daemons(cfg, port)
    await d.launch()
    begun = time.time()

    async def value(name: str, **labels: str) -> float | None:
        return await d.value(name, **labels)

    async def no_open() -> bool:
        return await value("slaprobe_incidents_open", priority="high") == 0.0

    await wait_for(no_open, "incidents_open 0", d)
    assert await value("slaprobe_incident_deadline_timestamp_seconds", priority="high",
                       clock="resolution") is None  # absent while none is open

    sw.status = 500

    async def opened() -> bool:
        return await value("slaprobe_incidents_open", priority="high") == 1.0

    await wait_for(opened, "an open high incident", d)
    m = await d.metrics()
    resolution = m[("slaprobe_incident_deadline_timestamp_seconds",
                    (("clock", "resolution"), ("priority", "high")))]
    response = m[("slaprobe_incident_deadline_timestamp_seconds",
                  (("clock", "response"), ("priority", "high")))]
    # 4 business hours and 1 business day (24 h here) from the incident's start
    assert resolution - response == 20 * 3600
    assert begun - 5 < response - 4 * 3600 < time.time()
    left = m[("slaprobe_incident_business_seconds_left",
              (("clock", "resolution"), ("priority", "high")))]
    assert 24 * 3600 - 60 < left <= 24 * 3600
    assert m[("slaprobe_incidents", (("priority", "high"), ("resolution", "pending"),
                                     ("window", "month")))] == 1.0

    listed = slaprobe("incidents", "--config", str(cfg), "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    open_ = [i for i in json.loads(listed.stdout)["incidents"] if i["end"] is None]
    assert len(open_) == 1, listed.stdout
    inc = open_[0]
    ack = slaprobe("incidents", "ack", inc["id"], "--by", "oncall", "--note", "paged",
                   "--config", str(cfg), cwd=tmp_path)
    assert ack.returncode == 0, ack.stderr

    async def acked() -> bool:  # the response clock stops: no unacknowledged incident
        return await value("slaprobe_incident_deadline_timestamp_seconds", priority="high",
                           clock="response") is None

    await wait_for(acked, "the acknowledgement in the daemon", d)
    assert await value("slaprobe_incident_deadline_timestamp_seconds", priority="high",
                       clock="resolution") == resolution

    sw.status = 200
    await wait_for(no_open, "the incident resolved", d)

    async def met() -> bool:
        return await value("slaprobe_incidents", priority="high", resolution="met",
                           window="month") == 1.0

    await wait_for(met, "the month count of met incidents", d)
    logs = [json.loads(line) for line in d.logs().splitlines() if line.startswith("{")]
    events = [e["event"] for e in logs if e.get("incident") == inc["id"]]
    assert events == ["incident_opened", "incident_acknowledged", "incident_resolved"], logs

    d.signal(signal.SIGTERM)  # the daemon flushes its pending checks as it stops
    assert d.wait() == 0
    rep = slaprobe("report", "--config", str(cfg), "--from", iso(begun - 3600), "--to",
                   iso(time.time() + 60), "--format", "json", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    listed_after = json.loads(rep.stdout)["incidents"]
    assert [i["id"] for i in listed_after] == [inc["id"]], rep.stdout
    done = listed_after[0]
    assert done["end"] is not None and done["resolution"] == "met"
    assert done["acknowledged"] is not None and done["response"] == "met"
