"""The tracker's log of touched targets: a reader learns which targets moved since it
last asked, and is told to read every target when it cannot know (a reload, new
maintenance, a trim); the log holds one entry per target."""

from __future__ import annotations

from slaprobe.core.history.tracker import Tracker
from slaprobe.core.maintenance.rules import EXCUSED, Window
from slaprobe.core.model import Check

T0 = 1_800_000_000.0


def test_checks_and_credit_are_told_once() -> None:
    tr = Tracker({"a": True, "b": True, "c": False})
    everything, seq = tr.changes_since(-1)
    assert everything is None  # a new reader reads every target once
    assert tr.changes_since(seq) == (set(), seq)
    tr.add(Check("a", T0, True, 10.0))
    tr.add(Check("c", T0, False, 10.0))
    moved, seq = tr.changes_since(seq)
    assert moved == {"a", "c"}
    tr.update_credit(T0 + 1)  # the first update only sets where credit starts
    assert tr.changes_since(seq)[0] == set()
    tr.add(Check("a", T0 + 10, True, 10.0))
    moved, seq2 = tr.changes_since(seq)
    assert moved == {"a"}
    tr.update_credit(T0 + 11)  # a's credit moved
    assert tr.changes_since(seq2)[0] == {"a"}
    tr.touch("b")  # e.g. its latest check recorded while its timeline refused it
    assert tr.changes_since(seq2)[0] == {"a", "b"}


def test_what_moves_every_target_is_told_as_everything() -> None:
    tr = Tracker({"a": True, "b": True})
    _, seq = tr.changes_since(-1)
    window = Window("m", T0, T0 + 60, T0 - 9e5, T0 - 9e5, None, "", "config", EXCUSED, True)
    tr.set_maintenance([window])
    moved, seq = tr.changes_since(seq)
    assert moved is None
    tr.set_maintenance([window])  # the same windows again: nothing moved
    assert tr.changes_since(seq)[0] == set()
    tr.reconfigure({"a": True, "b": True, "new": False}, {})
    moved, seq = tr.changes_since(seq)
    assert moved is None
    tr.trim(T0)
    assert tr.changes_since(seq)[0] is None


def test_the_log_holds_one_entry_per_target_however_often_it_moves() -> None:
    tr = Tracker({"a": True, "b": True})
    _, seq = tr.changes_since(-1)
    for _ in range(10_000):
        tr.touch("a")
    tr.touch("b")
    tr.touch("a")
    assert len(tr._touched) == 2  # bounded by the targets, not the touches
    moved, seq2 = tr.changes_since(seq)
    assert moved == {"a", "b"}
    tr.touch("b")
    assert tr.changes_since(seq2)[0] == {"b"}  # a, touched before seq2 only, is not told
