"""The CLI's contracts: check, once, maintenance add/list, argument errors."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import Switch, free_port, refused_port, slaprobe, write_config

from slaprobe.core.timefmt import parse_instant
from slaprobe.history.store import Store

pytestmark = pytest.mark.slow


def test_check_lists_every_problem_with_its_key_path(tmp_path: Path) -> None:
    """Exit 2 and every problem named by key path; exit 0 when valid."""
    cfg = tmp_path / "probe.toml"
    cfg.write_text("""
[daemon]
listn = "x"
[[targets]]
name = "app"
url = "ftp://nowhere"
[[targets]]
name = "app"
url = "http://127.0.0.1:1/"
interval = "soon"
""")
    r = slaprobe("check", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2
    out = r.stdout + r.stderr
    for where in ("daemon.listn", "targets[0].url", "targets[1].name", "targets[1].interval"):
        assert where in out
    write_config(cfg, port=free_port(), targets='[[targets]]\nname = "a"\nurl = "http://x/"\n')
    r = slaprobe("check", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_shipped_probe_toml_passes_check() -> None:
    """The probe.toml in the repository is valid as shipped."""
    root = Path(__file__).parents[2]
    r = slaprobe("check", "--config", str(root / "probe.toml"), cwd=root)
    assert r.returncode == 0, r.stderr


async def test_once_exit_code_follows_critical_targets(
    tmp_path: Path, target: tuple[str, Switch],
) -> None:
    """`once` prints a table and exits 1 only when a critical target is down."""
    url, _ = target
    cfg = write_config(tmp_path / "probe.toml", port=free_port(), targets=f"""
[[targets]]
name = "up"
url = "{url}/"

[[targets]]
name = "optional"
url = "http://127.0.0.1:{refused_port()}/"
critical = false
""")
    r = await _run_async("once", "--config", str(cfg), cwd=tmp_path)
    assert r[0] == 0, r[2]
    assert "up" in r[1] and "DOWN (connect_error)" in r[1]
    cfg.write_text(cfg.read_text().replace("critical = false", "critical = true"))
    r = await _run_async("once", "--config", str(cfg), cwd=tmp_path)
    assert r[0] == 1


async def _run_async(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run the CLI without blocking the loop that serves the local target."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "slaprobe", *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_maintenance_add_then_list(tmp_path: Path) -> None:
    """`maintenance add` appends to the file, announced now: 3 days ahead is excused,
    1 hour ahead is late_notice; `list` shows both."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(),
                       extra='[slo]\nmaintenance_file = "maintenance.toml"',
                       targets='[[targets]]\nname = "app"\nurl = "http://127.0.0.1:9/"\n')

    def at(seconds: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))

    r = slaprobe("maintenance", "add", "--config", str(cfg), "--start", at(3 * 86400),
                 "--end", at(3 * 86400 + 3600), "--reason", "DB upgrade", "--id", "ahead",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "excused" in r.stdout
    r = slaprobe("maintenance", "add", "--config", str(cfg), "--start", at(3600),
                 "--end", at(7200), "--targets", "app", "--reason", "hotfix", "--id", "rushed",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "late_notice" in r.stdout
    assert "[[maintenance]]" in (tmp_path / "maintenance.toml").read_text()
    r = slaprobe("maintenance", "list", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:]}
    assert "excused" in rows["ahead"] and "late_notice" in rows["rushed"]
    r = slaprobe("maintenance", "add", "--config", str(cfg), "--start", at(10), "--end", at(5),
                 "--reason", "x", cwd=tmp_path)
    assert r.returncode == 2 and "--end" in r.stderr
    r = slaprobe("maintenance", "add", "--config", str(cfg), "--start", at(10), "--end", at(50),
                 "--targets", "nope", "--reason", "x", cwd=tmp_path)
    assert r.returncode == 2 and "nope" in r.stderr


def test_report_argument_errors(tmp_path: Path) -> None:
    """Bad report ranges are refused with a clear message."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(),
                       targets='[[targets]]\nname = "app"\nurl = "http://127.0.0.1:9/"\n')
    r = slaprobe("report", "--config", str(cfg), "--month", "2026-13", cwd=tmp_path)
    assert r.returncode == 2 and "2026-13" in r.stderr
    r = slaprobe("report", "--config", str(cfg), "--from", "2026-10-02", "--to", "2026-10-01",
                 cwd=tmp_path)
    assert r.returncode == 2 and "--to" in r.stderr


def test_relative_times_on_the_command_line(tmp_path: Path) -> None:
    """`--from now-1h` alone reports up to now; `maintenance add` takes `now+3d`."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(),
                       extra='[slo]\nmaintenance_file = "maintenance.toml"',
                       targets='[[targets]]\nname = "app"\nurl = "http://127.0.0.1:9/"\n')
    Store(tmp_path / "history.db").close()  # an empty history (readers never create one)
    before = time.time()
    r = slaprobe("report", "--config", str(cfg), "--from", "now-1h", "--format", "json",
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    a, b = (parse_instant(rep[k]) for k in ("from", "to"))
    assert b - a == 3600
    assert before - 1 <= b <= time.time() + 1
    r = slaprobe("report", "--config", str(cfg), "--from", "now+1h", cwd=tmp_path)
    assert r.returncode == 2 and "--from must be in the past" in r.stderr
    r = slaprobe("maintenance", "add", "--config", str(cfg), "--start", "now+3d",
                 "--end", "now+3d1h", "--reason", "upgrade", "--id", "later", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "excused" in r.stdout
    r = slaprobe("maintenance", "add", "--config", str(cfg), "--start", "now+1x",
                 "--end", "now+2h", "--reason", "x", cwd=tmp_path)
    assert r.returncode == 2 and "now+1x" in r.stderr


def test_run_on_a_busy_port_says_so(tmp_path: Path) -> None:
    """A listen address already in use ends the daemon with a clear event, not a trace."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cfg = write_config(tmp_path / "probe.toml", port=port,
                           targets='[[targets]]\nname = "app"\nurl = "http://127.0.0.1:9/"\n')
        r = slaprobe("run", "--config", str(cfg), "--log-format", "json", cwd=tmp_path,
                     timeout=30)
    assert r.returncode == 1
    events = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    failed = [e for e in events if e["event"] == "listen_failed"]
    assert failed and failed[0]["level"] == "error" and failed[0]["address"].endswith(f":{port}")
    assert "Traceback" not in r.stderr


def test_maintenance_id_clashes_are_refused(tmp_path: Path) -> None:
    """An id in both probe.toml and the maintenance file, or reused by `add --id`, is an
    error naming the file, never a silent choice."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(), extra="""
[slo]
maintenance_file = "maintenance.toml"

[[maintenance]]
id = "up"
start = 2027-01-01T00:00:00Z
end = 2027-01-01T01:00:00Z
announced = 2026-11-01T00:00:00Z
""", targets='[[targets]]\nname = "app"\nurl = "http://127.0.0.1:9/"\n')
    r = slaprobe("maintenance", "add", "--config", str(cfg), "--start", "2027-02-01T00:00:00Z",
                 "--end", "2027-02-01T01:00:00Z", "--reason", "x", "--id", "up", cwd=tmp_path)
    assert r.returncode == 2 and "already exists" in r.stderr
    (tmp_path / "maintenance.toml").write_text(
        '[[maintenance]]\nid = "up"\nstart = 2027-03-01T00:00:00Z\n'
        "end = 2027-03-01T01:00:00Z\nannounced = 2026-11-01T00:00:00Z\n")
    r = slaprobe("check", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2
    assert "maintenance.toml: maintenance id 'up' is also in the config file" in r.stderr


def test_check_never_echoes_a_secret_from_the_environment(tmp_path: Path) -> None:
    """A bad URL read from env:NAME is named by its variable, not printed."""
    cfg = write_config(tmp_path / "probe.toml", port=free_port(),
                       targets='[[targets]]\nname = "app"\nurl = "env:APP_URL"\n')
    env = {**os.environ, "APP_URL": "htps://user:s3cr3t@app.example/health"}
    r = subprocess.run([sys.executable, "-m", "slaprobe", "check", "--config", str(cfg)],
                       capture_output=True, text=True, env=env, check=False, cwd=tmp_path)
    assert r.returncode == 2
    assert "targets[0].url" in r.stderr and "APP_URL" in r.stderr
    assert "s3cr3t" not in r.stderr + r.stdout


def test_default_config_lookup_order(tmp_path: Path) -> None:
    """Without --config: $SLAPROBE_CONFIG first, then ./probe.toml."""
    good = '[[targets]]\nname = "app"\nurl = "http://127.0.0.1:9/"\n'
    write_config(tmp_path / "probe.toml", port=free_port(), targets=good)
    (tmp_path / "other.toml").write_text("[bogus]\n")
    env = {k: v for k, v in os.environ.items() if k != "SLAPROBE_CONFIG"}

    def check(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "slaprobe", "check"], cwd=tmp_path,
                              capture_output=True, text=True, env={**env, **extra_env},
                              check=False)

    r = check({})
    assert r.returncode == 0 and "probe.toml: ok" in r.stdout
    r = check({"SLAPROBE_CONFIG": str(tmp_path / "other.toml")})
    assert r.returncode == 2 and "bogus: unknown key" in r.stderr
