"""Secrets never printed, on any path: every malformed form of a PostgreSQL URL, a libpq
key=value string and a target URL with a password, through `check`, `run`, `report`
and the daemon's log events; the password never shows and never names a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import free_port

pytestmark = pytest.mark.slow

SECRET = "Zq9SECRETpw"
PARTS = ("Zq9", "SECRETpw")  # and no piece of it either side of an unencoded character

DATABASES = [
    f"postgresql://probe:{SECRET}@127.0.0.1:99999/sla",           # bad port
    f"postgresql://probe:{SECRET}@[::1/sla",                       # unclosed bracket
    f"postgresql://probe:Zq9/SECRETpw@127.0.0.1:{free_port()}/sla",  # unencoded /
    f"postgresql://probe:Zq9#SECRETpw@127.0.0.1:{free_port()}/sla",  # unencoded #
    f"postgresql://probe:Zq9?SECRETpw@127.0.0.1:{free_port()}/sla",  # unencoded ?
    f"postgresql://probe:Zq9@SECRETpw@127.0.0.1:{free_port()}/sla",  # unencoded @
    f"postgresq://probe:{SECRET}@127.0.0.1/sla",                   # scheme typo
    f"postgres ql://probe:{SECRET}@127.0.0.1/sla",                 # scheme typo
    f"postgresql:/probe:{SECRET}@127.0.0.1/sla",                   # one slash
    f"host=127.0.0.1 port={free_port()} password={SECRET} dbname=sla",  # libpq key=value
    f"postgresql://127.0.0.1:{free_port()}/sla?password={SECRET}&connect_timeout=1",
]


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 30
         ) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "NOTIFY_SOCKET")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "slaprobe", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _config(path: Path, database: str, url: str = "http://127.0.0.1:1/") -> Path:
    quoted = database.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(f"""
[daemon]
listen = "127.0.0.1:{free_port()}"
database = "{quoted}"
[defaults]
interval = "1s"
timeout = "500ms"
retries = 0
[[targets]]
name = "a"
url = "{url}"
""")
    return path


def _clean(r: subprocess.CompletedProcess[str], where: Path, code: int = 2) -> None:
    out = r.stdout + r.stderr
    for part in PARTS:
        assert part not in out, out
    assert "Traceback" not in out, out
    assert r.returncode == code, out
    for f in where.iterdir():
        assert not any(part in f.name for part in PARTS), f.name


@pytest.mark.parametrize("database", DATABASES)
@pytest.mark.parametrize("via_env", [False, True])
def test_database_password_never_printed(tmp_path: Path, database: str, via_env: bool) -> None:
    env = {"SLAPROBE_DB": database} if via_env else {}
    cfg = _config(tmp_path / "probe.toml", "env:SLAPROBE_DB" if via_env else database)
    commands = [
        ["check", "--config", str(cfg)],
        ["report", "--config", str(cfg), "--from", "now-1d"],
        ["run", "--config", str(cfg)],
    ]
    for args in commands if not via_env else commands[:1]:  # env: values matter to check
        r = _run_daemon(args, tmp_path, env) if args[0] == "run" else _run(args, tmp_path, env)
        if args[0] == "check" and r.returncode == 0:
            # a well-formed URL passes check (the server is only reached by run/report)
            assert all(part not in r.stdout + r.stderr for part in PARTS)
            continue
        if args[0] == "run" and "store_unavailable_at_start" in r.stderr:
            # well formed, its server not there: the daemon starts, probes and tries the
            # server (stopped here with SIGTERM); the password shows nowhere either
            _clean(r, tmp_path, code=0)
            continue
        _clean(r, tmp_path)


def _run_daemon(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 30
                ) -> subprocess.CompletedProcess[str]:
    """`slaprobe run` until it exits, or until it says its database could not be reached
    at start (it then keeps running): stopped with SIGTERM, its output kept."""
    full = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "NOTIFY_SOCKET")}
    full.update(env)
    out, err = cwd / "run.out", cwd / "run.err"
    with out.open("w") as o, err.open("w") as e:
        p = subprocess.Popen([sys.executable, "-m", "slaprobe", *args], cwd=cwd, env=full,
                             stdout=o, stderr=e, text=True)
    try:
        deadline = time.monotonic() + timeout
        while (p.poll() is None and time.monotonic() < deadline
               and "store_unavailable_at_start" not in err.read_text()):
            time.sleep(0.05)
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        code = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    result = subprocess.CompletedProcess(p.args, code, out.read_text(), err.read_text())
    out.unlink()
    err.unlink()
    return result


@pytest.mark.parametrize("url", [
    f"http://alice:{SECRET}@127.0.0.1:99999/",
    f"http://alice:{SECRET}@[::1/",
    "http://alice:Zq9/SECRETpw@127.0.0.1/",
    f"htp://alice:{SECRET}@127.0.0.1/",
])
@pytest.mark.parametrize("via_env", [False, True])
def test_target_url_password_never_printed(tmp_path: Path, url: str, via_env: bool) -> None:
    env = {"TARGET_URL": url} if via_env else {}
    cfg = _config(tmp_path / "probe.toml", "history.db", "env:TARGET_URL" if via_env else url)
    for args in (["check", "--config", str(cfg)], ["run", "--config", str(cfg)]):
        _clean(_run(args, tmp_path, env), tmp_path)
