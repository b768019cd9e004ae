"""`slaprobe status export DIR` as a command: the files at the served paths, a clear
refusal (exit 2, no traceback) for a folder it did not make."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from procs import free_port, slaprobe, write_config

pytestmark = pytest.mark.slow


def test_export_writes_the_served_paths_and_refuses_foreign_folders(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "probe.toml", port=free_port(), targets="""
[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
interval = "30s"
""")
    now = int(time.time() // 30 * 30)
    csv = tmp_path / "h.csv"
    csv.write_text("target,time,ok\n" + "".join(f"app,{now - 3600 + i * 30},1\n"
                                                for i in range(100)))
    assert slaprobe("import", str(csv), "--config", str(cfg), cwd=tmp_path).returncode == 0
    out = tmp_path / "public" / "status"
    (tmp_path / "public").mkdir()
    r = slaprobe("status", "export", str(out), "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "index.html" in names and "feed.atom" in names
    assert "badge/app/state.svg" in names and "badge/service/availability/month.svg" in names
    assert {f"badge/app/availability/{w}.svg" for w in ("1h", "1d", "7d", "30d", "month")} \
        <= set(names)
    html = (out / "index.html").read_text()
    assert "<script" not in html and 'http-equiv="refresh"' not in html
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "index.html").write_text("hand-made")
    bad = slaprobe("status", "export", str(mine), "--config", str(cfg), cwd=tmp_path)
    assert bad.returncode == 2 and "no export wrote" in bad.stderr
    assert "Traceback" not in bad.stderr and (mine / "index.html").read_text() == "hand-made"
