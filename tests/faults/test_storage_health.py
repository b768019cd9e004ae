"""Storage health is visible: a store that cannot write, or a database file removed or
replaced under the daemon, fails /readyz, sets a metric and is logged loudly; an
unwritable database at start is an error exit with a clear message."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from clirun import child_env
from procs import Daemon, Switch, free_port, write_config

from slaprobe.history.store import Store

pytestmark = pytest.mark.timeout(90)


async def _readyz(d: Daemon) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"{d.url}/readyz") as r:
        return r.status


async def _wait(pred: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pred():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.2)
    return False


def _config(tmp_path: Path, port: int, url: str, database: str) -> Path:
    cfg = write_config(tmp_path / "probe.toml", port=port, targets=f"""
[[targets]]
name = "app"
url = "{url}/ok"
""")
    cfg.write_text(cfg.read_text().replace('database = "history.db"',
                                           f'database = "{database}"'))
    return cfg


@pytest.mark.parametrize("how", ["directory removed", "file replaced"])
async def test_database_removed_or_replaced_is_noticed_loudly(
    tmp_path: Path, target: tuple[str, Switch], how: str,
) -> None:
    url, _ = target
    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    d = Daemon(_config(tmp_path, port, url, str(state / "history.db")), port)
    try:
        await d.launch()
        assert await _readyz(d) == 200
        await d.wait_for_value("slaprobe_store_file_ok", 1.0)
        if how == "directory removed":
            shutil.rmtree(state)
        else:
            os.rename(state / "history.db", state / "old.db")
            with sqlite3.connect(state / "history.db") as other:
                other.execute("CREATE TABLE t (x)")

        async def unready() -> bool:
            return await _readyz(d) == 503

        assert await _wait(unready), d.logs()
        await d.wait_for_value("slaprobe_store_file_ok", 0.0)
        event = "database_missing" if how == "directory removed" else "database_replaced"
        assert d.logs().count(f'"event": "{event}"') == 1, d.logs()
        await d.wait_for_value("slaprobe_target_up", 1.0, target="app")  # probing goes on
        d.signal(signal.SIGTERM)
        assert d.wait(15) == 0
    finally:
        d.stop()


def _can_mount() -> bool:
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind / / 2>/dev/null"],
                           capture_output=True, check=False)
    return shutil.which("unshare") is not None and probe.returncode == 0


@pytest.mark.skipif(not shutil.which("unshare") or not _can_mount(),
                    reason="needs a private mount namespace (unshare -m) for a read-only mount")
@pytest.mark.parametrize("wal_left", [False, True], ids=["closed-cleanly", "wal-files-left"])
async def test_a_read_only_database_at_start_is_an_error_exit(
    tmp_path: Path, wal_left: bool,
) -> None:
    """The database's filesystem is read-only (a read-only bind mount in a private mount
    namespace: real for root too): exit 2 with a clear message, before listening,
    instead of ready and failing every write."""
    state = tmp_path / "state"
    state.mkdir()
    db = state / "history.db"
    cfg = _config(tmp_path, free_port(), "http://127.0.0.1:9", str(db))
    Store(db).close()  # a database with the current schema
    if wal_left:
        keep = sqlite3.connect(db)
        keep.execute("PRAGMA journal_mode=WAL")
        keep.execute("CREATE TABLE IF NOT EXISTS x (y)")
    script = (f"mount --bind {state} {state} && mount -o remount,ro,bind {state} && "
              f'exec "$0" -m slaprobe run --config {cfg}')
    proc = await asyncio.to_thread(
        subprocess.run, ["unshare", "-m", "sh", "-c", script, sys.executable],
        capture_output=True, text=True, timeout=30, env=child_env(), cwd=tmp_path)
    if wal_left:
        keep.close()
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert str(db) in proc.stderr, proc.stderr
    assert "read-only file system" in proc.stderr, proc.stderr


def _can_chattr(where: Path) -> bool:
    probe = where / "chattr-probe"
    probe.touch()
    try:
        ok = shutil.which("chattr") is not None and subprocess.run(
            ["chattr", "+i", str(probe)], capture_output=True, check=False).returncode == 0
        return ok
    finally:
        subprocess.run(["chattr", "-i", str(probe)], capture_output=True, check=False)
        probe.unlink()


def _chattr(flag: str, path: Path, *, check: bool = True) -> None:
    subprocess.run(["chattr", flag, str(path)], capture_output=True, check=check)


@pytest.mark.skipif(not _can_chattr(Path(os.environ.get("TMPDIR", "/tmp"))),
                    reason="needs chattr +i (root with CAP_LINUX_IMMUTABLE)")
async def test_an_immutable_shm_file_is_an_error_event_never_sigbus(
    tmp_path: Path, target: tuple[str, Switch],
) -> None:
    """`chattr +i` on the mapped -shm file: SQLite's next write through its mapping
    would be SIGBUS (the daemon dead, no word logged). The store touches nothing while
    a database file is unwritable: one error event, /readyz 503, the daemon lives and
    writes again once the file is writable."""
    url, _ = target
    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    d = Daemon(_config(tmp_path, port, url, str(state / "history.db")), port)
    shm = state / "history.db-shm"
    try:
        await d.launch()
        await d.wait_for_value("slaprobe_store_file_ok", 1.0)
        assert shm.exists()
        _chattr("+i", shm)

        async def unready() -> bool:
            return await _readyz(d) == 503

        assert await _wait(unready), d.logs()
        await d.wait_for_value("slaprobe_store_file_ok", 0.0)
        assert d.logs().count('"event": "database_unwritable"') == 1, d.logs()

        async def write_refused() -> bool:  # a write came due: refused, not a crash
            return '"event": "store_write_failed"' in d.logs()

        assert await _wait(write_refused), d.logs()
        assert d.proc is not None and d.proc.poll() is None, d.logs()
        _chattr("-i", shm)

        async def ready() -> bool:
            return await _readyz(d) == 200

        assert await _wait(ready), d.logs()
        await d.wait_for_value("slaprobe_store_pending_checks", 0.0)
        d.signal(signal.SIGTERM)
        assert d.wait(15) == 0
    finally:
        _chattr("-i", shm, check=False)
        d.stop()
