"""The spool of unwritten checks: memory up to a bound, then a real file, order kept,
and what a stopped run left is read back at the next start."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.core.model import Check
from slaprobe.history.spool import Spool, dump

T0 = 1790812800.0


def check(k: int) -> Check:
    return Check(f"t{k % 3}", T0 + k, k % 5 != 0, 30.0, latency=None if k % 5 == 0 else 0.01,
                 status=200, error=None if k % 5 else "connect_error", network=k % 7 == 0,
                 unknown=k % 11 == 0, location="east")


def test_memory_while_the_database_takes_them_the_file_once_it_does_not(tmp_path: Path) -> None:
    path = tmp_path / "east.spool"
    sp = Spool(path, memory=50)
    for k in range(3):
        sp.append(check(k))
    assert (len(sp), sp.on_disk, sp.durable) == (3, 0, False)
    assert not path.exists()
    sp.spill()  # a write failed: every pending check goes to the file
    assert sp.durable and sp.on_disk == 3
    assert path.read_text().count("\n") == 3
    for k in range(3, 12):
        sp.append(check(k))
        sp.sync()  # (the recorder runs it off the loop as each check comes)
    assert path.read_text().count("\n") == 12
    assert sp.head(3) == [check(0), check(1), check(2)]
    assert list(sp) == [check(k) for k in range(12)]
    got = []
    while len(sp):
        batch = sp.head(4)
        got += batch
        sp.drop(len(batch))
    assert got == [check(k) for k in range(12)]
    assert path.stat().st_size == 0 and not sp.durable  # all written: truncated
    sp.close()
    assert not path.exists()


def test_the_memory_bound_spills_too(tmp_path: Path) -> None:
    sp = Spool(tmp_path / "east.spool", memory=5)
    for k in range(5):
        sp.append(check(k))
    assert sp.wants_spill
    sp.spill()
    assert sp.on_disk == 5 and not sp.wants_spill


def test_a_killed_run_leaves_every_unwritten_check_for_the_next(tmp_path: Path) -> None:
    """No close: what a `kill -9` leaves. Written checks may come back too (the store
    skips them as duplicates); none unwritten is missing, order kept."""
    path = tmp_path / "east.spool"
    sp = Spool(path, memory=50)
    for k in range(4):
        sp.append(check(k))
    sp.spill()
    for k in range(4, 9):
        sp.append(check(k))
    sp.sync()
    sp.drop(2)  # two written
    again = Spool(path, memory=50)
    got = list(again)
    assert got[-7:] == [check(k) for k in range(2, 9)]
    assert got == [check(k) for k in range(len(got) and 9 - len(got), 9)]


def test_a_damaged_line_is_skipped_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "east.spool"
    sp = Spool(path)
    for k in range(3):
        sp.append(check(k))
    sp.spill()
    with path.open("a") as f:  # a write cut short by a kill
        f.write(dump(check(3))[:17])
    again = Spool(path)
    again.append(check(4))
    again.sync()
    got = []
    while len(again):
        batch = again.head(10)
        if not batch:
            break
        got += batch
        again.drop(len(batch))
    assert got == [check(0), check(1), check(2), check(4)]
    assert again.skipped == 1


def test_the_file_is_bounded_and_says_how_many_it_dropped(tmp_path: Path) -> None:
    line = len(dump(check(0))) + 1
    sp = Spool(tmp_path / "east.spool", max_bytes=3 * line + 2)
    sp.spill()
    for k in range(5):
        sp.append(check(k))
    sp.sync()
    assert sp.on_disk == 3 and sp.dropped == 2
    assert list(sp) == [check(0), check(1), check(2)]


def test_a_stopped_run_leaves_its_checks_for_the_next(tmp_path: Path) -> None:
    path = tmp_path / "east.spool"
    sp = Spool(path, memory=3)
    for k in range(8):
        sp.append(check(k))
    sp.drop(2)
    sp.close()
    again = Spool(path, memory=3)
    assert list(again) == [check(k) for k in range(2, 8)]
    again.drop(6)
    again.close()
    assert not path.exists()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=30),
       st.integers(1, 6))
def test_any_interleaving_keeps_order(ops: list[tuple[int, int]], memory: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        sp = Spool(Path(d) / "s.spool", memory=memory)
        model: list[Check] = []
        k = 0
        for adds, drops in ops:
            for _ in range(adds):
                sp.append(check(k))
                model.append(check(k))
                k += 1
            assert sp.head(drops) == model[:drops]
            sp.drop(drops)
            del model[:drops]
            assert len(sp) == len(model)
        assert list(sp) == model
        sp.close()


def test_checks_being_appended_to_the_file_stay_counted(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """While a sync writes the buffer (a worker thread), the loop reads `len` for the
    pending gauge and the writer's refusal count: it must not dip, and a failed append
    keeps the checks for the next try."""
    sp = Spool(tmp_path / "east.spool", memory=50)
    sp.append(check(0))
    sp.spill()
    for k in range(1, 4):
        sp.append(check(k))
    seen: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        seen.append(len(sp))  # mid-append, as the loop would see it
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    sp.sync()
    assert seen == [4] and len(sp) == 4 and sp.on_disk == 4

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    sp.append(check(4))
    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError):
        sp.sync()
    assert len(sp) == 5  # the failed append lost nothing
    monkeypatch.setattr(os, "fsync", real)
    sp.sync()
    assert list(sp) == [check(k) for k in range(5)] and len(sp) == 5  # once each
    assert (tmp_path / "east.spool").read_text().count("\n") == 5


def test_a_failed_append_counts_no_check_dropped(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Near the file's bound, a failed append offers the same checks again: those the
    bound refuses are counted once, when they are refused for good."""
    one = len(dump(check(0))) + 1
    sp = Spool(tmp_path / "east.spool", memory=50, max_bytes=3 * one + one // 2)
    sp.append(check(0))
    sp.spill()
    for k in range(1, 6):
        sp.append(check(k))
    real = os.fsync

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    for _ in range(3):
        with pytest.raises(OSError):
            sp.sync()
    assert sp.dropped == 0 and len(sp) == 6
    monkeypatch.setattr(os, "fsync", real)
    sp.sync()
    assert sp.dropped == 3 and [c.at for c in sp] == [check(k).at for k in range(3)]
