"""The spool of unwritten checks: memory up to a bound, then a real file, order kept,
and what a stopped run left is read back at the next start."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from slaprobe.core.model import Check
from slaprobe.history.spool import Spool

T0 = 1790812800.0


def check(k: int) -> Check:
    return Check(f"t{k % 3}", T0 + k, k % 5 != 0, 30.0, latency=None if k % 5 == 0 else 0.01,
                 status=200, error=None if k % 5 else "connect_error", network=k % 7 == 0,
                 unknown=k % 11 == 0, location="east")


def test_overflow_goes_to_disk_and_comes_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "east.spool"
    sp = Spool(path, memory=5)
    for k in range(12):
        sp.append(check(k))
    assert (len(sp), sp.on_disk) == (12, 7)
    assert path.read_text().count("\n") == 7
    assert sp.head(3) == [check(0), check(1), check(2)]
    assert list(sp) == [check(k) for k in range(12)]
    got = []
    while len(sp):
        batch = sp.head(4)
        got += batch
        sp.drop(len(batch))
    assert got == [check(k) for k in range(12)]
    assert path.stat().st_size == 0  # emptied: truncated
    sp.close()
    assert not path.exists()


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
