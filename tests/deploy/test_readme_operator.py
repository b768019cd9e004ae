"""The operator path (docs/operations.md, linked from the README), run as written in a
temporary root.

Every shell block of "Run it in production" runs line by line with bash, from a
copy of the checkout, with the absolute paths an operator installs to (/etc,
/opt, /usr/local/bin, /var/lib, /var/backups) moved under a temporary root.
`systemctl` and `journalctl` lines need systemd as PID 1 and are left to the
container test; `promtool`/`amtool` lines run where those programs are
installed (`promtool test rules` runs in test_deploy.py already). Then the
results are checked: files in place with their modes, a valid config, the
runbook base rewritten, a restorable backup.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NEEDS_PID1 = ("systemctl", "journalctl")
COVERED = ("promtool test rules deploy/",)  # the same command runs in test_deploy.py
OPTIONAL = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}
MOVED = re.compile(r"(?<![\w./-])/(etc|opt|usr/local/bin|var/lib|var/backups)(?=/|\s|$)")
OLD_BASE = "https://git.example.com/ops/slaprobe/blob/main/docs/operations.md"
OPERATIONS = REPO / "docs" / "operations.md"  # where the production path is written
FHS = ("usr/local/bin", "etc/systemd/system", "opt", "var/lib", "var/backups")
CSV = "target,time,ok\napp,2026-10-01T00:00:00Z,true\napp,2026-10-01T00:00:30Z,false\n"


def production_blocks() -> list[list[str]]:
    text = OPERATIONS.read_text()
    section = text[text.index("## Run it in production"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [[line for line in b.splitlines() if line.strip() and not line.startswith("#")]
            for b in blocks]


def checkout(into: Path) -> Path:
    into.mkdir()
    shutil.copytree(REPO / "src", into / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(REPO / "deploy", into / "deploy",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "probe.toml"):
        shutil.copy2(REPO / name, into / name)
    return into


@pytest.mark.timeout(300)  # two pip installs into a fresh venv
def test_readme_operator_commands(tmp_path: Path) -> None:
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3 (docs/operations.md installs with the system Python)")
    venv_ok = subprocess.run(["/usr/bin/python3", "-c", "import ensurepip, venv"],
                             capture_output=True, check=False)
    if venv_ok.returncode != 0:
        pytest.skip("/usr/bin/python3 has no venv module (apt-get install python3-venv)")
    root = tmp_path / "root"
    for d in FHS:  # what any Debian machine has before slaprobe
        (root / d).mkdir(parents=True)
    src = checkout(tmp_path / "checkout")
    env = {k: v for k, v in os.environ.items()
           if k not in ("STATE_DIRECTORY", "NOTIFY_SOCKET", "JOURNAL_STREAM", "SLAPROBE_CONFIG",
                        "VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{root}/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
    ran: list[str] = []
    left: list[str] = []

    def sh(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", line], cwd=src, env=env,
                              capture_output=True, text=True, timeout=300, check=False)

    blocks = production_blocks()
    assert len(blocks) >= 8, "install, configure, systemd, Prometheus, Alertmanager, runbook "
    "base, Grafana, backup, upgrade: a block is missing"
    for block in blocks:
        if any("backup" in line for line in block):
            # The daemon would have made the history; make one in the state directory.
            (tmp_path / "h.csv").write_text(CSV)
            state = root / "var/lib/slaprobe"
            state.mkdir(parents=True, exist_ok=True)
            r = sh(f"slaprobe import {tmp_path / 'h.csv'} --config {root}/etc/slaprobe/probe.toml"
                   f" --state-dir {state}")
            assert r.returncode == 0, r.stderr
        for line in block:
            program = line.split()[0]
            if (program in NEEDS_PID1 or line.startswith(COVERED)
                    or (program in OPTIONAL and shutil.which(program) is None)):
                left.append(line)
                continue
            moved = MOVED.sub(lambda m: f"{root}/{m.group(1)}", line)
            r = sh(moved)
            assert r.returncode == 0, f"{line}\n-> {moved}\n{r.stdout}{r.stderr}"
            ran.append(line)

    assert all(line.split()[0] in (*NEEDS_PID1, *OPTIONAL) for line in left), left
    assert sum(line.startswith(COVERED) for line in left) == 1
    assert any(line.startswith("/usr/bin/python3 -m venv") for line in ran)
    # Installed as the unit expects, from the system Python.
    cfg = root / "etc/slaprobe/probe.toml"
    venv_cfg = (root / "opt/slaprobe/pyvenv.cfg").read_text()
    assert re.search(r"^home = /usr/bin$", venv_cfg, re.M), venv_cfg
    assert (root / "usr/local/bin/slaprobe").resolve() == root / "opt/slaprobe/bin/slaprobe"
    assert cfg.stat().st_mode & 0o777 == 0o644
    assert (root / "etc/slaprobe/slaprobe.env").stat().st_mode & 0o777 == 0o600
    assert (root / "etc/systemd/system/slaprobe.service").read_text() == (
        REPO / "deploy/systemd/slaprobe.service").read_text()
    check = sh(f"slaprobe check --config {cfg}")
    assert check.returncode == 0 and ": ok (" in check.stdout, check.stderr
    # Prometheus rules where prometheus.yml's relative rule_files finds them.
    rules = (root / "etc/prometheus/slaprobe.rules.yml").read_text()
    assert "rule_files:\n  - slaprobe.rules.yml" in (REPO / "deploy/prometheus/prometheus.yml"
                                                      ).read_text()
    assert OLD_BASE not in rules and "https://wiki.internal/slaprobe/operations.md#" in rules
    assert (root / "etc/prometheus/alertmanager.yml").exists()
    for placeholder in ("REPLACE_WITH_PAGERDUTY_INTEGRATION_KEY",
                        "http://127.0.0.1:9097/alertmanager"):
        assert placeholder in (root / "etc/prometheus/alertmanager.yml").read_text()
        assert placeholder in OPERATIONS.read_text()
    # Grafana provisioning points at where the dashboard was put.
    provider = (root / "etc/grafana/provisioning/dashboards/slaprobe.yml").read_text()
    assert "path: /var/lib/grafana/dashboards/slaprobe" in provider
    assert (root / "var/lib/grafana/dashboards/slaprobe/slaprobe.json").exists()
    assert (root / "etc/grafana/provisioning/datasources/slaprobe.yml").exists()
    # The online backup is a complete database the CLI reads.
    backup = root / "var/backups/slaprobe/slaprobe.db"
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy2(backup, restored / "slaprobe.db")
    r = sh(f"slaprobe report --config {cfg} --state-dir {restored} --from 2026-10-01T00:00:00Z"
           " --to 2026-10-01T00:01:00Z --format json")
    assert r.returncode == 0 and '"down_seconds": 30.0' in r.stdout, r.stdout + r.stderr
