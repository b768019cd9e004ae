"""Terminal output escapes what it shows (`maintenance add`/`list`, `report`), and a
`maintenance add` that fails writes nothing."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from procs import free_port, slaprobe, write_config

pytestmark = pytest.mark.slow

CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # all but the newline


def _at(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def test_maintenance_ids_and_reasons_are_escaped_on_the_terminal(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "probe.toml", port=free_port(),
                       extra='[slo]\nmaintenance_file = "maintenance.toml"',
                       targets='[[targets]]\nname = "app"\nurl = "http://127.0.0.1:9/"\n')
    (tmp_path / "maintenance.toml").write_text(f"""
[[maintenance]]
id = "evil\\u001b[2J\\u001b]0;title\\u0007|x"
start = {_at(3 * 86400)}
end = {_at(3 * 86400 + 600)}
announced = {_at(-60)}
reason = "line\\nINJECTED \\u009b31m"
""")
    r = slaprobe("maintenance", "add", "--config", str(cfg), "--start", _at(4 * 86400),
                 "--end", _at(4 * 86400 + 600), "--id", "add\x1b[2Jid",
                 "--reason", "why\x07\x1b]0;t\x07", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not CONTROL.search(r.stdout + r.stderr), r.stdout
    r = slaprobe("maintenance", "list", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not CONTROL.search(r.stdout), r.stdout
    assert not any(line.startswith("INJECTED") for line in r.stdout.splitlines())
    assert "\\x1b[2J" in r.stdout  # shown, visibly
    for fmt in ("text", "markdown"):
        r = slaprobe("report", "--config", str(cfg), "--from", "now-1d", "--to", "now+5d",
                     "--format", fmt, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert not CONTROL.search(r.stdout), r.stdout


def test_maintenance_add_that_fails_writes_nothing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "probe.toml", port=free_port(),
                       extra='[slo]\nmaintenance_file = "maintenance.toml"',
                       targets='[[targets]]\nname = "app"\nurl = "http://127.0.0.1:9/"\n')
    text = cfg.read_text().replace('database = "history.db"', 'database = "gone/history.db"')
    cfg.write_text(text)
    r = slaprobe("maintenance", "add", "--config", str(cfg), "--start", _at(4 * 86400),
                 "--end", _at(4 * 86400 + 600), "--id", "w", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "maintenance.toml").exists()
