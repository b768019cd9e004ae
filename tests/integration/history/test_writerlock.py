"""The writer lock on real files: exclusive, named, released with its holder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slaprobe.history.writerlock import LockHeld, WriterLock, lock_path


def test_second_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "state" / "h.db"
    db.parent.mkdir()
    first = WriterLock(db, listen="127.0.0.1:9469")
    with pytest.raises(LockHeld) as e:
        WriterLock(db, listen="127.0.0.1:9470")
    assert e.value.holder == {"pid": os.getpid(), "listen": "127.0.0.1:9469"}
    assert "pid " + str(os.getpid()) in str(e.value) and "127.0.0.1:9469" in str(e.value)
    first.release()
    second = WriterLock(db, listen="127.0.0.1:9470")  # released: free again
    second.release()
    assert lock_path(db).exists()  # the file may stay: the lock is the kernel's


def test_the_lock_never_creates_the_database_folder(tmp_path: Path) -> None:
    """A typo in the database path is an error, not a new folder (DESIGN "Evidence")."""
    with pytest.raises(FileNotFoundError):
        WriterLock(tmp_path / "typo" / "h.db", listen="x")
    assert not (tmp_path / "typo").exists()


def test_lock_of_a_killed_process_does_not_block(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    code = ("import sys, time; from pathlib import Path; from slaprobe.history.writerlock import "
            "WriterLock; WriterLock(Path(sys.argv[1]), listen='x'); print('held', flush=True);"
            " time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with pytest.raises(LockHeld, match=f"pid {child.pid}"):
            WriterLock(db, listen="y")
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    WriterLock(db, listen="y").release()
