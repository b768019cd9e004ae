"""The static status export's systemd units (deploy/systemd/slaprobe-status-export.*):
systemd-analyze verifies them, and the service runs the documented command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_deploy import analyze_or_skip, run

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
SERVICE = DEPLOY / "slaprobe-status-export.service"
TIMER = DEPLOY / "slaprobe-status-export.timer"


def test_units_say_what_they_run() -> None:
    text = SERVICE.read_text()
    assert "ExecStart=/usr/local/bin/slaprobe status export /srv/slaprobe-status/site" in text
    assert "Type=oneshot" in text and "ReadWritePaths=/srv/slaprobe-status" in text
    assert "ProtectSystem=strict" in text and "NoNewPrivileges=yes" in text
    timer = TIMER.read_text()
    assert "OnCalendar=" in timer and "WantedBy=timers.target" in timer


@pytest.mark.slow
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = analyze_or_skip(tmp_path)
    true = shutil.which("true") or "/bin/true"
    svc = tmp_path / SERVICE.name
    svc.write_text(SERVICE.read_text().replace("/usr/local/bin/slaprobe", true))
    timer = tmp_path / TIMER.name
    timer.write_text(TIMER.read_text())
    r = run([analyze, "verify", str(svc), str(timer)])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    problems = [line for line in out.splitlines() if "slaprobe-status-export" in line]
    assert not problems, out
