"""`check` warns where the daemon cuts a check short; `once` cuts it the same way."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import slaprobe, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(name="silent")
def _silent() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def test_check_warns_and_once_uses_the_daemon_budget(tmp_path: Path, silent: int) -> None:
    cfg = write_config(tmp_path / "probe.toml", port=9469, targets=f"""
[[targets]]
name = "slow"
url = "http://127.0.0.1:{silent}/"
interval = "2s"
timeout = "5s"
retries = 0

[[targets]]
name = "fine"
url = "http://127.0.0.1:{silent}/other"
interval = "30s"
timeout = "1s"
retries = 1
retry_interval = "1s"
""")
    r = slaprobe("check", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if "short" in line]
    assert lines == ["slaprobe: warning: targets[0] (slow): worst case 5s (1 attempt x "
                     "timeout 5s) is beyond 90% of interval 2s (1.8s): the daemon cuts the "
                     "check short there"]
    once = slaprobe("once", "--config", str(cfg), cwd=tmp_path)
    assert once.returncode == 1, once.stdout + once.stderr
    slow = next(line for line in once.stdout.splitlines() if line.startswith("slow "))
    assert "DOWN (timeout)" in slow
    latency_ms = int(slow.split("ms")[0].split()[-1])
    # Cut at 90% of the 2s interval (1.8s), well before the 5s timeout; the slack
    # above is for a loaded machine.
    assert 1700 <= latency_ms < 4000, slow
