"""Reader commands never create a history; writers never create directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from procs import slaprobe, write_config

pytestmark = pytest.mark.slow

CSV = "target,time,ok\napp,2026-10-01T00:00:00Z,true\napp,2026-10-01T00:00:30Z,true\n"


def config(tmp: Path, database: str = "history.db") -> Path:
    cfg = write_config(tmp / "probe.toml", port=9469, extra="""
[slo]
maintenance_file = "maintenance.toml"
""", targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "30s"
""")
    cfg.write_text(cfg.read_text().replace('database = "history.db"', f'database = "{database}"'))
    return cfg


READERS = [
    ["report", "--month", "2026-10"],
    ["report", "--from", "2026-10-01", "--to", "2026-10-02", "--format", "json"],
    ["maintenance", "list"],
]


@pytest.mark.parametrize("argv", READERS, ids=lambda a: " ".join(a[:2]))
def test_readers_on_a_missing_database_exit_2_naming_it(tmp_path: Path, argv: list[str]) -> None:
    cfg = config(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = slaprobe(*argv, "--config", str(cfg), cwd=elsewhere)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"no history at {elsewhere / 'history.db'}" in r.stderr
    assert "--state-dir /var/lib/slaprobe" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert sorted(p.name for p in elsewhere.iterdir()) == []  # nothing created


def test_state_dir_reads_the_service_history(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    cfg = config(tmp_path)
    (tmp_path / "h.csv").write_text(CSV)
    imported = slaprobe("import", str(tmp_path / "h.csv"), "--config", str(cfg),
                        "--state-dir", str(state), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert (state / "history.db").exists() and not (tmp_path / "history.db").exists()
    r = slaprobe("report", "--from", "2026-10-01T00:00:00Z", "--to", "2026-10-01T00:01:00Z",
                 "--config", str(cfg), "--state-dir", str(state), "--format", "json",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["service"]["up_seconds"] == 60.0
    listed = slaprobe("maintenance", "list", "--config", str(cfg), "--state-dir", str(state),
                      cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    # Without --state-dir the same command looks in the working directory, and says so.
    lost = slaprobe("report", "--month", "2026-10", "--config", str(cfg), cwd=tmp_path)
    assert lost.returncode == 2 and f"no history at {tmp_path / 'history.db'}" in lost.stderr


def test_a_missing_parent_directory_is_an_error_not_created(tmp_path: Path) -> None:
    cfg = config(tmp_path, database="typo/history.db")
    (tmp_path / "h.csv").write_text(CSV)
    r = slaprobe("import", str(tmp_path / "h.csv"), "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2
    assert f"directory {tmp_path / 'typo'} does not exist" in r.stderr
    assert not (tmp_path / "typo").exists()
