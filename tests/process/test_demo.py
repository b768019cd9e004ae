"""`slaprobe demo` runs to the end, writes only into its temporary folder, leaves
nothing running, and ends cleanly on Ctrl-C."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLAPROBE_CONFIG", "STATE_DIRECTORY", "NOTIFY_SOCKET")}
    for d in ("tmp", "home", "cwd"):
        (tmp / d).mkdir()
    env.update(TMPDIR=str(tmp / "tmp"), HOME=str(tmp / "home"), PYTHONDONTWRITEBYTECODE="1")
    return env


def test_demo_runs_to_the_end(tmp_path: Path) -> None:
    env = _env(tmp_path)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "slaprobe", "demo", "--fast"],
                       cwd=tmp_path / "cwd", env=env, capture_output=True, text=True,
                       timeout=170, check=False)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stderr == ""
    m = re.search(r"done. The report in every format is in (\S+):", r.stdout)
    assert m, r.stdout
    folder = Path(m.group(1))
    # nothing outside the temporary folder
    assert folder.parent == tmp_path / "tmp"
    assert list((tmp_path / "tmp").iterdir()) == [folder]
    assert list((tmp_path / "cwd").iterdir()) == []
    assert list((tmp_path / "home").iterdir()) == []
    names = {p.name for p in folder.iterdir()}
    assert {"report.txt", "report.json", "report.md", "report.html", "report.csv",
            "status.html", "probe.toml", "demo.db", "daemon.log"} <= names
    # the live summary was drawn, with the story
    assert "critical outage" in r.stdout and "30d availability" in r.stdout
    rep = json.loads((folder / "report.json").read_text())
    statuses = {m["id"]: m["status"] for m in rep["maintenance"]}
    assert statuses["db-upgrade"] == "excused" and statuses["hotfix"] == "late_notice"
    assert statuses["api-rollout"] == "excused"
    assert rep["targets"]["api"]["excluded_by_reason"]["maintenance"] >= 3600
    assert any(d["target"] == "app" and d["seconds"] == 720 for d in rep["downtime"])
    assert rep["targets"]["docs"]["down_seconds"] >= 7200  # the non-critical slowdown
    assert rep["service"]["availability"] is not None
    rows = list(csv.DictReader(io.StringIO((folder / "report.csv").read_text())))
    assert len({r["day"] for r in rows}) == 30 and len(rows) == 30 * 4
    html = (folder / "report.html").read_text()
    assert "<script" not in html and "below objective" in html
    assert "CloneNer status" in (folder / "status.html").read_text()
    # live checks of the simulation reached the database through the real daemon
    log = (folder / "daemon.log").read_text()
    assert '"event": "target_down"' in log and '"event": "listening"' in log
    print(f"demo --fast took {took:.1f} s")


def test_ctrl_c_ends_the_demo_cleanly(tmp_path: Path) -> None:
    env = _env(tmp_path)
    p = subprocess.Popen([sys.executable, "-m", "slaprobe", "demo", "--duration", "120"],
                         cwd=tmp_path / "cwd", env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        deadline = time.monotonic() + 90
        seen = ""
        while "slaprobe demo " not in seen.split("daemon on", 1)[-1]:
            line = p.stdout.readline()
            assert line and time.monotonic() < deadline, seen
            seen += line
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, seen + out + err
    assert "Traceback" not in err and "Traceback" not in out
    assert list((tmp_path / "cwd").iterdir()) == []
    folders = list((tmp_path / "tmp").iterdir())
    assert len(folders) == 1 and (folders[0] / "report.html").exists()
    assert "stopped early" in out


def test_ctrl_c_before_the_daemon_starts(tmp_path: Path) -> None:
    """Interrupted while the history is written: a clear line, no report, no trace."""
    env = _env(tmp_path)
    p = subprocess.Popen([sys.executable, "-m", "slaprobe", "demo", "--fast"],
                         cwd=tmp_path / "cwd", env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        assert "writing a month of simulated history" in p.stdout.readline()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, out + err
    assert "Traceback" not in err + out and err == ""
    assert "nothing to report" in out or "stopped early" in out
    assert list((tmp_path / "cwd").iterdir()) == []
