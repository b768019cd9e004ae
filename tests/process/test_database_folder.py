"""A database whose folder does not exist is an error for every command that writes
(DESIGN "Evidence"): exit 2 naming the path, nothing created, never a new history."""

from __future__ import annotations

from pathlib import Path

import pytest
from procs import free_port, slaprobe, write_config

pytestmark = pytest.mark.slow

CSV = "target,time,ok\napp,2026-10-01T00:00:00Z,true\napp,2026-10-01T00:00:30Z,true\n"


def _config(tmp: Path) -> Path:
    cfg = write_config(tmp / "probe.toml", port=free_port(), extra="""
[slo]
maintenance_file = "maintenance.toml"
""", targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "30s"
""")
    database = tmp / "slaprob" / "x" / "history.db"  # the typo: a folder that does not exist
    cfg.write_text(cfg.read_text().replace('database = "history.db"', f'database = "{database}"'))
    return cfg


WRITERS = [
    ["run"],
    ["import", "h.csv"],
    ["incidents", "ack", "inc-x"],
    ["maintenance", "add", "--start", "now+2d", "--end", "now+2d1h", "--reason", "r"],
]


@pytest.mark.parametrize("argv", WRITERS, ids=lambda a: " ".join(a[:2]))
def test_a_writer_refuses_a_database_folder_that_does_not_exist(
        tmp_path: Path, argv: list[str]) -> None:
    cfg = _config(tmp_path)
    (tmp_path / "h.csv").write_text(CSV)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = slaprobe(*argv, "--config", str(cfg), cwd=tmp_path, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    missing = tmp_path / "slaprob" / "x"
    assert f"cannot open database {missing / 'history.db'}: directory {missing} does not exist" \
        in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created
    assert not (tmp_path / "slaprob").exists()
