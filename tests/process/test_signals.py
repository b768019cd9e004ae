"""The real daemon: live metrics, SIGHUP reloads (valid and invalid), SIGTERM."""

from __future__ import annotations

import asyncio
import math
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from procs import Daemon, Switch, free_port, sample, write_config

pytestmark = pytest.mark.slow


async def test_reload_adds_and_removes_targets_and_rejects_bad_config(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    """SIGHUP swaps targets without a restart; an invalid file keeps the old config."""
    url, _ = target
    port = free_port()
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "one"
url = "{url}/one"
""")
    d = daemons(cfg, port)
    await d.launch()
    m: dict = {}

    async def refresh() -> None:
        m.clear()
        m.update(await d.metrics())

    await refresh()
    for _ in range(50):
        await refresh()
        if m.get(("slaprobe_probe_success", (("target", "one"),))) == 1.0:
            break
        await asyncio.sleep(0.1)
    assert m[("slaprobe_probe_success", (("target", "one"),))] == 1.0
    assert m[("slaprobe_target_up", (("target", "one"),))] == 1.0

    write_config(cfg, port=port, targets=f"""
[[targets]]
name = "two"
url = "{url}/two"
critical = false
""")
    d.signal(signal.SIGHUP)
    for _ in range(50):
        await refresh()
        if m.get(("slaprobe_probe_success", (("target", "two"),))) == 1.0:
            break
        await asyncio.sleep(0.1)
    assert m.get(("slaprobe_probe_success", (("target", "two"),))) == 1.0
    assert ("slaprobe_target_up", (("target", "one"),)) not in m
    assert m[("slaprobe_config_reloads_total", (("result", "success"),))] == 1.0

    cfg.write_text(cfg.read_text() + "\n[bogus]\nx = 1\n")
    d.signal(signal.SIGHUP)
    for _ in range(50):
        await refresh()
        if m.get(("slaprobe_config_last_reload_successful", ())) == 0.0:
            break
        await asyncio.sleep(0.1)
    assert m[("slaprobe_config_last_reload_successful", ())] == 0.0
    assert m[("slaprobe_config_reloads_total", (("result", "failure"),))] == 1.0
    [failed] = d.events("config_reload_failed")
    assert failed["level"] == "error" and "bogus: unknown key" in failed["problems"]
    before = m[("slaprobe_probes_total", (("result", "success"), ("target", "two")))]
    # probing goes on under the kept config after the failed reload
    await d.wait_until(
        lambda m: sample(m, "slaprobe_probes_total", result="success", target="two") > before,
        "another check of two after the failed reload")

    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 5


async def test_target_down_is_logged_once_and_metrics_follow(
    tmp_path: Path, target: tuple[str, Switch], daemons: Callable[[Path, int], Daemon],
) -> None:
    """One state-change event per transition; target_up and probes_total follow the target."""
    url, sw = target
    port = free_port()
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "app"
url = "{url}/app"
headers = {{ Authorization = "Bearer top-secret-value" }}
""")
    d = daemons(cfg, port)
    await d.launch()
    await d.wait_for_value("slaprobe_target_up", 1.0, target="app")
    sw.status = 503
    await d.wait_for_value("slaprobe_target_up", 0.0, target="app")
    sw.status = 200
    await d.wait_for_value("slaprobe_target_up", 1.0, target="app")
    m = await d.metrics()
    assert m[("slaprobe_probes_total", (("result", "bad_status"), ("target", "app")))] >= 1
    d.signal(signal.SIGINT)
    assert d.wait(timeout=10) == 0
    [down] = d.events("target_down")
    assert (down["target"], down["error"], down["status"]) == ("app", "bad_status", 503)
    assert [e["target"] for e in d.events("target_up")] == ["app", "app"]
    assert "top-secret-value" not in d.logs()
    assert "top-secret-value" not in str(m)
    assert not math.isnan(m[("slaprobe_service_up", (("service", "CloneNer"),))])
